package handlers_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"
	"github.com/labstack/echo/v4"

	"stockline/domain"
	"stockline/handlers"
	"stockline/store"
)

// secDemoParams are the values the role matrix puts in path parameters of
// safe (GET) routes: real demo records, so an allowed role reaches the
// handler. Add a name here when a route introduces a new parameter.
var secDemoParams = map[string]string{
	"sku":     "FOO-10000",
	"id":      "1",
	"code":    "S01",
	"channel": "bopis",
	"line":    "1",
	"kind":    "ready_for_pickup",
	"dl":      "1",
}

// secAbsentParams are the values for unsafe methods: records that do not
// exist, so an allowed request passes the role check without changing
// anything the other tests rely on.
var secAbsentParams = map[string]string{
	"sku":     "NO-SUCH-SKU",
	"id":      "999999999",
	"code":    "ZZ9",
	"channel": "no_such_channel",
	"line":    "999999999",
	"kind":    "no_such_kind",
	"dl":      "999999999",
}

// secPath fills a route's path parameters from values and fails loudly on
// a parameter the matrix does not know yet.
func secPath(t *testing.T, route string, values map[string]string) string {
	t.Helper()
	segs := strings.Split(route, "/")
	for i, s := range segs {
		switch {
		case strings.HasPrefix(s, ":"):
			v, ok := values[s[1:]]
			if !ok {
				t.Fatalf("route %s has path parameter %s with no demo value: add it to secDemoParams and secAbsentParams in handlers/security_test.go", route, s)
			}
			segs[i] = v
		case strings.Contains(s, "*"):
			t.Fatalf("route %s has a wildcard; give the role matrix a value for it in handlers/security_test.go", route)
		}
	}
	return strings.Join(segs, "/")
}

// secSend sends method to path as browser b: with the CSRF token (field
// and header) for unsafe methods.
func secSend(b *browser, method, path string) (*http.Response, string) {
	b.t.Helper()
	if method == http.MethodGet {
		return b.get(path)
	}
	form := url.Values{"_csrf": {b.csrf}}
	req, _ := http.NewRequest(method, b.app.URL+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("X-CSRF-Token", b.csrf)
	res, err := b.c.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	raw, _ := io.ReadAll(res.Body)
	res.Body.Close()
	return res, string(raw)
}

// secRoleRefusal reports whether a response is the role check's refusal:
// 403 with an explanation on the page, and no redirect.
func secRoleRefusal(res *http.Response, body string) bool {
	return res.StatusCode == http.StatusForbidden && res.Header.Get("Location") == "" &&
		strings.Contains(body, "cannot use this page") && strings.Contains(body, `data-testid="error-message"`)
}

// secAPIError decodes an API error body and checks its shape.
func secAPIError(t *testing.T, what string, res *http.Response, body string) (code, msg string) {
	t.Helper()
	if ct := res.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("%s: Content-Type %q, want JSON", what, ct)
	}
	var e struct {
		Error *struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	if err := json.Unmarshal([]byte(body), &e); err != nil || e.Error == nil || e.Error.Code == "" || e.Error.Message == "" {
		t.Errorf("%s: body is not {\"error\":{\"code\",\"message\"}}: %s", what, body)
		return "", ""
	}
	return e.Error.Code, e.Error.Message
}

// TestRoleMatrixCoversEveryRoute walks every registered route. Each must
// be registered through page, api or public. For page routes, each role
// is either refused with an explanation (403, no redirect) or let
// through; for API routes, no token gets 401 and a token without the
// route's scope gets 403, both as JSON errors.
func TestRoleMatrixCoversEveryRoute(t *testing.T) {
	app := newApp(t)
	ctx := context.Background()
	routes := app.Srv.RouteAccess()
	if len(routes) < 10 {
		t.Fatalf("only %d routes registered", len(routes))
	}
	shared := map[domain.Role]*browser{}
	for _, r := range domain.Roles {
		shared[r] = app.login(r)
	}
	tokens := map[string]string{} // scopes joined -> raw token
	tokenWith := func(scopes []string) string {
		key := strings.Join(scopes, ",")
		if raw, ok := tokens[key]; ok {
			return raw
		}
		raw := fmt.Sprintf("stk_matrix_%d_%s", len(tokens), strings.ReplaceAll(key, ",", "_"))
		if _, err := app.DB.CreateToken(ctx, domain.SystemActor("matrix"), "matrix "+key, raw, scopes); err != nil {
			t.Fatal(err)
		}
		tokens[key] = raw
		return raw
	}
	var pages, apis, publics int
	for _, rt := range routes {
		name := rt.Method + " " + rt.Path
		if !rt.Known {
			t.Errorf("%s was registered without page, api or public, so it has no access rule", name)
			continue
		}
		safe := rt.Method == http.MethodGet || rt.Method == http.MethodHead
		params := secDemoParams
		if !safe {
			params = secAbsentParams
		}
		switch a := rt.Access; {
		case a.Public:
			publics++
			if safe && !strings.Contains(rt.Path, "*") {
				res, _ := app.browser().get(secPath(t, rt.Path, params))
				if res.StatusCode == http.StatusForbidden || strings.HasPrefix(res.Header.Get("Location"), "/login") {
					t.Errorf("public %s refused an anonymous visitor: %d %s", name, res.StatusCode, res.Header.Get("Location"))
				}
			}
		case len(a.Scopes) > 0:
			apis++
			path := secPath(t, rt.Path, params)
			res, body := app.apiDo(rt.Method, path, "", "Authorization", "")
			if res.StatusCode != http.StatusUnauthorized {
				t.Errorf("%s with no token: %d, want 401", name, res.StatusCode)
			}
			if code, _ := secAPIError(t, name+" with no token", res, body); code != domain.EUNAUTHORIZED {
				t.Errorf("%s with no token: code %q", name, code)
			}
			var others []string
			for _, s := range domain.Scopes {
				// admin is the master scope that opens every route.
				if !slices.Contains(a.Scopes, s) && s != domain.ScopeAdmin {
					others = append(others, s)
				}
			}
			if len(others) > 0 {
				res, body = app.apiDo(rt.Method, path, "", "Authorization", "Bearer "+tokenWith(others))
				if res.StatusCode != http.StatusForbidden {
					t.Errorf("%s with scopes %v: %d, want 403", name, others, res.StatusCode)
				}
				if code, _ := secAPIError(t, name+" without its scope", res, body); code != domain.EFORBIDDEN {
					t.Errorf("%s without its scope: code %q", name, code)
				}
			}
			for _, s := range append(slices.Clone(a.Scopes), domain.ScopeAdmin) {
				res, body = app.apiDo(rt.Method, path, "", "Authorization", "Bearer "+tokenWith([]string{s}))
				if res.StatusCode == http.StatusUnauthorized || res.StatusCode == http.StatusForbidden {
					t.Errorf("%s with scope %s: %d %s", name, s, res.StatusCode, body)
				}
			}
		case len(a.Roles) > 0:
			pages++
			path := secPath(t, rt.Path, params)
			for _, role := range domain.Roles {
				b := shared[role]
				if !safe {
					b = app.login(role) // unsafe requests (sign-out among them) get a session of their own
				}
				res, body := secSend(b, rt.Method, path)
				allowed := slices.Contains(a.Roles, role)
				switch {
				case !allowed && !secRoleRefusal(res, body):
					t.Errorf("%s as %s: got %d (Location %q), want 403 with an explanation", name, role, res.StatusCode, res.Header.Get("Location"))
				case allowed && secRoleRefusal(res, body):
					t.Errorf("%s as %s: refused by the role check, but the route allows %v", name, role, a.Roles)
				case allowed && res.StatusCode == http.StatusForbidden && !role.Scoped():
					// Only a location-scoped role may meet a 403 past the
					// role check (a record outside its stores).
					t.Errorf("%s as %s: 403 for an allowed, unscoped role: %s", name, role, body)
				case allowed && safe && strings.HasPrefix(res.Header.Get("Location"), "/login"):
					// (An unsafe request runs on a fresh session, and may
					// itself end it: sign-out redirects to /login.)
					t.Errorf("%s as %s: sent to sign in", name, role)
				}
			}
			// Not signed in: sent to sign in, never served.
			res, _ := secSend(app.browser(), rt.Method, path)
			if safe && (res.StatusCode != http.StatusSeeOther || !strings.HasPrefix(res.Header.Get("Location"), "/login")) {
				t.Errorf("%s signed out: %d %q, want a redirect to /login", name, res.StatusCode, res.Header.Get("Location"))
			}
			if !safe && res.StatusCode < 300 {
				t.Errorf("%s signed out: served with %d", name, res.StatusCode)
			}
		default:
			t.Errorf("%s has an empty access rule", name)
		}
	}
	t.Logf("role matrix: %d page routes x %d roles, %d API routes, %d public routes", pages, len(domain.Roles), apis, publics)
	if pages == 0 {
		t.Fatal("no page routes checked")
	}
}

func TestCSRFMissingOrWrongTokenIsRefused(t *testing.T) {
	app := newApp(t)
	b := app.login(domain.RoleAdmin)
	b.get("/admin/tokens")
	good := b.csrf
	other := app.login(domain.RoleAdmin)
	other.get("/admin/tokens")
	cases := []struct {
		name string
		form url.Values
		hdr  []string
	}{
		{"missing token", url.Values{"_csrf": {""}}, nil},
		{"wrong token", url.Values{"_csrf": {"not-the-token"}}, nil},
		{"another session's token", url.Values{"_csrf": {other.csrf}}, nil},
		{"htmx with a wrong header", url.Values{"_csrf": {""}}, []string{"HX-Request", "true", "X-CSRF-Token", "forged"}},
		{"htmx with no header", url.Values{"_csrf": {""}}, []string{"HX-Request", "true"}},
		{"wrong header beats a good field", url.Values{"_csrf": {good}}, []string{"X-CSRF-Token", "forged"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tc.form.Set("name", "csrf "+tc.name)
			tc.form.Set("scopes", "availability")
			res, body := b.post("/admin/tokens", tc.form, tc.hdr...)
			if res.StatusCode != http.StatusForbidden {
				t.Fatalf("status %d, want 403", res.StatusCode)
			}
			if !strings.Contains(body, "did not come from Stockline") {
				t.Errorf("no explanation: %s", body)
			}
			if len(tc.hdr) > 0 && tc.hdr[1] == "true" {
				if res.Header.Get("HX-Retarget") != "#flash" || !strings.Contains(body, `data-testid="error-fragment"`) {
					t.Errorf("htmx refusal is not a fragment: %v %s", res.Header, body)
				}
			}
		})
	}
	toks, err := app.DB.ListTokens(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, tk := range toks {
		if strings.HasPrefix(tk.Name, "csrf ") {
			t.Fatalf("a refused request created token %q", tk.Name)
		}
	}
	// Sign-out needs the token too, and the session survives a forged one.
	res, _ := b.post("/logout", url.Values{"_csrf": {"forged"}})
	if res.StatusCode != http.StatusForbidden {
		t.Fatalf("forged sign-out: %d", res.StatusCode)
	}
	if res, _ := b.get("/admin/users"); res.StatusCode != http.StatusOK {
		t.Fatalf("session lost after a forged sign-out: %d", res.StatusCode)
	}
	// The sign-in form is protected as well (login CSRF).
	anon := app.browser()
	anon.get("/login")
	u := demoUser(t, domain.RoleSupport)
	if res, _ := anon.post("/login", url.Values{"email": {u.Email}, "password": {u.Password}, "_csrf": {""}}); res.StatusCode != http.StatusForbidden {
		t.Fatalf("sign-in without a token: %d", res.StatusCode)
	}
	// The right token works through the htmx header alone.
	res, _ = b.post("/admin/tokens", url.Values{"_csrf": {""}, "name": {"csrf-ok-" + t.Name()}, "scopes": {"availability"}},
		"HX-Request", "true", "X-CSRF-Token", good)
	if res.StatusCode != http.StatusCreated {
		t.Fatalf("htmx with the right header: %d", res.StatusCode)
	}
}

// secCookieHeader is the Cookie header the browser would send to the app.
func secCookieHeader(t *testing.T, b *browser) string {
	t.Helper()
	u, _ := url.Parse(b.app.URL)
	var parts []string
	for _, c := range b.c.Jar.Cookies(u) {
		parts = append(parts, c.Name+"="+c.Value)
	}
	if len(parts) == 0 {
		t.Fatal("the browser holds no cookie")
	}
	return strings.Join(parts, "; ")
}

// secReplay sends GET path with a raw Cookie header and no cookie jar.
func secReplay(t *testing.T, app *testApp, path, cookie string, hdr ...string) *http.Response {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, app.URL+path, nil)
	req.Header.Set("Cookie", cookie)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	return res
}

func secSignedOut(res *http.Response) bool {
	return res.StatusCode == http.StatusSeeOther && strings.HasPrefix(res.Header.Get("Location"), "/login")
}

func TestReplayedCookieAfterLogoutIsRejected(t *testing.T) {
	app := newApp(t)
	b := app.login(domain.RoleSupport)
	cookie := secCookieHeader(t, b)
	// While the session lives, the copied cookie works (so the check below can fail).
	if res := secReplay(t, app, "/", cookie); res.StatusCode != http.StatusSeeOther || strings.HasPrefix(res.Header.Get("Location"), "/login") {
		t.Fatalf("copied cookie before sign-out: %d %s", res.StatusCode, res.Header.Get("Location"))
	}
	res, _ := b.post("/logout", nil)
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/login" {
		t.Fatalf("sign-out: %d %s", res.StatusCode, res.Header.Get("Location"))
	}
	for _, p := range []string{"/", "/admin/users", "/inventory"} {
		if res := secReplay(t, app, p, cookie); !secSignedOut(res) {
			t.Errorf("replayed cookie on %s: %d %s", p, res.StatusCode, res.Header.Get("Location"))
		}
	}
	// htmx requests are told to go to the sign-in page.
	res = secReplay(t, app, "/", cookie, "HX-Request", "true")
	if res.StatusCode != http.StatusUnauthorized || !strings.HasPrefix(res.Header.Get("HX-Redirect"), "/login") {
		t.Errorf("replayed cookie over htmx: %d %q", res.StatusCode, res.Header.Get("HX-Redirect"))
	}
}

func TestSignInIssuesANewSession(t *testing.T) {
	app := newApp(t)
	b := app.browser()
	b.get("/login")
	before := secCookieHeader(t, b)
	u := demoUser(t, domain.RoleSupport)
	res, _ := b.post("/login", url.Values{"email": {u.Email}, "password": {u.Password}})
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("sign-in: %d", res.StatusCode)
	}
	var sc *http.Cookie
	for _, c := range res.Cookies() {
		if c.Name == "stockline_session" {
			sc = c
		}
	}
	if sc == nil || !sc.HttpOnly || sc.SameSite != http.SameSiteLaxMode || sc.Secure {
		t.Fatalf("session cookie %+v", sc)
	}
	if after := secCookieHeader(t, b); after == before {
		t.Fatal("the cookie did not change at sign-in")
	}
	// The pre-sign-in cookie (as a fixation attacker would hold it) is not signed in.
	if res := secReplay(t, app, "/", before); !secSignedOut(res) {
		t.Fatalf("pre-sign-in cookie is signed in: %d %s", res.StatusCode, res.Header.Get("Location"))
	}
}

func TestDisabledUserIsRejectedAtOnce(t *testing.T) {
	app := newApp(t)
	ctx := context.Background()
	email := adminUniqueEmail(t, "disable")
	u, err := app.DB.CreateUser(ctx, domain.SystemActor("test"), store.NewUser{Email: email, Role: domain.RoleInventoryLead, Password: "lead-password-1"})
	if err != nil {
		t.Fatal(err)
	}
	them := app.browser()
	them.get("/login")
	if res, _ := them.post("/login", url.Values{"email": {email}, "password": {"lead-password-1"}}); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("sign-in: %d", res.StatusCode)
	}
	if res, _ := them.get("/"); res.StatusCode != http.StatusSeeOther || strings.HasPrefix(res.Header.Get("Location"), "/login") {
		t.Fatalf("signed in user not served: %d %s", res.StatusCode, res.Header.Get("Location"))
	}
	admin := app.login(domain.RoleAdmin)
	admin.get(fmt.Sprintf("/admin/users/%d", u.ID))
	res, body := admin.post(fmt.Sprintf("/admin/users/%d", u.ID), url.Values{"role": {"inventory_lead"}, "status": {"disabled"}})
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("disable: %d %s", res.StatusCode, body)
	}
	if res, _ := them.get("/"); !secSignedOut(res) {
		t.Fatalf("disabled user's next request: %d %s", res.StatusCode, res.Header.Get("Location"))
	}
	again := app.browser()
	again.get("/login")
	res, body = again.post("/login", url.Values{"email": {email}, "password": {"lead-password-1"}})
	if res.StatusCode != http.StatusUnauthorized || !strings.Contains(body, "do not match an active account") {
		t.Fatalf("disabled user signed in again: %d", res.StatusCode)
	}
}

func TestXSSInProductNameRendersEscaped(t *testing.T) {
	app := newApp(t)
	ctx := context.Background()
	tag := fmt.Sprintf("qzx%d", rand.IntN(1_000_000))
	payload := `Evil ` + tag + ` <script>alert("xss")</script><img src=x onerror=alert(1)> "quoted" & 'single'`
	sku := "XSS-" + strings.ToUpper(tag)
	if _, err := app.DB.InsertTestProduct(ctx, sku, payload, "9"+fmt.Sprint(1_000_000_000+rand.IntN(1_000_000_000)), `Mugs <b>bold</b>`, 1299); err != nil {
		t.Fatal(err)
	}
	b := app.login(domain.RoleInventoryLead)
	check := func(where, body string) {
		t.Helper()
		if strings.Contains(body, "<script>alert") || strings.Contains(body, "<img src=x") || strings.Contains(body, "<b>bold</b>") {
			t.Errorf("%s: the payload is rendered as markup", where)
		}
		if !strings.Contains(body, "&lt;script&gt;") {
			t.Errorf("%s: the escaped name is not shown", where)
		}
		d := adminDoc(t, body)
		d.Find("script").Each(func(_ int, s *goquery.Selection) {
			if _, ok := s.Attr("src"); !ok || strings.TrimSpace(s.Text()) != "" {
				t.Errorf("%s: an inline script: %q", where, s.Text())
			}
		})
		if d.Find("[onerror]").Length() > 0 {
			t.Errorf("%s: an element with onerror", where)
		}
	}
	// The inventory pages are written alongside this test: wait a little
	// for them when run in a tree where they have just landed.
	res, body := b.get("/inventory?q=" + url.QueryEscape(tag))
	if res.StatusCode == http.StatusSeeOther { // a single match may go straight to its SKU page
		res, body = b.get(res.Header.Get("Location"))
	}
	if res.StatusCode != http.StatusOK {
		t.Fatalf("inventory search: %d", res.StatusCode)
	}
	check("inventory search", body)
	res, body = b.get("/inventory/" + url.PathEscape(sku))
	if res.StatusCode != http.StatusOK {
		t.Fatalf("SKU page: %d", res.StatusCode)
	}
	check("SKU page", body)

	// The audit trail shows stored JSON escaped too.
	if _, err := app.DB.CreateUser(ctx, domain.SystemActor("test"), store.NewUser{Email: adminUniqueEmail(t, "xss"), Name: payload,
		Role: domain.RoleSupport, Password: "support-password"}); err != nil {
		t.Fatal(err)
	}
	admin := app.login(domain.RoleAdmin)
	_, body = admin.get("/admin/audit?entity=user")
	check("audit trail", body)
	_, body = admin.get("/admin/users")
	check("users list", body)
}

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
