package store

import (
	"context"
	"fmt"
	"sync"
	"time"

	"stockline/domain"
)

// policyCacheTTL bounds how stale a cached channel policy may be on an
// instance that did not make the change itself. SavePolicy on this
// instance invalidates at once.
const policyCacheTTL = time.Second

// policyCache keeps every channel's policy in memory briefly: availability
// is a hot path and policies change a few times a day. gen makes a load
// that raced with an invalidation discard its (possibly stale) result.
type policyCache struct {
	mu     sync.Mutex
	gen    uint64
	loaded time.Time
	byChan map[domain.Channel]domain.Policy
}

func (c *policyCache) invalidate() {
	c.mu.Lock()
	c.gen++
	c.byChan = nil
	c.mu.Unlock()
}

// CachedPolicies returns every channel's policy, at most policyCacheTTL
// old. Callers must not modify the returned map or its policies.
func (db *DB) CachedPolicies(ctx context.Context) (map[domain.Channel]domain.Policy, error) {
	c := &db.policies
	c.mu.Lock()
	if c.byChan != nil && time.Since(c.loaded) < policyCacheTTL {
		m := c.byChan
		c.mu.Unlock()
		return m, nil
	}
	gen := c.gen
	c.mu.Unlock()
	list, err := db.Policies(ctx)
	if err != nil {
		return nil, err
	}
	m := make(map[domain.Channel]domain.Policy, len(list))
	for _, p := range list {
		m[p.Channel] = p
	}
	c.mu.Lock()
	if c.gen == gen {
		c.byChan, c.loaded = m, time.Now()
	}
	c.mu.Unlock()
	return m, nil
}

// CachedPolicy returns one channel's policy from CachedPolicies, or
// ENOTFOUND when the channel has none.
func (db *DB) CachedPolicy(ctx context.Context, ch domain.Channel) (domain.Policy, error) {
	m, err := db.CachedPolicies(ctx)
	if err != nil {
		return domain.Policy{}, err
	}
	p, ok := m[ch]
	if !ok {
		return domain.Policy{}, domain.Errorf(domain.ENOTFOUND, "Channel %q has no policy.", ch)
	}
	return p, nil
}

// StockForSKU returns every location's position for the SKU in location
// code order, in one indexed query (the availability hot path). Locations
// with no position row show zeros. The LATERAL join makes each location's
// row a primary-key lookup whatever the planner's statistics say: the
// locations table is too small for autovacuum ever to analyze it, and a
// plain join was planned as a scan of every position. Errors: ENOTFOUND
// for an unknown SKU.
func (db *DB) StockForSKU(ctx context.Context, sku string) ([]domain.LocationStock, error) {
	var out []domain.LocationStock
	if !storable(sku) {
		return nil, domain.Errorf(domain.ENOTFOUND, "SKU %q does not exist.", sku)
	}
	// Prepared once per connection: planning costs more than running it.
	err := db.prepared().selectDB(ctx, &out, `SELECT l.id, l.code, l.name, l.kind, l.region, l.timezone, l.pickup, l.ship_from_store,
			COALESCE(p.on_hand, 0) AS on_hand, COALESCE(p.reserved, 0) AS reserved, COALESCE(p.damaged, 0) AS damaged,
			COALESCE(p.quality_hold, 0) AS quality_hold, COALESCE(p.transfer_out, 0) AS transfer_out,
			COALESCE(p.in_transit_in, 0) AS in_transit_in
		FROM products pr CROSS JOIN locations l
		LEFT JOIN LATERAL (
			SELECT * FROM positions x WHERE x.location_id = l.id AND x.product_id = pr.id LIMIT 1 -- LIMIT keeps it a per-row lookup
		) p ON true
		WHERE pr.sku = $1
		ORDER BY l.code`, sku)
	if err != nil {
		return nil, fmt.Errorf("store: stock for sku: %w", err)
	}
	if len(out) == 0 {
		// Either the SKU is unknown or there are no locations at all.
		if _, err := db.ProductBySKU(ctx, sku); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// LocationSummary is a location with the counts the locations list shows.
type LocationSummary struct {
	domain.Location
	OpenExceptions int `db:"open_exceptions"`
}

// LocationSummaries returns every location in code order with its count
// of open exceptions (a small table, so this stays cheap at any scale).
func (db *DB) LocationSummaries(ctx context.Context) ([]LocationSummary, error) {
	var out []LocationSummary
	err := db.SelectContext(ctx, &out, `SELECT l.id, l.code, l.name, l.kind, l.region, l.timezone, l.pickup, l.ship_from_store,
			COALESCE(e.n, 0) AS open_exceptions
		FROM locations l LEFT JOIN (
			SELECT location_id, count(*) AS n FROM exceptions WHERE status IN ('open', 'in_progress') GROUP BY location_id
		) e ON e.location_id = l.id
		ORDER BY l.code`)
	if err != nil {
		return nil, fmt.Errorf("store: location summaries: %w", err)
	}
	return out, nil
}
