package store_test

import (
	"context"
	"errors"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"

	"stockline/domain"
	"stockline/store"
)

// rollupRig is the random activity of the rollup test: two SKUs at two
// stores, a clock, and the orders placed so far.
type rollupRig struct {
	t      *testing.T
	db     *store.DB
	rng    *rand.Rand
	skus   []string
	stores []string
	start  time.Time
	now    time.Time
	orders []domain.Order
}

// activity places n orders at random times over the three days from
// start (late ones, placed days before now, when late), each cancelled
// with a random code, picked up, or left open; and cancels a unit of an
// earlier order now and then.
func (r *rollupRig) activity(n int, late bool) {
	ctx := context.Background()
	for range n {
		at := r.start.Add(time.Duration(r.rng.IntN(72*60)) * time.Minute)
		in := newBopis(r.stores[r.rng.IntN(2)], domain.OrderLineInput{SKU: r.skus[r.rng.IntN(2)], Qty: 1 + r.rng.IntN(3)})
		if late {
			in = withPlaced(in, at)
		} else {
			r.now = at
		}
		o := mustCreate(r.t, r.db, in)
		r.orders = append(r.orders, o)
		switch r.rng.IntN(3) {
		case 0:
			r.cancelOne(o)
		case 1:
			if _, err := r.db.PickLine(ctx, orderActor, o.ID, o.Lines[0].ID, o.Lines[0].SKU, 0); err != nil {
				r.t.Fatal(err)
			}
			if _, err := r.db.HandOver(ctx, orderActor, o.ID); err != nil {
				r.t.Fatal(err)
			}
		}
		if late && r.rng.IntN(3) == 0 {
			// A unit of an order placed days ago cancelled now (its
			// day's rollup rows change); already closed orders refuse.
			r.cancelOne(r.orders[r.rng.IntN(len(r.orders))])
		}
	}
}

func (r *rollupRig) cancelOne(o domain.Order) {
	code := domain.CancelReasons[r.rng.IntN(len(domain.CancelReasons))]
	_, err := r.db.CancelOrder(context.Background(), orderActor, o.ID,
		store.CancelRequest{Lines: []domain.OrderLineInput{{SKU: o.Lines[0].SKU, Qty: 1}}, ReasonCode: code})
	var refused *domain.Error
	if err != nil && !errors.As(err, &refused) {
		r.t.Fatal(err)
	}
}

// lateSale writes, through the stock primitive, a sale of one unit that
// occurred on a random earlier day and a receipt of it on another (the
// position ends where it was; the days' sold and net figures change).
func (r *rollupRig) lateSale(loc, prod int64) {
	ctx := context.Background()
	for _, m := range []struct {
		reason domain.Reason
		delta  int
	}{{domain.ReasonSale, -1}, {domain.ReasonReceived, 1}} {
		at := r.start.Add(time.Duration(r.rng.IntN(72*60)) * time.Minute)
		meta := store.LedgerMeta{Reason: m.reason, Source: "test", Actor: orderActor, OccurredAt: at}
		if _, err := r.db.ApplyTestMovements(ctx, loc, prod, []domain.Movement{{Bucket: domain.OnHand, Delta: m.delta}}, meta); err != nil {
			r.t.Fatal(err)
		}
	}
}

// refresh runs one rollup round and answers it.
func (r *rollupRig) refresh() store.RollupRound {
	r.t.Helper()
	round, err := r.db.RefreshRollups(context.Background(), "test")
	if err != nil || !round.Done {
		r.t.Fatalf("refresh: %+v %v", round, err)
	}
	return round
}

// TestRollupsAgreeAfterRandomActivity: random orders over three days at
// two stores, some cancelled with random codes, and orders of a SKU with
// too little stock (oversold); after a round, every cancellation grouping
// (SKU included) and the category filter, oversell by channel and
// sell-through each equal the raw query. Then incremental rounds
// interleaved with late activity: orders placed days ago arriving now,
// units of old orders cancelled, sales that occurred days ago, a writer
// whose ledger rows commit after later writers' (held open across a
// round), and a product's category changing (a full rebuild). After each
// round the rollups equal the raw queries again.
func TestRollupsAgreeAfterRandomActivity(t *testing.T) {
	db := resvDB(t)
	ctx := context.Background()
	r := &rollupRig{t: t, db: db, rng: rand.New(rand.NewPCG(11, 7)), skus: []string{orderSKU(t, db, 63), orderSKU(t, db, 64)},
		stores: []string{"S04", "S05"}, start: metricsDay.Add(10 * 24 * time.Hour)}
	for _, s := range r.skus {
		for _, l := range r.stores {
			setReservable(t, db, domain.BOPIS, s, l, 40)
		}
	}
	r.now = r.start
	db.SetClock(func() time.Time { return r.now })
	r.activity(24, false)
	short := orderSKU(t, db, 65)
	setReservable(t, db, domain.BOPIS, short, "S04", 1)
	for i := range 3 {
		r.now = r.start.Add(time.Duration(30+i*24*60) * time.Minute)
		mustCreate(t, db, newBopis("S04", domain.OrderLineInput{SKU: short, Qty: 1}))
	}
	p, err := db.ProductBySKU(ctx, r.skus[0])
	if err != nil {
		t.Fatal(err)
	}
	s04, _ := db.LocationByCode(ctx, "S04")
	s05, _ := db.LocationByCode(ctx, "S05")
	r.refresh()
	if rollupsAgree(t, db, r.start, p.Category) == 0 {
		t.Error("no oversold order: the oversell rollup was not exercised")
	}
	r.now = r.start.Add(5 * 24 * time.Hour) // from here on, everything arrives late
	for i := range 3 {
		r.activity(6, true)
		r.lateSale(s04.ID, p.ID)
		written, hold, done := make(chan struct{}), make(chan struct{}), make(chan error, 1)
		meta := store.LedgerMeta{Reason: domain.ReasonSale, Source: "test", Actor: orderActor, OccurredAt: r.start.Add(time.Duration(i) * time.Hour)}
		go func() {
			done <- db.ApplyTestMovementsHeld(ctx, s04.ID, p.ID, []domain.Movement{{Bucket: domain.OnHand, Delta: -1}}, meta, written, hold)
		}()
		<-written
		r.lateSale(s05.ID, p.ID) // later ids, committed first (another position: the held one is locked)
		if round := r.refresh(); round.Full || round.Days == 0 {
			t.Errorf("round %d: %+v, want an incremental round over the late days", i, round)
		}
		rollupsAgree(t, db, r.start, p.Category)
		close(hold)
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		f := store.MetricFilter{Window: day(r.start, 3), Scope: []string{"S04"}}
		raw, _ := db.SellThroughRaw(ctx, f, false)
		roll, _, _, _ := db.SellThroughRollup(ctx, f, false)
		if reflect.DeepEqual(raw, roll) {
			t.Errorf("round %d: the held sale changed no figure: the test does not exercise it", i)
		}
		if round := r.refresh(); round.Full || round.Days == 0 {
			t.Errorf("round %d after the held commit: %+v, want incremental", i, round)
		}
		rollupsAgree(t, db, r.start, p.Category)
	}
	if _, err := db.ExecContext(ctx, `UPDATE products SET category = category || ' (renamed)' WHERE id = $1`, p.ID); err != nil {
		t.Fatal(err)
	}
	if round := r.refresh(); !round.Full {
		t.Errorf("after a category change: %+v, want a full rebuild", round)
	}
	rollupsAgree(t, db, r.start, p.Category+" (renamed)")
	if round := r.refresh(); round.Full {
		t.Errorf("round after the rebuild: %+v, want incremental", round)
	}
}

// rollupsAgree checks every rollup-served figure against its raw query
// over windows around start, and answers the oversold orders counted.
func rollupsAgree(t *testing.T, db *store.DB, start time.Time, category string) (oversold int64) {
	t.Helper()
	ctx := context.Background()
	for _, f := range []store.MetricFilter{{Window: day(start, 3)}, {Window: day(start.Add(24*time.Hour), 1), Location: "S05"},
		{Window: day(start, 2), Channel: "bopis", Region: "North"}, {Window: day(start, 3), Category: category, Scope: []string{"S04"}},
		{Window: day(start.Add(-24*time.Hour), 8)}} {
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
	return oversold
}
