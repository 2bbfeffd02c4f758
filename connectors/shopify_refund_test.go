package connectors_test

import (
	"testing"
	"time"

	"stockline/connectors"
	"stockline/connectors/sim"
	"stockline/domain"
)

// A Shopify refund is a refund of its order: restocked lines carry their
// location, no_restock lines none (a pending return), cancel restocks are
// left to the cancellation, and a refund of nothing moves nothing.
func TestParseShopifyRefundAsReturns(t *testing.T) {
	at := time.Date(2026, 3, 2, 15, 0, 0, 0, time.UTC)
	ev := connectors.ParseShopifyRefund(sim.ShopifyRefund(41, 900, 1, "A-1", 2, 77, at))
	if ev.Err != "" || ev.Refund == nil || len(ev.Changes) != 0 || ev.SourceEventID != "shopify:refund:41" {
		t.Fatalf("restock refund %+v", ev)
	}
	r := ev.Refund
	if r.RefundID != "41" || r.OrderRef != "900" || len(r.Lines) != 1 || !r.Lines[0].Restock || r.Lines[0].Quantity != 2 ||
		r.Lines[0].Location != domain.LocationRef("77") || r.Lines[0].Item != (domain.Ref{Kind: domain.RefSKU, ID: "A-1"}) {
		t.Fatalf("restock refund %+v", r)
	}
	ev = connectors.ParseShopifyRefund(sim.ShopifyRefundNoRestock(42, 900, 1, "A-1", 1, at))
	if ev.Err != "" || ev.Refund == nil || ev.Refund.Lines[0].Restock || ev.Refund.Lines[0].Location.ID != "" {
		t.Fatalf("no-restock refund %+v", ev)
	}
	cancel := []byte(`{"id":43,"order_id":900,"created_at":"2026-03-02T10:00:00Z","refund_line_items":[{"id":1,"quantity":1,"restock_type":"cancel","location_id":77,"line_item":{"sku":"A-1"}}]}`)
	if ev = connectors.ParseShopifyRefund(cancel); ev.Refund != nil || ev.NoEffect == "" {
		t.Fatalf("cancel restock %+v", ev)
	}
}
