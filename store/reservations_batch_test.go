package store_test

// The reservation batcher: sourced holds on the fast path, group commit
// across positions, and one request's failure never failing another's.

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lib/pq"

	"stockline/domain"
	"stockline/store"
)

// sfsStores are the demo stores that ship from store (ship_from_store's
// eligible locations).
var sfsStores = []string{"S01", "S02", "S04", "S07", "S08", "S10"}

func shipFromStore(lines ...domain.ReservationLineRequest) domain.ReservationRequest {
	return domain.ReservationRequest{Channel: domain.ShipFromStore, Lines: lines}
}

func sfsReservable(t *testing.T, db *store.DB, sku string) (total int) {
	t.Helper()
	for _, l := range sfsStores {
		total += reservable(t, db, domain.ShipFromStore, sku, l)
	}
	return total
}

// Sourced holds (no location) from many clients at once: exactly the
// reservable units across the eligible stores are held, never more, and
// two-line sourced holds stay all or nothing.
func TestSourcedHoldsNeverOversell(t *testing.T) {
	db := resvDB(t)
	ctx := context.Background()
	a, b := firstSKU(t, db, 130), firstSKU(t, db, 131)
	for i, l := range sfsStores {
		setReservable(t, db, domain.ShipFromStore, a, l, i%3)   // 0+1+2+0+1+2 = 6
		setReservable(t, db, domain.ShipFromStore, b, l, 3+i%2) // 3+4+3+4+3+4 = 21
	}
	var heldA, heldPair, short atomic.Int64
	var wg sync.WaitGroup
	for i := range 60 {
		wg.Go(func() {
			req := shipFromStore(domain.ReservationLineRequest{SKU: a, Qty: 1})
			if i%2 == 1 { // two lines, in either order: b has room for all, a does not
				req = shipFromStore(domain.ReservationLineRequest{SKU: b, Qty: 1}, domain.ReservationLineRequest{SKU: a, Qty: 1})
			}
			res, err := db.Reserve(ctx, call(req))
			switch {
			case err != nil:
				t.Errorf("reserve: %v", err)
			case res.Status == 201 && i%2 == 1:
				heldPair.Add(1)
			case res.Status == 201:
				heldA.Add(1)
			case res.Status == 409:
				short.Add(1)
			default:
				t.Errorf("status %d %s", res.Status, res.Body)
			}
		})
	}
	wg.Wait()
	if got := heldA.Load() + heldPair.Load(); got != 6 || short.Load() != 54 {
		t.Fatalf("held %d with a (want 6, a has 6), 409s %d (want 54)", got, short.Load())
	}
	if ra, rb := sfsReservable(t, db, a), sfsReservable(t, db, b); ra != 0 || rb != 21-int(heldPair.Load()) {
		t.Fatalf("after: a %d reservable (want 0), b %d (want %d: only the pairs that held took b)", ra, rb, 21-heldPair.Load())
	}
	mustCheck(t, db)
}

// One batch holds on different positions, located and sourced, single-
// and multi-line, and answers each on its own merits, in arrival order,
// from one transaction.
func TestBatchAnswersEachHoldOnItsOwn(t *testing.T) {
	db := resvDB(t)
	ctx := context.Background()
	s := []string{firstSKU(t, db, 132), firstSKU(t, db, 133), firstSKU(t, db, 134), firstSKU(t, db, 135)}
	setReservable(t, db, domain.BOPIS, s[0], "S03", 1)
	setReservable(t, db, domain.BOPIS, s[1], "S05", 2)
	for _, l := range sfsStores {
		setReservable(t, db, domain.ShipFromStore, s[2], l, 0)
		setReservable(t, db, domain.ShipFromStore, s[3], l, 0)
	}
	setReservable(t, db, domain.ShipFromStore, s[2], "S07", 4)
	setReservable(t, db, domain.ShipFromStore, s[3], "S08", 1)
	line := func(sku string, qty int) domain.ReservationLineRequest {
		return domain.ReservationLineRequest{SKU: sku, Qty: qty}
	}
	reqs := []domain.ReservationRequest{
		bopis("S03", s[0], 1),                       // 0: the last unit: 201
		bopis("S03", s[0], 1),                       // 1: same position, after 0: 409
		bopis("S05", s[1], 3),                       // 2: more than there is: 409
		bopis("S05", s[1], 2),                       // 3: 201, not failed by 2
		shipFromStore(line(s[2], 3)),                // 4: sourced to S07: 201
		shipFromStore(line(s[2], 2), line(s[3], 2)), // 5: s[3] short: 409, nothing of s[2] taken
		shipFromStore(line(s[3], 1), line(s[2], 1)), // 6: 201, the last of both
	}
	want := []int{201, 409, 409, 201, 201, 409, 201}
	calls := make([]store.ReserveCall, len(reqs))
	for i, r := range reqs {
		calls[i] = call(r)
	}
	res, errs, failed, err := db.ReserveTestBatch(ctx, calls)
	if err != nil || failed {
		t.Fatalf("batch: %v, failed as a whole %v", err, failed)
	}
	var ids []int64
	for i := range res {
		if errs[i] != nil || res[i].Status != want[i] {
			t.Fatalf("request %d: %v %d %s, want %d", i, errs[i], res[i].Status, res[i].Body, want[i])
		}
		if want[i] == 201 {
			ids = append(ids, decodeRes(t, res[i]).ID)
		}
	}
	if r := decodeRes(t, res[4]); r.Lines[0].Location != "S07" {
		t.Fatalf("sourced to %s, want S07", r.Lines[0].Location)
	}
	var txs int
	if err := db.GetContext(ctx, &txs, `SELECT count(DISTINCT xmin::text) FROM reservations WHERE id = ANY($1)`, pq.Array(ids)); err != nil || txs != 1 {
		t.Fatalf("holds written by %d transactions, want 1 (%v)", txs, err)
	}
	if got := [4]int{reservable(t, db, domain.BOPIS, s[0], "S03"), reservable(t, db, domain.BOPIS, s[1], "S05"),
		sfsReservable(t, db, s[2]), sfsReservable(t, db, s[3])}; got != [4]int{} {
		t.Fatalf("left %v, want all zero", got)
	}
	// A replay of any of them is its stored answer, byte for byte.
	again, _ := db.Reserve(ctx, calls[5])
	if again.Status != res[5].Status || string(again.Body) != string(res[5].Body) {
		t.Fatalf("replay: %d %s, want %d %s", again.Status, again.Body, res[5].Status, res[5].Body)
	}
	mustCheck(t, db)
}

// A batch that fails as a whole (here: one key is still being answered by
// another instance's open transaction, and the wait for it runs out) keeps
// nothing, and every other request in it is answered on its own.
func TestBatchFailureFailsNoOtherHold(t *testing.T) {
	db := resvDB(t)
	ctx := context.Background()
	defer store.SetIdempotencyWait(300 * time.Millisecond)()
	sku := firstSKU(t, db, 136)
	setReservable(t, db, domain.BOPIS, sku, "S09", 10)
	calls := make([]store.ReserveCall, 5)
	for i := range calls {
		calls[i] = call(bopis("S09", sku, 1))
	}
	other, err := db.BeginTxx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Rollback()
	if _, err := other.ExecContext(ctx, `INSERT INTO idempotency_keys (scope, key, request_hash, response_status, response_body)
		VALUES ($1, $2, $3, 0, '')`, calls[2].Key.Scope, calls[2].Key.Key, calls[2].Key.Hash); err != nil {
		t.Fatal(err)
	}
	res, errs, failed, err := db.ReserveTestBatch(ctx, calls)
	if err != nil {
		t.Fatal(err)
	}
	if !failed {
		t.Fatal("the batch did not fail as a whole; the test proves nothing")
	}
	for i := range calls {
		if i == 2 {
			if domain.ErrorCode(errs[i]) != domain.CodeIdempotencyInProgress {
				t.Fatalf("the blocked key: %v %d, want idempotency_in_progress", errs[i], res[i].Status)
			}
			continue
		}
		if errs[i] != nil || res[i].Status != 201 {
			t.Fatalf("request %d failed with the blocked one: %v %d %s", i, errs[i], res[i].Status, res[i].Body)
		}
	}
	if got := reservable(t, db, domain.BOPIS, sku, "S09"); got != 6 {
		t.Fatalf("reservable %d, want 6 (four holds, nothing kept of the failed batch)", got)
	}
	mustCheck(t, db)
}

// Batches run side by side whose holds lock crossing sets of positions
// (two-line holds in both line orders, sourced over every eligible store)
// beside adjustments of the same positions: every lock is taken in the one
// order, so nothing deadlocks and every request gets a 201 or a 409.
func TestBatchesLockInOneOrder(t *testing.T) {
	db := resvDB(t)
	ctx := context.Background()
	a, b := firstSKU(t, db, 137), firstSKU(t, db, 138)
	for _, l := range sfsStores {
		setReservable(t, db, domain.ShipFromStore, a, l, 5)
		setReservable(t, db, domain.ShipFromStore, b, l, 5)
	}
	line := func(sku string) domain.ReservationLineRequest { return domain.ReservationLineRequest{SKU: sku, Qty: 1} }
	var wg sync.WaitGroup
	for g := range 6 {
		wg.Go(func() {
			for round := range 4 {
				calls := make([]store.ReserveCall, 8)
				for i := range calls {
					if (g+i+round)%2 == 0 {
						calls[i] = call(shipFromStore(line(a), line(b)))
					} else {
						calls[i] = call(shipFromStore(line(b), line(a)))
					}
				}
				res, errs, _, err := db.ReserveTestBatch(ctx, calls)
				if err != nil {
					t.Error(err)
					return
				}
				for i := range res {
					if errs[i] != nil || (res[i].Status != 201 && res[i].Status != 409) {
						t.Errorf("batch %d: %v %d", g, errs[i], res[i].Status)
					}
				}
			}
		})
	}
	for i := range 2 {
		wg.Go(func() {
			for j := range 10 {
				sku, loc := []string{a, b}[(i+j)%2], sfsStores[(j*5+i)%len(sfsStores)]
				if _, err := db.Adjust(ctx, domain.SystemActor("test"), sku, loc, domain.Adjustment{Reason: domain.ReasonReceived, Delta: ptr(1)}); err != nil {
					t.Errorf("adjust: %v", err)
				}
			}
		})
	}
	wg.Wait()
	mustCheck(t, db)
}

// A batch runs on a transaction begun ahead (as the batcher does under
// load) exactly as on its own, and no transaction begun ahead is left
// open: once a burst of holds is answered, every connection is back in
// the pool and none sits idle in a transaction.
func TestBatchOnTransactionBegunAhead(t *testing.T) {
	db := resvDB(t)
	ctx := context.Background()
	a, b := firstSKU(t, db, 136), firstSKU(t, db, 137)
	setReservable(t, db, domain.BOPIS, a, "S03", 2)
	calls := []store.ReserveCall{call(bopis("S03", a, 1)), call(bopis("S03", a, 2)), call(bopis("S03", a, 1))}
	res, errs, failed, err := db.ReserveTestBatchAhead(ctx, calls)
	if err != nil || failed {
		t.Fatalf("batch: %v, failed as a whole %v", err, failed)
	}
	for i, want := range []int{201, 409, 201} {
		if errs[i] != nil || res[i].Status != want {
			t.Fatalf("request %d: %v %d %s, want %d", i, errs[i], res[i].Status, res[i].Body, want)
		}
	}
	if left := reservable(t, db, domain.BOPIS, a, "S03"); left != 0 {
		t.Fatalf("left %d, want 0", left)
	}
	setReservable(t, db, domain.BOPIS, b, "S05", 25)
	var held, short atomic.Int64
	var wg sync.WaitGroup
	for range 40 {
		wg.Go(func() {
			r, err := db.Reserve(ctx, call(bopis("S05", b, 1)))
			switch {
			case err != nil:
				t.Errorf("reserve: %v", err)
			case r.Status == 201:
				held.Add(1)
			case r.Status == 409:
				short.Add(1)
			}
		})
	}
	wg.Wait()
	if held.Load() != 25 || short.Load() != 15 {
		t.Fatalf("held %d, 409s %d, want 25 and 15", held.Load(), short.Load())
	}
	var open int
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		err := db.GetContext(ctx, &open, `SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND state LIKE 'idle in transaction%'`)
		if err != nil {
			t.Fatal(err)
		}
		if inUse := db.Stats().InUse; open == 0 && inUse == 0 || time.Now().After(deadline) {
			if open != 0 || inUse != 0 {
				t.Fatalf("after the burst: %d sessions idle in a transaction, %d connections in use; want none", open, inUse)
			}
			break
		}
	}
	mustCheck(t, db)
}
