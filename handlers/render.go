package handlers

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/a-h/templ"
	"github.com/labstack/echo/v4"

	"stockline/domain"
	"stockline/views"
)

// render writes a templ component as the response with status.
func render(c echo.Context, status int, t templ.Component) error {
	c.Response().Header().Set(echo.HeaderContentType, echo.MIMETextHTMLCharsetUTF8)
	c.Response().WriteHeader(status)
	// templ flushes its writer when it is done if the writer can flush,
	// which would turn serveWithTimeout's held answer into a streamed one
	// (chunked, one more write, and a time-out could only cut it short).
	// Hidden behind a plain io.Writer, the page is held whole and goes out
	// in one write with its Content-Length.
	return t.Render(c.Request().Context(), struct{ io.Writer }{c.Response().Writer})
}

// sharedWriter is serveWithTimeout's writer (bufferedWriter): it can hold
// immutable bytes without copying them.
type sharedWriter interface{ WriteShared(p []byte) bool }

// blobShared answers 200 with contentType and the parts in order, handing
// them to the client without a copy when the writer allows. The parts
// must never be modified afterwards (cached, memoised answers).
func blobShared(c echo.Context, contentType string, parts ...[]byte) error {
	res := c.Response()
	res.Header().Set(echo.HeaderContentType, contentType)
	res.WriteHeader(http.StatusOK)
	sw, shared := res.Writer.(sharedWriter)
	for _, p := range parts {
		if shared {
			if !sw.WriteShared(p) {
				return http.ErrHandlerTimeout
			}
			res.Size += int64(len(p))
			continue
		}
		if _, err := res.Write(p); err != nil {
			return err
		}
	}
	return nil
}

// viewCtx is what every page needs: who is signed in, the CSRF token and
// where we are, and the navigation for the user's role.
func (s *Server) viewCtx(c echo.Context) views.Ctx {
	tok, _ := c.Get(ctxCSRF).(string)
	u := currentUser(c)
	v := views.Ctx{User: u, CSRF: tok, Path: c.Request().URL.Path}
	if u != nil {
		v.Nav = s.navWithCounts(c, u)
	}
	return v
}

// navWithCounts is the user's navigation with the work waiting behind the
// links that have some: transfers awaiting approval (origin in scope) on
// Approvals, and for associates, shipped transfers on their way to their
// stores on Transfers. Two indexed counts; a failure shows no count.
func (s *Server) navWithCounts(c echo.Context, u *domain.User) []views.NavItem {
	nav := s.nav[u.Role]
	out := nav
	for i, n := range nav {
		var count int
		var err error
		switch {
		case n.Href == "/transfers/approvals":
			count, err = s.DB.CountAwaitingApproval(c.Request().Context(), scopeOf(u))
		case n.Href == "/transfers" && u.Role == domain.RoleAssociate:
			count, err = s.countToReceive(c, u)
		default:
			continue
		}
		if err != nil || count == 0 {
			continue
		}
		if &out[0] == &nav[0] {
			out = slices.Clone(nav)
		}
		out[i].Count = count
	}
	return out
}

// ctxToReceive holds the request's count of transfers on their way to the
// user's stores, once counted.
const ctxToReceive = "stockline.to_receive"

// countToReceive counts the shipped transfers on their way to u's stores
// once per request: the navigation shows the count beside Transfers, and
// the pickup queue, which reads it beside its list, leaves it here.
func (s *Server) countToReceive(c echo.Context, u *domain.User) (int, error) {
	if n, ok := c.Get(ctxToReceive).(int); ok {
		return n, nil
	}
	n, err := s.DB.CountToReceive(c.Request().Context(), scopeOf(u))
	if err == nil {
		c.Set(ctxToReceive, n)
	}
	return n, err
}

// maxJSONBody bounds API request bodies.
const maxJSONBody = 1 << 20

// decodeJSON reads a JSON request body into v. It fails with
// body_too_large past 1 MiB and invalid_json on anything malformed.
func decodeJSON(c echo.Context, v any) error { return decodeBody(c, v, false) }

// decodeOptionalJSON is decodeJSON for a body that may be left out: an
// empty body leaves v as it is.
func decodeOptionalJSON(c echo.Context, v any) error { return decodeBody(c, v, true) }

func decodeBody(c echo.Context, v any, emptyOK bool) error {
	raw, err := io.ReadAll(http.MaxBytesReader(c.Response().Writer, c.Request().Body, maxJSONBody))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return &domain.Error{Code: domain.ETOOLARGE, Message: "The request body is over 1 MiB."}
		}
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		if errors.Is(err, io.EOF) {
			if emptyOK {
				return nil
			}
			return &domain.Error{Code: domain.EBADJSON, Message: "The request body is empty; send a JSON object."}
		}
		var ute *json.UnmarshalTypeError
		if errors.As(err, &ute) {
			f := jsonFieldPath(ute.Field)
			if f == "" {
				return &domain.Error{Code: domain.EBADJSON, Message: "The request body must be a JSON object."}
			}
			return &domain.Error{Code: domain.EINVALID, Field: f, Message: "Field " + f + " has the wrong type; send " + jsonKindWords(ute.Type) + "."}
		}
		return &domain.Error{Code: domain.EBADJSON, Message: "The request body is not valid JSON."}
	}
	if dec.More() {
		return &domain.Error{Code: domain.EBADJSON, Message: "The request body has data after the JSON object."}
	}
	if err := checkJSONText(v); err != nil {
		return err // names the field
	}
	// encoding/json turns bytes that are not UTF-8 into U+FFFD, and a
	// field the request type does not have is skipped unread: refuse both
	// rather than store mangled text or act on a body with NUL in it.
	if !utf8.Valid(raw) {
		return badText("the request body", "is not valid UTF-8 text")
	}
	if hasNUL(raw) {
		return badText("the request body", "contains a NUL byte")
	}
	return nil
}

// jsonKindWords names the JSON a Go type takes, in words for the client
// (never Go's own type text, which would leak the server's structs).
func jsonKindWords(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "a whole number"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Slice, reflect.Array:
		return "a list"
	default:
		return "an object"
	}
}

// jsonFieldPath is the field path of a JSON type error without array
// indexes ("lines.qty"): Go 1.27's encoding/json names the element
// ("lines.0.qty"), 1.26's did not, and the API's field names stay the same.
func jsonFieldPath(f string) string {
	parts := strings.Split(f, ".")
	out := parts[:0]
	for _, p := range parts {
		if _, err := strconv.Atoi(p); err != nil {
			out = append(out, p)
		}
	}
	return strings.Join(out, ".")
}

func urlQueryEscape(s string) string { return url.QueryEscape(s) }
