package store_test

import (
	"context"
	"testing"
	"time"

	"stockline/domain"
	"stockline/store"
)

// TestFeedVersionIsStableAndExact: the feed's version (its ETag's data
// part) stays the same across a transaction that touches no ledger (open
// at the first read, committed before the second), and changes when a
// ledger writer that was in flight at a read commits, even though a later
// writer's rows (higher ids) committed first, so the newest ledger id is
// the same before and after.
func TestFeedVersionIsStableAndExact(t *testing.T) {
	db := resvDB(t)
	ctx := context.Background()
	version := func() string {
		t.Helper()
		var v string
		err := db.StreamAvailabilityFeed(ctx, store.FeedQuery{Channel: domain.EcommerceShip, Limit: 100},
			func(st store.FeedStart) (bool, error) { v = st.Version; return false, nil }, nil)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	// Other packages' tests share the cluster: a transaction of theirs
	// that ends in the instant between a read's snapshot and its lock read
	// is named needlessly, so the stable pair is tried until one pair
	// meets no such transaction. Under make test's load five tries once
	// all met one; a version that named the unrelated open transaction
	// itself would change on every try.
	stable := false
	for try := 0; try < 50 && !stable; try++ {
		if try > 0 {
			time.Sleep(time.Duration(try) * time.Millisecond)
		}
		tx, err := db.BeginTxx(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO audit_log (actor, action, entity, entity_id, before, after)
			VALUES ('system:test', 'test.unrelated', 'test', '1', '{}', '{}')`); err != nil {
			t.Fatal(err)
		}
		// A later transaction ends, so the open one is below the
		// snapshot's xmax: in its in-progress list.
		if _, err := db.ExecContext(ctx, `INSERT INTO audit_log (actor, action, entity, entity_id) VALUES ('system:test', 'test.later', 'test', '2')`); err != nil {
			t.Fatal(err)
		}
		v1 := version()
		if err := tx.Commit(); err != nil {
			t.Fatal(err)
		}
		stable = version() == v1
	}
	if !stable {
		t.Error("a transaction that wrote no ledger row changed the feed's version")
	}

	sku, other := orderSKU(t, db, 70), orderSKU(t, db, 71)
	p, _ := db.ProductBySKU(ctx, sku)
	dc, _ := db.LocationByCode(ctx, "DC1")
	written, hold, done := make(chan struct{}), make(chan struct{}), make(chan error, 1)
	go func() {
		done <- db.ApplyTestMovementsHeld(ctx, dc.ID, p.ID, []domain.Movement{{Bucket: domain.OnHand, Delta: 3}},
			store.LedgerMeta{Reason: domain.ReasonReceived, Source: "test", Actor: orderActor}, written, hold)
	}()
	<-written
	one := 1
	if _, err := db.Adjust(ctx, orderActor, other, "DC1", domain.Adjustment{Reason: domain.ReasonReceived, Delta: &one}); err != nil {
		t.Fatal(err)
	}
	before := version()
	close(hold)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if version() == before {
		t.Error("the feed's version did not change when a ledger writer in flight at the read committed")
	}
}
