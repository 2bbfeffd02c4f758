package store_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"stockline/domain"
	"stockline/store"
	"stockline/store/pgtest"
)

// A verified token is cached; revoking it refuses it at once on the
// instance that revoked it, and within the cache's TTL (1 s) on another
// instance that had it cached.
func TestTokenCacheRevocationBound(t *testing.T) {
	ctx := context.Background()
	dsn := pgtest.FreshDSN(t)
	a, err := store.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := store.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	const raw = "sl_test_token_cache_0123456789"
	tok, err := a.CreateToken(ctx, domain.SystemActor("test"), "cache", raw, []string{"availability"})
	if err != nil {
		t.Fatal(err)
	}
	for _, db := range []*store.DB{a, b, a, b} {
		if got, err := db.TokenByRaw(ctx, raw); err != nil || got.ID != tok.ID {
			t.Fatalf("active token: %v %+v", err, got)
		}
	}
	cachedAt := time.Now()
	if err := a.RevokeToken(ctx, domain.SystemActor("test"), tok.ID); err != nil {
		t.Fatal(err)
	}
	revoked := time.Now()
	if _, err := a.TokenByRaw(ctx, raw); domain.ErrorCode(err) != domain.EUNAUTHORIZED {
		t.Fatalf("the revoking instance still accepts the token: %v", err)
	}
	for {
		_, err := b.TokenByRaw(ctx, raw)
		if domain.ErrorCode(err) == domain.EUNAUTHORIZED {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if since := time.Since(cachedAt); since > 1500*time.Millisecond {
			t.Fatalf("another instance still accepts a token revoked %s ago (bound 1 s)", time.Since(revoked))
		}
		time.Sleep(20 * time.Millisecond)
	}
	if _, err := b.TokenByRaw(ctx, "sl_unknown"); domain.ErrorCode(err) != domain.EUNAUTHORIZED {
		t.Fatalf("unknown token: %v", err)
	}
}

// The token check keeps the database off a call's path: calls that miss
// together share one read, a token in steady use is re-read in the
// background before its entry expires, and last_used_at is written once,
// after the read. (Before, at 2,000 calls a second, the calls of the
// moment an entry expired each read the token, and once a minute each
// also updated last_used_at, queueing on the row's lock.)
func TestTokenCacheReadsOnceInTheBackground(t *testing.T) {
	ctx := context.Background()
	db := pgtest.Fresh(t)
	var clock atomic.Int64
	t0 := time.Now()
	at := func(d time.Duration) time.Time { clock.Store(t0.Add(d).UnixNano()); return t0.Add(d) }
	at(0)
	db.SetClock(func() time.Time { return time.Unix(0, clock.Load()) })
	const raw = "sl_test_token_reads_0123456789"
	tok, err := db.CreateToken(ctx, domain.SystemActor("test"), "reads", raw, []string{"availability"})
	if err != nil {
		t.Fatal(err)
	}
	check := func(when string, wantReads int64) {
		t.Helper()
		if got, err := db.TokenByRaw(ctx, raw); err != nil || got.ID != tok.ID {
			t.Fatalf("%s: %v %+v", when, err, got)
		}
		if n := db.TokenReads(); n != wantReads {
			t.Fatalf("%s: %d reads of the token so far, want %d", when, n, wantReads)
		}
	}
	waitFor := func(what string, done func() bool) {
		t.Helper()
		for deadline := time.Now().Add(5 * time.Second); !done(); time.Sleep(5 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("still waiting, after 5 s, for %s", what)
			}
		}
	}

	start, errs := make(chan struct{}), make(chan error, 64)
	var wg sync.WaitGroup
	for range 64 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			got, err := db.TokenByRaw(ctx, raw)
			if err == nil && got.ID != tok.ID {
				err = fmt.Errorf("token %d, want %d", got.ID, tok.ID)
			}
			errs <- err
		}()
	}
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	check("64 calls that missed together", 1)
	waitFor("last_used_at to be written", func() bool {
		ts, err := db.ListTokens(ctx)
		return err == nil && len(ts) == 1 && !ts[0].LastUsedAt.IsZero()
	})

	at(400 * time.Millisecond)
	check("a call at 0.4 s (fresh: no read)", 1)
	refreshed := at(600 * time.Millisecond)
	if got, err := db.TokenByRaw(ctx, raw); err != nil || got.ID != tok.ID {
		t.Fatalf("a call at 0.6 s (answered from the entry; starts a re-read): %v %+v", err, got)
	}
	waitFor("the re-read to replace the entry", func() bool {
		ca, ok := db.TokenCachedAt(raw)
		return ok && ca.Equal(refreshed)
	})
	check("another call at 0.6 s, after the re-read", 2)
	at(1050 * time.Millisecond)
	check("a call at 1.05 s, past the first entry's TTL (the re-read's entry answers)", 2)
	at(1700 * time.Millisecond)
	check("a call at 1.7 s, past every entry's TTL (reads at once)", 3)
}
