package handlers

import (
	"context"
	"errors"
	"log/slog"
	"net/http"

	"github.com/labstack/echo/v4"

	"stockline/domain"
	"stockline/store"
	"stockline/views"
)

// statusByCode is the one place an error's HTTP status is chosen: every
// code in domain/errors.go has a row, and a test fails when one is missing.
var statusByCode = map[string]int{
	domain.EINVALID:      http.StatusBadRequest,
	domain.EBADJSON:      http.StatusBadRequest,
	domain.ETOOLARGE:     http.StatusRequestEntityTooLarge,
	domain.ENOTFOUND:     http.StatusNotFound,
	domain.ECONFLICT:     http.StatusConflict,
	domain.EUNAUTHORIZED: http.StatusUnauthorized,
	domain.EFORBIDDEN:    http.StatusForbidden,
	domain.ETOOMANY:      http.StatusTooManyRequests,
	domain.EINTERNAL:     http.StatusInternalServerError,
	domain.EUNAVAILABLE:  http.StatusServiceUnavailable,

	domain.CodeMethodNotAllowed: http.StatusMethodNotAllowed,
	domain.CodeCSRFInvalid:      http.StatusForbidden,
	domain.CodeInvalidSignature: http.StatusUnauthorized,

	domain.CodeInsufficientStock:      http.StatusConflict,
	domain.CodeLocationNotEligible:    http.StatusBadRequest,
	domain.CodeReservationClosed:      http.StatusConflict,
	domain.CodeReservationExpired:     http.StatusConflict,
	domain.CodeOrderRefConflict:       http.StatusConflict,
	domain.CodeReservationMismatch:    http.StatusConflict,
	domain.CodeOrderExists:            http.StatusConflict,
	domain.CodeIdempotencyKeyRequired: http.StatusBadRequest,
	domain.CodeIdempotencyKeyInvalid:  http.StatusBadRequest,
	domain.CodeIdempotencyMismatch:    http.StatusUnprocessableEntity,
	domain.CodeIdempotencyInProgress:  http.StatusConflict,

	domain.CodeStillFailing: http.StatusUnprocessableEntity,

	domain.CodeUnprocessable:    http.StatusUnprocessableEntity,
	domain.CodeNotApproved:      http.StatusConflict,
	domain.CodeAlreadyShipped:   http.StatusConflict,
	domain.CodeNotShipped:       http.StatusConflict,
	domain.CodeExceedsFulfilled: http.StatusUnprocessableEntity,

	domain.CodeUnknownReasonCode: http.StatusUnprocessableEntity,

	domain.CodeActionNotAllowed: http.StatusUnprocessableEntity,
	domain.CodeAlreadyResolved:  http.StatusConflict,
}

// statusFor is the HTTP status of an error, from its code alone. A code
// without a row is a bug, answered as an internal error.
func statusFor(e *domain.Error) int {
	if st, ok := statusByCode[e.Code]; ok {
		return st
	}
	return http.StatusInternalServerError
}

// asDomainError turns any error into a *domain.Error safe to show. Echo's
// own errors (unknown route, wrong method) keep their status; anything
// else is internal and its text stays in the logs.
func asDomainError(err error) *domain.Error {
	if store.Unavailable(err) {
		return errUnavailable
	}
	if e := domain.AsError(err); e != nil {
		return e
	}
	var he *echo.HTTPError
	if errors.As(err, &he) {
		switch he.Code {
		case http.StatusNotFound:
			return &domain.Error{Code: domain.ENOTFOUND, Message: "There is no page at this address."}
		case http.StatusMethodNotAllowed:
			return &domain.Error{Code: domain.CodeMethodNotAllowed, Message: "This address does not accept that method."}
		case http.StatusRequestEntityTooLarge:
			return &domain.Error{Code: domain.ETOOLARGE, Message: "The request body is too large."}
		case http.StatusUnauthorized:
			return &domain.Error{Code: domain.EUNAUTHORIZED, Message: "Please sign in."}
		case http.StatusForbidden:
			return &domain.Error{Code: domain.EFORBIDDEN, Message: "You may not do that."}
		case http.StatusBadRequest:
			return &domain.Error{Code: domain.EINVALID, Message: "The request is malformed."}
		}
	}
	return &domain.Error{Code: domain.EINTERNAL, Message: "Internal error. It has been logged; please try again."}
}

// errUnavailable answers a request the database could not serve: it is
// down, restarting, or did not answer within the request's time-out.
var errUnavailable = &domain.Error{Code: domain.EUNAVAILABLE,
	Message: "Stockline cannot reach its database right now. Please try again in a few seconds; a retry with the same Idempotency-Key is safe."}

// retryAfterSeconds is the Retry-After sent with every 503.
const retryAfterSeconds = "2"

// handleError is the one Echo error handler. The API gets
// {"error":{"code","message",...}}, htmx requests an error fragment, pages
// a friendly error page. Internal details only go to the log.
func (s *Server) handleError(err error, c echo.Context) {
	if c.Response().Committed {
		return
	}
	e := asDomainError(err)
	if e.Code == domain.EINTERNAL && errors.Is(c.Request().Context().Err(), context.DeadlineExceeded) {
		e = errUnavailable // the request's time-out ended a database call (see Server.ServeHTTP)
	}
	status := statusFor(e)
	rid := c.Response().Header().Get(echo.HeaderXRequestID)
	if status == http.StatusServiceUnavailable {
		s.Log.WarnContext(c.Request().Context(), "database unavailable", "request_id", rid, "path", c.Request().URL.Path, "err", err.Error())
	} else if status >= 500 {
		s.Log.ErrorContext(c.Request().Context(), "internal error", "request_id", rid, "path", c.Request().URL.Path, "err", err.Error())
	} else {
		s.Log.DebugContext(c.Request().Context(), "request error", "request_id", rid, "code", e.Code, "err", err.Error())
	}
	if status == http.StatusServiceUnavailable && c.Response().Header().Get("Retry-After") == "" {
		c.Response().Header().Set("Retry-After", retryAfterSeconds)
	}
	var werr error
	switch {
	case c.Request().Method == http.MethodHead:
		werr = c.NoContent(status)
	case isAPI(c):
		werr = c.JSON(status, apiErrorBody(e))
	case isHTMX(c):
		// htmx swaps only 2xx by default; retarget the message into the
		// page's flash area so the user sees it where they are.
		c.Response().Header().Set("HX-Retarget", "#flash")
		c.Response().Header().Set("HX-Reswap", "innerHTML")
		werr = render(c, status, views.ErrorFragment(status, e.Message, rid))
	default:
		werr = render(c, status, views.ErrorPage(s.viewCtx(c), status, e.Message, rid))
	}
	if werr != nil {
		s.Log.Error("writing error response", slog.String("request_id", rid), slog.String("err", werr.Error()))
	}
}

// apiErrorBody is the one shape of an API error:
// {"error":{"code","message"[,"field"][,details...]}}.
func apiErrorBody(e *domain.Error) map[string]any {
	body := map[string]any{"code": e.Code, "message": e.Message}
	if e.Field != "" {
		body["field"] = e.Field
	}
	for k, v := range e.Details {
		body[k] = v
	}
	return map[string]any{"error": body}
}
