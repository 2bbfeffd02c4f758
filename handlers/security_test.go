package handlers_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/PuerkitoBio/goquery"

	"stockline/domain"
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
