package handlers_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"stockline/connectors/sim"
	"stockline/domain"
	"stockline/handlers"
	"stockline/store"
)

// fillReader yields n bytes of 'a' and counts how many were taken.
type fillReader struct {
	left int64
	read atomic.Int64
}

func (r *fillReader) Read(p []byte) (int, error) {
	if r.left <= 0 {
		return 0, io.EOF
	}
	n := int64(len(p))
	if n > r.left {
		n = r.left
	}
	for i := range p[:n] {
		p[i] = 'a'
	}
	r.left -= n
	r.read.Add(n)
	return int(n), nil
}

// bigMultipart posts a multipart body of size bytes (the given fields first,
// then one file part filled with 'a') and reports the answer and how much of
// the body the client ever sent. chunked hides the length.
func bigMultipart(t *testing.T, c *http.Client, target string, size int64, chunked bool, fields map[string]string, hdr ...string) (int, string, int64) {
	t.Helper()
	var head strings.Builder
	for k, v := range fields {
		fmt.Fprintf(&head, "--xx\r\nContent-Disposition: form-data; name=%q\r\n\r\n%s\r\n", k, v)
	}
	head.WriteString("--xx\r\nContent-Disposition: form-data; name=\"file\"; filename=\"big.csv\"\r\nContent-Type: text/csv\r\n\r\nsku,quantity\n")
	tail := "\r\n--xx--\r\n"
	fill := &fillReader{left: size - int64(head.Len()+len(tail))}
	body := io.MultiReader(strings.NewReader(head.String()), fill, strings.NewReader(tail))
	req, _ := http.NewRequest(http.MethodPost, target, body)
	req.ContentLength = size
	if chunked {
		req.ContentLength = -1
	}
	req.Header.Set("Content-Type", "multipart/form-data; boundary=xx")
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	res, err := c.Do(req)
	if err != nil {
		t.Fatalf("POST %s: %v (after sending %d bytes)", target, err, fill.read.Load())
	}
	raw, _ := io.ReadAll(res.Body)
	res.Body.Close()
	return res.StatusCode, string(raw), fill.read.Load()
}

// TestBigUnauthenticatedBodiesAreRefusedUnread: a 50 MB multipart POST
// from nobody, to every POST route of the table (so a route added later is
// covered) or to no route at all, is refused before the server reads it,
// declared length or not.
func TestBigUnauthenticatedBodiesAreRefusedUnread(t *testing.T) {
	app := newApp(t)
	const size = 50 << 20
	paths := []string{"/no-such-page"}
	for _, rt := range app.Srv.RouteAccess() {
		if rt.Method == http.MethodPost {
			paths = append(paths, secPath(t, rt.Path, secAbsentParams))
		}
	}
	if len(paths) < 40 {
		t.Fatalf("only %d POST routes", len(paths))
	}
	for _, path := range paths {
		for _, chunked := range []bool{false, true} {
			status, body, sent := bigMultipart(t, http.DefaultClient, app.URL+path, size, chunked, map[string]string{"_csrf": "x"})
			if status < 400 || status >= 500 {
				t.Errorf("%s (chunked %v): %d, want a 4xx: %.300s", path, chunked, status, body)
			}
			// The webhook must read a body of up to 5 MiB to check its
			// signature: a chunked one is cut there, not sooner.
			allowed := int64(8 << 20)
			if path == "/webhooks/shopify" {
				allowed += 5 << 20
			}
			if sent > allowed {
				t.Errorf("%s (chunked %v): the client sent %d MiB before the answer; the server read the body", path, chunked, sent>>20)
			}
		}
	}
}

// TestCountUploadTooLarge: a signed-in associate's 50 MB count file is
// told the file is too large (413), whether the browser declared the
// length or not, and nothing is stored.
func TestCountUploadTooLarge(t *testing.T) {
	app := newApp(t)
	b := app.login(domain.RoleAssociate)
	b.get("/counts")
	var before int
	app.DB.GetContext(context.Background(), &before, `SELECT count(*) FROM count_uploads`)
	for _, chunked := range []bool{false, true} {
		status, body, _ := bigMultipart(t, b.c, app.URL+"/counts", 50<<20, chunked, map[string]string{"_csrf": b.csrf, "location": "S01"})
		if status != http.StatusRequestEntityTooLarge || !strings.Contains(body, "The file is too large") || strings.Contains(body, "line") && strings.Contains(body, "lines to count") {
			t.Errorf("50 MB upload (chunked %v): %d, want 413 saying the file is too large: %.2000s", chunked, status, body)
		}
	}
	var after int
	app.DB.GetContext(context.Background(), &after, `SELECT count(*) FROM count_uploads`)
	if after != before {
		t.Fatalf("a refused upload was stored")
	}
}

// TestLoginRefusesOverlongPassword: bcrypt reads 72 bytes; a longer
// password is refused with a reason, never accepted on its prefix.
func TestLoginRefusesOverlongPassword(t *testing.T) {
	app := newApp(t)
	email := adminUniqueEmail(t, "long")
	pw := strings.Repeat("p", 72)
	if _, err := app.DB.CreateUser(context.Background(), domain.SystemActor("test"), store.NewUser{Email: email, Role: domain.RoleSupport, Password: pw}); err != nil {
		t.Fatal(err)
	}
	b := secBrowserFrom(app, secIP())
	b.get("/login")
	res, body := b.post("/login", url.Values{"email": {email}, "password": {pw + "anything"}})
	if res.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(body, "72 bytes at most") {
		t.Fatalf("73+ byte password: %d %s", res.StatusCode, body)
	}
	if st := secTry(t, secBrowserFrom(app, secIP()), email, pw); st != http.StatusSeeOther {
		t.Fatalf("the 72-byte password itself: %d", st)
	}
}

// TestSignedInPagesAreNotCached: every answer to a signed-in user carries
// Cache-Control: no-store, pages, fragments, redirects and errors alike.
func TestSignedInPagesAreNotCached(t *testing.T) {
	app := newApp(t)
	for _, role := range domain.Roles {
		b := app.login(role)
		for _, p := range []string{"/", "/inventory", "/exceptions", "/orders", "/pickups", "/admin/users", "/no-such-page", "/counts"} {
			for _, htmx := range []bool{false, true} {
				var hdr []string
				if htmx {
					hdr = []string{"HX-Request", "true"}
				}
				res, _ := b.get(p, hdr...)
				if cc := res.Header.Get("Cache-Control"); cc != "no-store" {
					t.Errorf("%s as %s (htmx %v): %d with Cache-Control %q", p, role, htmx, res.StatusCode, cc)
				}
			}
		}
	}
	if res, _ := app.apiDo(http.MethodGet, "/api/v1/locations", ""); res.Header.Get("Cache-Control") != "no-store" {
		t.Errorf("API answer: Cache-Control %q", res.Header.Get("Cache-Control"))
	}
}

// TestAdminUnlocksALockedAccount: failed sign-ins lock an account; the
// user's admin page says so, and its Unlock button lets the owner in at
// once, audited; the per-address throttle is not lifted with it.
func TestAdminUnlocksALockedAccount(t *testing.T) {
	app := newApp(t, func(o *handlers.Options) { o.LoginMaxPerAccount = 3; o.LoginWindow = time.Hour })
	ctx := context.Background()
	email := adminUniqueEmail(t, "locked")
	u, err := app.DB.CreateUser(ctx, domain.SystemActor("test"), store.NewUser{Email: email, Role: domain.RoleSupport, Password: "right-password"})
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		secTry(t, secBrowserFrom(app, secIP()), email, "wrong-password")
	}
	if st := secTry(t, secBrowserFrom(app, secIP()), email, "right-password"); st != http.StatusTooManyRequests {
		t.Fatalf("locked account: %d", st)
	}
	admin := app.login(domain.RoleAdmin)
	_, body := admin.get(fmt.Sprintf("/admin/users/%d", u.ID))
	d := adminDoc(t, body)
	if d.Find(`[data-testid="user-locked"]`).Length() != 1 || d.Find(`form[data-testid="unlock-form"] input[name="_csrf"]`).Length() != 1 {
		t.Fatalf("the user page does not show the lock and its button:\n%s", body)
	}
	if res, _ := admin.post(fmt.Sprintf("/admin/users/%d/unlock", u.ID), url.Values{"_csrf": {"forged"}}); res.StatusCode != http.StatusForbidden {
		t.Fatalf("unlock without the CSRF token: %d", res.StatusCode)
	}
	res, _ := admin.post(fmt.Sprintf("/admin/users/%d/unlock", u.ID), nil)
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("unlock: %d", res.StatusCode)
	}
	_, body = admin.get(res.Header.Get("Location"))
	if !strings.Contains(body, "Unlocked "+email) || adminDoc(t, body).Find(`[data-testid="user-not-locked"]`).Length() != 1 {
		t.Fatalf("after unlock:\n%s", body)
	}
	if st := secTry(t, secBrowserFrom(app, secIP()), email, "right-password"); st != http.StatusSeeOther {
		t.Fatalf("unlocked account: %d", st)
	}
	var audited int
	app.DB.GetContext(ctx, &audited, `SELECT count(*) FROM audit_log WHERE action = 'user.unlock' AND entity_id = $1`, fmt.Sprint(u.ID))
	if audited != 1 {
		t.Fatalf("user.unlock audit rows: %d", audited)
	}
	// Support cannot unlock (admin only).
	if res, body := app.login(domain.RoleSupport).post(fmt.Sprintf("/admin/users/%d/unlock", u.ID), nil); !secRoleRefusal(res, body) {
		t.Fatalf("support unlocking: %d", res.StatusCode)
	}
}

// TestSignedWebhookWithNULIsDeadLettered: a signed delivery whose body
// PostgreSQL cannot store as text is answered 200 and dead-lettered with
// the bytes escaped, not 500 and forgotten; a redelivery is a duplicate.
func TestSignedWebhookWithNULIsDeadLettered(t *testing.T) {
	app := newApp(t, func(o *handlers.Options) { o.ShopifyWebhookSecret = webhookSecret })
	shopifyConnector(t, app.DB, "http://127.0.0.1:1")
	ctx := context.Background()
	now := time.Now().Add(-time.Minute).Truncate(time.Second)
	order := sim.ShopifyOrder(820982911946150077, 1077, "nul@example.com", now, now,
		[]sim.ShopifyLine{{ID: 1, VariantID: 4001, SKU: "BOT-11995", Quantity: 1}}, 0, nil)
	bodies := map[string][]byte{
		"escape":  []byte(strings.Replace(string(order), "nul@example.com", `nul\u0000@example.com`, 1)),
		"raw NUL": []byte(strings.Replace(string(order), "nul@example.com", "nul\x00@example.com", 1)),
		"latin-1": []byte(strings.Replace(string(order), "nul@example.com", "nul\xe9@example.com", 1)),
	}
	t.Cleanup(func() { // the webhook tests count this connector's events from zero
		for _, body := range bodies {
			sid := store.SyntheticEventID(body)
			app.DB.ExecContext(ctx, `DELETE FROM dead_letters WHERE inbound_event_id IN (SELECT id FROM inbound_events WHERE source_event_id = $1)`, sid)
			app.DB.ExecContext(ctx, `DELETE FROM inbound_events WHERE source_event_id = $1`, sid)
		}
	})
	for name, body := range bodies {
		t.Run(name, func(t *testing.T) {
			id := "wh-nul-" + strings.ReplaceAll(name, " ", "-")
			status, out := postWebhook(t, app, "orders/create", id, body, webhookSecret)
			if status != http.StatusOK || out["dead_lettered"] != float64(1) {
				t.Fatalf("signed webhook with %s: %d %v", name, status, out)
			}
			var payload, errText string
			if err := app.DB.QueryRowContext(ctx, `SELECT e.payload, d.error FROM inbound_events e JOIN dead_letters d ON d.inbound_event_id = e.id
				WHERE e.source_event_id = $1`, store.SyntheticEventID(body)).Scan(&payload, &errText); err != nil {
				t.Fatalf("no dead letter: %v", err)
			}
			if strings.ContainsRune(payload, 0) || !strings.Contains(payload, `nul\\`) || !strings.Contains(errText, "NUL") {
				t.Fatalf("dead letter payload %q error %q", payload, errText)
			}
			if status, out = postWebhook(t, app, "orders/create", id, body, webhookSecret); status != http.StatusOK || out["status"] != "duplicate" {
				t.Fatalf("redelivery: %d %v", status, out)
			}
			// The same bytes under a new delivery id are the same event.
			if status, out = postWebhook(t, app, "orders/create", id+"-again", body, webhookSecret); status != http.StatusOK || out["dead_lettered"] != float64(0) {
				t.Fatalf("same body, new delivery: %d %v", status, out)
			}
		})
	}
	res, out := app.apiDo(http.MethodGet, "/api/v1/orders?external_ref=820982911946150077", "")
	if res.StatusCode != http.StatusOK || strings.Contains(out, "820982911946150077") {
		t.Fatalf("a dead-lettered order was created: %s", out)
	}
	checkOK(t, app.DB)
}
