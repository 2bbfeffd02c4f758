package handlers_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"

	"stockline/domain"
	"stockline/handlers"
	"stockline/store"
	"stockline/store/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

var seedOnce sync.Once

// seeded returns the package database with the demo retailer loaded once.
// Tests that change stock should use SKUs no other test touches, or
// pgtest.Fresh for isolation.
func seeded(t *testing.T) *store.DB {
	t.Helper()
	db := pgtest.Open(t)
	seedOnce.Do(func() {
		store.BcryptCost = 4 // fast hashing in tests; production keeps the default
		if _, err := db.SeedDemo(context.Background()); err != nil {
			t.Fatalf("seed: %v", err)
		}
	})
	return db
}

// testApp is a real HTTP server over the real handlers and database.
type testApp struct {
	t   *testing.T
	DB  *store.DB
	Srv *handlers.Server
	URL string
}

// newApp starts the handlers on an httptest server over the seeded
// package database.
func newApp(t *testing.T, opts ...func(*handlers.Options)) *testApp {
	t.Helper()
	db := seeded(t)
	o := handlers.Options{SessionSecret: []byte("test-secret-test-secret-test-secret-1234")}
	for _, f := range opts {
		f(&o)
	}
	srv := handlers.New(db, slog.New(slog.NewTextHandler(io.Discard, nil)), o)
	ts := httptest.NewServer(srv)
	t.Cleanup(ts.Close)
	return &testApp{t: t, DB: db, Srv: srv, URL: ts.URL}
}

// browser is a cookie-keeping HTTP client that does not follow redirects,
// so tests can see them.
type browser struct {
	t    *testing.T
	app  *testApp
	c    *http.Client
	csrf string
}

func (a *testApp) browser() *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{t: a.t, app: a, c: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

var csrfInput = regexp.MustCompile(`name="_csrf" value="([^"]+)"`)

// get fetches path and remembers the page's CSRF token.
func (b *browser) get(path string, hdr ...string) (*http.Response, string) {
	b.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, b.app.URL+path, nil)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	res, err := b.c.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if m := csrfInput.FindSubmatch(body); m != nil {
		b.csrf = string(m[1])
	}
	return res, string(body)
}

// post submits a form with the remembered CSRF token (unless the form
// sets _csrf itself).
func (b *browser) post(path string, form url.Values, hdr ...string) (*http.Response, string) {
	b.t.Helper()
	if form == nil {
		form = url.Values{}
	}
	if _, ok := form["_csrf"]; !ok {
		form.Set("_csrf", b.csrf)
	}
	req, _ := http.NewRequest(http.MethodPost, b.app.URL+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	res, err := b.c.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if m := csrfInput.FindSubmatch(body); m != nil {
		b.csrf = string(m[1])
	}
	return res, string(body)
}

// demoPassword returns the seeded password for role.
func demoUser(t *testing.T, role domain.Role) store.DemoUser {
	for _, u := range store.DemoUsers {
		if u.Role == role {
			return u
		}
	}
	t.Fatalf("no demo user for %s", role)
	return store.DemoUser{}
}

// login signs in as the demo user for role and returns the browser.
func (a *testApp) login(role domain.Role) *browser {
	a.t.Helper()
	b := a.browser()
	u := demoUser(a.t, role)
	b.get("/login")
	res, body := b.post("/login", url.Values{"email": {u.Email}, "password": {u.Password}})
	if res.StatusCode != http.StatusSeeOther {
		a.t.Fatalf("login as %s: status %d\n%s", role, res.StatusCode, body)
	}
	b.get(res.Header.Get("Location"))
	return b
}

// apiDo sends a JSON API request with the demo token (or tok if given).
func (a *testApp) apiDo(method, path, body string, hdr ...string) (*http.Response, string) {
	a.t.Helper()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req, _ := http.NewRequest(method, a.URL+path, r)
	req.Header.Set("Authorization", "Bearer "+store.DemoToken)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		if hdr[i+1] == "" {
			req.Header.Del(hdr[i])
		} else {
			req.Header.Set(hdr[i], hdr[i+1])
		}
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		a.t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	return res, string(b)
}

func TestLoginRedirectsToRoleHome(t *testing.T) {
	app := newApp(t)
	b := app.browser()
	b.get("/login")
	u := demoUser(t, domain.RoleAdmin)
	res, _ := b.post("/login", url.Values{"email": {u.Email}, "password": {u.Password}})
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/admin/users" {
		t.Fatalf("got %d to %q", res.StatusCode, res.Header.Get("Location"))
	}
	other := app.browser()
	other.get("/login")
	res, body := other.post("/login", url.Values{"email": {u.Email}, "password": {"wrong-password"}})
	if res.StatusCode != http.StatusUnauthorized || !strings.Contains(body, "do not match") {
		t.Fatalf("wrong password: %d %s", res.StatusCode, body)
	}
}
