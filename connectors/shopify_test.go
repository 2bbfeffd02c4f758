package connectors_test

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"stockline/connectors/sim"
	"stockline/domain"
	"stockline/store"
)

type recordingSink struct {
	mu        sync.Mutex
	created   map[string]domain.ExternalOrder
	cancelled map[string]bool
	refunds   []domain.ExternalRefund
}

func (s *recordingSink) CreateOrder(_ context.Context, _ *store.Tx, o domain.ExternalOrder) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.created[o.ExternalRef] = o
	return nil
}

func (s *recordingSink) CancelOrder(_ context.Context, _ *store.Tx, c domain.ExternalOrderCancel) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.created[c.ExternalRef]; !ok {
		return domain.Errorf(domain.ENOTFOUND, "no order %s", c.ExternalRef)
	}
	s.cancelled[c.ExternalRef] = true
	return nil
}

func (s *recordingSink) RefundOrder(_ context.Context, _ *store.Tx, r domain.ExternalRefund) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.created[r.OrderRef]; !ok {
		return domain.Errorf(domain.ENOTFOUND, "no order %s", r.OrderRef)
	}
	s.refunds = append(s.refunds, r)
	return nil
}

// The Shopify adapter follows Link-header page_info pagination (never
// sending filters beside page_info), turns orders, cancellations, refunds
// and inventory levels into events, and on the next round reads only what
// changed.
func TestShopifyRoundFollowsPageInfoAndAppliesOrdersRefundsLevels(t *testing.T) {
	ctx := context.Background()
	shop := sim.NewShopify()
	shop.PageSize = 2
	shop.Token = "shpat_test_0123456789"
	ts := httptest.NewServer(shop)
	defer ts.Close()
	w := newWorld(t, "shopify", ts.URL, 2, 2)
	if _, err := w.db.ExecContext(ctx, `UPDATE connectors SET credential_ref = 'env:SHOP_TOKEN'`); err != nil {
		t.Fatal(err)
	}
	c, _ := w.db.ConnectorByID(ctx, w.conn.ID)
	sink := &recordingSink{created: map[string]domain.ExternalOrder{}, cancelled: map[string]bool{}}
	defer w.db.SwapOrderSinkForTest(sink)()

	// LOC1/LOC2 are mapped; Shopify location ids are decimal, so map 9001/9002 too.
	if err := w.db.SetMappings(ctx, domain.SystemActor("test"), c.ID, []store.Mapping{
		{Kind: "location", ExternalID: "9001", Code: "T01"}, {Kind: "location", ExternalID: "9002", Code: "T02"}}); err != nil {
		t.Fatal(err)
	}
	now := time.Now().Add(-time.Hour).Truncate(time.Second)
	lines := []sim.ShopifyLine{{ID: 11, VariantID: 21, SKU: "TST-00001", Quantity: 2}}
	for i := range 5 {
		at := now.Add(time.Duration(i) * time.Minute)
		var cancelled *time.Time
		var refunds []json.RawMessage
		switch i {
		case 1:
			cancelled = &at
		case 3:
			refunds = append(refunds, sim.ShopifyRefund(700+int64(i), 5000+int64(i), 11, "TST-00001", 1, 9001, at))
		}
		pickup := int64(0)
		if i == 4 {
			pickup = 9002
		}
		if err := shop.PutOrder(sim.ShopifyOrder(5000+int64(i), 1000+i, "c@example.com", at, at, lines, pickup, cancelled, refunds...)); err != nil {
			t.Fatal(err)
		}
	}
	for i, avail := range []int{4, 6, 8} {
		loc := int64(9001 + i%2)
		if err := shop.PutLevel(sim.ShopifyLevel(7002, loc, avail, now.Add(time.Duration(i)*time.Second))); err != nil {
			t.Fatal(err)
		}
	}
	r := w.runner("a")
	r.LookupEnv = func(string) (string, bool) { return "shpat_test_0123456789", true }
	mustLease(t, w, c, "a")
	if _, err := r.Round(ctx, c); err != nil {
		t.Fatal(err)
	}
	if len(sink.created) != 5 || !sink.cancelled["5001"] || len(sink.cancelled) != 1 {
		t.Fatalf("orders created %d, cancelled %v", len(sink.created), sink.cancelled)
	}
	if o := sink.created["5004"]; o.Channel != domain.BOPIS || o.PickupCode != "T02" || o.Lines[0].SKU != "TST-00001" || o.Name != "#1004" {
		t.Fatalf("pickup order %+v", o)
	}
	// The refund goes to the orders capability as a return restocked at T01.
	if len(sink.refunds) != 1 || sink.refunds[0].OrderRef != "5003" || len(sink.refunds[0].Lines) != 1 ||
		!sink.refunds[0].Lines[0].Restock || sink.refunds[0].Lines[0].LocationCode != "T01" || sink.refunds[0].Lines[0].SKU != "TST-00001" {
		t.Fatalf("refunds %+v", sink.refunds)
	}
	got := w.positions()
	// Level 9001 was replaced (4 then 8); 9002 is 6.
	if got["TST-00002@T01"].OnHand != 8 || got["TST-00002@T02"].OnHand != 6 {
		t.Fatalf("after levels %+v", got)
	}
	reqs, _ := shop.Requests()
	if reqs != 4 { // orders: 3 pages of 2; levels: 1 page of 2
		t.Fatalf("requests %d, want 4", reqs)
	}
	// Nothing new: another round applies nothing.
	before := w.count(`SELECT count(*) FROM inbound_events`)
	if _, err := r.Round(ctx, c); err != nil {
		t.Fatal(err)
	}
	if after := w.count(`SELECT count(*) FROM inbound_events`); after != before {
		t.Fatalf("events %d -> %d on an idle round", before, after)
	}
	// An order updated later (cancelled) is picked up by updated_at_min.
	later := now.Add(30 * time.Minute)
	if err := shop.PutOrder(sim.ShopifyOrder(5002, 1002, "c@example.com", now.Add(2*time.Minute), later, lines, 0, &later)); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Round(ctx, c); err != nil {
		t.Fatal(err)
	}
	if !sink.cancelled["5002"] {
		t.Fatal("the later cancellation was not pulled")
	}
	// The token is checked.
	r.LookupEnv = func(string) (string, bool) { return "wrong", true }
	if _, err := r.Round(ctx, c); err == nil {
		t.Fatal("a wrong token should fail the round")
	}
	w.checkOK()
}
