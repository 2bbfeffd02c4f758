package store_test

// The batcher's known way: a batch decided against the positions its
// pipeline's last batch left, or against positions it read without a lock
// when it did not know them, is kept only when those positions are still
// exactly so; otherwise nothing of it is kept and the locked way answers.

import (
	"context"
	"testing"

	"stockline/domain"
	"stockline/store"
)

func TestKnownWayKeepsOnlyDecisionsOnUnchangedStock(t *testing.T) {
	db := resvDB(t)
	ctx := context.Background()
	located, sourced := firstSKU(t, db, 140), firstSKU(t, db, 141)
	setReservable(t, db, domain.BOPIS, located, "S03", 3)
	for _, l := range sfsStores {
		setReservable(t, db, domain.ShipFromStore, sourced, l, 0)
	}
	setReservable(t, db, domain.ShipFromStore, sourced, "S07", 1)
	p := &store.TestPipeline{}
	var replay store.ReserveCall
	unstocked := "UNSTOCKED-1" // a product with no position anywhere
	if _, err := db.ExecContext(ctx, `INSERT INTO products (sku, name, barcode, category, price_cents) VALUES ($1, $1, $1, 'Test', 100)`, unstocked); err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		name     string
		pipeline *store.TestPipeline // p when nil
		before   func()
		call     func() store.ReserveCall
		status   int
		known    bool // answered the known way (else the locked way)
		miss     bool // the known way was tried and kept nothing
		read     bool // answered against positions read first
		readMiss bool // that was tried and kept nothing
	}{
		// A fresh DB's id pool is empty: the locked way takes the ids, and
		// tops the pool up for the ways that take none.
		{name: "first sight, no ids yet: locked, learns", call: func() store.ReserveCall { return call(bopis("S03", located, 1)) }, status: 201},
		{name: "unchanged: known", call: func() store.ReserveCall { replay = call(bopis("S03", located, 1)); return replay }, status: 201, known: true},
		{name: "known says 1 left: 409 the known way", call: func() store.ReserveCall { return call(bopis("S03", located, 2)) }, status: 409, known: true},
		{
			name: "stock counted up behind the pipeline's back: the stale 409 is not kept",
			// Known: 1 reservable. Now 4: a decision on the known state
			// would refuse 3; the statement must fail and the locked way hold.
			before: func() { setReservable(t, db, domain.BOPIS, located, "S03", 4) },
			call:   func() store.ReserveCall { return call(bopis("S03", located, 3)) },
			status: 201, miss: true,
		},
		{name: "stock taken behind its back: the stale 201 is not kept", before: func() { setReservable(t, db, domain.BOPIS, located, "S03", 0) },
			call: func() store.ReserveCall { return call(bopis("S03", located, 1)) }, status: 409, miss: true},
		{name: "a key already answered: replayed by the locked way", call: func() store.ReserveCall { return replay }, status: 201, miss: true},
		{name: "sourced, first sight: read", call: func() store.ReserveCall {
			return call(shipFromStore(domain.ReservationLineRequest{SKU: sourced, Qty: 2}))
		}, status: 409, read: true},
		{
			name: "a candidate it does not move gains stock: the stale 409 is not kept",
			// Known: S07 has 1, the others none. S08 now has 5: sourcing
			// must see it, though the known decision moved nothing there.
			before: func() { setReservable(t, db, domain.ShipFromStore, sourced, "S08", 5) },
			call: func() store.ReserveCall {
				return call(shipFromStore(domain.ReservationLineRequest{SKU: sourced, Qty: 2}))
			},
			status: 201, miss: true,
		},
		{name: "sourced, relearnt: known", call: func() store.ReserveCall {
			return call(shipFromStore(domain.ReservationLineRequest{SKU: sourced, Qty: 1}))
		}, status: 201, known: true},
		{name: "a position with no row: locked, which finds nothing to take", call: func() store.ReserveCall {
			return call(bopis("S03", unstocked, 1))
		}, status: 409},
		{name: "a key already answered, on a pipeline that never saw it: the read way keeps nothing, the locked way replays",
			pipeline: &store.TestPipeline{}, call: func() store.ReserveCall { return replay }, status: 201, readMiss: true},
	}
	answers := map[string]store.Response{}
	for _, s := range steps {
		if s.before != nil {
			s.before()
		}
		ways, misses := store.KnownWays()
		reads, readMisses := store.ReadWays()
		on := p
		if s.pipeline != nil {
			on = s.pipeline
		}
		c := s.call()
		res, errs, failed, err := db.ReserveTestBatchOn(ctx, on, []store.ReserveCall{c})
		if err != nil || failed || errs[0] != nil {
			t.Fatalf("%s: %v %v failed %v", s.name, err, errs[0], failed)
		}
		if res[0].Status != s.status {
			t.Fatalf("%s: status %d %s, want %d", s.name, res[0].Status, res[0].Body, s.status)
		}
		w, m := store.KnownWays()
		rw, rm := store.ReadWays()
		if got, want := [4]bool{w > ways, m > misses, rw > reads, rm > readMisses}, [4]bool{s.known, s.miss, s.read, s.readMiss}; got != want {
			t.Fatalf("%s: known way answered, kept nothing; read way answered, kept nothing: %v, want %v", s.name, got, want)
		}
		if prev, ok := answers[c.Key.Key]; ok && string(prev.Body) != string(res[0].Body) {
			t.Fatalf("%s: replay %s, want the stored %s", s.name, res[0].Body, prev.Body)
		}
		answers[c.Key.Key] = res[0]
	}
	if got := reservable(t, db, domain.BOPIS, located, "S03"); got != 0 {
		t.Fatalf("located: %d reservable, want 0", got)
	}
	if got := reservable(t, db, domain.ShipFromStore, sourced, "S08") + reservable(t, db, domain.ShipFromStore, sourced, "S07"); got != 3 {
		t.Fatalf("sourced: %d reservable at S07 and S08, want 3 (6 less the 2 and the 1 held)", got)
	}
	mustCheck(t, db)
}
