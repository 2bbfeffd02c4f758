package store_test

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"

	"stockline/domain"
	"stockline/store"
	"stockline/store/pgtest"
)

// listening starts db's availability listener for the test's life and
// waits until its cache answers.
func listening(t *testing.T, db *store.DB) context.CancelFunc {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); db.ListenStock(ctx, slog.New(slog.DiscardHandler)) }()
	t.Cleanup(func() { cancel(); <-done })
	for deadline := time.Now().Add(5 * time.Second); !db.AvailabilityLive(); {
		if time.Now().After(deadline) {
			t.Fatal("availability cache never went live")
		}
		time.Sleep(10 * time.Millisecond)
	}
	return cancel
}

// sameAsDatabase compares db's cached snapshots of skus with a direct read.
func sameAsDatabase(db *store.DB, skus []string) error {
	ctx := context.Background()
	snaps, err := db.AvailabilitySnapshots(ctx, skus)
	if err != nil {
		return err
	}
	for i, sku := range skus {
		want, err := db.StockForSKU(ctx, sku)
		if err != nil {
			return err
		}
		if got := snaps[i].Stock(); !reflect.DeepEqual(got, want) {
			return fmt.Errorf("%s: cached %v, database %v", sku, got, want)
		}
	}
	return nil
}

func eventually(within time.Duration, f func() error) error {
	deadline := time.Now().Add(within)
	for {
		err := f()
		if err == nil || time.Now().After(deadline) {
			return err
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// Random adjustments, holds, releases, commits and feed events on instance
// a: a's cache equals the database right after each call returns, and a
// second instance b (another DB handle) catches up within the stated bound.
func TestAvailabilityCacheExactAcrossInstances(t *testing.T) {
	ctx := context.Background()
	store.BcryptCost = 4
	dsn := pgtest.FreshDSN(t)
	a, err := store.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	if _, err := a.SeedDemo(ctx); err != nil {
		t.Fatal(err)
	}
	b, err := store.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	misses := store.TouchMisses()
	listening(t, a)
	listening(t, b)

	skus := []string{firstSKU(t, a, 0), firstSKU(t, a, 1), firstSKU(t, a, 2)}
	locs := []string{"S01", "S02", "S04"}
	conn, err := a.CreateConnector(ctx, domain.SystemActor("test"), store.NewConnector{Name: "pos-avail", Kind: "pos", Adapter: "square", Enabled: true})
	if err != nil {
		t.Fatal(err)
	}
	var maps []store.Mapping
	for i, l := range locs {
		maps = append(maps, store.Mapping{Kind: "location", ExternalID: fmt.Sprint("L", i+1), Code: l})
	}
	for i, s := range skus {
		maps = append(maps, store.Mapping{Kind: "item", ExternalID: fmt.Sprint("I", i+1), Code: s})
	}
	if err := a.SetMappings(ctx, domain.SystemActor("test"), conn.ID, maps); err != nil {
		t.Fatal(err)
	}
	for _, db := range []*store.DB{a, b} { // warm both caches
		if err := sameAsDatabase(db, skus); err != nil {
			t.Fatal(err)
		}
	}

	rng := rand.New(rand.NewPCG(7, 12))
	var held []int64
	actor := domain.Actor{Kind: "user", Name: "lead@example.com"}
	for step := range 80 {
		si, li := rng.IntN(len(skus)), rng.IntN(len(locs))
		var what string
		switch op := rng.IntN(5); {
		case op == 0:
			what = "adjust"
			_, err = a.Adjust(ctx, actor, skus[si], locs[li], domain.Adjustment{Reason: domain.ReasonReceived, Delta: ptr(1 + rng.IntN(5))})
		case op == 1 || (op == 2 && len(held) == 0):
			what = "hold"
			var res store.Response
			res, err = a.Reserve(ctx, call(bopis(locs[li], skus[si], 1)))
			if err == nil && res.Status == 201 {
				held = append(held, decodeRes(t, res).ID)
			}
		case op == 2:
			what = "release"
			k := rng.IntN(len(held))
			_, err = a.ReleaseReservation(ctx, actor, held[k], "test")
			held = append(held[:k], held[k+1:]...)
		case op == 3 && len(held) > 0:
			what = "commit"
			_, err = a.CommitReservation(ctx, actor, held[0], fmt.Sprint("ORD-", step))
			held = held[1:]
		default:
			what = "feed"
			ev := sale(fmt.Sprint("ev-", step), si+1, li+1, 1, time.Now())
			if rng.IntN(2) == 0 {
				ev = receive(fmt.Sprint("ev-", step), si+1, li+1, 2, time.Now())
			}
			_, err = a.Ingest(ctx, conn, []store.InboundEvent{ev}, "")
		}
		if err != nil {
			t.Fatalf("step %d %s: %v", step, what, err)
		}
		if err := sameAsDatabase(a, skus); err != nil {
			t.Fatalf("step %d %s: instance a right after the call: %v", step, what, err)
		}
		if err := eventually(time.Second, func() error { return sameAsDatabase(b, skus) }); err != nil {
			t.Fatalf("step %d %s: instance b after 1 s: %v", step, what, err)
		}
	}
	snaps, err := a.AvailabilitySnapshots(ctx, skus)
	if err != nil || snaps[0].Version == 0 {
		t.Fatalf("answers do not come from the cache: %+v %v", snaps, err)
	}
	if n := store.TouchMisses() - misses; n != 0 {
		t.Fatalf("%d stock changes escaped their transaction's collector", n)
	}
	mustCheck(t, a)
}

// Without a running listener the cache never answers; when the listener's
// connection is killed the cache drops everything and, reconnected, serves
// exact answers again.
func TestAvailabilityCacheOffWithoutListenerAndAfterReconnect(t *testing.T) {
	ctx := context.Background()
	dsn := pgtest.FreshDSN(t)
	a, err := store.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	if _, err := a.SeedDemo(ctx); err != nil {
		t.Fatal(err)
	}
	b, err := store.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	sku := firstSKU(t, a, 3)
	snaps, err := b.AvailabilitySnapshots(ctx, []string{sku})
	if err != nil || snaps[0].Version != 0 || b.AvailabilityLive() {
		t.Fatalf("cache answered without a listener: %+v %v", snaps, err)
	}
	listening(t, a)
	listening(t, b)
	if err := sameAsDatabase(b, []string{sku}); err != nil {
		t.Fatal(err)
	}
	// Kill b's listener connection, change stock on a while b may be deaf.
	if _, err := a.ExecContext(ctx, `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
		WHERE datname = current_database() AND query LIKE 'LISTEN %' AND pid <> pg_backend_pid()`); err != nil {
		t.Fatal(err)
	}
	actor := domain.Actor{Kind: "user", Name: "lead@example.com"}
	if _, err := a.Adjust(ctx, actor, sku, "S01", domain.Adjustment{Reason: domain.ReasonReceived, Delta: ptr(3)}); err != nil {
		t.Fatal(err)
	}
	if err := eventually(3*time.Second, func() error {
		if !b.AvailabilityLive() {
			return fmt.Errorf("not live")
		}
		return sameAsDatabase(b, []string{sku})
	}); err != nil {
		t.Fatalf("after reconnect: %v", err)
	}
}
