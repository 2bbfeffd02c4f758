package handlers

import (
	"net/http"
	"net/http/httptest"
	"net/url"

	"github.com/labstack/echo/v4"
)

// The edge's parsers, exported for the go test -fuzz targets in
// connectors/fuzz (a package with no database). Nothing else calls them.

// EdgeRequest runs r through what every request meets before its handler:
// the default body limit and the text guard (path, query, headers, form
// fields and file names). It returns the query and form values a handler
// would then read, or the 4xx error the request is answered with.
func EdgeRequest(r *http.Request) (query, form url.Values, err error) {
	rec := httptest.NewRecorder()
	if r.Body != nil {
		r.Body = http.MaxBytesReader(rec, r.Body, defaultBodyLimit)
	}
	c := echo.New().NewContext(r, rec)
	if err := checkRequestText(c); err != nil {
		return nil, nil, err
	}
	form = r.PostForm
	if r.MultipartForm != nil {
		form = url.Values(r.MultipartForm.Value)
	}
	return c.QueryParams(), form, nil
}

// EdgeIdempotencyKey is the Idempotency-Key check of the reservation and
// order APIs.
func EdgeIdempotencyKey(r *http.Request) (string, error) {
	return idempotencyKey(echo.New().NewContext(r, httptest.NewRecorder()))
}

// EdgeSafeNext is the sign-in ?next= check.
func EdgeSafeNext(p string) string { return safeNext(p) }

// EdgeCleanPayload is how a webhook body that cannot be stored as text is
// escaped for its dead letter.
func EdgeCleanPayload(b []byte) ([]byte, bool) { return cleanPayload(b) }

// StatusOf is the HTTP status an error is answered with.
func StatusOf(err error) int { return statusFor(asDomainError(err)) }
