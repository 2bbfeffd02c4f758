package store_test

import (
	"context"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"

	"stockline/domain"
	"stockline/store"
)

// TestRollupsAgreeAfterRandomActivity: random orders over three days at
// two stores, some cancelled with random codes, and orders of a SKU with
// too little stock (oversold); after a rebuild, every cancellation
// grouping (SKU included) and the category filter, oversell by channel and
// sell-through each equal the raw query.
func TestRollupsAgreeAfterRandomActivity(t *testing.T) {
	db := resvDB(t)
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(11, 7))
	skus := []string{orderSKU(t, db, 63), orderSKU(t, db, 64)}
	stores := []string{"S04", "S05"}
	for _, s := range skus {
		for _, l := range stores {
			setReservable(t, db, domain.BOPIS, s, l, 40)
		}
	}
	start := metricsDay.Add(10 * 24 * time.Hour)
	now := start
	db.SetClock(func() time.Time { return now })
	for range 24 {
		now = start.Add(time.Duration(rng.IntN(72*60)) * time.Minute)
		o := mustCreate(t, db, newBopis(stores[rng.IntN(2)], domain.OrderLineInput{SKU: skus[rng.IntN(2)], Qty: 1 + rng.IntN(3)}))
		switch rng.IntN(3) {
		case 0:
			code := domain.CancelReasons[rng.IntN(len(domain.CancelReasons))]
			if _, err := db.CancelOrder(ctx, orderActor, o.ID, store.CancelRequest{Lines: []domain.OrderLineInput{{SKU: o.Lines[0].SKU, Qty: 1}}, ReasonCode: code}); err != nil {
				t.Fatal(err)
			}
		case 1:
			if _, err := db.PickLine(ctx, orderActor, o.ID, o.Lines[0].ID, o.Lines[0].SKU, 0); err != nil {
				t.Fatal(err)
			}
			if _, err := db.HandOver(ctx, orderActor, o.ID); err != nil {
				t.Fatal(err)
			}
		}
	}
	short := orderSKU(t, db, 65)
	setReservable(t, db, domain.BOPIS, short, "S04", 1)
	for i := range 3 {
		now = start.Add(time.Duration(30+i*24*60) * time.Minute)
		mustCreate(t, db, newBopis("S04", domain.OrderLineInput{SKU: short, Qty: 1}))
	}
	p, err := db.ProductBySKU(ctx, skus[0])
	if err != nil {
		t.Fatal(err)
	}
	if done, _, err := db.RefreshRollups(ctx, "test"); err != nil || !done {
		t.Fatalf("refresh: %v %v", done, err)
	}
	oversold := int64(0)
	for _, f := range []store.MetricFilter{{Window: day(start, 3)}, {Window: day(start.Add(24*time.Hour), 1), Location: "S05"},
		{Window: day(start, 2), Channel: "bopis", Region: "North"}, {Window: day(start, 3), Category: p.Category, Scope: []string{"S04"}}} {
		raw, err := db.OversellRaw(ctx, f)
		if err != nil {
			t.Fatal(err)
		}
		roll, _, ok, err := db.OversellRollup(ctx, f)
		if err != nil || !ok || !reflect.DeepEqual(raw, roll) {
			t.Errorf("oversell %+v: rollup %+v (ok %v, %v), raw %+v", f, roll, ok, err, raw)
		}
		for _, r := range raw {
			oversold += r.Oversold
		}
		for _, g := range []domain.MetricGroup{{}, {Location: true}, {Channel: true}, {Location: true, Channel: true}, {SKU: true}, {Location: true, SKU: true}} {
			raw, err := db.CancellationRateRaw(ctx, f, g)
			if err != nil {
				t.Fatal(err)
			}
			roll, _, ok, err := db.CancellationRateRollup(ctx, f, g)
			if err != nil || !ok || !reflect.DeepEqual(raw, roll) {
				t.Errorf("%+v %+v: rollup %+v (ok %v, %v), raw %+v", f, g, roll, ok, err, raw)
			}
		}
		for _, byCat := range []bool{false, true} {
			raw, err := db.SellThroughRaw(ctx, f, byCat)
			if err != nil {
				t.Fatal(err)
			}
			roll, _, ok, err := db.SellThroughRollup(ctx, f, byCat)
			if err != nil || !ok || !reflect.DeepEqual(raw, roll) {
				t.Errorf("sell-through %+v: rollup %+v (ok %v, %v), raw %+v", f, roll, ok, err, raw)
			}
		}
	}
	if oversold == 0 {
		t.Error("no oversold order: the oversell rollup was not exercised")
	}
}
