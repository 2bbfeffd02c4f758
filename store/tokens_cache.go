package store

import (
	"context"
	"database/sql"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/singleflight"

	"stockline/domain"
)

// The API token check is on every API call, so it never waits on the
// database while the token is cached, and waits on at most one read per
// token when it is not:
//
//   - A verified token is answered from memory for at most tokenCacheTTL
//     after the read that found it began.
//   - The first call to meet an entry older than tokenRefreshAge re-reads
//     the token in the background; the calls meanwhile go on using the
//     entry, and the read's answer replaces it. A token in steady use is so
//     never read in a request's path.
//   - Reads are single-flight per token: calls that miss together (the
//     first calls, or after a pause longer than the TTL) share one read.
//   - The last_used_at the tokens page shows is written at most once a
//     minute, after the read, off the request's path.
//
// Before, every call that met an expired entry (once a second, until one
// of their reads put the token back) read the token itself, and once a
// minute each such read also updated last_used_at in the request's path:
// at 2,000 calls a second those updates queued on the row's lock, each
// with its own commit, and held the availability API for up to 141 ms
// (README, Performance, 2026-12-05 12:20–14:40).
//
// Revocation: RevokeToken drops the whole cache on the instance that
// revokes, at once (and a read that began before the revocation committed
// cannot put the token back: the generation moves on). Every other
// instance stops accepting a revoked token within tokenCacheTTL, its
// entries' age. Unknown and revoked tokens are never cached: every such
// call asks the database.
const (
	tokenCacheTTL   = time.Second
	tokenRefreshAge = tokenCacheTTL / 2
	// tokenReadTimeout bounds a read, which runs detached from the
	// request that started it.
	tokenReadTimeout = 5 * time.Second
	// maxCachedTokens bounds the cache; when full it starts again empty.
	maxCachedTokens = 10_000
)

type tokenCache struct {
	mu    sync.Mutex
	gen   uint64
	m     map[string]cachedToken // by token hash
	loads singleflight.Group     // one database read per token hash at a time
	reads atomic.Int64           // database reads, for tests
}

type cachedToken struct {
	t          domain.APIToken
	at         time.Time // when the read that found it began
	refreshing bool      // a background re-read has been started
}

// get returns the token cached for hash if its entry is younger than the
// TTL at now. refresh says the entry is past tokenRefreshAge and this
// caller, the first to see that, should start the background re-read.
func (c *tokenCache) get(hash string, now time.Time) (t domain.APIToken, ok, refresh bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, found := c.m[hash]
	age := now.Sub(e.at)
	if !found || age >= tokenCacheTTL {
		return domain.APIToken{}, false, false
	}
	if age >= tokenRefreshAge && !e.refreshing {
		e.refreshing = true
		c.m[hash] = e
		refresh = true
	}
	return e.t, true, refresh
}

// cached is get without the refresh: the token if its entry is younger
// than the TTL at now.
func (c *tokenCache) cached(hash string, now time.Time) (domain.APIToken, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[hash]
	if !ok || now.Sub(e.at) >= tokenCacheTTL {
		return domain.APIToken{}, false
	}
	return e.t, true
}

// generation is read before a database read; put stores its result only
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

// failed records a read that found no active token (drop: the token is
// unknown or revoked) or failed (the next call past the refresh age tries
// again).
func (c *tokenCache) failed(hash string, drop bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.m[hash]; ok && drop {
		delete(c.m, hash)
	} else if ok {
		e.refreshing = false
		c.m[hash] = e
	}
}

// forget drops every cached token (a token was revoked).
func (c *tokenCache) forget() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	c.m = nil
}

// TokenByRaw returns the active token matching raw, or EUNAUTHORIZED.
func (db *DB) TokenByRaw(ctx context.Context, raw string) (domain.APIToken, error) {
	hash := hashToken(raw)
	t, ok, refresh := db.tokens.get(string(hash), db.now())
	if refresh {
		db.readToken(hash, true) // in the background: its answer lands in the cache
	}
	if ok {
		return t, nil
	}
	select {
	case r := <-db.readToken(hash, false):
		if r.Err != nil {
			return domain.APIToken{}, r.Err
		}
		return r.Val.(domain.APIToken), nil
	case <-ctx.Done():
		return domain.APIToken{}, ctx.Err()
	}
}

// readToken reads the token whose hash is hash, unless a read of it is
// already running, whose answer it then shares, and caches it if active.
// A read for a call that missed first looks again (a read that ended
// between that call's look and now has cached it); a refresh reads
// whatever the cache holds. The read is detached from the calling
// request: the calls sharing it go on waiting for it when the first one
// goes away.
func (db *DB) readToken(hash []byte, refresh bool) <-chan singleflight.Result {
	return db.tokens.loads.DoChan(string(hash), func() (any, error) {
		if t, ok := db.tokens.cached(string(hash), db.now()); ok && !refresh {
			return t, nil
		}
		ctx, cancel := context.WithTimeout(context.Background(), tokenReadTimeout)
		defer cancel()
		gen, at := db.tokens.generation(), db.now()
		db.tokens.reads.Add(1)
		var r apiTokenRow
		// Prepared once per connection.
		err := db.prepared().getDB(ctx, &r, `SELECT `+apiTokenCols+` FROM api_tokens
			WHERE token_hash = $1 AND revoked_at IS NULL`, hash)
		if err == sql.ErrNoRows {
			db.tokens.failed(string(hash), true)
			return nil, domain.Errorf(domain.EUNAUTHORIZED, "The API token is missing, unknown or revoked.")
		} else if err != nil {
			db.tokens.failed(string(hash), false)
			return nil, fmt.Errorf("store: token: %w", err)
		}
		t := r.token()
		db.touchToken(&t)
		db.tokens.put(string(hash), t, gen, at)
		return t, nil
	})
}

// touchToken records a token's use at most once a minute, in the
// background: the last_used_at the tokens page shows. The condition keeps
// a second instance, or a read that began before the write committed,
// from writing it again.
func (db *DB) touchToken(t *domain.APIToken) {
	if !t.LastUsedAt.IsZero() && time.Since(t.LastUsedAt) <= time.Minute {
		return
	}
	t.LastUsedAt = time.Now()
	db.execDetached(`UPDATE api_tokens SET last_used_at = now()
		WHERE id = $1 AND (last_used_at IS NULL OR last_used_at < now() - interval '1 minute')`, t.ID)
}
