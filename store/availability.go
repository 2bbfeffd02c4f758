package store

import (
	"bytes"
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
// code order (the availability hot path). Locations with no position row
// show zeros. It reads only the product's positions, in one range scan of
// positions_product from a statement prepared once per connection, and
// takes the locations from a cache refreshed every second (at once when a
// position names a location the cache lacks): at 200 locations this is
// several times cheaper than joining locations in SQL and scanning every
// location column per request. Errors: ENOTFOUND for an unknown SKU.
func (db *DB) StockForSKU(ctx context.Context, sku string) ([]domain.LocationStock, error) {
	if !storable(sku) {
		return nil, domain.Errorf(domain.ENOTFOUND, "SKU %q does not exist.", sku)
	}
	// One row with the product's positions as text ("loc:on_hand:reserved:
	// damaged:quality_hold:transfer_out:in_transit_in,..."), parsed by hand:
	// scanning hundreds of rows through database/sql costs more than the
	// query itself.
	var found int
	var packed []byte
	err := db.prepared().getRow(ctx, `SELECT count(pr.id), COALESCE(string_agg(concat_ws(':', p.location_id, p.on_hand, p.reserved, p.damaged,
			p.quality_hold, p.transfer_out, p.in_transit_in), ',') FILTER (WHERE p.location_id IS NOT NULL), '')
		FROM products pr LEFT JOIN positions p ON p.product_id = pr.id
		WHERE pr.sku = $1`, []any{sku}, &found, &packed)
	if err != nil {
		return nil, fmt.Errorf("store: stock for sku: %w", err)
	}
	if found == 0 {
		return nil, domain.Errorf(domain.ENOTFOUND, "SKU %q does not exist.", sku)
	}
	byLoc, err := unpackPositions(packed)
	if err != nil {
		return nil, err
	}
	locs, err := db.resv.refs.locations(ctx, db)
	if err != nil {
		return nil, err
	}
	if len(byLoc) > 0 && !coversAll(locs, byLoc) {
		if locs, err = db.resv.refs.reloadLocations(ctx, db); err != nil {
			return nil, err
		}
	}
	out := make([]domain.LocationStock, len(locs))
	for i, l := range locs {
		out[i] = domain.LocationStock{Location: l, Position: byLoc[l.ID]}
	}
	return out, nil
}

// unpackPositions parses StockForSKU's packed positions.
func unpackPositions(b []byte) (map[int64]domain.Position, error) {
	out := make(map[int64]domain.Position, bytes.Count(b, []byte{','})+1)
	var f [7]int64
	n, neg, field := int64(0), false, 0
	for i := 0; i <= len(b); i++ {
		if i < len(b) && b[i] >= '0' && b[i] <= '9' {
			n = n*10 + int64(b[i]-'0')
			continue
		}
		if i < len(b) && b[i] == '-' {
			neg = true
			continue
		}
		if len(b) == 0 {
			break
		}
		if field >= len(f) || (i < len(b) && b[i] != ':' && b[i] != ',') {
			return nil, fmt.Errorf("store: stock for sku: malformed position list")
		}
		if neg {
			n = -n
		}
		f[field], n, neg = n, 0, false
		field++
		if i == len(b) || b[i] == ',' {
			if field != len(f) {
				return nil, fmt.Errorf("store: stock for sku: malformed position list")
			}
			out[f[0]] = domain.Position{OnHand: int(f[1]), Reserved: int(f[2]), Damaged: int(f[3]), QualityHold: int(f[4]),
				TransferOut: int(f[5]), InTransitIn: int(f[6])}
			field = 0
		}
	}
	return out, nil
}

// coversAll reports whether every location with a position is in locs.
func coversAll(locs []domain.Location, byLoc map[int64]domain.Position) bool {
	n := 0
	for _, l := range locs {
		if _, ok := byLoc[l.ID]; ok {
			n++
		}
	}
	return n == len(byLoc)
}

// LocationSummaries returns every location in code order with its count
// of open exceptions (a small table, so this stays cheap at any scale).
func (db *DB) LocationSummaries(ctx context.Context) ([]domain.LocationSummary, error) {
	var out []domain.LocationSummary
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
