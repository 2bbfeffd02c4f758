package store_test

import (
	"context"
	"testing"
	"time"

	"stockline/domain"
	"stockline/store"
	"stockline/store/pgtest"
)

func TestSeedDemoIsConsistentAndOnce(t *testing.T) {
	ctx := context.Background()
	db := pgtest.Fresh(t)
	res, err := db.SeedDemo(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if res.Locations != 13 || res.Products != 2000 || res.Positions != 13*2000 {
		t.Fatalf("seed = %+v", res)
	}
	again, err := db.SeedDemo(ctx)
	if err != nil || !again.AlreadySeeded {
		t.Fatalf("second seed should be a no-op: %+v %v", again, err)
	}
	rep, err := db.Check(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !rep.OK() {
		t.Fatalf("check after seed: %+v", rep)
	}
	var zero, damaged, transit int
	db.GetContext(ctx, &zero, `SELECT count(*) FROM positions WHERE on_hand = 0`)
	db.GetContext(ctx, &damaged, `SELECT count(*) FROM positions WHERE damaged > 0`)
	db.GetContext(ctx, &transit, `SELECT count(*) FROM positions WHERE in_transit_in > 0`)
	if zero == 0 || damaged == 0 || transit == 0 {
		t.Fatalf("stock should include zeros (%d), damaged (%d) and in transit (%d)", zero, damaged, transit)
	}
	pols, err := db.Policies(ctx)
	if err != nil || len(pols) != len(domain.Channels) {
		t.Fatalf("policies: %d %v", len(pols), err)
	}
	// The returns desk's demo work: a pending return from a refund, and
	// units on quality hold at the associate's store (S01).
	if err := db.SeedDemoReturns(ctx); err != nil {
		t.Fatal(err)
	}
	pending, _ := db.ListReturns(ctx, store.ReturnFilter{Status: domain.ReturnPending})
	held, _ := db.ListReturns(ctx, store.ReturnFilter{Held: true, Locations: []string{"S01"}})
	if len(pending) != 1 || len(held) != 1 || held[0].Lines[1].OnHold() != 2 {
		t.Fatalf("demo returns: %d pending, %d held", len(pending), len(held))
	}
	if rep, err := db.Check(ctx); err != nil || !rep.OK() {
		t.Fatalf("check after the demo returns: %+v %v", rep, err)
	}
	seedDemoTransfers(t, db)
}

// seedDemoTransfers: one transfer in every state, the stock check clean
// after them, one overdue in transit, one shipped to S01, a variance open
// at S01; a second run adds nothing.
func seedDemoTransfers(t *testing.T, db *store.DB) {
	ctx := context.Background()
	n, err := db.SeedDemoTransfers(ctx)
	if err != nil || n != 7 {
		t.Fatalf("seed transfers: %d %v", n, err)
	}
	var states string
	db.GetContext(ctx, &states, `SELECT string_agg(status, ',' ORDER BY status) FROM (SELECT DISTINCT status FROM transfers) s`)
	if states != "approved,cancelled,received,rejected,requested,shipped" {
		t.Fatalf("states %q", states)
	}
	var overdue, toS01, variances int
	db.GetContext(ctx, &overdue, `SELECT count(*) FROM transfers WHERE status = 'shipped' AND shipped_at < now() - interval '5 days'`)
	db.GetContext(ctx, &toS01, `SELECT count(*) FROM transfers t JOIN locations d ON d.id = t.to_location_id WHERE t.status = 'shipped' AND d.code = 'S01'`)
	db.GetContext(ctx, &variances, `SELECT count(*) FROM exceptions e JOIN locations l ON l.id = e.location_id WHERE e.kind = 'transfer_variance' AND e.status = 'open' AND l.code = 'S01'`)
	if overdue != 1 || toS01 != 1 || variances != 1 {
		t.Fatalf("overdue %d, shipped to S01 %d, variances at S01 %d", overdue, toS01, variances)
	}
	rep, err := db.Check(ctx)
	if err != nil || !rep.OK() {
		t.Fatalf("check after seeding transfers: %+v %v", rep, err)
	}
	if again, err := db.SeedDemoTransfers(ctx); err != nil || again != 0 {
		t.Fatalf("second seed of transfers: %d %v", again, err)
	}
}

// The demo history: clean by the consistency check, backdated (nothing it
// wrote carries the time it ran), cancellations under several codes, the
// demo associate's store has pickups waiting now, and a return of the
// history waits there on quality hold.
func TestSeedHistory(t *testing.T) {
	ctx := context.Background()
	db := pgtest.Fresh(t)
	if _, err := db.SeedDemo(ctx); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	res, err := db.SeedHistory(ctx, store.HistoryOptions{Days: 5, OrdersPerDay: 10})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("history: %+v", res)
	if res.Orders < 25 || res.Cancelled == 0 || res.Counts == 0 || res.Transfers == 0 || res.Returns == 0 {
		t.Fatalf("history = %+v", res)
	}
	rep, err := db.Check(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !rep.OK() {
		t.Fatalf("check after history: %+v", rep)
	}
	var n struct {
		Recent   int       `db:"recent"`
		Oldest   time.Time `db:"oldest"`
		Codes    int       `db:"codes"`
		ToPick   int       `db:"to_pick"`
		Ready    int       `db:"ready"`
		Overdue  int       `db:"overdue"`
		Names    int       `db:"names"`
		Unsorted int       `db:"unsorted"`
		Held     int       `db:"held"`
	}
	if err := db.GetContext(ctx, &n, `SELECT
		(SELECT count(*) FROM ledger WHERE recorded_at >= $1) + (SELECT count(*) FROM audit_log WHERE at >= $1)
			+ (SELECT count(*) FROM orders WHERE created_at >= $1) + (SELECT count(*) FROM order_events WHERE at >= $1)
			+ (SELECT count(*) FROM returns WHERE created_at >= $1) AS recent,
		(SELECT min(placed_at) FROM orders) AS oldest,
		(SELECT count(DISTINCT after->>'reason_code') FROM audit_log WHERE action = 'order.cancel') AS codes,
		(SELECT count(*) FROM orders o JOIN locations l ON l.id = o.pickup_location_id
			WHERE l.code = 'S01' AND o.status IN ('allocated', 'in_fulfilment') AND o.promised_at > $1) AS to_pick,
		(SELECT count(*) FROM orders o JOIN locations l ON l.id = o.pickup_location_id WHERE l.code = 'S01' AND o.status = 'ready_for_pickup') AS ready,
		(SELECT count(*) FROM orders o JOIN locations l ON l.id = o.pickup_location_id
			WHERE l.code = 'S01' AND o.status IN ('allocated', 'in_fulfilment') AND o.promised_at < $1) AS overdue,
		(SELECT count(DISTINCT customer_name) FROM orders) AS names,
		(SELECT count(*) FROM orders WHERE created_at < placed_at - interval '1 second') AS unsorted,
		(SELECT count(*) FROM returns r JOIN return_lines rl ON rl.return_id = r.id JOIN locations l ON l.id = r.location_id
			WHERE l.code = 'S01' AND r.created_at < $1 AND rl.disposition = 'quality_hold'
				AND rl.released_sellable + rl.released_damaged < rl.qty) AS held`, start); err != nil {
		t.Fatal(err)
	}
	if n.Recent != 0 || n.Oldest.After(start.AddDate(0, 0, -4)) || n.Codes < 2 || n.ToPick == 0 || n.Ready == 0 || n.Overdue == 0 || n.Names < 15 || n.Unsorted != 0 || n.Held == 0 {
		t.Fatalf("history facts: %+v", n)
	}
}
