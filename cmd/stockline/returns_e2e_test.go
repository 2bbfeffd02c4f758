package main

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"stockline/domain"
)

// TestReturnJourney: an associate scans a collected order on the returns
// desk, restocks one unit and marks one damaged, reads a confirmation
// naming both, and the SKU page shows both movements in the ledger and
// the damaged unit in its bucket at the store. The same submission
// exchanges them for another item, reserved at the store on a new order.
func TestReturnJourney(t *testing.T) {
	m, base := startProgram(t)
	bg := context.Background()
	css := func(s string) chromedp.CSS { return chromedp.CSS(s) }
	var sku string
	if err := m.DB.GetContext(bg, &sku, `SELECT sku FROM products ORDER BY sku OFFSET 11 LIMIT 1`); err != nil {
		t.Fatal(err)
	}
	setOnHand(t, m.DB, sku, "S01", 6)
	var swap string // the exchange's replacement
	if err := m.DB.GetContext(bg, &swap, `SELECT sku FROM products ORDER BY sku OFFSET 12 LIMIT 1`); err != nil {
		t.Fatal(err)
	}
	setOnHand(t, m.DB, swap, "S01", 20)
	act := domain.Actor{Kind: "user", Name: "associate@demo.stockline"}
	cr, err := m.DB.CreateOrder(bg, act, domain.NewOrder{Channel: domain.BOPIS, PickupLocation: "S01",
		Customer: domain.Customer{Name: "Ren Return", Email: "ren@example.com"}, Lines: []domain.OrderLineInput{{SKU: sku, Qty: 2}}})
	if err != nil {
		t.Fatal(err)
	}
	o := cr.Order
	if _, err := m.DB.PickLine(bg, act, o.ID, o.Lines[0].ID, sku, 2); err != nil {
		t.Fatal(err)
	}
	if _, err := m.DB.HandOver(bg, act, o.ID); err != nil {
		t.Fatal(err)
	}
	s01, _ := m.DB.LocationByCode(bg, "S01")
	p, _ := m.DB.ProductBySKU(bg, sku)
	before, err := m.DB.PositionAt(bg, s01.ID, p.ID)
	if err != nil {
		t.Fatal(err)
	}

	ctx := newBrowser(t)
	signIn(t, ctx, base, demoUserFor(t, domain.RoleAssociate))
	step(t, ctx, "open the returns desk from the navigation",
		chromedp.Click(css(`nav a[href="/returns"]`)),
		chromedp.WaitVisible(css(`[data-testid="return-scan"]`)),
	)
	read(t, ctx, "the cursor starts in the scan field", chromedp.Poll[bool](
		`document.activeElement !== null && document.activeElement.hasAttribute("data-autofocus-scan")`, chromedp.WithPollingTimeout(5*time.Second)))
	field := func(d domain.Disposition) string { return fmt.Sprintf(`#n_%d_%s`, o.Lines[0].ID, d) }
	step(t, ctx, "scan the order, give each unit a disposition and exchange for another item",
		chromedp.SendKeys(css(`#scan`), o.Number+kb.Enter),
		chromedp.WaitVisible(css(`[data-testid="return-form"]`)),
		chromedp.SendKeys(css(field(domain.DispositionRestock)), "1"),
		chromedp.SendKeys(css(field(domain.DispositionDamaged)), "1"),
		chromedp.Click(css(`[data-testid="exchange-new"]`)),
		chromedp.SendKeys(css(`#x_sku_0`), swap),
		chromedp.SendKeys(css(`#x_qty_0`), "1"),
		chromedp.Click(css(`[data-testid="return-submit"]`)),
		chromedp.WaitVisible(css(`[data-testid="flash"]`)),
	)
	flash := read(t, ctx, "confirmation", chromedp.Text(css(`[data-testid="flash"]`)))
	if !strings.Contains(flash, "1 restock (sellable), 1 damaged") || !strings.Contains(flash, "1 unit(s) are sellable again") {
		t.Fatalf("the confirmation should name the effect: %q", flash)
	}
	if !strings.Contains(flash, "Exchange order SL-") || !strings.Contains(flash, "reserved at S01") {
		t.Fatalf("the confirmation should name the exchange order: %q", flash)
	}
	step(t, ctx, "open the SKU page",
		chromedp.Navigate(base+"/inventory/"+sku),
		chromedp.WaitVisible(css(`[data-testid="ledger-table"]`)),
	)
	ledger := read(t, ctx, "ledger", chromedp.Text(css(`[data-testid="ledger-table"]`)))
	for _, want := range []string{domain.ReasonLabel(domain.ReasonReturnRestock), domain.ReasonLabel(domain.ReasonReturnDamaged)} {
		if !strings.Contains(ledger, want) {
			t.Fatalf("the SKU ledger lacks %q:\n%s", want, ledger)
		}
	}
	damaged := read(t, ctx, "damaged at S01", chromedp.Text(css(`[data-testid="S01-damaged"]`)))
	onHand := read(t, ctx, "on hand at S01", chromedp.Text(css(`[data-testid="S01-on_hand"]`)))
	if strings.TrimSpace(damaged) != fmt.Sprint(before.Damaged+1) || strings.TrimSpace(onHand) != fmt.Sprint(before.OnHand+2) {
		t.Fatalf("S01 shows on hand %s, damaged %s; want %d and %d", onHand, damaged, before.OnHand+2, before.Damaged+1)
	}
	if rep, err := m.DB.Check(bg); err != nil || !rep.OK() {
		t.Fatalf("check: %+v %v", rep, err)
	}
}
