package main

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"stockline/domain"
)

// TestTransferJourney drives the real program in headless Chromium: a
// manager approves a transfer from the approval queue (two clicks: the
// link in the navigation, the approve button), the destination's
// associate receives it partially by typing a quantity and then closes
// the receipt by scanning one more unit, and the variance for the unit
// that never arrived appears on the transfer and in the exception queue.
func TestTransferJourney(t *testing.T) {
	m, base := startProgram(t)
	bg := context.Background()
	css := func(s string) chromedp.CSS { return chromedp.CSS(s) }
	var sku string
	if err := m.DB.GetContext(bg, &sku, `SELECT sku FROM products ORDER BY sku OFFSET 777 LIMIT 1`); err != nil {
		t.Fatal(err)
	}
	setOnHand(t, m.DB, sku, "S02", 20)
	tr, err := m.DB.CreateTransfer(bg, domain.Actor{Kind: "user", Name: "associate@demo.stockline"},
		domain.NewTransfer{From: "S02", To: "S01", Reason: "e2e", Lines: []domain.TransferLineInput{{SKU: sku, Qty: 4}}})
	if err != nil {
		t.Fatal(err)
	}
	card := fmt.Sprintf(`[data-testid="approval-%d"]`, tr.ID)

	ctx := newBrowser(t)
	signIn(t, ctx, base, demoUserFor(t, domain.RoleManager))
	step(t, ctx, "approve from the queue",
		chromedp.Click(css(`nav a[href="/transfers/approvals"]`)),
		chromedp.WaitVisible(css(card)),
		chromedp.Click(css(card+` [data-testid="approve-form"] button[type="submit"]`)),
		chromedp.WaitVisible(css(`[data-testid="flash"]`)),
	)
	if flash := read(t, ctx, "confirmation", chromedp.Text(css(`[data-testid="flash"]`))); !strings.Contains(flash, "approved") || !strings.Contains(flash, "transfer_out at S02") {
		t.Fatalf("approval confirmation: %q", flash)
	}
	if _, err := m.DB.ShipTransfer(bg, domain.Actor{Kind: "user", Name: "manager@demo.stockline"}, tr.ID,
		[]domain.TransferLineInput{{SKU: sku, Qty: 4}}, "1Z-E2E"); err != nil {
		t.Fatal(err)
	}

	step(t, ctx, "sign out", chromedp.Click(css(`form[action="/logout"] button`)), chromedp.WaitVisible(css(`#email`)))
	signIn(t, ctx, base, demoUserFor(t, domain.RoleAssociate))
	page := fmt.Sprintf(`a[href="/transfers/%d"]`, tr.ID)
	step(t, ctx, "open the incoming transfer",
		chromedp.Navigate(base+"/transfers?incoming=1"),
		chromedp.WaitVisible(css(page)),
		chromedp.Click(css(page)),
		chromedp.WaitVisible(css(`[data-testid="receive-form"]`)),
	)
	step(t, ctx, "receive 2 of 4, partial",
		chromedp.SendKeys(css(`[data-testid="rqty-`+sku+`"]`), "2"),
		chromedp.Click(css(`[data-testid="receive-partial"]`)),
		chromedp.WaitVisible(css(`[data-testid="flash"]`)),
	)
	if got := read(t, ctx, "still in transit", chromedp.Text(css(`[data-testid="outstanding-`+sku+`"]`))); strings.TrimSpace(got) != "2" {
		t.Fatalf("after the partial receipt %q in transit, want 2", got)
	}
	step(t, ctx, "scan one more and close the receipt",
		chromedp.SendKeys(css(`[data-testid="scans"]`), sku+kb.Enter),
		chromedp.Click(css(`[data-testid="receive-final"]`)),
		chromedp.WaitVisible(css(`[data-testid="variance"]`)),
	)
	if flash := read(t, ctx, "confirmation", chromedp.Text(css(`[data-testid="flash"]`))); !strings.Contains(flash, "1 unit(s) did not arrive") {
		t.Fatalf("final receipt confirmation: %q", flash)
	}
	title := fmt.Sprintf("Transfer %d: 1 × %s missing at S01", tr.ID, sku)
	step(t, ctx, "the variance is in the exception queue",
		chromedp.Navigate(base+"/exceptions?kind=transfer_variance"),
		chromedp.WaitVisible(css(`[data-testid="exception-table"]`)),
	)
	if q := read(t, ctx, "exceptions", chromedp.Text(css(`[data-testid="exception-table"]`))); !strings.Contains(q, title) {
		t.Fatalf("the exception queue does not list %q: %q", title, q)
	}
	rep, err := m.DB.Check(bg)
	if err != nil || !rep.OK() {
		t.Fatalf("check: %+v %v", rep, err)
	}
}
