package store

import (
	"context"
	"sync"
	"time"

	"stockline/domain"
)

// The API token check is on every API call. Verified tokens are kept in
// memory by hash for at most tokenCacheTTL, so a burst of calls costs one
// round trip a second per token instead of one per call.
//
// Revocation: RevokeToken drops the whole cache on the instance that
// revokes, at once (and a check that read the token before the revocation
// committed cannot put it back: the generation moves on). Every other
// instance stops accepting a revoked token within tokenCacheTTL, its
// entries' age. Unknown and revoked tokens are never cached: every such
// call asks the database.
const (
	tokenCacheTTL = time.Second
	// maxCachedTokens bounds the cache; when full it starts again empty.
	maxCachedTokens = 10_000
)

type tokenCache struct {
	mu  sync.Mutex
	gen uint64
	m   map[string]cachedToken // by token hash
}

type cachedToken struct {
	t  domain.APIToken
	at time.Time // when it was read from the database
}

func (c *tokenCache) get(hash string) (domain.APIToken, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[hash]
	if !ok || time.Since(e.at) >= tokenCacheTTL {
		return domain.APIToken{}, false
	}
	return e.t, true
}

// generation is read before a database lookup; put stores its result only
// if nothing was revoked meanwhile.
func (c *tokenCache) generation() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.gen
}

func (c *tokenCache) put(hash string, t domain.APIToken, gen uint64, at time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if gen != c.gen {
		return
	}
	if c.m == nil || len(c.m) >= maxCachedTokens {
		c.m = map[string]cachedToken{}
	}
	c.m[hash] = cachedToken{t: t, at: at}
}

// forget drops every cached token (a token was revoked).
func (c *tokenCache) forget() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	c.m = nil
}

// touchToken records a token's use at most once a minute, as before the
// cache: the last_used_at the tokens page shows.
func (db *DB) touchToken(ctx context.Context, t *domain.APIToken) {
	if t.LastUsedAt.IsZero() || time.Since(t.LastUsedAt) > time.Minute {
		db.ExecContext(ctx, `UPDATE api_tokens SET last_used_at = now() WHERE id = $1`, t.ID)
		t.LastUsedAt = time.Now()
	}
}
