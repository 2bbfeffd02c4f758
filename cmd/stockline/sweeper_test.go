package main

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"testing"
	"time"

	"stockline/domain"
	"stockline/store"
	"stockline/store/pgtest"
)

// The sweeper releases an overdue hold within a few ticks, returns its
// stock, deletes old idempotency keys, and stops when its context ends.
func TestSweeperExpiresHoldsAndStops(t *testing.T) {
	store.BcryptCost = 4
	ctx := context.Background()
	db := pgtest.Fresh(t)
	if _, err := db.SeedDemo(ctx); err != nil {
		t.Fatal(err)
	}
	sku := "FOO-10000"
	if _, err := db.ProductBySKU(ctx, sku); err != nil {
		ps, _, _ := db.SearchProducts(ctx, store.ProductQuery{Limit: 1})
		sku = ps[0].SKU
	}
	counted := 50
	if _, err := db.Adjust(ctx, domain.SystemActor("test"), sku, "S01", domain.Adjustment{Reason: domain.ReasonCycleCount, Counted: &counted}); err != nil {
		t.Fatal(err)
	}
	res, err := db.Reserve(ctx, store.ReserveCall{
		Actor: domain.SystemActor("test"), Key: store.IdempotencyKey{Scope: "test", Key: "sweep-1", Hash: []byte{1}},
		Request: domain.ReservationRequest{Channel: domain.BOPIS, Location: "S01", Lines: []domain.ReservationLineRequest{{SKU: sku, Qty: 5}}},
		Render: func(r *domain.Reservation, short *domain.Error) store.Response {
			b, _ := json.Marshal(r)
			return store.Response{Status: 201, Body: b}
		},
	})
	if err != nil || res.Status != 201 {
		t.Fatalf("reserve: %v %d", err, res.Status)
	}
	var r domain.Reservation
	json.Unmarshal(res.Body, &r)
	// Run the sweeper an hour in the future: the hold is overdue and the
	// key (recorded now) is not yet old enough to delete; then two days on.
	offset := time.Hour
	db.SetClock(func() time.Time { return time.Now().Add(offset) })

	wctx, cancel := context.WithCancel(ctx)
	stopped := make(chan struct{})
	go func() {
		sweepReservations(wctx, db, slog.New(slog.NewTextHandler(io.Discard, nil)), 20*time.Millisecond)
		close(stopped)
	}()
	deadline := time.Now().Add(5 * time.Second)
	for {
		got, err := db.Reservation(ctx, r.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.Status == domain.Expired {
			if got.ReleaseReason != "expired" {
				t.Fatalf("reason %q", got.ReleaseReason)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the sweeper did not expire the hold within 5 s")
		}
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	select {
	case <-stopped:
	case <-time.After(5 * time.Second):
		t.Fatal("the sweeper did not stop when its context ended")
	}
	rep, err := db.Check(ctx)
	if err != nil || !rep.OK() {
		t.Fatalf("check: %+v %v", rep, err)
	}
	var keys int
	db.GetContext(ctx, &keys, `SELECT count(*) FROM idempotency_keys`)
	if keys != 1 {
		t.Fatalf("a fresh key must survive the sweep: %d keys", keys)
	}
	offset = 49 * time.Hour
	n, err := db.DeleteIdempotencyKeys(ctx, db.Now().Add(-store.IdempotencyRetention))
	if err != nil || n != 1 {
		t.Fatalf("keys older than the retention go: %d %v", n, err)
	}
}
