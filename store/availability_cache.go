package store

// The availability read model: every SKU's positions across the network,
// kept in memory per product and exact by invalidation. Only displays and
// feeds read it (the availability API); reservation decisions lock the
// positions in their own transaction and never look here.
//
// Exactness on this instance: DB.InTx drops every product its transaction
// touched right after the commit (stock_touch.go). A load installs its
// entry before it queries and keeps the result only if no invalidation
// removed the entry meanwhile, so a load that raced with a commit is never
// cached. Other instances drop entries when the commit's notification
// arrives (availability_listen.go); the cache serves only while this
// instance's own heartbeat notifications come back within availStaleBound,
// so a lost or slow listener turns the cache off instead of serving old
// answers.

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lib/pq"

	"stockline/domain"
)

const (
	// maxAvailEntries bounds the cached SKUs (about 10 KB of positions each
	// at 200 locations, plus the memoised answers).
	maxAvailEntries = 5000
	// availStaleBound: the cache answers only while a heartbeat sent at most
	// this long ago has come back through LISTEN, so every notification
	// committed before it has been applied.
	availStaleBound = 900 * time.Millisecond
)

type availCache struct {
	mu        sync.Mutex
	entries   map[int64]*availEntry
	nextVer   uint64
	locs      []domain.Location // the location list the entries were built with
	listening bool
	beat      atomic.Int64 // send time (unix ns) of the newest own heartbeat received
	notifier  notifier
}

type availEntry struct {
	done chan struct{}
	snap StockSnapshot
	err  error
}

// StockSnapshot is one SKU's positions at every location, in location code
// order. Version is non-zero when the snapshot came from the cache: the same
// version always holds the same positions, so answers built from it may be
// kept (Memo) for as long as the snapshot is the one served.
type StockSnapshot struct {
	Product domain.Product
	Version uint64
	locs    []domain.Location
	pos     []domain.Position
	memo    *snapMemo
}

type snapMemo struct {
	mu sync.Mutex
	m  map[string][]byte
}

// Stock returns the snapshot as one LocationStock per location.
func (s StockSnapshot) Stock() []domain.LocationStock {
	out := make([]domain.LocationStock, len(s.locs))
	for i, l := range s.locs {
		out[i] = domain.LocationStock{Location: l, Position: s.pos[i]}
	}
	return out
}

// Memo returns the bytes build makes for key, building them once per
// cached version. An uncached snapshot builds every time. Callers must not
// modify the returned bytes.
func (s StockSnapshot) Memo(key string, build func() ([]byte, error)) ([]byte, error) {
	if s.memo == nil {
		return build()
	}
	s.memo.mu.Lock()
	defer s.memo.mu.Unlock()
	if b, ok := s.memo.m[key]; ok {
		return b, nil
	}
	b, err := build()
	if err != nil {
		return nil, err
	}
	if s.memo.m == nil {
		s.memo.m = map[string][]byte{}
	}
	s.memo.m[key] = b
	return b, nil
}

// live reports whether the cache may answer now.
func (c *availCache) live() bool {
	c.mu.Lock()
	on := c.listening
	c.mu.Unlock()
	return on && time.Since(time.Unix(0, c.beat.Load())) < availStaleBound
}

// invalidate forgets the products' entries (loads in flight for them are
// not kept).
func (c *availCache) invalidate(ids []int64) {
	c.mu.Lock()
	for _, id := range ids {
		delete(c.entries, id)
	}
	c.mu.Unlock()
}

// clear forgets every entry.
func (c *availCache) clear() {
	c.mu.Lock()
	c.entries = nil
	c.mu.Unlock()
}

// AvailabilitySnapshots returns each SKU's snapshot in the order given, for
// the availability API: from the cache while it is live, loading the SKUs
// it lacks in one query, otherwise straight from the database.
// Errors: ENOTFOUND naming the first SKU that does not exist.
func (db *DB) AvailabilitySnapshots(ctx context.Context, skus []string) ([]StockSnapshot, error) {
	prods, err := db.productsBySKU(ctx, skus)
	if err != nil {
		return nil, err
	}
	locs, err := db.resv.refs.locations(ctx, db)
	if err != nil {
		return nil, err
	}
	c := &db.avail
	if !c.live() {
		return db.loadSnapshots(ctx, prods, locs, nil)
	}
	out := make([]StockSnapshot, len(prods))
	var wait []*availEntry
	var mine []*availEntry
	var load []domain.Product
	c.mu.Lock()
	if !slices.Equal(c.locs, locs) {
		c.entries = nil // a location was added or changed
	}
	c.locs = locs
	if c.entries == nil {
		c.entries = map[int64]*availEntry{}
	}
	for _, p := range prods {
		e := c.entries[p.ID]
		if e == nil {
			e = &availEntry{done: make(chan struct{})}
			c.evictFor(1)
			c.entries[p.ID] = e
			mine, load = append(mine, e), append(load, p)
		}
		wait = append(wait, e)
	}
	c.mu.Unlock()
	if len(load) > 0 {
		snaps, err := db.loadSnapshots(ctx, load, locs, func() uint64 {
			c.mu.Lock()
			defer c.mu.Unlock()
			c.nextVer++
			return c.nextVer
		})
		c.mu.Lock()
		for i, e := range mine {
			if err != nil {
				e.err = err
			} else {
				e.snap = snaps[i]
			}
			if err != nil && c.entries[load[i].ID] == e {
				delete(c.entries, load[i].ID)
			}
			close(e.done)
		}
		c.mu.Unlock()
	}
	for i, e := range wait {
		select {
		case <-e.done:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		if e.err != nil {
			// Another request's load failed (perhaps its client left):
			// answer this one from the database.
			return db.loadSnapshots(ctx, prods, locs, nil)
		}
		out[i] = e.snap
	}
	return out, nil
}

// evictFor makes room for n entries (c.mu held). Map order is random
// enough for a bound on memory.
func (c *availCache) evictFor(n int) {
	for id := range c.entries {
		if len(c.entries)+n <= maxAvailEntries {
			return
		}
		delete(c.entries, id)
	}
}

// loadSnapshots reads the products' positions in one query. With version
// non-nil each snapshot gets a version and a memo (it is to be cached).
func (db *DB) loadSnapshots(ctx context.Context, prods []domain.Product, locs []domain.Location, version func() uint64) ([]StockSnapshot, error) {
	ids := make([]int64, 0, len(prods))
	for _, p := range prods {
		if !slices.Contains(ids, p.ID) {
			ids = append(ids, p.ID)
		}
	}
	var rows []struct {
		ProductID int64  `db:"product_id"`
		Packed    []byte `db:"packed"`
	}
	err := db.prepared().selectDB(ctx, &rows, `SELECT product_id, string_agg(concat_ws(':', location_id, on_hand, reserved, damaged,
			quality_hold, transfer_out, in_transit_in), ',') AS packed
		FROM positions WHERE product_id = ANY($1::bigint[]) GROUP BY product_id`, pq.Array(ids))
	if err != nil {
		return nil, fmt.Errorf("store: availability snapshots: %w", err)
	}
	byProd := make(map[int64]map[int64]domain.Position, len(rows))
	for _, r := range rows {
		m, err := unpackPositions(r.Packed)
		if err != nil {
			return nil, err
		}
		if !coversAll(locs, m) {
			// A position at a location newer than the cached list: reload it
			// and answer uncached this time.
			if locs, err = db.resv.refs.reloadLocations(ctx, db); err != nil {
				return nil, err
			}
			version = nil
		}
		byProd[r.ProductID] = m
	}
	out := make([]StockSnapshot, len(prods))
	for i, p := range prods {
		s := StockSnapshot{Product: p, locs: locs, pos: make([]domain.Position, len(locs))}
		m := byProd[p.ID]
		for j, l := range locs {
			s.pos[j] = m[l.ID]
		}
		if version != nil {
			s.Version, s.memo = version(), &snapMemo{}
		}
		out[i] = s
	}
	return out, nil
}

// productsBySKU resolves SKUs through the reservation path's product cache
// (a SKU's id never changes), fetching the ones it lacks in one query.
func (db *DB) productsBySKU(ctx context.Context, skus []string) ([]domain.Product, error) {
	rc := &db.resv.refs
	out := make([]domain.Product, len(skus))
	var missing []string
	rc.mu.Lock()
	for i, s := range skus {
		p, ok := rc.products[s]
		if ok {
			out[i] = p
		} else if !slices.Contains(missing, s) {
			missing = append(missing, s)
		}
	}
	rc.mu.Unlock()
	if len(missing) == 0 {
		return out, nil
	}
	rc.warmOnce(db)
	for _, s := range missing {
		if !storable(s) {
			return nil, domain.Errorf(domain.ENOTFOUND, "SKU %q does not exist.", s)
		}
	}
	var found []domain.Product
	err := db.prepared().selectDB(ctx, &found, `SELECT `+productColumns+` FROM products WHERE sku = ANY($1::text[])`,
		pq.Array(missing))
	if err != nil {
		return nil, fmt.Errorf("store: products by sku: %w", err)
	}
	bySKU := make(map[string]domain.Product, len(found))
	for _, p := range found {
		bySKU[p.SKU] = p
	}
	rc.keep(found...)
	for i, s := range skus {
		if out[i].ID != 0 {
			continue
		}
		p, ok := bySKU[s]
		if !ok {
			return nil, domain.Errorf(domain.ENOTFOUND, "SKU %q does not exist.", s)
		}
		out[i] = p
	}
	return out, nil
}

// AvailabilityLive reports whether the availability cache answers now
// (ListenStock is running and its heartbeats come back in time).
func (db *DB) AvailabilityLive() bool { return db.avail.live() }
