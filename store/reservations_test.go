package store_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"stockline/domain"
	"stockline/store"
	"stockline/store/pgtest"
)

var resvSeedOnce sync.Once

// resvDB is the package database with the demo retailer, seeded once.
// Each test uses SKUs no other test touches.
func resvDB(t *testing.T) *store.DB {
	t.Helper()
	db := pgtest.Open(t)
	resvSeedOnce.Do(func() {
		store.BcryptCost = 4
		if _, err := db.SeedDemo(context.Background()); err != nil {
			t.Fatalf("seed: %v", err)
		}
	})
	return db
}

// render is a stand-in for the API's renderer: it encodes the outcome.
func render(r *domain.Reservation, short *domain.Error) store.Response {
	if short != nil {
		b, _ := json.Marshal(map[string]any{"code": short.Code, "details": short.Details})
		return store.Response{Status: 409, Body: b}
	}
	b, _ := json.Marshal(r)
	return store.Response{Status: 201, Body: b}
}

var keySeq atomic.Int64

func call(req domain.ReservationRequest) store.ReserveCall {
	return store.ReserveCall{
		Actor: domain.Actor{Kind: "token", Name: "test"}, Request: req, Render: render,
		Key: store.IdempotencyKey{Scope: "token:test", Key: fmt.Sprintf("k-%d-%d", time.Now().UnixNano(), keySeq.Add(1)), Hash: []byte("h")},
	}
}

func bopis(loc, sku string, qty int) domain.ReservationRequest {
	return domain.ReservationRequest{Channel: domain.BOPIS, Location: loc, Lines: []domain.ReservationLineRequest{{SKU: sku, Qty: qty}}}
}

// setReservable counts on_hand so that exactly n units are reservable for
// the channel at the location.
func setReservable(t *testing.T, db *store.DB, ch domain.Channel, sku, loc string, n int) {
	t.Helper()
	ctx := context.Background()
	pol, err := db.Policy(ctx, ch)
	if err != nil {
		t.Fatal(err)
	}
	l, _ := db.LocationByCode(ctx, loc)
	p, _ := db.ProductBySKU(ctx, sku)
	pos, err := db.PositionAt(ctx, l.ID, p.ID)
	if err != nil {
		t.Fatal(err)
	}
	raw := pos.OnHand - pos.Reserved - pos.Damaged - pos.QualityHold - pos.TransferOut - pol.SafetyStock
	counted := pos.OnHand + n - raw
	if counted == pos.OnHand {
		return
	}
	if _, err := db.Adjust(ctx, domain.SystemActor("test"), sku, loc, domain.Adjustment{Reason: domain.ReasonCycleCount, Counted: &counted}); err != nil {
		t.Fatal(err)
	}
	pos, _ = db.PositionAt(ctx, l.ID, p.ID)
	if got := domain.Reservable(pol, l, pos); got != n {
		t.Fatalf("setReservable: got %d, want %d", got, n)
	}
}

func reservable(t *testing.T, db *store.DB, ch domain.Channel, sku, loc string) int {
	t.Helper()
	ctx := context.Background()
	pol, _ := db.Policy(ctx, ch)
	l, _ := db.LocationByCode(ctx, loc)
	p, _ := db.ProductBySKU(ctx, sku)
	pos, err := db.PositionAt(ctx, l.ID, p.ID)
	if err != nil {
		t.Fatal(err)
	}
	return domain.Reservable(pol, l, pos)
}

func mustCheck(t *testing.T, db *store.DB) {
	t.Helper()
	rep, err := db.Check(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if !rep.OK() {
		t.Fatalf("consistency check failed: %+v", rep)
	}
}

func decodeRes(t *testing.T, res store.Response) domain.Reservation {
	t.Helper()
	var r domain.Reservation
	if res.Status != 201 {
		t.Fatalf("want 201, got %d %s", res.Status, res.Body)
	}
	if err := json.Unmarshal(res.Body, &r); err != nil {
		t.Fatal(err)
	}
	return r
}

func TestReserveHoldCommitFulfilRelease(t *testing.T) {
	db := resvDB(t)
	ctx := context.Background()
	sku := firstSKU(t, db, 100)
	setReservable(t, db, domain.BOPIS, sku, "S01", 10)
	res, err := db.Reserve(ctx, call(bopis("S01", sku, 3)))
	if err != nil {
		t.Fatal(err)
	}
	r := decodeRes(t, res)
	if r.Status != domain.Held || len(r.Lines) != 1 || r.Lines[0].Location != "S01" || r.Lines[0].Qty != 3 {
		t.Fatalf("hold: %+v", r)
	}
	if got := reservable(t, db, domain.BOPIS, sku, "S01"); got != 7 {
		t.Fatalf("reservable after hold = %d, want 7", got)
	}
	mustCheck(t, db)

	c, err := db.CommitReservation(ctx, domain.SystemActor("test"), r.ID, "ORD-1")
	if err != nil {
		t.Fatal(err)
	}
	pol, _ := db.Policy(ctx, domain.BOPIS)
	if c.Status != domain.Committed || c.ExpiresAt.Before(c.CommittedAt.Add(pol.PickupWindow-time.Second)) {
		t.Fatalf("commit should extend to the pickup window: %+v", c)
	}
	again, err := db.CommitReservation(ctx, domain.SystemActor("test"), r.ID, "ORD-1")
	if err != nil || again.Status != domain.Committed {
		t.Fatalf("second commit with the same order_ref should be a no-op: %v", err)
	}
	if _, err := db.CommitReservation(ctx, domain.SystemActor("test"), r.ID, "ORD-2"); domain.ErrorCode(err) != domain.CodeOrderRefConflict {
		t.Fatalf("commit to another order: %v", err)
	}
	f, err := db.FulfilReservation(ctx, domain.SystemActor("test"), r.ID)
	if err != nil || f.Status != domain.Fulfilled {
		t.Fatalf("fulfil: %+v %v", f, err)
	}
	if _, err := db.ReleaseReservation(ctx, domain.SystemActor("test"), r.ID, "customer_cancelled"); domain.ErrorCode(err) != domain.CodeReservationClosed {
		t.Fatalf("releasing a fulfilled reservation: %v", err)
	}
	if got := reservable(t, db, domain.BOPIS, sku, "S01"); got != 7 {
		t.Fatalf("fulfilment takes the units off on_hand: reservable %d, want 7", got)
	}
	mustCheck(t, db)

	res, err = db.Reserve(ctx, call(bopis("S01", sku, 2)))
	if err != nil {
		t.Fatal(err)
	}
	r2 := decodeRes(t, res)
	rel, err := db.ReleaseReservation(ctx, domain.SystemActor("test"), r2.ID, "customer_cancelled")
	if err != nil || rel.Status != domain.Released || rel.ReleaseReason != "customer_cancelled" {
		t.Fatalf("release: %+v %v", rel, err)
	}
	if rel2, err := db.ReleaseReservation(ctx, domain.SystemActor("test"), r2.ID, "again"); err != nil || rel2.ReleaseReason != "customer_cancelled" {
		t.Fatalf("second release is a no-op: %+v %v", rel2, err)
	}
	if _, err := db.CommitReservation(ctx, domain.SystemActor("test"), r2.ID, "ORD-3"); domain.ErrorCode(err) != domain.CodeReservationClosed {
		t.Fatalf("committing a released reservation: %v", err)
	}
	if got := reservable(t, db, domain.BOPIS, sku, "S01"); got != 7 {
		t.Fatalf("release returns the stock: reservable %d, want 7", got)
	}
	mustCheck(t, db)
}

// firstSKU returns the demo SKU at index i in SKU order.
func firstSKU(t *testing.T, db *store.DB, i int) string {
	t.Helper()
	ps, _, err := db.SearchProducts(context.Background(), store.ProductQuery{Limit: 200})
	if err != nil || len(ps) <= i {
		t.Fatalf("products: %v", err)
	}
	return ps[i].SKU
}

func TestReserveNeverOversells(t *testing.T) {
	db := resvDB(t)
	ctx := context.Background()
	sku := firstSKU(t, db, 101)
	setReservable(t, db, domain.BOPIS, sku, "S02", 5)
	var ok, short atomic.Int64
	var wg sync.WaitGroup
	for range 200 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res, err := db.Reserve(ctx, call(bopis("S02", sku, 1)))
			switch {
			case err != nil:
				t.Errorf("reserve: %v", err)
			case res.Status == 201:
				ok.Add(1)
			case res.Status == 409:
				short.Add(1)
			default:
				t.Errorf("status %d", res.Status)
			}
		}()
	}
	wg.Wait()
	if ok.Load() != 5 || short.Load() != 195 {
		t.Fatalf("201s = %d, 409s = %d; want 5 and 195", ok.Load(), short.Load())
	}
	if got := reservable(t, db, domain.BOPIS, sku, "S02"); got != 0 {
		t.Fatalf("reservable = %d after selling out", got)
	}
	mustCheck(t, db)
}

func TestReserveIdempotency(t *testing.T) {
	db := resvDB(t)
	ctx := context.Background()
	sku := firstSKU(t, db, 102)
	setReservable(t, db, domain.BOPIS, sku, "S03", 100)
	c := call(bopis("S03", sku, 2))
	var wg sync.WaitGroup
	out := make([]store.Response, 50)
	for i := range out {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res, err := db.Reserve(ctx, c)
			if err != nil {
				t.Errorf("reserve: %v", err)
			}
			out[i] = res
		}()
	}
	wg.Wait()
	for i := range out {
		if out[i].Status != 201 || string(out[i].Body) != string(out[0].Body) {
			t.Fatalf("response %d differs: %d %s vs %s", i, out[i].Status, out[i].Body, out[0].Body)
		}
	}
	if got := reservable(t, db, domain.BOPIS, sku, "S03"); got != 98 {
		t.Fatalf("one effect only: reservable %d, want 98", got)
	}
	// A later replay from the stored key is byte-identical too.
	res, err := db.Reserve(ctx, c)
	if err != nil || string(res.Body) != string(out[0].Body) {
		t.Fatalf("replay: %v %s", err, res.Body)
	}
	other := c
	other.Request = bopis("S03", sku, 3)
	other.Key.Hash = []byte("other")
	if _, err := db.Reserve(ctx, other); domain.ErrorCode(err) != domain.CodeIdempotencyMismatch {
		t.Fatalf("mismatch: %v", err)
	}
	// The generic helper: a stored key replays without running the effect.
	ran := 0
	k := store.IdempotencyKey{Scope: "token:test", Key: "generic-1", Hash: []byte("x")}
	for range 3 {
		res, err := db.Idempotent(ctx, k, func(ctx context.Context, tx *store.Tx) (store.Response, error) {
			ran++
			return store.Response{Status: 201, Body: []byte(`{"n":1}`)}, nil
		})
		if err != nil || res.Status != 201 || string(res.Body) != `{"n":1}` {
			t.Fatalf("idempotent: %v %+v", err, res)
		}
	}
	if ran != 1 {
		t.Fatalf("effect ran %d times", ran)
	}
	n, err := db.DeleteIdempotencyKeys(ctx, time.Now().Add(time.Hour))
	if err != nil || n == 0 {
		t.Fatalf("delete keys: %d %v", n, err)
	}
	mustCheck(t, db)
}

func TestExpiryReturnsStock(t *testing.T) {
	db := resvDB(t)
	ctx := context.Background()
	sku := firstSKU(t, db, 103)
	setReservable(t, db, domain.BOPIS, sku, "S04", 4)
	res, err := db.Reserve(ctx, call(bopis("S04", sku, 4)))
	if err != nil {
		t.Fatal(err)
	}
	r := decodeRes(t, res)
	if n, err := db.ExpireHolds(ctx, r.ExpiresAt.Add(-time.Second), 100); err != nil || hasExpired(t, db, r.ID) {
		t.Fatalf("nothing due before expiry: %d %v", n, err)
	}
	if _, err := db.ExpireHolds(ctx, r.ExpiresAt.Add(time.Second), 1000); err != nil {
		t.Fatal(err)
	}
	got, err := db.Reservation(ctx, r.ID)
	if err != nil || got.Status != domain.Expired || got.ReleaseReason != "expired" {
		t.Fatalf("after sweep: %+v %v", got, err)
	}
	if n := reservable(t, db, domain.BOPIS, sku, "S04"); n != 4 {
		t.Fatalf("expiry returns the stock: reservable %d, want 4", n)
	}
	if _, err := db.CommitReservation(ctx, domain.SystemActor("test"), r.ID, "late"); domain.ErrorCode(err) != domain.CodeReservationExpired {
		t.Fatalf("commit after expiry: %v", err)
	}
	mustCheck(t, db)
}

func hasExpired(t *testing.T, db *store.DB, id int64) bool {
	r, err := db.Reservation(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return r.Status == domain.Expired
}

// Multi-line requests over the same SKUs in opposite orders, under
// contention: all-or-nothing, no deadlock surfaces, nothing oversold.
func TestMultiLineAllOrNothingUnderContention(t *testing.T) {
	db := resvDB(t)
	ctx := context.Background()
	a, b := firstSKU(t, db, 104), firstSKU(t, db, 105)
	setReservable(t, db, domain.BOPIS, a, "S05", 30)
	setReservable(t, db, domain.BOPIS, b, "S05", 10)
	var held atomic.Int64
	var wg sync.WaitGroup
	for i := range 40 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			lines := []domain.ReservationLineRequest{{SKU: a, Qty: 1}, {SKU: b, Qty: 1}}
			if i%2 == 1 {
				lines[0], lines[1] = lines[1], lines[0]
			}
			res, err := db.Reserve(ctx, call(domain.ReservationRequest{Channel: domain.BOPIS, Location: "S05", Lines: lines}))
			if err != nil {
				t.Errorf("reserve: %v", err)
				return
			}
			if res.Status == 201 {
				held.Add(1)
			}
		}()
	}
	wg.Wait()
	if held.Load() != 10 {
		t.Fatalf("held %d two-line reservations, want 10 (b has 10)", held.Load())
	}
	if ra, rb := reservable(t, db, domain.BOPIS, a, "S05"), reservable(t, db, domain.BOPIS, b, "S05"); ra != 20 || rb != 0 {
		t.Fatalf("all-or-nothing: a %d (want 20), b %d (want 0)", ra, rb)
	}
	mustCheck(t, db)
}

// Sourcing for ship channels: the DC fills ecommerce_ship; with too little
// there the policy splits across at most MaxSplit locations.
func TestShipSourcing(t *testing.T) {
	db := resvDB(t)
	ctx := context.Background()
	sku := firstSKU(t, db, 106)
	setReservable(t, db, domain.ShipFromStore, sku, "S01", 3)
	setReservable(t, db, domain.ShipFromStore, sku, "S02", 4)
	for _, l := range []string{"S04", "S07", "S08", "S10"} {
		setReservable(t, db, domain.ShipFromStore, sku, l, 0)
	}
	req := domain.ReservationRequest{Channel: domain.ShipFromStore, Lines: []domain.ReservationLineRequest{{SKU: sku, Qty: 6}}}
	res, err := db.Reserve(ctx, call(req))
	if err != nil {
		t.Fatal(err)
	}
	r := decodeRes(t, res)
	if len(r.Lines) != 2 || r.Lines[0].Location != "S02" || r.Lines[0].Qty != 4 || r.Lines[1].Location != "S01" || r.Lines[1].Qty != 2 {
		t.Fatalf("split: %+v", r.Lines)
	}
	req.Lines[0].Qty = 2
	res, err = db.Reserve(ctx, call(req))
	if err != nil || res.Status != 409 {
		t.Fatalf("only 1 left: %v %d %s", err, res.Status, res.Body)
	}
	mustCheck(t, db)
}

// Reserve, commit, release and expire in random interleavings: nothing
// negative, nothing leaked, the check passes.
func TestRandomInterleavings(t *testing.T) {
	db := resvDB(t)
	ctx := context.Background()
	skus := []string{firstSKU(t, db, 110), firstSKU(t, db, 111), firstSKU(t, db, 112)}
	locs := []string{"S07", "S08"}
	for _, s := range skus {
		for _, l := range locs {
			setReservable(t, db, domain.BOPIS, s, l, 6)
		}
	}
	var mu sync.Mutex
	var ids []int64
	var wg sync.WaitGroup
	for w := range 12 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(w), 7))
			for range 25 {
				switch op := rng.IntN(10); {
				case op < 5:
					n := 1 + rng.IntN(2)
					var lines []domain.ReservationLineRequest
					for _, i := range rng.Perm(len(skus))[:n] {
						lines = append(lines, domain.ReservationLineRequest{SKU: skus[i], Qty: 1 + rng.IntN(3)})
					}
					res, err := db.Reserve(ctx, call(domain.ReservationRequest{Channel: domain.BOPIS, Location: locs[rng.IntN(2)], Lines: lines}))
					if err != nil {
						t.Errorf("reserve: %v", err)
						return
					}
					if res.Status == 201 {
						var r domain.Reservation
						json.Unmarshal(res.Body, &r)
						mu.Lock()
						ids = append(ids, r.ID)
						mu.Unlock()
					}
				default:
					mu.Lock()
					if len(ids) == 0 {
						mu.Unlock()
						continue
					}
					id := ids[rng.IntN(len(ids))]
					mu.Unlock()
					var err error
					switch op {
					case 5, 6:
						_, err = db.CommitReservation(ctx, domain.SystemActor("test"), id, fmt.Sprint("ORD-", id))
					case 7, 8:
						_, err = db.ReleaseReservation(ctx, domain.SystemActor("test"), id, "customer_cancelled")
					case 9:
						_, err = db.FulfilReservation(ctx, domain.SystemActor("test"), id)
					}
					if c := domain.ErrorCode(err); err != nil && c != domain.CodeReservationClosed && c != domain.CodeReservationExpired {
						t.Errorf("op %d on %d: %v", op, id, err)
					}
				}
			}
		}()
	}
	wg.Wait()
	if _, err := db.ExpireHolds(ctx, time.Now().Add(24*time.Hour), 10000); err != nil {
		t.Fatal(err)
	}
	mustCheck(t, db)
}

// The check finds reserved stock no reservation explains (and the ledger
// does not either); the scoped check finds it when the position changed in
// its window and skips it otherwise.
func TestCheckFindsReservationLeaks(t *testing.T) {
	db := resvDB(t)
	ctx := context.Background()
	sku := firstSKU(t, db, 120)
	setReservable(t, db, domain.BOPIS, sku, "S09", 5)
	l, _ := db.LocationByCode(ctx, "S09")
	p, _ := db.ProductBySKU(ctx, sku)
	before := time.Now().Add(-time.Second)
	if _, err := db.ExecContext(ctx, `UPDATE positions SET reserved = reserved + 2, updated_at = now() WHERE location_id = $1 AND product_id = $2`, l.ID, p.ID); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		db.ExecContext(ctx, `UPDATE positions SET reserved = reserved - 2 WHERE location_id = $1 AND product_id = $2`, l.ID, p.ID)
	})
	for name, check := range map[string]func() (store.CheckReport, error){
		"full":   func() (store.CheckReport, error) { return db.Check(ctx) },
		"scoped": func() (store.CheckReport, error) { return db.CheckChangedSince(ctx, before) },
	} {
		rep, err := check()
		if err != nil {
			t.Fatal(err)
		}
		if rep.OK() || len(rep.ReservationLeak) != 1 || len(rep.LedgerMismatch) != 1 {
			t.Fatalf("%s check should report the leak: %+v", name, rep)
		}
	}
	rep, err := db.CheckChangedSince(ctx, time.Now().Add(time.Minute))
	if err != nil || !rep.OK() || rep.Positions != 0 {
		t.Fatalf("nothing changed in the window: %+v %v", rep, err)
	}
}

// Several sweepers at once (several app instances) expire each hold
// exactly once.
func TestConcurrentSweepersExpireOnce(t *testing.T) {
	db := resvDB(t)
	ctx := context.Background()
	sku := firstSKU(t, db, 121)
	setReservable(t, db, domain.BOPIS, sku, "S10", 60)
	var ids []int64
	for range 40 {
		res, err := db.Reserve(ctx, call(bopis("S10", sku, 1)))
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, decodeRes(t, res).ID)
	}
	later := time.Now().Add(2 * time.Hour)
	var wg sync.WaitGroup
	for range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				n, err := db.ExpireHolds(ctx, later, 7)
				if err != nil {
					t.Errorf("sweep: %v", err)
					return
				}
				if n == 0 {
					return
				}
			}
		}()
	}
	wg.Wait()
	for _, id := range ids {
		audit, err := db.ListAudit(ctx, store.AuditFilter{Entity: "reservation", EntityID: fmt.Sprint(id)})
		if err != nil {
			t.Fatal(err)
		}
		expired := 0
		for _, a := range audit {
			if a.Action == "reservation.expire" {
				expired++
			}
		}
		if !hasExpired(t, db, id) || expired != 1 {
			t.Fatalf("reservation %d: expired audit rows %d", id, expired)
		}
	}
	if n := reservable(t, db, domain.BOPIS, sku, "S10"); n != 60 {
		t.Fatalf("every expired unit is back: reservable %d", n)
	}
	mustCheck(t, db)
}
