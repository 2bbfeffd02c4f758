package store_test

import (
	"context"
	"reflect"
	"testing"
	"time"

	"stockline/domain"
	"stockline/store"
)

// metricsDay is the day the cancellation fixture's orders are placed on,
// long before anything else in the test database.
var metricsDay = time.Date(2025, 3, 3, 0, 0, 0, 0, time.UTC)

func day(d time.Time, n int) domain.MetricWindow {
	return domain.MetricWindow{From: d, To: d.Add(time.Duration(n) * 24 * time.Hour)}
}

func strp(s string) *string { return &s }

// TestCancellationMeasure: seven BOPIS orders at S02 of 2 × A, each with
// one unit cancelled under a different reason code, and one order of 3 × B
// not cancelled: by location, sku and channel A is 7 of 14 (0.5) with one
// unit per code, B 0 of 3; overall 7 of 17 (0.4118). The rollup agrees
// with the raw query, and each cancellation and the pick rejection left
// their countable rows.
func TestCancellationMeasure(t *testing.T) {
	db := resvDB(t)
	ctx := context.Background()
	a, b := orderSKU(t, db, 60), orderSKU(t, db, 61)
	setReservable(t, db, domain.BOPIS, a, "S02", 20)
	setReservable(t, db, domain.BOPIS, b, "S02", 10)
	at := metricsDay.Add(10 * time.Hour)
	db.SetClock(func() time.Time { return at })
	for _, code := range domain.CancelReasons {
		o := mustCreate(t, db, withPlaced(newBopis("S02", domain.OrderLineInput{SKU: a, Qty: 2}), at))
		if _, err := db.CancelOrder(ctx, orderActor, o.ID, store.CancelRequest{Lines: []domain.OrderLineInput{{SKU: a, Qty: 1}}, ReasonCode: code}); err != nil {
			t.Fatalf("cancel with %s: %v", code, err)
		}
	}
	mustCreate(t, db, withPlaced(newBopis("S02", domain.OrderLineInput{SKU: b, Qty: 3}), at))

	f := store.MetricFilter{Window: day(metricsDay, 1)}
	all := domain.MetricGroup{Location: true, SKU: true, Channel: true}
	rows, err := db.CancellationRateRaw(ctx, f, all)
	if err != nil {
		t.Fatal(err)
	}
	each := map[string]int64{}
	none := map[string]int64{}
	for _, c := range domain.CancelReasons {
		each[string(c)], none[string(c)] = 1, 0
	}
	want := []domain.CancellationRow{
		{Location: strp("S02"), SKU: strp(a), Channel: strp("bopis"), OrderedUnits: 14, CancelledUnits: 7, Rate: 0.5, Reasons: each},
		{Location: strp("S02"), SKU: strp(b), Channel: strp("bopis"), OrderedUnits: 3, CancelledUnits: 0, Rate: 0, Reasons: none},
	}
	if a > b {
		want[0], want[1] = want[1], want[0]
	}
	if !reflect.DeepEqual(rows, want) {
		t.Fatalf("by location, sku, channel:\n got %+v\nwant %+v", rows, want)
	}
	total, err := db.CancellationRateRaw(ctx, f, domain.MetricGroup{})
	if err != nil {
		t.Fatal(err)
	}
	if len(total) != 1 || total[0].Location != nil || total[0].OrderedUnits != 17 || total[0].CancelledUnits != 7 || total[0].Rate != 0.4118 {
		t.Fatalf("overall: %+v", total)
	}
	if _, err := db.RefreshRollups(ctx, "test"); err != nil {
		t.Fatal(err)
	}
	for _, g := range []domain.MetricGroup{{}, {Location: true}, {Channel: true}, {Location: true, Channel: true}} {
		raw, err := db.CancellationRateRaw(ctx, f, g)
		if err != nil {
			t.Fatal(err)
		}
		roll, _, ok, err := db.CancellationRateRollup(ctx, f, g)
		if err != nil || !ok {
			t.Fatalf("rollup %+v: ok %v err %v", g, ok, err)
		}
		if !reflect.DeepEqual(raw, roll) {
			t.Errorf("group %+v: rollup %+v, raw %+v", g, roll, raw)
		}
	}
	recs, err := db.CancellationRecords(ctx, f, string(domain.CancelFraud), 10)
	if err != nil || len(recs) != 1 || recs[0].Units != 1 || recs[0].SKU != a {
		t.Fatalf("drill-down to fraud: %+v %v", recs, err)
	}
}

func withPlaced(o domain.NewOrder, at time.Time) domain.NewOrder { o.PlacedAt = at; return o }

// TestBOPISMeasure: two pickup orders at S03, ready after 30 and 150
// minutes against a 2-hour promise; the first is cancelled uncollected
// after its pickup window (no code given: not_collected), the second
// waits past its window. p50 90, p90 138, within promise 0.5, uncollected
// 0.5, one overdue; sold and on-hand give sell-through and weeks of cover.
func TestBOPISMeasure(t *testing.T) {
	db := resvDB(t)
	ctx := context.Background()
	sku := orderSKU(t, db, 62)
	setReservable(t, db, domain.BOPIS, sku, "S03", 10)
	d := metricsDay.Add(24 * time.Hour)
	now := d.Add(9 * time.Hour)
	db.SetClock(func() time.Time { return now })
	if _, err := db.Adjust(ctx, orderActor, sku, "S03", domain.Adjustment{Reason: domain.ReasonReceived, Delta: ptr(10)}); err != nil {
		t.Fatal(err)
	}
	// Adjustments occur when recorded: date the receipt into the fixture's
	// day, as the demo history does.
	if _, err := db.ExecContext(ctx, `UPDATE ledger SET occurred_at = $1 WHERE id = (SELECT max(id) FROM ledger
		WHERE reason = 'received' AND product_id = (SELECT id FROM products WHERE sku = $2))`, now, sku); err != nil {
		t.Fatal(err)
	}
	placed := now
	x := mustCreate(t, db, newBopis("S03", domain.OrderLineInput{SKU: sku, Qty: 1}))
	y := mustCreate(t, db, newBopis("S03", domain.OrderLineInput{SKU: sku, Qty: 1}))
	z := mustCreate(t, db, newBopis("S03", domain.OrderLineInput{SKU: sku, Qty: 4}))
	pick := func(o domain.Order, after time.Duration) {
		now = placed.Add(after)
		if _, err := db.PickLine(ctx, orderActor, o.ID, o.Lines[0].ID, sku, 0); err != nil {
			t.Fatal(err)
		}
	}
	pick(x, 30*time.Minute)
	pick(y, 150*time.Minute)
	pick(z, 30*time.Minute)
	if _, err := db.HandOver(ctx, orderActor, z.ID); err != nil { // 4 units sold
		t.Fatal(err)
	}
	now = placed.Add(5 * 24 * time.Hour)
	if _, err := db.CancelOrder(ctx, orderActor, x.ID, store.CancelRequest{}); err != nil {
		t.Fatal(err)
	}
	f := store.MetricFilter{Window: day(d, 1), Location: "S03"}
	rows, err := db.BOPIS(ctx, f, true)
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 1 || *rows[0].Location != "S03" || rows[0].Orders != 3 || *rows[0].ReadyP50Minutes != 30 || *rows[0].ReadyP90Minutes != 126 ||
		rows[0].WithinPromiseRate != 0.6667 || rows[0].UncollectedRate != 0.3333 || rows[0].Overdue != 1 {
		t.Fatalf("bopis: %+v", rows)
	}
	one, err := db.BOPIS(ctx, f, false) // not by location: the same figures in one row
	if err != nil || len(one) != 1 || one[0].Location != nil || one[0].Orders != 3 || *one[0].ReadyP90Minutes != 126 || one[0].Overdue != 1 {
		t.Fatalf("bopis in one row: %+v %v", one, err)
	}
	// Sell-through at S03 in the product's category over the day: 4 sold,
	// on hand at the end 10 received − 4 handed over (the seed's stock
	// occurred later) = 6: 0.4; weeks of cover 6 ÷ (4 ÷ 1/7) = 0.2.
	p, _ := db.ProductBySKU(ctx, sku)
	f.Category = p.Category
	if _, err := db.RefreshRollups(ctx, "test"); err != nil {
		t.Fatal(err)
	}
	raw, err := db.SellThroughRaw(ctx, f, true)
	if err != nil {
		t.Fatal(err)
	}
	if len(raw) != 1 || raw[0].Sold != 4 || raw[0].OnHandEnd != 6 || raw[0].SellThrough != 0.4 || *raw[0].WeeksOfCover != 0.2 {
		t.Fatalf("sell-through: %+v", raw)
	}
	roll, _, ok, err := db.SellThroughRollup(ctx, f, true)
	if err != nil || !ok || !reflect.DeepEqual(raw, roll) {
		t.Fatalf("sell-through rollup %+v (ok %v, err %v), raw %+v", roll, ok, err, raw)
	}
	var rejected int
	if err := db.GetContext(ctx, &rejected, `SELECT count(*) FROM line_cancellations WHERE order_id = $1 AND reason_code = 'not_collected'`, x.ID); err != nil || rejected != 1 {
		t.Fatalf("not_collected row: %d %v", rejected, err)
	}
}
