package handlers_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"
	"github.com/labstack/echo/v4"

	"stockline/domain"
	"stockline/handlers"
	"stockline/store"
)

// secBrowserFrom is a browser whose connections come from ip (any
// 127.0.0.0/8 address works on loopback), so throttling tests have a
// client address of their own.
func secBrowserFrom(app *testApp, ip string) *browser {
	b := app.browser()
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}, Timeout: 5 * time.Second}
	b.c.Transport = &http.Transport{DialContext: d.DialContext, DisableKeepAlives: true}
	return b
}

// secIP is a loopback address no other test uses.
func secIP() string {
	return fmt.Sprintf("127.%d.%d.%d", 10+rand.IntN(240), rand.IntN(256), 2+rand.IntN(250))
}

// secTry signs in from b and returns the status.
func secTry(t *testing.T, b *browser, email, password string, hdr ...string) int {
	t.Helper()
	b.get("/login")
	res, _ := b.post("/login", url.Values{"email": {email}, "password": {password}}, hdr...)
	return res.StatusCode
}

func TestLoginThrottledPerAccount(t *testing.T) {
	app := newApp(t, func(o *handlers.Options) { o.LoginMaxPerAccount = 3; o.LoginWindow = time.Minute })
	email := adminUniqueEmail(t, "throttle")
	if _, err := app.DB.CreateUser(context.Background(), domain.SystemActor("test"), store.NewUser{Email: email, Role: domain.RoleSupport, Password: "right-password"}); err != nil {
		t.Fatal(err)
	}
	for i := range 3 { // each failure from another address: the account counts them all
		if st := secTry(t, secBrowserFrom(app, secIP()), email, "wrong-password"); st != http.StatusUnauthorized {
			t.Fatalf("failure %d: %d", i, st)
		}
	}
	b := secBrowserFrom(app, secIP())
	b.get("/login")
	res, body := b.post("/login", url.Values{"email": {email}, "password": {"right-password"}})
	if res.StatusCode != http.StatusTooManyRequests || !strings.Contains(body, "Too many failed sign-ins") {
		t.Fatalf("after 3 failures the right password got %d", res.StatusCode)
	}
	// Another account from the same address is not affected.
	u := demoUser(t, domain.RoleSupport)
	if st := secTry(t, b, u.Email, u.Password); st != http.StatusSeeOther {
		t.Fatalf("another account: %d", st)
	}
}

func TestLoginThrottledPerIP(t *testing.T) {
	app := newApp(t, func(o *handlers.Options) { o.LoginMaxPerIP = 3; o.LoginWindow = time.Minute })
	ip := secIP()
	for i := range 3 { // different accounts, one address
		if st := secTry(t, secBrowserFrom(app, ip), fmt.Sprintf("nobody%d-%s@example.test", i, ip), "guess"); st != http.StatusUnauthorized {
			t.Fatalf("failure %d: %d", i, st)
		}
	}
	u := demoUser(t, domain.RoleManager)
	if st := secTry(t, secBrowserFrom(app, ip), u.Email, u.Password); st != http.StatusTooManyRequests {
		t.Fatalf("throttled address signed in: %d", st)
	}
	if st := secTry(t, secBrowserFrom(app, secIP()), u.Email, u.Password); st != http.StatusSeeOther {
		t.Fatalf("another address: %d", st)
	}
}

func TestForwardedForIgnoredUnlessFromTrustedProxy(t *testing.T) {
	t.Run("ignored by default", func(t *testing.T) {
		app := newApp(t, func(o *handlers.Options) { o.LoginMaxPerIP = 2; o.LoginWindow = time.Minute })
		ip := secIP()
		for i := range 2 {
			st := secTry(t, secBrowserFrom(app, ip), fmt.Sprintf("xff%d-%s@example.test", i, ip), "guess", "X-Forwarded-For", secIP())
			if st != http.StatusUnauthorized {
				t.Fatalf("failure %d: %d", i, st)
			}
		}
		// A fresh forged X-Forwarded-For does not escape the socket address's count.
		u := demoUser(t, domain.RoleSupport)
		if st := secTry(t, secBrowserFrom(app, ip), u.Email, u.Password, "X-Forwarded-For", secIP()); st != http.StatusTooManyRequests {
			t.Fatalf("X-Forwarded-For was believed: %d", st)
		}
	})
	t.Run("honoured from a trusted proxy", func(t *testing.T) {
		proxy, stranger := secIP(), secIP()
		app := newApp(t, func(o *handlers.Options) {
			o.LoginMaxPerIP = 2
			o.LoginWindow = time.Minute
			o.TrustedProxies = []netip.Prefix{netip.MustParsePrefix(proxy + "/32")}
		})
		client := "203.0.113." + fmt.Sprint(1+rand.IntN(250))
		for i := range 2 {
			st := secTry(t, secBrowserFrom(app, proxy), fmt.Sprintf("tp%d-%s@example.test", i, proxy), "guess", "X-Forwarded-For", client)
			if st != http.StatusUnauthorized {
				t.Fatalf("failure %d: %d", i, st)
			}
		}
		u := demoUser(t, domain.RoleSupport)
		if st := secTry(t, secBrowserFrom(app, proxy), u.Email, u.Password, "X-Forwarded-For", client); st != http.StatusTooManyRequests {
			t.Fatalf("the forwarded client was not throttled: %d", st)
		}
		// Another client behind the same proxy is not.
		if st := secTry(t, secBrowserFrom(app, proxy), u.Email, u.Password, "X-Forwarded-For", "198.51.100.7"); st != http.StatusSeeOther {
			t.Fatalf("another client behind the proxy: %d", st)
		}
		// A client forging the header to look like the proxy's user gets
		// nothing: a spoofed left-most entry is skipped as well.
		if st := secTry(t, secBrowserFrom(app, proxy), u.Email, u.Password, "X-Forwarded-For", "198.51.100.8, "+client); st != http.StatusTooManyRequests {
			t.Fatalf("a spoofed left-most entry was believed: %d", st)
		}
		// A peer that is not the proxy cannot use the header.
		for i := range 2 {
			secTry(t, secBrowserFrom(app, stranger), fmt.Sprintf("st%d-%s@example.test", i, stranger), "guess", "X-Forwarded-For", "198.51.100.9")
		}
		if st := secTry(t, secBrowserFrom(app, stranger), u.Email, u.Password, "X-Forwarded-For", "198.51.100.10"); st != http.StatusTooManyRequests {
			t.Fatalf("an untrusted peer's X-Forwarded-For was believed: %d", st)
		}
	})
}

func TestSecurityHeaders(t *testing.T) {
	check := func(t *testing.T, what string, h http.Header, hsts bool) {
		t.Helper()
		csp := h.Get("Content-Security-Policy")
		for _, want := range []string{"default-src 'self'", "script-src 'self'", "frame-ancestors 'none'", "object-src 'none'"} {
			if !strings.Contains(csp, want) {
				t.Errorf("%s: CSP %q lacks %s", what, csp, want)
			}
		}
		for _, bad := range []string{"unsafe-inline", "unsafe-eval", "*"} {
			if strings.Contains(csp, bad) {
				t.Errorf("%s: CSP %q allows %s", what, csp, bad)
			}
		}
		if h.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("%s: X-Content-Type-Options %q", what, h.Get("X-Content-Type-Options"))
		}
		if h.Get("Referrer-Policy") == "" {
			t.Errorf("%s: no Referrer-Policy", what)
		}
		if got := h.Get("Strict-Transport-Security") != ""; got != hsts {
			t.Errorf("%s: HSTS present=%v, want %v", what, got, hsts)
		}
	}
	t.Run("plain", func(t *testing.T) {
		app := newApp(t)
		b := app.login(domain.RoleAdmin)
		for _, p := range []string{"/login", "/admin/users", "/no-such-page", "/static/app.js"} {
			res, _ := b.get(p)
			check(t, p, res.Header, false)
		}
		res, _ := app.apiDo(http.MethodGet, "/api/v1/no-such-thing", "")
		check(t, "API error", res.Header, false)
	})
	t.Run("TLS", func(t *testing.T) {
		app := newApp(t, func(o *handlers.Options) { o.TLS = true })
		b := app.browser()
		res, _ := b.get("/login")
		check(t, "/login over TLS", res.Header, true)
		if !strings.Contains(res.Header.Get("Strict-Transport-Security"), "max-age=") {
			t.Errorf("HSTS %q", res.Header.Get("Strict-Transport-Security"))
		}
		var secure bool
		for _, c := range res.Cookies() {
			if c.Name == "stockline_session" {
				secure = c.Secure && c.HttpOnly
			}
		}
		if !secure {
			t.Error("the session cookie is not Secure and HttpOnly under TLS")
		}
	})
}

// TestPagesHaveNoInlineScriptOrStyle backs the CSP: a page that relied on
// inline script or style would break under it.
func TestPagesHaveNoInlineScriptOrStyle(t *testing.T) {
	app := newApp(t)
	b := app.login(domain.RoleAdmin)
	for _, p := range []string{"/login", "/admin/users", "/admin/users/1", "/admin/tokens", "/admin/audit"} {
		_, body := b.get(p)
		d := adminDoc(t, body)
		d.Find("script").Each(func(_ int, s *goquery.Selection) {
			if _, ok := s.Attr("src"); !ok {
				t.Errorf("%s: inline <script>", p)
			}
		})
		if d.Find("style, [style]").Length() > 0 {
			t.Errorf("%s: inline style", p)
		}
		d.Find("*").Each(func(_ int, s *goquery.Selection) {
			for _, a := range s.Nodes[0].Attr {
				if strings.HasPrefix(a.Key, "on") || strings.HasPrefix(a.Key, "hx-on") {
					t.Errorf("%s: inline handler %s on <%s>", p, a.Key, s.Nodes[0].Data)
				}
			}
		})
	}
}

func TestSessionIdleTimeout(t *testing.T) {
	app := newApp(t, func(o *handlers.Options) { o.IdleTimeout = 2 * time.Second })
	b := app.login(domain.RoleSupport)
	if res, _ := b.get("/"); secSignedOut(res) {
		t.Fatal("signed out straight after sign-in")
	}
	time.Sleep(2500 * time.Millisecond)
	if res, _ := b.get("/"); !secSignedOut(res) {
		t.Fatalf("idle session still served: %d %s", res.StatusCode, res.Header.Get("Location"))
	}
}

func TestSessionAbsoluteTimeout(t *testing.T) {
	app := newApp(t, func(o *handlers.Options) { o.AbsoluteTimeout = 2 * time.Second; o.IdleTimeout = time.Hour })
	b := app.login(domain.RoleSupport)
	cookie := secCookieHeader(t, b)
	if res := secReplay(t, app, "/", cookie); secSignedOut(res) {
		t.Fatal("signed out straight after sign-in")
	}
	time.Sleep(2500 * time.Millisecond)
	// The browser would drop the cookie by now; a client that keeps it
	// must be refused by the server's own record.
	if res := secReplay(t, app, "/", cookie); !secSignedOut(res) {
		t.Fatalf("expired session still served: %d %s", res.StatusCode, res.Header.Get("Location"))
	}
}

func TestInternalErrorsDoNotLeak(t *testing.T) {
	app := newApp(t)
	app.Srv.Echo.Logger.SetOutput(io.Discard) // the recovered panic's stack is for the logs, not the test output
	const secret = "pq: password authentication failed for user \"sekrit\" at 10.0.0.5"
	// Extra routes on this test's own server, outside the role matrix:
	// a handler that fails and one that panics.
	app.Srv.Echo.GET("/test-fail", func(echo.Context) error { return errors.New(secret) })
	app.Srv.Echo.GET("/test-panic", func(echo.Context) error { panic(secret) })
	app.Srv.Echo.GET("/api/v1/test-fail", func(echo.Context) error { return fmt.Errorf("store: %w", errors.New(secret)) })
	b := app.login(domain.RoleSupport)
	for _, p := range []string{"/test-fail", "/test-panic"} {
		res, body := b.get(p)
		if res.StatusCode != http.StatusInternalServerError {
			t.Errorf("%s: %d", p, res.StatusCode)
		}
		if strings.Contains(body, "sekrit") || strings.Contains(body, "pq:") || strings.Contains(body, "goroutine") {
			t.Errorf("%s leaks: %s", p, body)
		}
		d := adminDoc(t, body)
		if d.Find(`[data-testid="error-page"]`).Length() != 1 || !strings.Contains(adminText(d, `[data-testid="error-message"]`), "Internal error") {
			t.Errorf("%s: not the friendly error page", p)
		}
		res, body = b.get(p, "HX-Request", "true")
		if res.StatusCode != http.StatusInternalServerError || strings.Contains(body, "sekrit") || !strings.Contains(body, `data-testid="error-fragment"`) {
			t.Errorf("%s over htmx: %d %s", p, res.StatusCode, body)
		}
	}
	res, body := app.apiDo(http.MethodGet, "/api/v1/test-fail", "")
	if res.StatusCode != http.StatusInternalServerError || strings.Contains(body, "sekrit") {
		t.Errorf("API internal error: %d %s", res.StatusCode, body)
	}
	if code, _ := secAPIError(t, "API internal error", res, body); code != domain.EINTERNAL {
		t.Errorf("API internal error code %q", code)
	}
	// Unknown routes: a friendly page, and a JSON error for the API.
	res, body = b.get("/no/such/page")
	if res.StatusCode != http.StatusNotFound || adminDoc(t, body).Find(`[data-testid="error-page"]`).Length() != 1 {
		t.Errorf("unknown page: %d", res.StatusCode)
	}
	res, body = app.apiDo(http.MethodGet, "/api/v1/no/such/thing", "")
	if res.StatusCode != http.StatusNotFound {
		t.Errorf("unknown API route: %d", res.StatusCode)
	}
	if code, _ := secAPIError(t, "unknown API route", res, body); code != domain.ENOTFOUND {
		t.Errorf("unknown API route code %q", code)
	}
	res, body = app.apiDo(http.MethodDelete, "/api/v1/test-fail", "")
	if res.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("wrong API method: %d", res.StatusCode)
	}
	secAPIError(t, "wrong API method", res, body)
}
