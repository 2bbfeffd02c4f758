package store

// The availability feed's reads (GET /api/v1/availability/feed). One
// read-only REPEATABLE READ transaction gives the feed's version (its ETag)
// and every row from the same snapshot, so a version always names exactly
// one content. Rows are read in SKU order, feedBatch products at a time,
// with the same packed position query as the availability read model, and
// handed to the caller one SKU at a time: the catalogue is never held in
// memory.
//
// Change times: a position changes only through the stock primitive, which
// writes ledger rows in the same transaction, so the ledger's recorded_at
// is each position's change time. For since=T the feed sums the ledger's
// deltas recorded after T per (SKU, location, bucket) at the channel's
// eligible locations (a BRIN index on recorded_at keeps this a range
// read), rebuilds each such SKU's positions as they were at T (now less
// those deltas) and keeps the SKU when the policy's network ATP at T
// differs from now (domain.Policy.NetworkATP, both times). A policy saved
// after T may change any SKU, so the whole catalogue is answered.

import (
	"context"
	"database/sql"
	"fmt"
	"hash/fnv"
	"slices"
	"time"

	"github.com/lib/pq"

	"stockline/domain"
)

// feedBatch is how many products one positions query reads.
const feedBatch = 1000

// FeedQuery says which part of the catalogue a feed answers.
type FeedQuery struct {
	Channel domain.Channel
	Region  string    // "" for the whole network
	Since   time.Time // zero: every SKU; else only SKUs whose network ATP changed after it
	After   string    // cursor: only SKUs after this one (SKU order)
	Limit   int       // SKUs per page; 0 for all
	// Stores: FeedStart.Locations is every store (of the region), eligible
	// or not, for a per-store feed; otherwise only the locations the
	// policy makes eligible, which alone make up network ATP.
	Stores bool
}

// FeedStart is what the feed knows before its first row.
type FeedStart struct {
	// Version changes whenever any answer of the feed could: new ledger
	// rows, a product added, a policy or location change, or a ledger
	// writer in flight when the snapshot was taken committing (its rows
	// may be numbered below the newest visible one). See openFeed.
	Version string
	// NextSince is a safe since for the next incremental fetch: earlier
	// than any change this snapshot cannot see (the start of the oldest
	// transaction still open), so nothing falls between two fetches.
	NextSince time.Time
	Policy    domain.Policy
	Locations []domain.Location // the feed's locations (see FeedQuery.Stores), in code order
	// Next is the cursor of the next page ("" on the last page).
	Next string
}

// FeedItem is one SKU's stock at FeedStart.Locations, in that order.
type FeedItem struct {
	SKU   string
	Stock []domain.LocationStock
}

// StreamAvailabilityFeed reads one page of the feed. start is called once
// with the version before any row; when it answers false (the client's
// copy is current) no rows are read. Errors: EINVALID on field region for
// a region no location is in.
func (db *DB) StreamAvailabilityFeed(ctx context.Context, q FeedQuery, start func(FeedStart) (bool, error), row func(FeedItem) error) error {
	tx, err := db.BeginTxx(ctx, &sql.TxOptions{Isolation: sql.LevelRepeatableRead, ReadOnly: true})
	if err != nil {
		return fmt.Errorf("store: feed: begin: %w", err)
	}
	defer tx.Rollback()
	f, err := openFeed(ctx, tx, q)
	if err != nil {
		return err
	}
	var changed []FeedItem
	incremental := !q.Since.IsZero() && !f.start.Policy.UpdatedAt.After(q.Since)
	if incremental {
		if changed, err = f.changedSince(ctx, q); err != nil {
			return err
		}
		if q.Limit > 0 && len(changed) > q.Limit {
			changed = changed[:q.Limit]
			f.start.Next = changed[q.Limit-1].SKU
		}
	} else if q.Limit > 0 {
		var edge []string
		if err := tx.SelectContext(ctx, &edge, `SELECT sku FROM products WHERE sku > $1 ORDER BY sku OFFSET $2 LIMIT 2`, q.After, q.Limit-1); err != nil {
			return fmt.Errorf("store: feed: page: %w", err)
		}
		if len(edge) == 2 {
			f.start.Next = edge[0]
		}
	}
	if ok, err := start(f.start); err != nil || !ok {
		return err
	}
	if incremental {
		for _, it := range changed {
			if err := row(it); err != nil {
				return err
			}
		}
		return nil
	}
	return f.scan(ctx, q.After, f.start.Next, row)
}

// feedRead is one feed's transaction and the locations it reads.
type feedRead struct {
	tx       *Tx
	start    FeedStart
	eligible []int64 // ids of the feed's locations the policy makes eligible
}

func openFeed(ctx context.Context, tx *Tx, q FeedQuery) (*feedRead, error) {
	var v struct {
		LedgerMax  int64     `db:"ledger_max"`
		Products   int64     `db:"products"`
		ProductMax int64     `db:"product_max"`
		Unseen     string    `db:"unseen"`
		NextSince  time.Time `db:"next_since"`
	}
	// The first statement takes the snapshot; pg_current_xact_id (run
	// after it) bounds the transactions that existed when it was taken.
	err := tx.GetContext(ctx, &v, `SELECT (SELECT coalesce(max(id), 0) FROM ledger) AS ledger_max,
			(SELECT count(*) FROM products) AS products, (SELECT coalesce(max(id), 0) FROM products) AS product_max,
			array_to_string(array(SELECT x FROM pg_snapshot_xip(pg_current_snapshot()) x
				UNION ALL SELECT g::text::xid8 FROM generate_series(pg_snapshot_xmax(pg_current_snapshot())::text::bigint,
					pg_current_xact_id()::text::bigint - 1) g), ',') AS unseen,
			least(now(), (SELECT min(xact_start) FROM pg_stat_activity
				WHERE xact_start IS NOT NULL AND pid <> pg_backend_pid() AND datname = current_database())) - interval '1 microsecond' AS next_since`)
	if err != nil {
		return nil, fmt.Errorf("store: feed: version: %w", err)
	}
	inFlight, err := ledgerWritersInFlight(ctx, tx, v.Unseen)
	if err != nil {
		return nil, err
	}
	var pr policyRow
	if err := tx.GetContext(ctx, &pr, `SELECT `+policyColumns+` FROM channel_policies WHERE channel = $1`, string(q.Channel)); err != nil {
		return nil, notFound(err, "Channel %q has no policy.", q.Channel)
	}
	var all []domain.Location
	if err := tx.SelectContext(ctx, &all, `SELECT id, code, name, kind, region, timezone, pickup, ship_from_store FROM locations ORDER BY code`); err != nil {
		return nil, fmt.Errorf("store: feed: locations: %w", err)
	}
	f := &feedRead{tx: tx, start: FeedStart{Policy: pr.policy(), NextSince: v.NextSince}}
	h := fnv.New64a()
	inRegion := false
	for _, l := range all {
		fmt.Fprintf(h, "%d|%s|%s|%s|%t|%t;", l.ID, l.Code, l.Kind, l.Region, l.Pickup, l.ShipFromStore)
		if q.Region != "" && l.Region != q.Region {
			continue
		}
		inRegion = true
		eligible := f.start.Policy.Eligible(l)
		if eligible {
			f.eligible = append(f.eligible, l.ID)
		}
		if (q.Stores && l.Kind == domain.Store) || (!q.Stores && eligible) {
			f.start.Locations = append(f.start.Locations, l)
		}
	}
	if !inRegion && q.Region != "" {
		return nil, domain.FieldError("region", "No location is in region %q.", q.Region)
	}
	f.start.Version = fmt.Sprintf("%d.%d.%d.%s.%d.%x", v.LedgerMax, v.Products, v.ProductMax, inFlight,
		f.start.Policy.UpdatedAt.UnixNano(), h.Sum64())
	return f, nil
}

// ledgerWritersInFlight names the transactions the snapshot cannot see
// (unseen: its in-progress list and every xid from its xmax to one
// assigned after it) that may have written ledger rows it does not show
// numbered below its newest id: those holding RowExclusiveLock on this
// database's ledger, and those that have ended since (whatever they
// wrote). The locks are read before the statuses, each after the
// snapshot, so a transaction is either still holding its lock at the lock
// read or ended by the status read.
//
// Why this is exact: the ledger is append-only and its ids come from a
// sequence (cache 1). A row the snapshot cannot see was either numbered
// after the snapshot (above the newest visible id, which its commit then
// raises) or inserted before it by a transaction that existed then, holds
// its ledger lock until it ends, and so is named here; when it commits it
// leaves the next snapshot's unseen list and the version changes. So the
// visible ledger, which only grows from snapshot to snapshot, is named by
// (newest id, writers named here). Transactions that never touch this
// ledger (other tables, other databases of the cluster) leave the version
// alone, so a quiet catalogue answers 304 however busy the cluster is;
// only a transaction ending in the instant around the read is named
// needlessly. (The earlier version named the whole in-progress list, which
// changed with any write anywhere in the cluster, and missed transactions
// at or above the snapshot's xmax, which it does not list.)
func ledgerWritersInFlight(ctx context.Context, tx *Tx, unseen string) (string, error) {
	var writers []string
	if err := tx.SelectContext(ctx, &writers, `SELECT t.transactionid::text FROM pg_locks r
		JOIN pg_locks t ON t.virtualtransaction = r.virtualtransaction AND t.locktype = 'transactionid'
		WHERE r.locktype = 'relation' AND r.relation = 'ledger'::regclass
			AND r.database = (SELECT oid FROM pg_database WHERE datname = current_database())`); err != nil {
		return "", fmt.Errorf("store: feed: ledger writers: %w", err)
	}
	var named string
	err := tx.GetContext(ctx, &named, `SELECT coalesce(string_agg(x::text, ',' ORDER BY x), '')
		FROM unnest(string_to_array(nullif($1, ''), ',')::xid8[]) x
		WHERE x::xid::text = ANY($2::text[]) OR pg_xact_status(x) IS DISTINCT FROM 'in progress'`, unseen, pq.Array(writers))
	if err != nil {
		return "", fmt.Errorf("store: feed: writers in flight: %w", err)
	}
	return named, nil
}

type feedProduct struct {
	ID  int64  `db:"id"`
	SKU string `db:"sku"`
}

// scan answers every SKU after after, up to and including last ("" for
// the end of the catalogue), feedBatch products per query.
func (f *feedRead) scan(ctx context.Context, after, last string, row func(FeedItem) error) error {
	for {
		var prods []feedProduct
		if err := f.tx.SelectContext(ctx, &prods, `SELECT id, sku FROM products WHERE sku > $1 AND ($2 = '' OR sku <= $2) ORDER BY sku LIMIT $3`,
			after, last, feedBatch); err != nil {
			return fmt.Errorf("store: feed: products: %w", err)
		}
		if len(prods) == 0 {
			return nil
		}
		byProd, err := f.positions(ctx, prods)
		if err != nil {
			return err
		}
		for _, p := range prods {
			if err := row(f.item(p.SKU, byProd[p.ID], nil)); err != nil {
				return err
			}
		}
		if len(prods) < feedBatch {
			return nil
		}
		after = prods[len(prods)-1].SKU
	}
}

// positions reads the products' positions at the eligible locations (the
// others promise nothing, so they stay zero), packed as in loadSnapshots.
func (f *feedRead) positions(ctx context.Context, prods []feedProduct) (map[int64]map[int64]domain.Position, error) {
	ids := make([]int64, len(prods))
	for i, p := range prods {
		ids[i] = p.ID
	}
	var rows []struct {
		ProductID int64  `db:"product_id"`
		Packed    []byte `db:"packed"`
	}
	err := f.tx.SelectContext(ctx, &rows, `SELECT product_id, string_agg(concat_ws(':', location_id, on_hand, reserved, damaged,
			quality_hold, transfer_out, in_transit_in), ',') AS packed
		FROM positions WHERE product_id = ANY($1::bigint[]) AND location_id = ANY($2::bigint[]) GROUP BY product_id`,
		pq.Array(ids), pq.Array(f.eligible))
	if err != nil {
		return nil, fmt.Errorf("store: feed: positions: %w", err)
	}
	out := make(map[int64]map[int64]domain.Position, len(rows))
	for _, r := range rows {
		if out[r.ProductID], err = unpackPositions(r.Packed); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// item lays a product's positions out in the feed's location order, less
// the deltas when given (the positions as they were at since).
func (f *feedRead) item(sku string, byLoc map[int64]domain.Position, less map[int64][]feedDelta) FeedItem {
	it := FeedItem{SKU: sku, Stock: make([]domain.LocationStock, len(f.start.Locations))}
	for i, l := range f.start.Locations {
		pos := byLoc[l.ID]
		for _, d := range less[l.ID] {
			pos = pos.Apply(d.Bucket, -d.Delta)
		}
		it.Stock[i] = domain.LocationStock{Location: l, Position: pos}
	}
	return it
}

type feedDelta struct {
	ProductID  int64         `db:"product_id"`
	SKU        string        `db:"sku"`
	LocationID int64         `db:"location_id"`
	Bucket     domain.Bucket `db:"bucket"`
	Delta      int           `db:"delta"`
}

// changedSince answers the SKUs after q.After whose network ATP differs
// between q.Since and now, in SKU order (Limit+1 at most, to tell whether
// another page follows).
func (f *feedRead) changedSince(ctx context.Context, q FeedQuery) ([]FeedItem, error) {
	var deltas []feedDelta
	err := f.tx.SelectContext(ctx, &deltas, `SELECT l.product_id, p.sku, l.location_id, l.bucket, sum(l.delta)::int AS delta
		FROM ledger l JOIN products p ON p.id = l.product_id
		WHERE l.recorded_at > $1 AND l.location_id = ANY($2::bigint[]) AND p.sku > $3
		GROUP BY l.product_id, p.sku, l.location_id, l.bucket ORDER BY p.sku`, q.Since, pq.Array(f.eligible), q.After)
	if err != nil {
		return nil, fmt.Errorf("store: feed: changes since: %w", err)
	}
	var prods []feedProduct
	byProd := map[int64]map[int64][]feedDelta{}
	for _, d := range deltas {
		if byProd[d.ProductID] == nil {
			byProd[d.ProductID] = map[int64][]feedDelta{}
			prods = append(prods, feedProduct{ID: d.ProductID, SKU: d.SKU})
		}
		byProd[d.ProductID][d.LocationID] = append(byProd[d.ProductID][d.LocationID], d)
	}
	pol := f.start.Policy
	var out []FeedItem
	for batch := range slices.Chunk(prods, feedBatch) {
		now, err := f.positions(ctx, batch)
		if err != nil {
			return nil, err
		}
		for _, p := range batch {
			cur, then := f.item(p.SKU, now[p.ID], nil), f.item(p.SKU, now[p.ID], byProd[p.ID])
			if domain.ChannelAvailability(pol, cur.Stock).NetworkATP == domain.ChannelAvailability(pol, then.Stock).NetworkATP {
				continue
			}
			out = append(out, cur)
			if q.Limit > 0 && len(out) > q.Limit {
				return out, nil
			}
		}
	}
	return out, nil
}
