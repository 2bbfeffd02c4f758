package handlers_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/PuerkitoBio/goquery"

	"stockline/domain"
)

// The order page lists what left for the customer: here a pickup at the
// store, with its units; before the hand-over there is no such table.
func TestOrderPageShowsFulfilments(t *testing.T) {
	app := newApp(t)
	ctx := context.Background()
	a := orderTestSKU(t, app, 6)
	setBOPISReservable(t, app.DB, a, "S02", 2)
	cr, err := app.DB.CreateOrder(ctx, domain.Actor{Kind: "token", Name: "test"}, domain.NewOrder{Channel: domain.BOPIS, PickupLocation: "S02",
		Customer: domain.Customer{Name: "Fay Fulfil", Email: "fay@example.com"}, Lines: []domain.OrderLineInput{{SKU: a, Qty: 2}}})
	if err != nil {
		t.Fatal(err)
	}
	o := cr.Order
	s := app.login(domain.RoleSupport)
	path := fmt.Sprintf("/orders/%d", o.ID)
	if _, body := s.get(path); strings.Contains(body, `data-testid="fulfilments"`) {
		t.Fatal("an order nothing has left for shows fulfilments")
	}
	act := domain.Actor{Kind: "user", Name: "associate@demo.stockline"}
	if _, err := app.DB.PickLine(ctx, act, o.ID, o.Lines[0].ID, o.Lines[0].SKU, 2); err != nil {
		t.Fatal(err)
	}
	if _, err := app.DB.HandOver(ctx, act, o.ID); err != nil {
		t.Fatal(err)
	}
	_, body := s.get(path)
	doc, _ := goquery.NewDocumentFromReader(strings.NewReader(body))
	rows := doc.Find(`[data-testid="fulfilment"]`)
	if rows.Length() != 1 {
		t.Fatalf("%d fulfilment rows, want 1", rows.Length())
	}
	if got := rows.Text(); !strings.Contains(got, "pickup") || !strings.Contains(got, "S02") || !strings.Contains(got, "2 × "+a) {
		t.Errorf("fulfilment row %q", got)
	}
	checkOK(t, app.DB)
}
