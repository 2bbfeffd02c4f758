package handlers_test

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"

	"stockline/domain"
	"stockline/handlers"
	"stockline/store"
)

// scopeKind names the store-owned object a page route acts on through its
// path parameters, or "" when it acts on none the object-scope test knows.
func scopeKind(path string) string {
	for _, k := range []struct{ prefix, kind string }{
		{"/orders/:id/lines/:line", "line"}, {"/pickups/:id/lines/:line", "line"},
		{"/orders/:id", "order"}, {"/pickups/:id", "order"},
		{"/exceptions/:id", "exception"}, {"/counts/:id", "count_upload"},
		{"/reservations/:id", "reservation"}, {"/transfers/:id", "transfer"},
		{"/returns/:id", "return"},
		{"/dashboards/stores/:code", "store"},
	} {
		if path == k.prefix || strings.HasPrefix(path, k.prefix+"/") {
			return k.kind
		}
	}
	return ""
}

// scopeExempt are the page routes with path parameters, open to a
// location-scoped role, that name no store-owned object, and why.
var scopeExempt = map[string]string{
	"/inventory/:sku":          "a product: the SKU page shows only the user's stores",
	"/inventory/:sku/adjust":   "the store is a form field, checked against the user's stores",
	"/policies/:channel":       "a channel policy is network-wide",
	"/reconciliation/runs/:id": "a run compares a whole connector, network-wide; its row shows no store's figures",
	"/transfers/rules/:id":     "an approval rule is network-wide (managers and admins edit it)",
}

// scopeFixtures are one object of each kind at a store outside both
// scoped demo users' stores (the associate has S01, the manager S01-S06),
// and for "line" an order collected at S01 whose line is held at S07.
type scopeFixtures struct {
	params                 map[string]map[string]string // kind -> path parameter values
	foreignOrder, ownOrder store.Order
}

func newScopeFixtures(t *testing.T, app *testApp) scopeFixtures {
	t.Helper()
	ctx := context.Background()
	sys := domain.SystemActor("scope-test")
	tok := domain.Actor{Kind: "token", Name: "scope-test"}
	sku := orderTestSKU(t, app, 41)
	for _, loc := range []string{"S01", "S07", "S08"} {
		setBOPISReservable(t, app.DB, sku, loc, 6)
	}
	order := func(pickup string) store.Order {
		cr, err := app.DB.CreateOrder(ctx, tok, domain.NewOrder{Channel: domain.BOPIS, PickupLocation: pickup,
			Customer: domain.Customer{Name: "Scope Probe " + pickup}, Lines: []domain.OrderLineInput{{SKU: sku, Qty: 1}}})
		if err != nil {
			t.Fatal(err)
		}
		return cr.Order
	}
	f := scopeFixtures{params: map[string]map[string]string{}}
	f.foreignOrder, f.ownOrder = order("S08"), order("S01")
	f.params["store"] = map[string]string{"code": "S08"}
	f.params["order"] = map[string]string{"id": fmt.Sprint(f.foreignOrder.ID), "line": fmt.Sprint(f.foreignOrder.Lines[0].ID)}

	// Collected at S01 (so the order is visible), the line reallocated to S07.
	split := order("S01")
	l := split.Lines[0]
	if _, err := app.DB.RejectLine(ctx, sys, split.ID, l.ID, domain.RejectNotFound, "", 0, "scope test"); err != nil {
		t.Fatal(err)
	}
	after, err := app.DB.ReallocateLine(ctx, sys, split.ID, l.ID, []store.Allocation{{Location: "S07", Qty: 1}})
	if err != nil {
		t.Fatal(err)
	}
	var held *store.OrderLine
	for i := range after.Lines {
		if after.Lines[i].Location == "S07" && after.Lines[i].Held() > 0 {
			held = &after.Lines[i]
		}
	}
	if held == nil {
		t.Fatalf("no line held at S07 after reallocation: %+v", after.Lines)
	}
	f.params["line"] = map[string]string{"id": fmt.Sprint(split.ID), "line": fmt.Sprint(held.ID)}

	title := fmt.Sprintf("Scope probe %d", f.foreignOrder.ID)
	if err := app.DB.RaiseException(ctx, sys, "S07", "", store.NewException{Kind: "reconciliation_drift", Title: title}); err != nil {
		t.Fatal(err)
	}
	var excID int64
	if err := app.DB.GetContext(ctx, &excID, `SELECT id FROM exceptions WHERE title = $1`, title); err != nil {
		t.Fatal(err)
	}
	f.params["exception"] = map[string]string{"id": fmt.Sprint(excID)}

	s07, err := app.DB.LocationByCode(ctx, "S07")
	if err != nil {
		t.Fatal(err)
	}
	up, err := app.DB.SaveCountUpload(ctx, sys, s07.ID, "scope.csv", 1, []any{}, []map[string]any{{"line": 2, "message": "probe"}})
	if err != nil {
		t.Fatal(err)
	}
	f.params["count_upload"] = map[string]string{"id": fmt.Sprint(up.ID)}

	res, body := app.reserve(fmt.Sprintf(`{"channel":"bopis","location":"S07","checkout_ref":"scope-test","lines":[{"sku":%q,"qty":1}]}`, sku), newKey())
	if res.StatusCode != http.StatusCreated {
		t.Fatalf("hold at S07: %d %s", res.StatusCode, body)
	}
	f.params["reservation"] = map[string]string{"id": fmt.Sprint(decodeAs[reservationBody](t, body).ID)}

	// A return received at S07 of an order collected at S08, its unit on
	// quality hold (line 1).
	collected := order("S08")
	if _, err := app.DB.PickLine(ctx, sys, collected.ID, collected.Lines[0].ID, sku, 1); err != nil {
		t.Fatal(err)
	}
	if _, err := app.DB.HandOver(ctx, sys, collected.ID); err != nil {
		t.Fatal(err)
	}
	ret, err := app.DB.CreateReturn(ctx, sys, domain.NewReturn{OrderID: collected.ID, Location: "S07",
		Lines: []domain.ReturnLineInput{{SKU: sku, Qty: 1, Disposition: string(domain.DispositionQualityHold)}}})
	if err != nil {
		t.Fatal(err)
	}
	f.params["return"] = map[string]string{"id": fmt.Sprint(ret.ID), "line": "1"}

	// A transfer between two stores outside both scoped users' stores.
	xfer, err := app.DB.CreateTransfer(ctx, tok, domain.NewTransfer{From: "S07", To: "S08", Lines: []domain.TransferLineInput{{SKU: sku, Qty: 1}}, Reason: "scope probe"})
	if err != nil {
		t.Fatal(err)
	}
	f.params["transfer"] = map[string]string{"id": fmt.Sprint(xfer.ID)}
	return f
}

// scopeSnapshot counts the rows any effect would add or change, so a
// refused request can be shown to have changed nothing.
func scopeSnapshot(t *testing.T, db *store.DB) string {
	t.Helper()
	var s string
	err := db.GetContext(context.Background(), &s, `SELECT concat_ws(',', (SELECT count(*) FROM ledger), (SELECT count(*) FROM audit_log),
		(SELECT count(*) FROM order_events), (SELECT count(*) FROM notifications),
		(SELECT count(*) FROM exceptions WHERE status = 'open'), (SELECT count(*) FROM reservations WHERE status = 'held'),
		(SELECT count(*) FROM count_uploads WHERE status = 'validated'), (SELECT count(*) FROM transfer_events),
		(SELECT coalesce(sum(cancelled), 0) FROM order_lines))`)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestObjectScopeOnEveryRoute walks the router: every page route with a
// path parameter that a location-scoped role may use must name the kind of
// object it acts on (or be exempt with a reason), and for each such route
// and each scoped role, another store's object answers 404, exactly as
// one that does not exist, and nothing changes.
func TestObjectScopeOnEveryRoute(t *testing.T) {
	app := newApp(t)
	f := newScopeFixtures(t, app)
	browsers := map[domain.Role]*browser{}
	for _, r := range domain.Roles {
		if r.Scoped() {
			browsers[r] = app.login(r)
		}
	}
	// The probes can fail: the user's own order opens.
	for _, p := range []string{"/orders/%d", "/pickups/%d"} {
		if res, _ := browsers[domain.RoleAssociate].get(fmt.Sprintf(p, f.ownOrder.ID)); res.StatusCode != http.StatusOK {
			t.Fatalf("associate's own order at %s: %d", p, res.StatusCode)
		}
	}
	before := scopeSnapshot(t, app.DB)
	checked := 0
	for _, rt := range app.Srv.RouteAccess() {
		if !strings.Contains(rt.Path, ":") || len(rt.Access.Roles) == 0 {
			continue // no path parameter, or an API route (tokens are not store-scoped)
		}
		var scoped []domain.Role
		for _, r := range rt.Access.Roles {
			if r.Scoped() {
				scoped = append(scoped, r)
			}
		}
		if len(scoped) == 0 {
			continue // only unscoped roles may use it
		}
		name := rt.Method + " " + rt.Path
		kind := scopeKind(rt.Path)
		if kind == "" {
			if _, ok := scopeExempt[rt.Path]; !ok {
				t.Errorf("%s takes a path parameter and is open to %v, but the object-scope test does not know what it acts on: "+
					"add it to scopeKind (with a fixture) or scopeExempt in handlers/scope_test.go", name, scoped)
			}
			continue
		}
		kinds := []string{kind}
		if kind == "line" {
			kinds = append(kinds, "order") // a line of another store's order too
		}
		for _, k := range kinds {
			params, ok := f.params[k]
			if !ok {
				t.Errorf("%s acts on a %s, and the object-scope test has no %s fixture at another store: add one to newScopeFixtures", name, k, k)
				continue
			}
			path := secPath(t, rt.Path, params)
			for _, role := range scoped {
				checked++
				res, body := secSend(browsers[role], rt.Method, path)
				if res.StatusCode != http.StatusNotFound {
					t.Errorf("%s as %s on another store's %s (%s): %d, want 404", name, role, k, path, res.StatusCode)
				}
				if strings.Contains(body, "Scope Probe S08") || strings.Contains(body, f.foreignOrder.Number) {
					t.Errorf("%s as %s: the refusal shows the other store's order", name, role)
				}
			}
		}
	}
	if checked < 20 {
		t.Fatalf("only %d route × role probes ran", checked)
	}
	if after := scopeSnapshot(t, app.DB); after != before {
		t.Fatalf("refused requests changed something: %s -> %s", before, after)
	}
	if !slices.ContainsFunc(app.Srv.RouteAccess(), func(r handlers.RouteRule) bool { return r.Path == "/orders/:id/lines/:line/cancel" }) {
		t.Fatal("the line cancel route is gone; the test lost its reason")
	}
	checkOK(t, app.DB)
}
