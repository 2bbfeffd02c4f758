package handlers

import (
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"stockline/connectors"
	"stockline/domain"
)

// defaultBodyLimit bounds every request body that no route asks more for:
// forms and JSON are a few KiB.
const defaultBodyLimit = 1 << 20

// bodyLimits are the routes that may take more than defaultBodyLimit,
// keyed "METHOD /route/pattern": the counts upload (a file of up to
// connectors.MaxCountFileBytes plus the form around it) and the webhook.
var bodyLimits = map[string]int64{
	http.MethodPost + " /counts":           connectors.MaxCountFileBytes + 1<<20,
	http.MethodPost + " /webhooks/shopify": maxWebhookBody,
}

// bodyLimitFor is the most a request to this route may send.
func bodyLimitFor(c echo.Context) int64 {
	if n, ok := bodyLimits[c.Request().Method+" "+c.Path()]; ok {
		return n
	}
	return defaultBodyLimit
}

// limitBody runs before anything reads a body (the session, the CSRF check,
// form parsing): a declared Content-Length over the route's limit is
// refused unread, and any other body is cut off at the limit, so no request
// can make the server hold more than its route allows.
func (s *Server) limitBody(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		req := c.Request()
		if req.Body == nil || req.Body == http.NoBody {
			return next(c)
		}
		limit := bodyLimitFor(c)
		if req.ContentLength > limit {
			// Nothing of the body is read; the connection is closed after
			// the answer, so the rest is never received either.
			c.Response().Header().Set("Connection", "close")
			return tooLarge(c, limit)
		}
		req.Body = http.MaxBytesReader(c.Response().Writer, req.Body, limit)
		return next(c)
	}
}

// tooLarge is the error for a body over limit bytes; on the counts upload
// it is about the file.
func tooLarge(c echo.Context, limit int64) *domain.Error {
	if c.Path() == "/counts" {
		return countFileTooLarge()
	}
	return &domain.Error{Code: domain.ETOOLARGE, Message: fmt.Sprintf("The request body is too large: at most %s.", sizeText(limit))}
}

// countFileTooLarge is what a count upload over the limit is told.
func countFileTooLarge() *domain.Error {
	return &domain.Error{Code: domain.ETOOLARGE, Field: "file",
		Message: fmt.Sprintf("The file is too large: a count file may be at most %d MiB. Split it into smaller files.", connectors.MaxCountFileBytes>>20)}
}

// isTooLarge reports whether err comes from reading past the body limit.
func isTooLarge(err error) bool {
	var mbe *http.MaxBytesError
	return errors.As(err, &mbe)
}

func sizeText(n int64) string {
	if n >= 1<<20 && n%(1<<20) == 0 {
		return fmt.Sprintf("%d MiB", n>>20)
	}
	if n >= 1<<20 {
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	}
	return fmt.Sprintf("%d KiB", n>>10)
}

// csrfFromRequest is the request's CSRF token: the X-CSRF-Token header, or
// else the _csrf form field. A multipart body is parsed only for a
// signed-in user (anyone else has no form that posts one), and a body over
// its route's limit is answered as such rather than as a missing token.
func csrfFromRequest(c echo.Context) (string, error) {
	if got := c.Request().Header.Get("X-CSRF-Token"); got != "" {
		return got, nil
	}
	if isMultipart(c.Request()) && currentUser(c) == nil {
		return "", errCSRF()
	}
	if err := parseForm(c); err != nil {
		return "", err
	}
	return c.Request().PostFormValue("_csrf"), nil
}

// maxFormMemory is how much of a multipart form is held in memory; file
// parts beyond it go to temporary files (the body itself is bounded by
// limitBody).
const maxFormMemory = 8 << 20

// parseForm parses a urlencoded or multipart body once, mapping a body
// over the limit to a clear "too large" error.
func parseForm(c echo.Context) error {
	req := c.Request()
	var err error
	if isMultipart(req) {
		if req.MultipartForm != nil {
			return nil
		}
		err = req.ParseMultipartForm(maxFormMemory)
	} else {
		err = req.ParseForm()
	}
	if isTooLarge(err) {
		return tooLarge(c, bodyLimitFor(c))
	} else if err != nil {
		return &domain.Error{Code: domain.EINVALID, Message: "The form could not be read."}
	}
	return nil
}

func isMultipart(r *http.Request) bool {
	return strings.HasPrefix(strings.ToLower(r.Header.Get(echo.HeaderContentType)), echo.MIMEMultipartForm)
}
