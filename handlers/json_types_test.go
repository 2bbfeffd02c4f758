package handlers_test

import (
	"net/http"
	"strings"
	"testing"

	"stockline/domain"
)

// TestJSONTypeErrorsSpeakJSON: a body or field of the wrong JSON type is
// answered in the client's terms, never with Go's type text (which names
// the server's structs).
func TestJSONTypeErrorsSpeakJSON(t *testing.T) {
	app := newApp(t)
	for _, tc := range []struct {
		body, code, field, want string
	}{
		{`[1]`, domain.EBADJSON, "", "must be a JSON object"},
		{`"x"`, domain.EBADJSON, "", "must be a JSON object"},
		{`{"channel":7,"customer":{"name":"x"},"lines":[]}`, domain.EINVALID, "channel", "send a string"},
		{`{"channel":"bopis","customer":{"name":"x"},"pickup_location":"S01","lines":[{"sku":"X","qty":"two"}]}`, domain.EINVALID, "lines.qty", "send a whole number"},
		{`{"channel":"bopis","customer":"x","lines":[]}`, domain.EINVALID, "customer", "send an object"},
	} {
		res, out := app.postOrder(tc.body, newKey())
		status := http.StatusBadRequest
		wantAPIError(t, res, out, status, tc.code, tc.field)
		if !strings.Contains(out, tc.want) || strings.Contains(out, "struct") || strings.Contains(out, "int") && !strings.Contains(tc.want, "int") {
			t.Errorf("%s: message %s, want %q and no Go type text", tc.body, out, tc.want)
		}
	}
}
