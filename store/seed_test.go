package store_test

import (
	"context"
	"testing"

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
}
