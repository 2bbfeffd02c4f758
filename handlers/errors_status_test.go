package handlers

import (
	"go/ast"
	"go/parser"
	"go/token"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"testing"

	"stockline/domain"
)

// TestStatusForEveryCode is the code → HTTP status table. It reads the
// code constants from domain/errors.go, so a code added there without a
// row here (and in statusByCode) fails.
func TestStatusForEveryCode(t *testing.T) {
	want := map[string]int{
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
	codes := domainErrorCodes(t)
	for name, code := range codes {
		if _, ok := want[code]; !ok {
			t.Errorf("domain.%s (%q) has no row in this table", name, code)
		}
		if _, ok := statusByCode[code]; !ok {
			t.Errorf("domain.%s (%q) has no status in statusByCode", name, code)
		}
	}
	known := slices.Collect(maps.Values(codes))
	for code, status := range want {
		if !slices.Contains(known, code) {
			t.Errorf("%q is in the table but is not a constant in domain/errors.go", code)
		}
		if got := statusFor(&domain.Error{Code: code}); got != status {
			t.Errorf("%q: status %d, want %d", code, got, status)
		}
	}
	if len(statusByCode) != len(want) {
		t.Errorf("statusByCode has %d rows, the table %d", len(statusByCode), len(want))
	}
	if got := statusFor(&domain.Error{Code: "no_such_code"}); got != http.StatusInternalServerError {
		t.Errorf("an unknown code: %d, want 500", got)
	}
}

// domainErrorCodes returns every string constant declared in
// domain/errors.go, by name.
func domainErrorCodes(t *testing.T) map[string]string {
	t.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), "../domain/errors.go", nil, parser.SkipObjectResolution)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, d := range f.Decls {
		g, ok := d.(*ast.GenDecl)
		if !ok || g.Tok != token.CONST {
			continue
		}
		for _, spec := range g.Specs {
			vs := spec.(*ast.ValueSpec)
			for i, n := range vs.Names {
				lit, ok := vs.Values[i].(*ast.BasicLit)
				if !ok || lit.Kind != token.STRING {
					t.Fatalf("domain/errors.go: constant %s is not a string literal", n.Name)
				}
				v, _ := strconv.Unquote(lit.Value)
				out[n.Name] = v
			}
		}
	}
	if len(out) < 20 {
		t.Fatalf("only %d codes found in domain/errors.go", len(out))
	}
	return out
}
