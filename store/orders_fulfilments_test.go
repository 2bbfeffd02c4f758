package store_test

import (
	"context"
	"testing"

	"stockline/domain"
	"stockline/store"
)

// An order's fulfilments read back as domain values: none before it ships,
// then each shipment with its location, carrier, tracking and units.
func TestOrderFulfilments(t *testing.T) {
	db := resvDB(t)
	ctx := context.Background()
	a := orderSKU(t, db, 20)
	setReservable(t, db, domain.ShipFromStore, a, "S01", 3)
	for _, loc := range []string{"S02", "S04", "S07", "S08", "S10"} {
		setReservable(t, db, domain.ShipFromStore, a, loc, 0)
	}
	o := mustCreate(t, db, domain.NewOrder{Channel: domain.ShipFromStore, Customer: domain.Customer{Email: "fu@example.com"},
		Lines: []domain.OrderLineInput{{SKU: a, Qty: 3}}})
	if fs, err := db.OrderFulfilments(ctx, o.ID); err != nil || len(fs) != 0 {
		t.Fatalf("before shipping: %v %+v", err, fs)
	}
	l := o.Lines[0]
	if l.Location != "S01" || l.LocationID == 0 || l.ReservationID == 0 || l.ReservationLineNo == 0 {
		t.Fatalf("allocated line: %+v", l)
	}
	for _, s := range []struct {
		qty      int
		tracking string
	}{{1, "1Z-F1"}, {2, "1Z-F2"}} {
		if _, err := db.Ship(ctx, orderActor, o.ID, "S01", []store.ShipLine{{LineID: l.ID, Qty: s.qty}}, "UPS", s.tracking); err != nil {
			t.Fatal(err)
		}
	}
	fs, err := db.OrderFulfilments(ctx, o.ID)
	if err != nil || len(fs) != 2 {
		t.Fatalf("fulfilments: %v %+v", err, fs)
	}
	for i, want := range []struct {
		tracking string
		qty      int
	}{{"1Z-F1", 1}, {"1Z-F2", 2}} {
		f := fs[i]
		if f.Kind != "shipment" || f.Location != "S01" || f.Carrier != "UPS" || f.Tracking != want.tracking || f.CreatedAt.IsZero() ||
			len(f.Lines) != 1 || f.Lines[0].OrderLineID != l.ID || f.Lines[0].SKU != a || f.Lines[0].Qty != want.qty {
			t.Fatalf("fulfilment %d: %+v", i, f)
		}
	}
	mustCheck(t, db)
}
