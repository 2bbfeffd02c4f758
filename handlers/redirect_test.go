package handlers_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"stockline/domain"
)

// TestSignInNextRefusesOtherOrigins signs in with hostile ?next= values:
// each must land on the role's home page (never a Location a browser could
// read as another host), while ordinary same-site paths are kept.
func TestSignInNextRefusesOtherOrigins(t *testing.T) {
	app := newApp(t)
	u := demoUser(t, domain.RoleSupport)
	hostile := []string{
		"//evil.example", "///evil.example", "/\\evil.example", "\\\\evil.example", "/\t/evil.example", "/\n/evil.example",
		"/\r\n/evil.example", "\t//evil.example", " //evil.example", "/%09/evil.example", "/%0a/evil.example", "/%5cevil.example",
		"/%5c%5cevil.example", "/%2f/evil.example", "/%2F%2Fevil.example", "/%252f/evil.example", "https://evil.example",
		"http:evil.example", "javascript:alert(1)", "evil.example", "//evil.example/%2e%2e", "/\x00/evil.example",
		"/\u00a0/evil.example" + "\\x", "/.\\evil.example", "/\\/evil.example", "\x7f//evil.example", "/\u2028/evil.example",
		"https:/\\evil.example", "/login?next=//evil.example", "%2f%2fevil.example", "/%%32f/evil.example",
	}
	for _, next := range hostile {
		t.Run(strings.ToValidUTF8(url.QueryEscape(next), "?"), func(t *testing.T) {
			b := app.browser()
			res, body := b.get("/login?next=" + url.QueryEscape(next))
			if res.StatusCode == http.StatusBadRequest && strings.ContainsAny(next, "\x00") {
				return // NUL is refused at the edge before the form is drawn
			}
			if strings.Contains(body, "evil.example") || strings.Contains(body, "javascript:") {
				t.Errorf("the sign-in form carries the hostile next on: %s", body)
			}
			res, _ = b.post("/login", url.Values{"email": {u.Email}, "password": {u.Password}, "next": {next}})
			if res.StatusCode != http.StatusSeeOther {
				t.Fatalf("sign-in: %d", res.StatusCode)
			}
			if loc := res.Header.Get("Location"); loc != "/orders" {
				t.Errorf("next=%q redirected to %q, want the role home /orders", next, loc)
			}
		})
	}
	for _, next := range []string{"/orders/12", "/inventory?q=FOO-1%2F2", "/orders?q=a%20b#timeline", "/pickups/3/lines/4"} {
		b := app.browser()
		b.get("/login")
		res, _ := b.post("/login", url.Values{"email": {u.Email}, "password": {u.Password}, "next": {next}})
		if loc := res.Header.Get("Location"); res.StatusCode != http.StatusSeeOther || loc != next {
			t.Errorf("same-site next=%q: %d to %q", next, res.StatusCode, loc)
		}
	}
}
