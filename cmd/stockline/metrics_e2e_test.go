package main

import (
	"fmt"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"stockline/domain"
	"stockline/store"
)

// TestDashboardJourney drives the real program in headless Chromium: the
// admin follows each dashboard's navigation link, sees its freshness line,
// a chart with its title and the table under it, and exports a table as
// CSV from the page; the associate's "My store" opens their own store.
func TestDashboardJourney(t *testing.T) {
	m, base := startProgram(t)
	css := func(s string) chromedp.CSS { return chromedp.CSS(s) }
	var sku string
	if err := m.DB.GetContext(t.Context(), &sku, `SELECT sku FROM products ORDER BY sku DESC LIMIT 1`); err != nil {
		t.Fatal(err)
	}
	setOnHand(t, m.DB, sku, "S01", 5)
	id, _ := placeOrder(t, base, fmt.Sprintf(`{"channel":"bopis","pickup_location":"S01","customer":{"name":"Amara Nwosu"},"lines":[{"sku":%q,"qty":1}]}`, sku))
	if _, err := m.DB.CancelOrder(t.Context(), domain.SystemActor("e2e"), id, store.CancelRequest{ReasonCode: domain.CancelOutOfStock}); err != nil {
		t.Fatal(err)
	}
	// The worker rebuilt the rollups at start; rebuild them now rather
	// than wait a minute for the cancellation to show.
	if _, err := m.DB.RefreshRollups(t.Context(), "e2e"); err != nil {
		t.Fatal(err)
	}
	ctx := newBrowser(t)
	signIn(t, ctx, base, demoUserFor(t, domain.RoleAdmin))
	for _, p := range []struct{ nav, href, section string }{
		{"Operations", "/dashboards/operations", "cancel-location"}, {"My store", "/dashboards/store", "bopis"},
		{"Accuracy", "/dashboards/inventory-accuracy", "accuracy"}, {"Fulfilment", "/dashboards/fulfilment", "cancel-channel"},
	} {
		step(t, ctx, "open "+p.nav,
			chromedp.Click(css(`nav ul.navlinks a[href="`+p.href+`"]`)),
			chromedp.WaitVisible(css(`[data-testid="freshness"]`)),
			chromedp.WaitVisible(css(`[data-testid="metric-`+p.section+`"]`)),
		)
		fresh := read(t, ctx, "freshness", chromedp.Text(css(`[data-testid="freshness"]`)))
		if !strings.Contains(fresh, "computed live at") {
			t.Fatalf("%s: freshness %q", p.nav, fresh)
		}
		if p.nav == "Operations" {
			title := read(t, ctx, "chart title", chromedp.Evaluate[string](`document.querySelector('[data-testid="metric-cancel-location"] svg > title').textContent`))
			rows := read(t, ctx, "table", chromedp.Text(css(`[data-testid="metric-cancel-location"] table tbody`)))
			if !strings.Contains(title, "Cancellation rate by location") || !strings.Contains(rows, "S01") {
				t.Fatalf("operations: chart %q, table %q", title, rows)
			}
		}
		href := read(t, ctx, "export link", chromedp.AttributeValue(css(`[data-testid="export-`+p.section+`"]`), "href")).Value
		csv := read(t, ctx, "export", chromedp.Evaluate[string](fmt.Sprintf(`fetch(%q).then(r => r.ok && r.headers.get("content-type").startsWith("text/csv") ? r.text() : "HTTP " + r.status)`, href),
			chromedp.EvalAwaitPromise))
		if lines := strings.Split(strings.TrimSpace(csv), "\n"); len(lines) < 1 || strings.HasPrefix(csv, "HTTP") || !strings.Contains(lines[0], ",") {
			t.Fatalf("%s: CSV export %q", p.nav, csv)
		}
	}
	// The associate's own store page, from the navigation.
	step(t, ctx, "sign out", chromedp.Click(css(`form[action="/logout"] button`)), chromedp.WaitVisible(css(`#email`)))
	actx := ctx
	signIn(t, actx, base, demoUserFor(t, domain.RoleAssociate))
	step(t, actx, "open my store",
		chromedp.Click(css(`nav ul.navlinks a[href="/dashboards/store"]`)),
		chromedp.WaitVisible(css(`[data-testid="metric-cancel-sku"]`)),
	)
	if loc := read(t, actx, "location", chromedp.Location()); !strings.HasSuffix(strings.SplitN(loc, "?", 2)[0], "/dashboards/stores/S01") {
		t.Fatalf("my store opened %s", loc)
	}
	if rows := read(t, actx, "cancellations by SKU", chromedp.Text(css(`[data-testid="metric-cancel-sku"] table tbody`))); !strings.Contains(rows, sku) {
		t.Fatalf("the store page lacks %s's cancellation: %q", sku, rows)
	}
}
