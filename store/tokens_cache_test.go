package store_test

import (
	"context"
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
