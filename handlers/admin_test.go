package handlers_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/PuerkitoBio/goquery"

	"stockline/domain"
	"stockline/store"
)

// adminDoc parses an HTML body for structural assertions.
func adminDoc(t *testing.T, body string) *goquery.Document {
	t.Helper()
	d, err := goquery.NewDocumentFromReader(strings.NewReader(body))
	if err != nil {
		t.Fatalf("parse html: %v", err)
	}
	return d
}

// adminText is the trimmed text of the first element matching sel.
func adminText(d *goquery.Document, sel string) string {
	return strings.TrimSpace(d.Find(sel).First().Text())
}

// adminUniqueEmail returns an email no other test uses.
func adminUniqueEmail(t *testing.T, tag string) string {
	return fmt.Sprintf("%s-%s@example.test", tag, strings.ToLower(strings.NewReplacer("/", "-", "_", "-").Replace(t.Name())))
}

// adminMustStatus fails unless res has the status.
func adminMustStatus(t *testing.T, res *http.Response, body string, want int) {
	t.Helper()
	if res.StatusCode != want {
		t.Fatalf("%s %s: status %d, want %d\n%s", res.Request.Method, res.Request.URL.Path, res.StatusCode, want, body)
	}
}

// adminUserID finds the id of the user with email through the store.
func adminUserID(t *testing.T, db *store.DB, email string) int64 {
	t.Helper()
	users, _, err := db.ListUsersPage(context.Background(), 0, 200)
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range users {
		if u.Email == email {
			return u.ID
		}
	}
	t.Fatalf("no user %s", email)
	return 0
}

func TestAdminUsersListShowsEveryDemoUser(t *testing.T) {
	app := newApp(t)
	b := app.login(domain.RoleAdmin)
	res, body := b.get("/admin/users")
	adminMustStatus(t, res, body, http.StatusOK)
	d := adminDoc(t, body)
	for _, u := range store.DemoUsers {
		row := d.Find(`[data-testid="user-` + u.Email + `"]`)
		if row.Length() != 1 {
			t.Fatalf("no row for %s", u.Email)
		}
		cells := row.Find("td")
		if got := strings.TrimSpace(cells.Eq(2).Text()); got != u.Role.Label() {
			t.Errorf("%s role cell %q, want %q", u.Email, got, u.Role.Label())
		}
		if got := strings.TrimSpace(cells.Eq(4).Text()); got != "Active" {
			t.Errorf("%s status %q", u.Email, got)
		}
	}
	// The manager's scope is listed; unscoped roles read "All locations".
	mgr := d.Find(`[data-testid="user-manager@demo.stockline"] td`).Eq(3).Text()
	if !strings.Contains(mgr, "S01") || !strings.Contains(mgr, "S06") {
		t.Errorf("manager locations %q", mgr)
	}
	if d.Find(`form[data-testid="add-user-form"] select[name="locations"][multiple] option`).Length() != 13 {
		t.Errorf("the add form should offer all 13 locations")
	}
}

func TestAdminAddUserValidatesAndKeepsInput(t *testing.T) {
	app := newApp(t)
	b := app.login(domain.RoleAdmin)
	b.get("/admin/users")
	email := adminUniqueEmail(t, "new")
	cases := []struct {
		name  string
		form  url.Values
		field string
	}{
		{"bad email", url.Values{"email": {"not-an-email"}, "name": {"Ann Example"}, "role": {"support"}, "password": {"long-enough-pw"}}, "email"},
		{"no role", url.Values{"email": {email}, "name": {"Ann Example"}, "role": {""}, "password": {"long-enough-pw"}}, "role"},
		{"unknown role", url.Values{"email": {email}, "name": {"Ann Example"}, "role": {"overlord"}, "password": {"long-enough-pw"}}, "role"},
		{"associate without location", url.Values{"email": {email}, "name": {"Ann Example"}, "role": {"associate"}, "password": {"long-enough-pw"}}, "locations"},
		{"unknown location", url.Values{"email": {email}, "name": {"Ann Example"}, "role": {"associate"}, "locations": {"S01", "ZZ9"}, "password": {"long-enough-pw"}}, "locations"},
		{"short password", url.Values{"email": {email}, "name": {"Ann Example"}, "role": {"support"}, "password": {"short"}}, "password"},
		{"email taken", url.Values{"email": {"Lead@Demo.Stockline"}, "name": {"Ann Example"}, "role": {"support"}, "password": {"long-enough-pw"}}, "email"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			res, body := b.post("/admin/users", tc.form)
			adminMustStatus(t, res, body, http.StatusUnprocessableEntity)
			d := adminDoc(t, body)
			if msg := adminText(d, `[data-testid="err-`+tc.field+`"]`); msg == "" {
				t.Fatalf("no message next to %s:\n%s", tc.field, body)
			}
			form := d.Find(`form[data-testid="add-user-form"]`)
			if v, _ := form.Find(`input[name="name"]`).Attr("value"); v != "Ann Example" {
				t.Errorf("name not kept: %q", v)
			}
			if v, _ := form.Find(`input[name="email"]`).Attr("value"); v != tc.form.Get("email") {
				t.Errorf("email not kept: %q", v)
			}
			if r := tc.form.Get("role"); r != "" {
				if v, _ := form.Find(`select[name="role"] option[selected]`).Attr("value"); v != r && tc.field != "role" {
					t.Errorf("role not kept: %q", v)
				}
			}
			for _, l := range tc.form["locations"] {
				if form.Find(`select[name="locations"] option[selected][value="`+l+`"]`).Length() != 1 && l != "ZZ9" {
					t.Errorf("location %s not kept", l)
				}
			}
		})
	}
	// Nothing was created by the bad attempts.
	users, _, err := app.DB.ListUsersPage(context.Background(), 0, 200)
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range users {
		if u.Email == email {
			t.Fatalf("a rejected form created %s", email)
		}
	}
}

func TestAdminAddUserWithPasswordRedirectsAndAudits(t *testing.T) {
	app := newApp(t)
	b := app.login(domain.RoleAdmin)
	b.get("/admin/users")
	email := adminUniqueEmail(t, "assoc")
	res, body := b.post("/admin/users", url.Values{"email": {email}, "name": {"Sam Store"}, "role": {"associate"},
		"locations": {"S02", "S03"}, "password": {"a-good-password"}})
	adminMustStatus(t, res, body, http.StatusSeeOther)
	loc := res.Header.Get("Location")
	if !strings.HasPrefix(loc, "/admin/users/") {
		t.Fatalf("redirect to %q", loc)
	}
	res, body = b.get(loc)
	adminMustStatus(t, res, body, http.StatusOK)
	d := adminDoc(t, body)
	if f := adminText(d, `[data-testid="flash"]`); !strings.Contains(f, "Added "+email) {
		t.Fatalf("flash %q", f)
	}
	// The confirmation shows once: a reload has none.
	_, body = b.get(loc)
	if adminDoc(t, body).Find(`[data-testid="flash"]`).Length() != 0 {
		t.Errorf("flash shown twice")
	}
	id, _ := strconv.ParseInt(strings.TrimPrefix(loc, "/admin/users/"), 10, 64)
	u, err := app.DB.UserByID(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	if u.Role != domain.RoleAssociate || strings.Join(u.Locations, ",") != "S02,S03" || u.Name != "Sam Store" {
		t.Fatalf("stored %+v", u)
	}
	rows, err := app.DB.ListAudit(context.Background(), store.AuditFilter{Entity: "user", EntityID: fmt.Sprint(id)})
	if err != nil || len(rows) != 1 || rows[0].Action != "user.create" || rows[0].Actor != "user:admin@demo.stockline" {
		t.Fatalf("audit rows %+v, %v", rows, err)
	}
	// The new person can sign in with the password the admin set.
	nb := app.browser()
	nb.get("/login")
	res, _ = nb.post("/login", url.Values{"email": {email}, "password": {"a-good-password"}})
	if res.StatusCode != http.StatusSeeOther || strings.HasPrefix(res.Header.Get("Location"), "/login") {
		t.Fatalf("new user sign-in: %d %s", res.StatusCode, res.Header.Get("Location"))
	}
}

func TestAdminAddUserGeneratesPasswordShownOnce(t *testing.T) {
	app := newApp(t)
	b := app.login(domain.RoleAdmin)
	b.get("/admin/users")
	email := adminUniqueEmail(t, "support")
	// A support agent sees every location: a location picked by mistake is
	// not stored.
	res, body := b.post("/admin/users", url.Values{"email": {email}, "role": {"support"}, "locations": {"S01"}})
	adminMustStatus(t, res, body, http.StatusCreated)
	if cc := res.Header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("Cache-Control %q on a page with a secret", cc)
	}
	pw := adminText(adminDoc(t, body), `[data-testid="generated-password"]`)
	if len(pw) < 16 {
		t.Fatalf("generated password %q", pw)
	}
	u, err := app.DB.Authenticate(context.Background(), email, pw)
	if err != nil {
		t.Fatalf("generated password does not work: %v", err)
	}
	if len(u.Locations) != 0 {
		t.Errorf("unscoped role stored locations %v", u.Locations)
	}
	// The list page never shows it again.
	_, body = b.get("/admin/users")
	if strings.Contains(body, pw) {
		t.Fatal("the generated password appears on the users page")
	}
}

func TestAdminUpdateUserRoleLocationsAndDisable(t *testing.T) {
	app := newApp(t)
	ctx := context.Background()
	email := adminUniqueEmail(t, "mgr")
	if _, err := app.DB.CreateUser(ctx, domain.SystemActor("test"), store.NewUser{Email: email, Role: domain.RoleManager,
		Locations: []string{"S07"}, Password: "manager-password"}); err != nil {
		t.Fatal(err)
	}
	id := adminUserID(t, app.DB, email)
	path := fmt.Sprintf("/admin/users/%d", id)

	// The person is signed in somewhere.
	them := app.browser()
	them.get("/login")
	if res, _ := them.post("/login", url.Values{"email": {email}, "password": {"manager-password"}}); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("sign-in: %d", res.StatusCode)
	}

	b := app.login(domain.RoleAdmin)
	res, body := b.get(path)
	adminMustStatus(t, res, body, http.StatusOK)
	d := adminDoc(t, body)
	if v, _ := d.Find(`form[data-testid="edit-user-form"] select[name="role"] option[selected]`).Attr("value"); v != "manager" {
		t.Fatalf("edit form role %q", v)
	}
	if adminText(d, `[data-testid="user-sessions"]`) != "1" {
		t.Errorf("open sessions %q, want 1", adminText(d, `[data-testid="user-sessions"]`))
	}

	// Bad input re-renders with the message and the input kept.
	res, body = b.post(path, url.Values{"role": {"manager"}, "status": {"active"}})
	adminMustStatus(t, res, body, http.StatusUnprocessableEntity)
	if adminText(adminDoc(t, body), `[data-testid="err-locations"]`) == "" {
		t.Fatalf("no locations error:\n%s", body)
	}
	res, body = b.post(path, url.Values{"role": {"manager"}, "locations": {"S08"}, "status": {"sleeping"}})
	adminMustStatus(t, res, body, http.StatusUnprocessableEntity)
	d = adminDoc(t, body)
	if adminText(d, `[data-testid="err-status"]`) == "" || d.Find(`select[name="locations"] option[selected][value="S08"]`).Length() != 1 {
		t.Fatalf("status error or kept location missing:\n%s", body)
	}

	// Change the locations only: the person stays signed in.
	res, body = b.post(path, url.Values{"role": {"manager"}, "locations": {"S07", "S08"}, "status": {"active"}})
	adminMustStatus(t, res, body, http.StatusSeeOther)
	_, body = b.get(path)
	if f := adminText(adminDoc(t, body), `[data-testid="flash"]`); !strings.Contains(f, "Manager at S07, S08") {
		t.Fatalf("flash %q", f)
	}
	if res, _ := them.get("/"); res.StatusCode != http.StatusSeeOther || strings.HasPrefix(res.Header.Get("Location"), "/login") {
		t.Fatalf("a location change signed the person out: %d %s", res.StatusCode, res.Header.Get("Location"))
	}

	// Disable: their session ends at once and they cannot sign in.
	res, body = b.post(path, url.Values{"role": {"manager"}, "locations": {"S07", "S08"}, "status": {"disabled"}})
	adminMustStatus(t, res, body, http.StatusSeeOther)
	_, body = b.get(path)
	d = adminDoc(t, body)
	if f := adminText(d, `[data-testid="flash"]`); !strings.Contains(f, "disabled, and their 1 open session ended") {
		t.Fatalf("flash %q", f)
	}
	if adminText(d, `[data-testid="user-facts"] [data-testid="user-status"]`) != "Disabled" {
		t.Errorf("status not shown as Disabled")
	}
	res, _ = them.get("/")
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/login" {
		t.Fatalf("disabled user still served: %d %s", res.StatusCode, res.Header.Get("Location"))
	}
	again := app.browser()
	again.get("/login")
	if res, _ := again.post("/login", url.Values{"email": {email}, "password": {"manager-password"}}); res.StatusCode != http.StatusUnauthorized {
		t.Fatalf("disabled user signed in: %d", res.StatusCode)
	}

	// Enable again, as a support agent (no locations).
	res, body = b.post(path, url.Values{"role": {"support"}, "locations": {"S07"}, "status": {"active"}})
	adminMustStatus(t, res, body, http.StatusSeeOther)
	u, err := app.DB.UserByID(ctx, id)
	if err != nil || u.Disabled || u.Role != domain.RoleSupport || len(u.Locations) != 0 {
		t.Fatalf("after enable: %+v %v", u, err)
	}
	rows, err := app.DB.ListAudit(ctx, store.AuditFilter{Entity: "user", EntityID: fmt.Sprint(id)})
	if err != nil {
		t.Fatal(err)
	}
	var actions []string
	for _, r := range rows {
		actions = append(actions, r.Action)
	}
	if strings.Join(actions, ",") != "user.update,user.update,user.update,user.create" {
		t.Fatalf("audit actions newest first: %v", actions)
	}
	var before, after domain.User
	if rows[0].Before == nil || rows[0].After == nil || json.Unmarshal(*rows[0].Before, &before) != nil || json.Unmarshal(*rows[0].After, &after) != nil {
		t.Fatalf("audit row without before and after: %+v", rows[0])
	}
	if !before.Disabled || before.Role != domain.RoleManager || after.Disabled || after.Role != domain.RoleSupport {
		t.Errorf("audit before %+v, after %+v", before, after)
	}
}

func TestAdminCannotDemoteOrDisableThemselves(t *testing.T) {
	app := newApp(t)
	b := app.login(domain.RoleAdmin)
	id := adminUserID(t, app.DB, demoUser(t, domain.RoleAdmin).Email)
	path := fmt.Sprintf("/admin/users/%d", id)
	b.get(path)
	for _, form := range []url.Values{
		{"role": {"support"}, "status": {"active"}},
		{"role": {"admin"}, "status": {"disabled"}},
	} {
		res, body := b.post(path, form)
		adminMustStatus(t, res, body, http.StatusUnprocessableEntity)
		if adminText(adminDoc(t, body), `[data-testid="err-role"]`) == "" {
			t.Fatalf("no explanation:\n%s", body)
		}
	}
	if res, _ := b.get("/admin/users"); res.StatusCode != http.StatusOK {
		t.Fatalf("admin lost access: %d", res.StatusCode)
	}
}

func TestAdminUnknownUserIsNotFound(t *testing.T) {
	app := newApp(t)
	b := app.login(domain.RoleAdmin)
	for _, p := range []string{"/admin/users/999999", "/admin/users/abc"} {
		res, body := b.get(p)
		adminMustStatus(t, res, body, http.StatusNotFound)
		if adminDoc(t, body).Find(`[data-testid="error-page"]`).Length() != 1 {
			t.Errorf("%s: no friendly error page", p)
		}
	}
}

func TestAdminTokensCreateShowOnceAndRevoke(t *testing.T) {
	app := newApp(t)
	ctx := context.Background()
	b := app.login(domain.RoleAdmin)
	res, body := b.get("/admin/tokens")
	adminMustStatus(t, res, body, http.StatusOK)
	if strings.Contains(body, store.DemoToken) {
		t.Fatal("the tokens page shows a secret")
	}
	if !strings.Contains(body, store.DemoToken[:8]+"…") {
		t.Errorf("the demo token's prefix is not listed")
	}

	// Bad input keeps what was typed.
	res, body = b.post("/admin/tokens", url.Values{"name": {"till feed"}})
	adminMustStatus(t, res, body, http.StatusUnprocessableEntity)
	d := adminDoc(t, body)
	if adminText(d, `[data-testid="err-scopes"]`) == "" {
		t.Fatalf("no scopes error:\n%s", body)
	}
	if v, _ := d.Find(`#token-name`).Attr("value"); v != "till feed" {
		t.Errorf("name not kept: %q", v)
	}
	res, body = b.post("/admin/tokens", url.Values{"name": {"  "}, "scopes": {"inventory"}})
	adminMustStatus(t, res, body, http.StatusUnprocessableEntity)
	d = adminDoc(t, body)
	if adminText(d, `[data-testid="err-name"]`) == "" || d.Find(`input[name="scopes"][value="inventory"][checked]`).Length() != 1 {
		t.Fatalf("name error or kept scope missing:\n%s", body)
	}
	res, body = b.post("/admin/tokens", url.Values{"name": {"x"}, "scopes": {"superuser"}})
	adminMustStatus(t, res, body, http.StatusUnprocessableEntity)

	// Create: the raw token is on this response only.
	name := "pos feed " + t.Name()
	res, body = b.post("/admin/tokens", url.Values{"name": {name}, "scopes": {"availability", "inventory"}})
	adminMustStatus(t, res, body, http.StatusCreated)
	if res.Header.Get("Cache-Control") != "no-store" {
		t.Errorf("Cache-Control %q", res.Header.Get("Cache-Control"))
	}
	raw, _ := adminDoc(t, body).Find(`[data-testid="new-token"]`).Attr("value")
	if !strings.HasPrefix(raw, "stk_") || len(raw) < 30 {
		t.Fatalf("raw token %q", raw)
	}
	tok, err := app.DB.TokenByRaw(ctx, raw)
	if err != nil || tok.Name != name || strings.Join(tok.Scopes, ",") != "availability,inventory" {
		t.Fatalf("stored token %+v %v", tok, err)
	}
	res, body = b.get("/admin/tokens")
	if strings.Contains(body, raw) {
		t.Fatal("the secret is shown again")
	}
	row := adminDoc(t, body).Find(fmt.Sprintf(`[data-testid="token-%d"]`, tok.ID))
	if !strings.Contains(row.Text(), raw[:8]+"…") || !strings.Contains(row.Text(), "availability, inventory") ||
		strings.TrimSpace(row.Find(`[data-testid="token-status"]`).Text()) != "Active" {
		t.Fatalf("token row: %q", row.Text())
	}

	// Revoke: the token stops working at once; the row says so.
	res, body = b.post(fmt.Sprintf("/admin/tokens/%d/revoke", tok.ID), nil)
	adminMustStatus(t, res, body, http.StatusSeeOther)
	_, body = b.get(res.Header.Get("Location"))
	d = adminDoc(t, body)
	if f := adminText(d, `[data-testid="flash"]`); !strings.Contains(f, "Revoked token") || !strings.Contains(f, name) {
		t.Fatalf("flash %q", f)
	}
	if st := adminText(d, fmt.Sprintf(`[data-testid="token-%d"] [data-testid="token-status"]`, tok.ID)); !strings.HasPrefix(st, "Revoked") {
		t.Errorf("status after revoke %q", st)
	}
	if _, err := app.DB.TokenByRaw(ctx, raw); domain.ErrorCode(err) != domain.EUNAUTHORIZED {
		t.Fatalf("revoked token still accepted: %v", err)
	}
	res, _ = b.post(fmt.Sprintf("/admin/tokens/%d/revoke", tok.ID), nil)
	if res.StatusCode != http.StatusNotFound {
		t.Errorf("second revoke: %d", res.StatusCode)
	}
	rows, err := app.DB.ListAudit(ctx, store.AuditFilter{Entity: "api_token", EntityID: fmt.Sprint(tok.ID)})
	if err != nil || len(rows) != 2 || rows[0].Action != "token.revoke" || rows[1].Action != "token.create" {
		t.Fatalf("token audit %+v %v", rows, err)
	}
	if strings.Contains(string(*rows[1].After), raw) {
		t.Fatal("the audit row holds the secret")
	}
}

func TestAdminAuditNewestFirstFilterAndOlder(t *testing.T) {
	app := newApp(t)
	ctx := context.Background()
	// Enough rows for two pages, under one entity kind of their own.
	for i := range 60 {
		if _, err := app.DB.CreateToken(ctx, domain.SystemActor("audit-test"), fmt.Sprintf("audit-page-%02d", i),
			fmt.Sprintf("stk_audit_page_%s_%02d", t.Name(), i), []string{"availability"}); err != nil {
			t.Fatal(err)
		}
	}
	b := app.login(domain.RoleAdmin)
	res, body := b.get("/admin/audit")
	adminMustStatus(t, res, body, http.StatusOK)
	d := adminDoc(t, body)
	if d.Find(`select[name="entity"] option[value="api_token"]`).Length() != 1 || d.Find(`select[name="entity"] option[value="user"]`).Length() != 1 {
		t.Fatalf("entity filter lacks kinds")
	}

	ids := func(d *goquery.Document) []int64 {
		var out []int64
		d.Find(`[data-testid="audit-table"] tbody tr`).Each(func(_ int, s *goquery.Selection) {
			v, _ := s.Attr("data-testid")
			n, _ := strconv.ParseInt(strings.TrimPrefix(v, "audit-"), 10, 64)
			out = append(out, n)
		})
		return out
	}
	res, body = b.get("/admin/audit?entity=api_token")
	adminMustStatus(t, res, body, http.StatusOK)
	d = adminDoc(t, body)
	first := ids(d)
	if len(first) != 50 {
		t.Fatalf("first page has %d rows", len(first))
	}
	for i := 1; i < len(first); i++ {
		if first[i] >= first[i-1] {
			t.Fatalf("not newest first: %v", first)
		}
	}
	d.Find(`[data-testid="audit-table"] tbody tr`).Each(func(_ int, s *goquery.Selection) {
		if !strings.Contains(s.Find("td").Eq(3).Text(), "api_token") {
			t.Errorf("filter let through %q", s.Text())
		}
	})
	// The newest row is the last token created, with its after state.
	top := d.Find(`[data-testid="audit-table"] tbody tr`).First()
	if !strings.Contains(top.Text(), "audit-page-59") || !strings.Contains(top.Text(), "system:audit-test") ||
		top.Find("details summary").Length() != 1 {
		t.Fatalf("newest row %q", top.Text())
	}
	older, ok := d.Find(`[data-testid="audit-older"]`).Attr("href")
	if !ok || !strings.Contains(older, "entity=api_token") || !strings.Contains(older, fmt.Sprintf("before=%d", first[49])) {
		t.Fatalf("older link %q", older)
	}
	res, body = b.get(older)
	adminMustStatus(t, res, body, http.StatusOK)
	second := ids(adminDoc(t, body))
	if len(second) == 0 || second[0] >= first[49] {
		t.Fatalf("older page %v after %d", second, first[49])
	}

	res, body = b.get("/admin/audit?before=xyz")
	adminMustStatus(t, res, body, http.StatusBadRequest)
	res, body = b.get("/admin/audit?entity=no_such_entity")
	adminMustStatus(t, res, body, http.StatusOK)
	if adminDoc(t, body).Find(`[data-testid="audit-empty"]`).Length() != 1 {
		t.Errorf("no empty state")
	}
}

func TestAdminPagesAreForAdminsOnly(t *testing.T) {
	app := newApp(t)
	for _, role := range []domain.Role{domain.RoleAssociate, domain.RoleSupport, domain.RoleManager, domain.RoleInventoryLead} {
		b := app.login(role)
		for _, p := range []string{"/admin/users", "/admin/tokens", "/admin/audit", "/admin/users/1"} {
			res, body := b.get(p)
			if res.StatusCode != http.StatusForbidden || !strings.Contains(body, "cannot use this page") {
				t.Errorf("%s as %s: %d", p, role, res.StatusCode)
			}
		}
		// The navigation on the refusal page hides the admin links.
		_, body := b.get("/admin/audit")
		if adminDoc(t, body).Find(`nav a[href^="/admin/"]`).Length() != 0 {
			t.Errorf("%s sees the admin nav", role)
		}
	}
}
