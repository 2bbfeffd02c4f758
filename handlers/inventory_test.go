package handlers_test

import (
	"context"
	"fmt"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"stockline/domain"
)

// SKUs the page tests change; no other test touches them.
const (
	pageAdjustSKU = "KIT-11527"
	ledgerPageSKU = "BOT-11283"
)

func wantStatus(t *testing.T, res *http.Response, body string, status int) {
	t.Helper()
	if res.StatusCode != status {
		t.Fatalf("%s %s: status %d, want %d\n%s", res.Request.Method, res.Request.URL.Path, res.StatusCode, status, body)
	}
}

func count(body, s string) int { return strings.Count(body, s) }

func TestInventorySearch(t *testing.T) {
	app := newApp(t)
	b := app.login(domain.RoleAssociate)

	res, body := b.get("/inventory")
	wantStatus(t, res, body, 200)
	for _, want := range []string{`data-autofocus-scan`, `hx-get="/inventory"`, `hx-trigger="input changed delay:300ms, search"`, `data-testid="inventory-hint"`} {
		if !strings.Contains(body, want) {
			t.Fatalf("search page lacks %s", want)
		}
	}

	// A scanned SKU or barcode (exact) goes straight to the SKU page.
	prod, err := app.DB.ProductBySKU(context.Background(), "FOO-10000")
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{"FOO-10000", prod.Barcode, " " + prod.Barcode + " "} {
		res, _ := b.get("/inventory?q=" + url.QueryEscape(q))
		if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/inventory/FOO-10000" {
			t.Fatalf("scan %q: %d to %q", q, res.StatusCode, res.Header.Get("Location"))
		}
	}

	// A name search lists matches in pages with a Next link.
	res, body = b.get("/inventory?q=merino")
	wantStatus(t, res, body, 200)
	if n := count(body, `data-testid="product-row"`); n != 25 || !strings.Contains(body, "Merino Crew") {
		t.Fatalf("first page has %d rows", n)
	}
	next := regexp.MustCompile(`href="([^"]+)" data-testid="next-page"`).FindStringSubmatch(body)
	if next == nil {
		t.Fatal("no Next link on a full page of results")
	}
	res, body2 := b.get(html.UnescapeString(next[1]))
	wantStatus(t, res, body2, 200)
	if n := count(body2, `data-testid="product-row"`); n == 0 || strings.Contains(body2, `data-testid="next-page"`) && n < 25 {
		t.Fatalf("second page has %d rows", n)
	}
	firstSKUs := regexp.MustCompile(`<a href="/inventory/([^"]+)">`).FindAllStringSubmatch(body, -1)
	secondSKUs := regexp.MustCompile(`<a href="/inventory/([^"]+)">`).FindAllStringSubmatch(body2, -1)
	if len(firstSKUs) == 0 || len(secondSKUs) == 0 || secondSKUs[0][1] <= firstSKUs[len(firstSKUs)-1][1] {
		t.Fatal("the second page should continue after the first in SKU order")
	}

	// As-you-type (htmx) gets only the fragment, and never redirects.
	res, frag := b.get("/inventory?q=FOO-10000", "HX-Request", "true")
	wantStatus(t, res, frag, 200)
	if strings.Contains(frag, "<html") || !strings.Contains(frag, `id="results"`) || count(frag, `data-testid="product-row"`) != 1 {
		t.Fatalf("htmx fragment:\n%s", frag)
	}
	if !strings.Contains(res.Header.Get("Vary"), "HX-Request") {
		t.Fatal("the response varies by HX-Request")
	}
	// A history restore needs the whole page.
	res, full := b.get("/inventory?q=merino", "HX-Request", "true", "HX-History-Restore-Request", "true")
	if res.StatusCode != 200 || !strings.Contains(full, "<html") {
		t.Fatal("history restore should get the full page")
	}

	for _, odd := range []string{"100%25", "%27%20OR%201%3D1--"} {
		if res, body := b.get("/inventory?q=" + odd); res.StatusCode != http.StatusOK {
			t.Fatalf("odd query %q: %d\n%s", odd, res.StatusCode, body)
		}
	}
	for _, odd := range []string{"%ff%fe", "%00"} { // refused at the edge with the field named
		if res, body := b.get("/inventory?q=" + odd); res.StatusCode != http.StatusBadRequest || !strings.Contains(body, "The value of q") {
			t.Fatalf("odd query %q: %d\n%s", odd, res.StatusCode, body)
		}
	}
	res, body = b.get("/inventory?q=" + url.QueryEscape("no such thing"))
	wantStatus(t, res, body, 200)
	if !strings.Contains(body, `data-testid="inventory-empty"`) || !strings.Contains(body, "no such thing") {
		t.Fatal("no-match search should teach what to try")
	}
}

func TestSKUPage(t *testing.T) {
	app := newApp(t)
	ctx := context.Background()
	lead := app.login(domain.RoleInventoryLead)
	res, body := lead.get("/inventory/FOO-10008")
	wantStatus(t, res, body, 200)
	prod, _ := app.DB.ProductBySKU(ctx, "FOO-10008")
	for _, want := range []string{html.EscapeString(prod.Name), prod.Barcode, prod.Price(), `data-testid="adjust-link"`, `data-testid="stock-bars"`, `data-testid="ledger-table"`} {
		if !strings.Contains(body, want) {
			t.Fatalf("SKU page lacks %q", want)
		}
	}
	if n := len(regexp.MustCompile(`data-testid="stock-(DC1|S\d\d)"`).FindAllString(body, -1)); n != 13 {
		t.Fatalf("want a row for each of 13 locations, found %d", n)
	}
	// Buckets per location, as stored.
	stock, _ := app.DB.StockForSKU(ctx, "FOO-10008")
	for _, l := range stock {
		for _, bk := range domain.Buckets {
			want := fmt.Sprintf(`data-testid="%s-%s">%d<`, l.Code, bk, l.Get(bk))
			if !strings.Contains(body, want) {
				t.Fatalf("missing %s", want)
			}
		}
	}
	// Ineligible cells say why; eligible ones show a number.
	for _, want := range []string{
		`data-testid="DC1-atp-bopis"><abbr title="DC1 is a dc; bopis serves store locations only."`,
		`data-testid="S06-atp-bopis"><abbr title="S06 does not offer pickup, which bopis requires."`,
		`data-testid="S03-atp-ship_from_store"><abbr title="S03 does not ship from store, which ship_from_store requires."`,
		`data-testid="S01-atp-ecommerce_ship"><abbr title="S01 is a store; ecommerce_ship serves dc or warehouse locations only."`,
	} {
		if !strings.Contains(body, want) {
			t.Fatalf("missing ineligible cell %s", want)
		}
	}
	pols, _ := app.DB.CachedPolicies(ctx)
	for _, ch := range domain.Channels {
		a := domain.ChannelAvailability(pols[ch], stock)
		if want := fmt.Sprintf(`data-testid="network-%s">%d<`, ch, a.NetworkATP); !strings.Contains(body, want) {
			t.Fatalf("missing %s", want)
		}
		for _, la := range a.Locations {
			if la.Eligible && !strings.Contains(body, fmt.Sprintf(`data-testid="%s-atp-%s">%d<`, la.Code, ch, la.ATP)) {
				t.Fatalf("missing ATP %d for %s at %s", la.ATP, ch, la.Code)
			}
		}
	}
	if strings.Contains(body, `style=`) {
		t.Fatal("no inline style: the CSP forbids it")
	}

	res, body = lead.get("/inventory/NOPE-00000")
	wantStatus(t, res, body, 404)
	if !strings.Contains(body, `data-testid="error-page"`) {
		t.Fatal("unknown SKU should get the friendly error page")
	}
}

func TestSKUPageScopedToOwnLocations(t *testing.T) {
	app := newApp(t)
	assoc := app.login(domain.RoleAssociate) // S01 only
	res, body := assoc.get("/inventory/FOO-10008")
	wantStatus(t, res, body, 200)
	if !strings.Contains(body, `data-testid="stock-S01"`) || strings.Contains(body, `data-testid="stock-S02"`) || strings.Contains(body, `data-testid="stock-DC1"`) {
		t.Fatal("an associate sees only their own locations' rows")
	}
	if !strings.Contains(body, `data-testid="scope-note"`) || strings.Contains(body, `data-testid="adjust-link"`) {
		t.Fatal("scope note shown, adjust link hidden for associates")
	}
	ledger := regexp.MustCompile(`<tr data-testid="ledger-row"><td[^>]*>[^<]*</td><td>([^<]*)</td>`).FindAllStringSubmatch(body, -1)
	if len(ledger) == 0 {
		t.Fatal("the associate should see S01's ledger")
	}
	for _, m := range ledger {
		if m[1] != "S01" {
			t.Fatalf("associate sees a ledger row for %s", m[1])
		}
	}

	mgr := app.login(domain.RoleManager) // S01..S06
	_, body = mgr.get("/inventory/FOO-10008")
	if !strings.Contains(body, `data-testid="stock-S06"`) || strings.Contains(body, `data-testid="stock-S07"`) {
		t.Fatal("a manager sees the stores in their scope only")
	}
	for _, role := range []domain.Role{domain.RoleAssociate, domain.RoleManager, domain.RoleSupport} {
		b := app.login(role)
		res, body := b.get("/inventory/FOO-10008/adjust")
		wantStatus(t, res, body, 403)
		res, body = b.post("/inventory/FOO-10008/adjust", url.Values{"location": {"S01"}, "reason": {"received"}, "mode": {"delta"}, "quantity": {"1"}})
		wantStatus(t, res, body, 403)
	}
}

func TestAdjustFormRefusesBadInputKeepingIt(t *testing.T) {
	app := newApp(t)
	ctx := context.Background()
	lead := app.login(domain.RoleInventoryLead)
	res, body := lead.get("/inventory/" + pageAdjustSKU + "/adjust")
	wantStatus(t, res, body, 200)
	for _, r := range domain.AdjustmentReasons {
		if !strings.Contains(body, fmt.Sprintf(`<option value="%s">%s</option>`, r, html.EscapeString(domain.ReasonLabel(r)))) {
			t.Fatalf("reason %s missing from the form", r)
		}
	}
	prod, _ := app.DB.ProductBySKU(ctx, pageAdjustSKU)
	s02, _ := app.DB.LocationByCode(ctx, "S02")
	before, _ := app.DB.PositionAt(ctx, s02.ID, prod.ID)

	form := func(loc, reason, mode, qty, note string) url.Values {
		return url.Values{"location": {loc}, "reason": {reason}, "mode": {mode}, "quantity": {qty}, "note": {note}}
	}
	cases := []struct {
		name  string
		form  url.Values
		field string
	}{
		{"fraction", form("S02", "received", "delta", "2.5", "keep <me>"), "quantity"},
		{"words", form("S02", "received", "delta", "three", "keep <me>"), "quantity"},
		{"empty quantity", form("S02", "received", "delta", "", "keep <me>"), "quantity"},
		{"no reason", form("S02", "", "delta", "3", "keep <me>"), "reason"},
		{"bad reason", form("S02", "sale", "delta", "3", "keep <me>"), "reason"},
		{"no location", form("", "received", "delta", "3", "keep <me>"), "location"},
		{"unknown location", form("S99", "received", "delta", "3", "keep <me>"), "location"},
		{"bad mode", form("S02", "received", "guess", "3", "keep <me>"), "mode"},
		{"zero", form("S02", "received", "delta", "0", "keep <me>"), "quantity"},
		{"more than on hand", form("S02", "shrinkage", "delta", fmt.Sprint(before.OnHand+1), "keep <me>"), "quantity"},
		{"count with received", form("S02", "received", "counted", "4", "keep <me>"), "quantity"},
		{"negative count", form("S02", "cycle_count", "counted", "-1", "keep <me>"), "quantity"},
		{"count equals on hand", form("S02", "cycle_count", "counted", fmt.Sprint(before.OnHand), "keep <me>"), "quantity"},
		{"note too long", form("S02", "received", "delta", "3", strings.Repeat("n", 1001)), "note"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			res, body := lead.post("/inventory/"+pageAdjustSKU+"/adjust", tc.form)
			wantStatus(t, res, body, http.StatusUnprocessableEntity)
			if count(body, `data-testid="err-`) != 1 || !strings.Contains(body, `data-testid="err-`+tc.field+`"`) {
				t.Fatalf("want exactly one error, beside %s:\n%s", tc.field, body)
			}
			// The user's input comes back.
			if q := tc.form.Get("quantity"); q != "" && !strings.Contains(body, `value="`+html.EscapeString(q)+`"`) {
				t.Fatalf("quantity %q not kept", q)
			}
			if n := tc.form.Get("note"); !strings.Contains(body, ">"+html.EscapeString(n)+"</textarea>") {
				t.Fatal("note not kept")
			}
			if r := tc.form.Get("reason"); r == "received" && !strings.Contains(body, `<option value="received" selected>`) {
				t.Fatal("reason not kept")
			}
			if tc.form.Get("mode") == "counted" && !strings.Contains(body, `value="counted" checked`) {
				t.Fatal("mode not kept")
			}
		})
	}
	if after, _ := app.DB.PositionAt(ctx, s02.ID, prod.ID); after != before {
		t.Fatalf("refused adjustments moved stock: %+v to %+v", before, after)
	}
	// A stale or missing CSRF token is refused before anything happens.
	res, _ = lead.post("/inventory/"+pageAdjustSKU+"/adjust", url.Values{"_csrf": {"forged"}, "location": {"S02"}, "reason": {"received"}, "mode": {"delta"}, "quantity": {"1"}})
	if res.StatusCode != http.StatusForbidden {
		t.Fatalf("forged CSRF: %d", res.StatusCode)
	}
}

func TestAdjustmentShowsOnSKUPage(t *testing.T) {
	app := newApp(t)
	ctx := context.Background()
	prod, _ := app.DB.ProductBySKU(ctx, pageAdjustSKU)
	s01, _ := app.DB.LocationByCode(ctx, "S01")
	before, _ := app.DB.PositionAt(ctx, s01.ID, prod.ID)
	for _, role := range []domain.Role{domain.RoleInventoryLead, domain.RoleAdmin} {
		b := app.login(role)
		b.get("/inventory/" + pageAdjustSKU + "/adjust")
		res, body := b.post("/inventory/"+pageAdjustSKU+"/adjust", url.Values{
			"location": {"S01"}, "reason": {"received"}, "mode": {"delta"}, "quantity": {"+3"}, "note": {"delivery " + string(role)},
		})
		if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/inventory/"+pageAdjustSKU {
			t.Fatalf("%s adjust: %d to %q\n%s", role, res.StatusCode, res.Header.Get("Location"), body)
		}
		res, body = b.get(res.Header.Get("Location"))
		wantStatus(t, res, body, 200)
		want := fmt.Sprintf("On hand at S01 went from %d to %d (+3, received).", before.OnHand, before.OnHand+3)
		if !strings.Contains(body, `data-testid="flash">`+want+`<`) {
			t.Fatalf("%s: confirmation %q missing", role, want)
		}
		row := regexp.MustCompile(`<tr data-testid="ledger-row">.*?</tr>`).FindString(body)
		u := demoUser(t, role)
		for _, cell := range []string{"<td>S01</td>", ">Received</abbr>", "<td>On hand</td>", `<td class="num">+3</td>`, "<td>stockline</td>",
			"<td>adjustment</td>", "<td>user:" + u.Email + "</td>", "<td>delivery " + string(role) + "</td>"} {
			if !strings.Contains(row, cell) {
				t.Fatalf("newest ledger row lacks %s:\n%s", cell, row)
			}
		}
		_, again := b.get("/inventory/" + pageAdjustSKU)
		if strings.Contains(again, `data-testid="flash"`) {
			t.Fatal("the confirmation shows once")
		}
		before.OnHand += 3
	}

	// A count sets on hand; a return_damaged names both buckets.
	lead := app.login(domain.RoleInventoryLead)
	lead.get("/inventory/" + pageAdjustSKU + "/adjust")
	res, _ := lead.post("/inventory/"+pageAdjustSKU+"/adjust", url.Values{"location": {"S01"}, "reason": {"cycle_count"}, "mode": {"counted"}, "quantity": {"2"}})
	_, body := lead.get(res.Header.Get("Location"))
	if want := fmt.Sprintf("On hand at S01 went from %d to 2 (%+d, cycle_count).", before.OnHand, 2-before.OnHand); !strings.Contains(body, want) {
		t.Fatalf("count confirmation %q missing", want)
	}
	res, _ = lead.post("/inventory/"+pageAdjustSKU+"/adjust", url.Values{"location": {"S01"}, "reason": {"return_damaged"}, "mode": {"delta"}, "quantity": {"1"}})
	_, body = lead.get(res.Header.Get("Location"))
	if want := "On hand at S01 went from 2 to 3 (+1, return_damaged); Damaged at S01 went from"; !strings.Contains(body, want) {
		t.Fatalf("return confirmation %q missing", want)
	}
	rep, err := app.DB.Check(ctx)
	if err != nil || !rep.OK() {
		t.Fatalf("check: %+v %v", rep, err)
	}
}

func TestSKULedgerPages(t *testing.T) {
	app := newApp(t)
	ctx := context.Background()
	for i := range 30 {
		if _, err := app.DB.Adjust(ctx, domain.SystemActor("test"), ledgerPageSKU, "S04", domain.Adjustment{
			Reason: domain.ReasonReceived, Delta: ptrInt(1), Note: fmt.Sprintf("batch %02d", i),
		}); err != nil {
			t.Fatal(err)
		}
	}
	b := app.login(domain.RoleSupport)
	_, body := b.get("/inventory/" + ledgerPageSKU)
	if n := count(body, `data-testid="ledger-row"`); n != 25 || !strings.Contains(body, "batch 29") || strings.Contains(body, "batch 04<") {
		t.Fatalf("first ledger page: %d rows", n)
	}
	older := regexp.MustCompile(`href="([^"]+)" data-testid="ledger-older"`).FindStringSubmatch(body)
	if older == nil {
		t.Fatal("no Older link")
	}
	res, body := b.get(html.UnescapeString(older[1]))
	wantStatus(t, res, body, 200)
	if !strings.Contains(body, "batch 04<") || strings.Contains(body, "batch 05<") || !strings.Contains(body, "← Newest") {
		t.Fatal("the older page continues where the first stopped")
	}
}

func ptrInt(n int) *int { return &n }

func TestLocationsPage(t *testing.T) {
	app := newApp(t)
	for _, role := range domain.Roles {
		b := app.login(role)
		res, body := b.get("/locations")
		wantStatus(t, res, body, 200)
		if n := count(body, `data-testid="location-`); n != 13 {
			t.Fatalf("%s sees %d locations", role, n)
		}
		yours := strings.Contains(body, `S01<span class="badge ok">yours</span>`) || regexp.MustCompile(`S01\s*<span class="badge ok">yours`).MatchString(body)
		if yours != (role == domain.RoleAssociate || role == domain.RoleManager) {
			t.Fatalf("%s: 'yours' marker shown = %v", role, yours)
		}
	}
}
