package handlers

// GET /api/v1/availability/feed: the whole catalogue's network ATP for one
// channel, streamed as CSV or NDJSON (Accept), or as Google's local
// inventory file (format=google_local). Rows come from one database
// snapshot (store.StreamAvailabilityFeed) and are written as they are read.

import (
	"bufio"
	"encoding/base64"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"stockline/domain"
	"stockline/store"
)

const (
	mimeCSV    = "text/csv"
	mimeNDJSON = "application/x-ndjson"
	mimeTSV    = "text/tab-separated-values"
	// minFeedPage: a paginated feed's pages carry at least this many SKUs.
	minFeedPage = 100
	// feedFlushEvery: rows between flushes to the client.
	feedFlushEvery = 512
	// GoogleLocalHeader is the Google local inventory file's header line.
	GoogleLocalHeader = "store_code\tid\tquantity\tavailability\tpickup_method\tpickup_sla"
)

// feedRequest is a parsed feed request.
type feedRequest struct {
	q      store.FeedQuery
	format string // csv, ndjson or google_local
}

func parseFeedRequest(c echo.Context) (feedRequest, error) {
	var r feedRequest
	raw := c.QueryParam("channel")
	if raw == "" {
		return r, domain.FieldError("channel", "Name the channel as ?channel=, one of bopis, ship_from_store, marketplace, local_delivery, ecommerce_ship.")
	}
	ch, err := domain.ParseChannel(raw)
	if err != nil {
		return r, err
	}
	r.q = store.FeedQuery{Channel: ch, Region: c.QueryParam("region")}
	if s := c.QueryParam("since"); s != "" {
		t, err := time.Parse(time.RFC3339, s)
		if err != nil {
			return r, domain.FieldError("since", "since must be an RFC 3339 time such as 2026-12-04T09:30:00Z.")
		}
		r.q.Since = t
	}
	if s := c.QueryParam("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < minFeedPage {
			return r, domain.FieldError("limit", "limit must be a whole number of at least %d SKUs.", minFeedPage)
		}
		r.q.Limit = n
	}
	if s := c.QueryParam("cursor"); s != "" {
		b, err := base64.RawURLEncoding.DecodeString(s)
		if err != nil || len(b) == 0 {
			return r, domain.FieldError("cursor", "cursor must be the value from the previous page's Link header.")
		}
		r.q.After = string(b)
	}
	switch f := c.QueryParam("format"); f {
	case "":
		r.format = feedFormat(c.Request().Header.Get("Accept"))
	case "google_local":
		if ch != domain.BOPIS {
			return r, domain.FieldError("format", "format=google_local is the store pickup feed: use it with channel=bopis.")
		}
		if !r.q.Since.IsZero() {
			return r, domain.FieldError("since", "format=google_local answers every store and SKU; since is not supported with it.")
		}
		r.format, r.q.Stores = f, true
	default:
		return r, domain.FieldError("format", "Unknown format %q; leave it out (CSV or NDJSON by Accept) or use google_local.", f)
	}
	return r, nil
}

// feedFormat picks CSV or NDJSON from an Accept header by quality; CSV when
// the header names neither (or is absent).
func feedFormat(accept string) string {
	best, bestQ := "csv", -1.0
	for part := range strings.SplitSeq(accept, ",") {
		mt, params, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err != nil {
			continue
		}
		q := 1.0
		if v, ok := params["q"]; ok {
			if q, err = strconv.ParseFloat(v, 64); err != nil {
				continue
			}
		}
		var f string
		switch mt {
		case mimeNDJSON:
			f = "ndjson"
		case mimeCSV:
			f = "csv"
		default:
			continue
		}
		if q > 0 && q > bestQ {
			best, bestQ = f, q
		}
	}
	return best
}

// handleAvailabilityFeed answers GET /api/v1/availability/feed (README,
// "Availability feed").
func (s *Server) handleAvailabilityFeed(c echo.Context) error {
	r, err := parseFeedRequest(c)
	if err != nil {
		return err
	}
	w := c.Response()
	var out *feedWriter
	err = s.DB.StreamAvailabilityFeed(c.Request().Context(), r.q, func(st store.FeedStart) (bool, error) {
		etag := s.feedETag(st, r)
		h := w.Header()
		h.Set("ETag", etag)
		h.Set("Cache-Control", "private, no-cache")
		h.Set("Vary", "Accept")
		if etagMatches(c.Request().Header.Get("If-None-Match"), etag) {
			w.WriteHeader(http.StatusNotModified)
			return false, nil
		}
		if st.Next != "" {
			h.Set("Link", "<"+nextFeedURL(c, st.Next)+`>; rel="next"`)
		}
		h.Set("Stockline-Next-Since", st.NextSince.UTC().Format(time.RFC3339Nano))
		out = s.newFeedWriter(c, r, st)
		return true, out.header()
	}, func(it store.FeedItem) error { return out.item(it) })
	if err != nil {
		if w.Committed {
			// Mid-stream: the status went out; the client sees a short body.
			s.Log.ErrorContext(c.Request().Context(), "availability feed cut short", "err", err.Error())
			return nil
		}
		return err
	}
	if out != nil {
		return out.end()
	}
	return nil
}

// feedETag names the content: the data's version plus everything in the
// request that shapes the answer.
func (s *Server) feedETag(st store.FeedStart, r feedRequest) string {
	h := fnv.New128a()
	fmt.Fprintf(h, "%s|%s|%s|%s|%s|%s|%d|%d|%d", st.Version, r.format, r.q.Channel, r.q.Region, r.q.Since.UTC().Format(time.RFC3339Nano),
		r.q.After, r.q.Limit, s.opts.FeedInStockMin, s.opts.FeedLowStock)
	return `"` + base64.RawURLEncoding.EncodeToString(h.Sum(nil)) + `"`
}

// etagMatches implements If-None-Match's weak comparison over a list.
func etagMatches(header, etag string) bool {
	for t := range strings.SplitSeq(header, ",") {
		t = strings.TrimPrefix(strings.TrimSpace(t), "W/")
		if t == "*" || t == etag {
			return true
		}
	}
	return false
}

// nextFeedURL is this request's URL with the next page's cursor.
func nextFeedURL(c echo.Context, next string) string {
	q := url.Values{}
	for k, v := range c.QueryParams() {
		if k != "cursor" {
			q[k] = v
		}
	}
	q.Set("cursor", base64.RawURLEncoding.EncodeToString([]byte(next)))
	return c.Request().URL.Path + "?" + q.Encode()
}

// feedWriter writes one feed format, flushing every feedFlushEvery rows.
type feedWriter struct {
	c      echo.Context
	r      feedRequest
	st     store.FeedStart
	min    int
	low    int
	sla    string
	bw     *bufio.Writer
	csv    *csv.Writer
	n      int
	linebf []byte
}

func (s *Server) newFeedWriter(c echo.Context, r feedRequest, st store.FeedStart) *feedWriter {
	w := &feedWriter{c: c, r: r, st: st, min: s.opts.FeedInStockMin, low: s.opts.FeedLowStock,
		sla: domain.GooglePickupSLA(st.Policy), bw: bufio.NewWriterSize(c.Response(), 32<<10)}
	ct := map[string]string{"csv": mimeCSV + "; charset=utf-8", "ndjson": mimeNDJSON, "google_local": mimeTSV + "; charset=utf-8"}[r.format]
	c.Response().Header().Set(echo.HeaderContentType, ct)
	if r.format == "csv" {
		w.csv = csv.NewWriter(w.bw)
	}
	c.Response().WriteHeader(http.StatusOK)
	return w
}

func (w *feedWriter) header() error {
	switch w.r.format {
	case "csv":
		return w.csv.Write([]string{"sku", "network_atp", "in_stock"})
	case "google_local":
		_, err := w.bw.WriteString(GoogleLocalHeader + "\n")
		return err
	}
	return nil
}

// item writes one SKU: one line, or one line per store for google_local.
// ATP is the domain's (ChannelAvailability), never recomputed here.
func (w *feedWriter) item(it store.FeedItem) error {
	a := domain.ChannelAvailability(w.st.Policy, it.Stock)
	var err error
	switch w.r.format {
	case "csv":
		err = w.csv.Write([]string{it.SKU, strconv.Itoa(a.NetworkATP), strconv.FormatBool(domain.FeedInStock(a.NetworkATP, w.min))})
	case "ndjson":
		b := append(w.linebf[:0], `{"sku":`...)
		sku, err := json.Marshal(it.SKU)
		if err != nil {
			return err
		}
		b = append(b, sku...)
		b = append(b, `,"channel":"`...)
		b = append(b, w.r.q.Channel...)
		b = append(b, `","network_atp":`...)
		b = strconv.AppendInt(b, int64(a.NetworkATP), 10)
		b = append(b, `,"in_stock":`...)
		b = strconv.AppendBool(b, domain.FeedInStock(a.NetworkATP, w.min))
		b = append(b, "}\n"...)
		w.linebf = b
		_, err = w.bw.Write(b)
	case "google_local":
		err = w.googleLines(it.SKU, a)
	}
	if err != nil {
		return err
	}
	if w.n++; w.n%feedFlushEvery == 0 {
		return w.flush()
	}
	return nil
}

// googleLines writes one line per store (warehouses and DCs are not in
// Google's store list).
func (w *feedWriter) googleLines(sku string, a domain.Availability) error {
	for _, la := range a.Locations {
		if la.Kind != domain.Store {
			continue
		}
		b := append(w.linebf[:0], la.Code...)
		b = append(b, '\t')
		b = append(b, sku...)
		b = append(b, '\t')
		b = strconv.AppendInt(b, int64(la.ATP), 10)
		b = append(b, '\t')
		b = append(b, domain.GoogleAvailability(la.ATP, w.low)...)
		b = append(b, '\t')
		b = append(b, domain.GooglePickupMethod(la.Location)...)
		b = append(b, '\t')
		b = append(b, w.sla...)
		b = append(b, '\n')
		w.linebf = b
		if _, err := w.bw.Write(b); err != nil {
			return err
		}
	}
	return nil
}

func (w *feedWriter) flush() error {
	if w.csv != nil {
		w.csv.Flush()
		if err := w.csv.Error(); err != nil {
			return err
		}
	}
	if err := w.bw.Flush(); err != nil {
		return err
	}
	w.c.Response().Flush()
	return nil
}

func (w *feedWriter) end() error { return w.flush() }
