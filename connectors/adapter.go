// Package connectors pulls the POS and ecommerce feeds into the ledger.
// Each adapter speaks a real public API shape (Square's inventory changes,
// Shopify's Admin REST orders and inventory levels and its webhooks) and
// turns what it reads into store.InboundEvents; the store stores and
// applies them in one transaction, deduped per (connector, event id). The
// Runner runs one goroutine per enabled connector, under a lease in
// PostgreSQL, with backoff on failures and a health record per feed.
package connectors

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"stockline/store"
)

// Page is one page read from a source.
type Page struct {
	Events []store.InboundEvent
	Next   string // the cursor to save once the events have committed
	More   bool   // another page follows at once
}

// Adapter speaks one source system's API.
type Adapter interface {
	// Streams names the feeds the adapter pulls, each with its own cursor.
	Streams() []string
	// Pull fetches the page after cursor ("" at the start) on stream.
	Pull(ctx context.Context, stream, cursor string) (Page, error)
}

// Deps is what adapters need from the program.
type Deps struct {
	DB        *store.DB
	Client    *http.Client
	Sealer    *Sealer
	LookupEnv func(string) (string, bool) // default os.LookupEnv
	UserAgent string
}

// ErrNoPull is returned for connectors nothing pulls (CSV count uploads).
var ErrNoPull = errors.New("this connector is not pulled")

// NewAdapter builds the adapter for connector c.
func NewAdapter(c store.Connector, d Deps) (Adapter, error) {
	if c.Adapter == "csv" {
		return nil, ErrNoPull
	}
	if err := ValidateBaseURL(c.BaseURL); err != nil {
		return nil, err
	}
	cred, err := d.Sealer.Credential(c, d.LookupEnv)
	if err != nil {
		return nil, err
	}
	client := d.Client
	if client == nil {
		client = &http.Client{Timeout: 30 * time.Second}
	}
	src := source{base: strings.TrimRight(c.BaseURL, "/"), client: client, header: http.Header{}}
	if d.UserAgent != "" {
		src.header.Set("User-Agent", d.UserAgent)
	}
	switch c.Adapter {
	case "square":
		a := &SquareAdapter{src: src, db: d.DB, conn: c}
		if err := json.Unmarshal(settingsOf(c), &a.settings); err != nil {
			return nil, fmt.Errorf("settings: %w", err)
		}
		src.header.Set("Square-Version", SquareVersion)
		if cred != "" {
			src.header.Set("Authorization", "Bearer "+cred)
		}
		a.src = src
		return a, nil
	case "shopify":
		a := &ShopifyAdapter{src: src, db: d.DB, conn: c}
		if err := json.Unmarshal(settingsOf(c), &a.settings); err != nil {
			return nil, fmt.Errorf("settings: %w", err)
		}
		if cred != "" {
			src.header.Set("X-Shopify-Access-Token", cred)
		}
		a.src = src
		return a, nil
	}
	return nil, fmt.Errorf("unknown adapter %q", c.Adapter)
}

func settingsOf(c store.Connector) []byte {
	if len(c.Settings) == 0 {
		return []byte(`{}`)
	}
	return c.Settings
}

// ValidateBaseURL accepts an absolute http or https URL with a host.
func ValidateBaseURL(s string) error {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil {
		return fmt.Errorf("base URL %q must be an absolute http(s) URL like https://connect.squareup.com", feedExcerpt(s, 80))
	}
	return nil
}

// ParseStored re-reads a stored event's payload with its adapter, for a
// retry (possibly with a payload an operator fixed) or a pending event.
func ParseStored(adapter, typ string, payload []byte) store.InboundEvent {
	switch adapter {
	case "square":
		return ParseSquareChange(payload)
	case "shopify":
		return ParseShopifyStored(typ, payload)
	case "csv":
		return ParseCountEvent(payload)
	}
	return store.InboundEvent{Type: typ, Payload: payload, Err: "Unknown adapter " + adapter + "."}
}

// maxResponse bounds a source's response body.
const maxResponse = 32 << 20

// source makes JSON requests to one base URL with the adapter's headers.
type source struct {
	base   string
	client *http.Client
	header http.Header
}

// do sends a request to path (or to an absolute URL on the same host, as
// pagination links are) and returns the body of a 2xx answer. Anything
// else is an *HTTPError carrying Retry-After.
func (s source) do(ctx context.Context, method, path string, body any) ([]byte, http.Header, error) {
	target := s.base + path
	if strings.HasPrefix(path, "http://") || strings.HasPrefix(path, "https://") {
		u, err := url.Parse(path)
		b, _ := url.Parse(s.base)
		if err != nil || b == nil || u.Host != b.Host || u.Scheme != b.Scheme {
			return nil, nil, fmt.Errorf("refusing to follow a link to another host: %s", feedExcerpt(path, 100))
		}
		target = path
	}
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, nil, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, target, rd)
	if err != nil {
		return nil, nil, err
	}
	for k, v := range s.header {
		req.Header[k] = v
	}
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := s.client.Do(req)
	if err != nil {
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() && ctx.Err() == nil {
			return nil, nil, fmt.Errorf("the source did not answer within %s (a slow or stuck source)", s.client.Timeout)
		}
		return nil, nil, err
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(res.Body, maxResponse+1))
	if err != nil {
		return nil, nil, fmt.Errorf("reading the response: %w", err)
	}
	if len(raw) > maxResponse {
		return nil, nil, fmt.Errorf("response over %d MiB", maxResponse>>20)
	}
	if res.StatusCode < 200 || res.StatusCode > 299 {
		return nil, nil, &HTTPError{Status: res.StatusCode, RetryAfter: ParseRetryAfter(res.Header.Get("Retry-After"), time.Now()),
			Detail: feedExcerpt(strings.TrimSpace(string(raw)), 200)}
	}
	return raw, res.Header, nil
}
