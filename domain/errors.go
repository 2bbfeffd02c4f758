// Package domain holds Stockline's business rules as plain types and functions:
// inventory buckets and ATP, channel policies, roles, reason codes and the one
// error type. It knows nothing about SQL or HTTP.
package domain

import (
	"errors"
	"fmt"
)

// Error codes: every code an Error may carry is one of these constants.
// Each maps to one HTTP status, chosen in handlers (statusFor) from the
// code alone; a new code needs a row there, and a test fails until it has
// one.
const (
	ECONFLICT     = "conflict"       // the request conflicts with current state
	EINTERNAL     = "internal"       // something went wrong on our side
	EINVALID      = "invalid"        // the request is malformed or a value is wrong
	ENOTFOUND     = "not_found"      // the thing asked for does not exist
	EUNAUTHORIZED = "unauthorized"   // no valid credentials
	EFORBIDDEN    = "forbidden"      // credentials are valid but not allowed here
	ETOOMANY      = "rate_limited"   // slow down
	ETOOLARGE     = "body_too_large" // the request body is over the limit
	EBADJSON      = "invalid_json"   // the body is not the JSON we expect
	EUNAVAILABLE  = "unavailable"    // the database cannot be reached now; retry after a few seconds (503)

	CodeMethodNotAllowed = "method_not_allowed" // the address does not accept the method
	CodeCSRFInvalid      = "csrf_invalid"       // a page form's CSRF token is missing or wrong
	CodeInvalidSignature = "invalid_signature"  // a webhook's HMAC does not verify

	// Reservations and orders.
	CodeInsufficientStock      = "insufficient_stock"       // nothing was held: not enough stock (Details["lines"])
	CodeLocationNotEligible    = "location_not_eligible"    // the channel's policy does not serve that location
	CodeReservationClosed      = "reservation_closed"       // the reservation is over (committed elsewhere, released)
	CodeReservationExpired     = "reservation_expired"      // the hold lapsed
	CodeOrderRefConflict       = "order_ref_conflict"       // the reservation is committed to another order
	CodeReservationMismatch    = "reservation_mismatch"     // the reservation does not match the order's lines or channel
	CodeOrderExists            = "order_exists"             // an order with that external reference exists
	CodeIdempotencyKeyRequired = "idempotency_key_required" // the Idempotency-Key header is missing
	CodeIdempotencyKeyInvalid  = "idempotency_key_invalid"  // the Idempotency-Key header is malformed
	CodeIdempotencyMismatch    = "idempotency_mismatch"     // the key was used with another request body
	CodeIdempotencyInProgress  = "idempotency_in_progress"  // the key's first request is still running

	// Transfers and returns.
	CodeUnprocessable    = "unprocessable"     // a transfer or return names an unknown location or SKU, or a bad quantity (field)
	CodeNotApproved      = "not_approved"      // shipping a transfer that is not approved
	CodeAlreadyShipped   = "already_shipped"   // cancelling a transfer that has shipped
	CodeNotShipped       = "not_shipped"       // receiving a transfer that has not shipped
	CodeExceedsFulfilled = "exceeds_fulfilled" // returning more than was fulfilled and not yet returned

	// Connectors.
	CodeStillFailing = "still_failing" // a fixed dead letter still cannot be applied

	CodeUnknownReasonCode = "unknown_reason_code" // a cancellation's reason_code is not a known code (Field reason_code)

	// Exceptions.
	CodeActionNotAllowed = "action_not_allowed" // the action does not fit the exception's kind (Field action)
	CodeAlreadyResolved  = "already_resolved"   // the exception was closed by another action
)

// Error is Stockline's one error type. Code is machine-readable, Message is
// safe to show a user, Field names the offending input when there is one,
// and Details carries structured extras for API clients.
type Error struct {
	Code    string
	Message string
	Field   string
	Details map[string]any // optional extra fields for API error bodies
}

func (e *Error) Error() string {
	if e.Field != "" {
		return fmt.Sprintf("stockline error: code=%s field=%s message=%s", e.Code, e.Field, e.Message)
	}
	return fmt.Sprintf("stockline error: code=%s message=%s", e.Code, e.Message)
}

// Errorf returns an *Error with the code and a formatted, user-safe message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// FieldError returns an EINVALID error about one input field.
func FieldError(field, format string, args ...any) *Error {
	return &Error{Code: EINVALID, Field: field, Message: fmt.Sprintf(format, args...)}
}

// ErrorCode returns the code of err when it is (or wraps) an *Error, and
// EINTERNAL otherwise.
func ErrorCode(err error) string {
	var e *Error
	if err == nil {
		return ""
	} else if errors.As(err, &e) {
		return e.Code
	}
	return EINTERNAL
}

// ErrorMessage returns the user-safe message of err. Internal errors never
// leak their text: the user sees "Internal error."
func ErrorMessage(err error) string {
	var e *Error
	if err == nil {
		return ""
	} else if errors.As(err, &e) {
		return e.Message
	}
	return "Internal error."
}

// AsError returns the *Error inside err, or nil.
func AsError(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return nil
}
