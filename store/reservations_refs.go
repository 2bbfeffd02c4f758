package store

import (
	"context"
	"sync"
	"time"

	"stockline/domain"
)

// refCache keeps the lookups every reservation makes: locations (briefly,
// as their flags may change) and products by SKU (a SKU's id never
// changes), the whole catalogue loaded once on the first miss (warmOnce).
type refCache struct {
	mu       sync.Mutex
	locs     []domain.Location
	locsAt   time.Time
	products map[string]domain.Product
	warming  bool // the catalogue load has started (once per process)
}

const (
	locationCacheTTL = time.Second
	maxCachedSKUs    = 200_000
)

func (c *refCache) locations(ctx context.Context, db *DB) ([]domain.Location, error) {
	c.mu.Lock()
	if c.locs != nil && time.Since(c.locsAt) < locationCacheTTL {
		l := c.locs
		c.mu.Unlock()
		return l, nil
	}
	c.mu.Unlock()
	return c.reloadLocations(ctx, db)
}

// reloadLocations refreshes the cached locations now.
func (c *refCache) reloadLocations(ctx context.Context, db *DB) ([]domain.Location, error) {
	l, err := db.ListLocations(ctx)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	c.locs, c.locsAt = l, time.Now()
	c.mu.Unlock()
	return l, nil
}

func (c *refCache) product(ctx context.Context, db *DB, sku string) (domain.Product, error) {
	c.mu.Lock()
	p, ok := c.products[sku]
	c.mu.Unlock()
	if ok {
		return p, nil
	}
	c.warmOnce(db)
	p, err := db.ProductBySKU(ctx, sku)
	if err != nil {
		return p, err
	}
	c.keep(p)
	return p, nil
}

// keep adds products to the cache, making room when it is full.
func (c *refCache) keep(ps ...domain.Product) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.products == nil {
		c.products = make(map[string]domain.Product, len(ps))
	}
	makeRoom(c.products, len(ps), maxCachedSKUs)
	for _, p := range ps {
		c.products[p.SKU] = p
	}
}

// makeRoom deletes entries of m, whichever the map's iteration order
// (random in Go) gives first, until n more fit under limit. A cache over a
// catalogue larger than its limit so keeps most of what it holds; starting
// again empty would make every lookup after a flush miss until it filled
// again, and halve its hit rate over a cycle.
func makeRoom[K comparable, V any](m map[K]V, n, limit int) {
	for k := range m {
		if len(m)+n <= limit {
			return
		}
		delete(m, k)
	}
}

// warmOnce starts, on the first SKU the cache lacks, a background load of
// the catalogue (up to maxCachedSKUs products), so a checkout peak spread
// over many SKUs does not pay a lookup, a round trip and its planning, the
// first time it meets each one (measured in the README). Lookups go on one
// by one meanwhile, and for SKUs added later.
func (c *refCache) warmOnce(db *DB) {
	c.mu.Lock()
	start := !c.warming && db.DB != nil // a transaction-scoped DB has no pool to load from
	c.warming = true
	c.mu.Unlock()
	if !start {
		return
	}
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		var ps []domain.Product
		if err := db.SelectContext(ctx, &ps, `SELECT `+productColumns+` FROM products ORDER BY id LIMIT $1`,
			maxCachedSKUs); err != nil {
			return // the cache fills one lookup at a time instead
		}
		c.keep(ps...)
	}()
}
