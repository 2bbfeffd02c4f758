package connectors_test

import (
	"strings"
	"testing"
	"time"

	"stockline/connectors"
	"stockline/connectors/sim"
	"stockline/domain"
)

// What each Square ADJUSTMENT state pair does to on hand.
func TestSquareStatePairs(t *testing.T) {
	at := time.Date(2026, 3, 2, 14, 30, 0, 0, time.UTC)
	for _, tt := range []struct {
		from, to string
		delta    int
		reason   domain.Reason
	}{
		{"IN_STOCK", "SOLD", -2, domain.ReasonSale},
		{"IN_STOCK", "SOLD_ONLINE", -2, domain.ReasonSale},
		{"RESERVED_FOR_SALE", "SOLD", -2, domain.ReasonSale},
		{"IN_STOCK", "WASTE", -2, domain.ReasonDamaged},
		{"IN_STOCK", "IN_TRANSIT_TO", -2, domain.ReasonTransferOut},
		{"IN_STOCK", "NONE", -2, domain.ReasonCorrection},
		{"RETURNED_BY_CUSTOMER", "IN_STOCK", 2, domain.ReasonReturnRestock},
		{"SOLD", "IN_STOCK", 2, domain.ReasonReturnRestock},
		{"NONE", "IN_STOCK", 2, domain.ReasonReceived},
		{"RECEIVED_FROM_VENDOR", "IN_STOCK", 2, domain.ReasonReceived},
		{"IN_TRANSIT", "IN_STOCK", 2, domain.ReasonTransferIn},
		{"WASTE", "IN_STOCK", 2, domain.ReasonCorrection},
		{"IN_STOCK", "RESERVED_FOR_SALE", 0, ""},
		{"SOLD", "RETURNED_BY_CUSTOMER", 0, ""},
		{"RETURNED_BY_CUSTOMER", "WASTE", 0, ""},
	} {
		ev := connectors.ParseSquareChange(sim.SquareAdjustment("A1", tt.from, tt.to, "L1", "I1", 2, at, at))
		if ev.Err != "" {
			t.Fatalf("%s→%s: %s", tt.from, tt.to, ev.Err)
		}
		if tt.delta == 0 {
			if ev.NoEffect == "" || ev.Changes != nil {
				t.Errorf("%s→%s should move nothing: %+v", tt.from, tt.to, ev)
			}
			continue
		}
		if len(ev.Changes) != 1 || ev.Changes[0].OnHandDelta() != tt.delta || ev.Changes[0].Reason != tt.reason {
			t.Errorf("%s→%s: %+v, want %d %s", tt.from, tt.to, ev.Changes, tt.delta, tt.reason)
		}
	}
	if ev := connectors.ParseSquareChange(sim.SquareTransfer("T1", "L1", "L2", "I1", 3, at, at)); len(ev.Changes) != 2 ||
		ev.Changes[0].OnHandDelta() != -3 || ev.Changes[1].OnHandDelta() != 3 || ev.SourceEventID != "square:transfer:T1" {
		t.Errorf("transfer: %+v", ev)
	}
	if ev := connectors.ParseSquareChange(sim.SquareCount("C1", "L1", "I1", 9, at, at)); len(ev.Changes) != 1 || *ev.Changes[0].Count != 9 ||
		!ev.OccurredAt.Equal(at) {
		t.Errorf("count: %+v", ev)
	}
	for raw, want := range map[string]string{
		`{"type":"ADJUSTMENT","adjustment":{"id":"X","from_state":"IN_STOCK","to_state":"SOLD","location_id":"L","catalog_object_id":"I","quantity":"1.5","occurred_at":"2026-03-02T10:00:00Z"}}`: "whole number",
		`{"type":"ADJUSTMENT","adjustment":{"id":"X","from_state":"IN_STOCK","to_state":"GONE","location_id":"L","catalog_object_id":"I","quantity":"1","occurred_at":"2026-03-02T10:00:00Z"}}`:   "Unknown inventory state",
		`{"type":"ADJUSTMENT","adjustment":{"id":"X","from_state":"IN_STOCK","to_state":"SOLD","location_id":"L","quantity":"1","occurred_at":"2026-03-02T10:00:00Z"}}`:                           "catalog_object_id",
		`{"type":"PHYSICAL_COUNT","physical_count":{"id":"X","state":"IN_STOCK","location_id":"L","catalog_object_id":"I","quantity":"1","occurred_at":"yesterday"}}`:                             "occurred_at",
		`{"type":"ADJUSTMENT"`: "Not a Square inventory change",
	} {
		if ev := connectors.ParseSquareChange([]byte(raw)); !strings.Contains(ev.Err, want) {
			t.Errorf("%s: error %q, want %q", raw, ev.Err, want)
		}
	}
}
