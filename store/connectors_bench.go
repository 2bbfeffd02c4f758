package store

// The SQL behind `make bench-ingest` (cmd/ingestbench): a retailer at scale
// for the connector apply path, and the bare-SQL baseline it is measured
// against. It runs only on the benchmark's own throwaway cluster.

import (
	"context"
	"fmt"

	"github.com/lib/pq"

	"stockline/domain"
)

// IngestBenchConnector is the connector the ingest benchmark feeds.
const IngestBenchConnector = "bench-pos"

// LoadIngestBenchDataset fills an empty, migrated database with locations
// (codes B001…, one DC then stores), skus products (SKU000001…), a
// position for every pair with 20–99 units on hand and the opening ledger
// rows behind them, and a Square-style connector whose mappings name
// locations L001… and items I000001…. Position and ledger indexes are
// dropped for the load and rebuilt after it.
func (db *DB) LoadIngestBenchDataset(ctx context.Context, locations, skus int) error {
	var n int
	if err := db.GetContext(ctx, &n, `SELECT count(*) FROM locations`); err != nil {
		return err
	}
	if n > 0 {
		return fmt.Errorf("store: the ingest benchmark needs an empty database")
	}
	steps := []string{
		fmt.Sprintf(`INSERT INTO locations (code, name, kind, region, pickup)
			SELECT 'B' || lpad(i::text, 3, '0'), 'Bench location ' || i, CASE WHEN i = 1 THEN 'dc' ELSE 'store' END, 'Bench', i > 1
			FROM generate_series(1, %d) i`, locations),
		fmt.Sprintf(`INSERT INTO products (sku, name, barcode, category, price_cents)
			SELECT 'SKU' || lpad(i::text, 6, '0'), 'Bench item ' || i, '77' || lpad(i::text, 11, '0'), 'Bench', 1000
			FROM generate_series(1, %d) i`, skus),
	}
	for _, q := range steps {
		if _, err := db.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("store: bench dataset: %w", err)
		}
	}
	conn, err := db.Connx(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	var rebuild []string
	for _, t := range []string{"positions", "ledger"} {
		var defs []struct {
			Name string `db:"indexname"`
			Def  string `db:"indexdef"`
		}
		if err := conn.SelectContext(ctx, &defs, `SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = 'public' AND tablename = $1`, t); err != nil {
			return err
		}
		for _, d := range defs {
			var con []string
			if err := conn.SelectContext(ctx, &con, `SELECT conname FROM pg_constraint WHERE conname = $1`, d.Name); err != nil {
				return err
			}
			if len(con) > 0 {
				if _, err := conn.ExecContext(ctx, fmt.Sprintf(`ALTER TABLE %s DROP CONSTRAINT %s`, t, d.Name)); err != nil {
					return err
				}
				rebuild = append(rebuild, fmt.Sprintf(`ALTER TABLE %s ADD CONSTRAINT %s PRIMARY KEY USING INDEX %s`, t, d.Name, d.Name))
			} else if _, err := conn.ExecContext(ctx, `DROP INDEX `+d.Name); err != nil {
				return err
			}
			rebuild = append([]string{d.Def}, rebuild...)
		}
	}
	load := []string{
		`INSERT INTO positions (location_id, product_id, on_hand)
			SELECT l.id, p.id, 20 + ((l.id * 7919 + p.id * 104729) % 80) FROM locations l CROSS JOIN products p`,
		`INSERT INTO ledger (location_id, product_id, bucket, delta, reason, source, source_ref, actor, occurred_at)
			SELECT location_id, product_id, 'on_hand', on_hand, 'received', 'seed', 'opening-balance', 'system:bench', now() - interval '30 days'
			FROM positions`,
	}
	for _, q := range load {
		if _, err := conn.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("store: bench dataset: %w", err)
		}
	}
	for _, q := range rebuild {
		if _, err := conn.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("store: bench dataset rebuild %q: %w", q, err)
		}
	}
	c, err := db.CreateConnector(ctx, domain.SystemActor("bench"), NewConnector{Name: IngestBenchConnector, Kind: "pos", Adapter: "square",
		BaseURL: "http://127.0.0.1:1", Enabled: true})
	if err != nil {
		return err
	}
	_, err = db.ExecContext(ctx, `INSERT INTO connector_mappings (connector_id, kind, external_id, location_id)
			SELECT $1, 'location', 'L' || lpad(substr(code, 2), 3, '0'), id FROM locations;
		`, c.ID)
	if err != nil {
		return fmt.Errorf("store: bench mappings: %w", err)
	}
	_, err = db.ExecContext(ctx, `INSERT INTO connector_mappings (connector_id, kind, external_id, product_id)
			SELECT $1, 'item', 'I' || substr(sku, 4), id FROM products`, c.ID)
	if err != nil {
		return fmt.Errorf("store: bench mappings: %w", err)
	}
	_, err = db.ExecContext(ctx, `ANALYZE`)
	return err
}

// BaselineChange is one Square-style change as the baseline loads it:
// its fields in columns beside the raw payload, so no JSON is read in Go
// or SQL on the way in.
type BaselineChange struct {
	SourceEventID string
	Type          string // ADJUSTMENT, PHYSICAL_COUNT, TRANSFER
	OccurredAt    string // RFC 3339
	Item          string
	Location      string // the location, or a transfer's origin
	ToLocation    string // a transfer's destination
	FromState     string
	ToState       string
	Quantity      string // "" when malformed
	Payload       []byte
}

// IngestBaseline applies one batch of Square-style changes with bare SQL
// and no Go domain logic, in one transaction: COPY into a staging table,
// INSERT … ON CONFLICT DO NOTHING into inbound_events, then set-based
// ledger rows and position updates for the events that were new (state
// pairs decided by a CASE, counts as count minus on hand). It is the
// ceiling the real apply path is compared with.
func (db *DB) IngestBaseline(ctx context.Context, connectorID int64, batch []BaselineChange) (applied int, err error) {
	err = db.InTx(ctx, func(tx *Tx) error {
		if _, err := tx.ExecContext(ctx, `
			CREATE TEMP TABLE IF NOT EXISTS bench_stage (sid text, type text, occ timestamptz, item text, loc text, loc2 text,
				from_state text, to_state text, qty int, payload text) ON COMMIT DELETE ROWS;
			CREATE TEMP TABLE IF NOT EXISTS bench_fresh (sid text) ON COMMIT DELETE ROWS;
			CREATE TEMP TABLE IF NOT EXISTS bench_moves (location_id bigint, product_id bigint, delta int,
				counted int, reason text, ref text, occurred_at timestamptz) ON COMMIT DELETE ROWS`); err != nil {
			return err
		}
		stmt, err := tx.PrepareContext(ctx, pq.CopyIn("bench_stage", "sid", "type", "occ", "item", "loc", "loc2", "from_state", "to_state", "qty", "payload"))
		if err != nil {
			return err
		}
		for _, c := range batch {
			var qty, loc2 any
			if c.Quantity != "" {
				qty = c.Quantity
			}
			if c.ToLocation != "" {
				loc2 = c.ToLocation
			}
			if _, err := stmt.ExecContext(ctx, c.SourceEventID, c.Type, c.OccurredAt, c.Item, c.Location, loc2, c.FromState, c.ToState,
				qty, string(c.Payload)); err != nil {
				stmt.Close()
				return err
			}
		}
		if _, err := stmt.ExecContext(ctx); err != nil {
			stmt.Close()
			return err
		}
		if err := stmt.Close(); err != nil {
			return err
		}
		steps := []string{
			`WITH ins AS (
				INSERT INTO inbound_events (connector_id, source_event_id, type, occurred_at, via, status, payload, applied_at)
				SELECT DISTINCT ON (sid) $1::bigint, sid, 'square.' || lower(type), occ, 'bench',
					CASE WHEN qty IS NULL THEN 'dead' ELSE 'applied' END, payload, now()
				FROM bench_stage ORDER BY sid
				ON CONFLICT (connector_id, source_event_id) DO NOTHING
				RETURNING source_event_id)
			INSERT INTO bench_fresh SELECT source_event_id FROM ins`,
			`INSERT INTO bench_moves (location_id, product_id, delta, counted, reason, ref, occurred_at)
			SELECT ml.location_id, mi.product_id, m.delta, m.counted, m.reason, p.sid, p.occ
			FROM (SELECT DISTINCT ON (sid) * FROM bench_stage WHERE qty IS NOT NULL ORDER BY sid) p
			JOIN bench_fresh f ON f.sid = p.sid
			JOIN connector_mappings mi ON mi.connector_id = $1 AND mi.kind = 'item' AND mi.external_id = p.item
			CROSS JOIN LATERAL (VALUES
				(p.loc, CASE
					WHEN p.type = 'TRANSFER' THEN -p.qty
					WHEN p.type = 'ADJUSTMENT' AND p.from_state IN ('IN_STOCK', 'RESERVED_FOR_SALE') AND p.to_state NOT IN ('IN_STOCK', 'RESERVED_FOR_SALE') THEN -p.qty
					WHEN p.type = 'ADJUSTMENT' AND p.from_state NOT IN ('IN_STOCK', 'RESERVED_FOR_SALE') AND p.to_state IN ('IN_STOCK', 'RESERVED_FOR_SALE') THEN p.qty
					ELSE 0 END,
				 CASE WHEN p.type = 'PHYSICAL_COUNT' THEN p.qty END,
				 CASE p.type WHEN 'PHYSICAL_COUNT' THEN 'cycle_count' WHEN 'TRANSFER' THEN 'transfer_out' ELSE lower(p.to_state) END),
				(p.loc2, p.qty, NULL::int, 'transfer_in')
			) AS m(loc, delta, counted, reason)
			JOIN connector_mappings ml ON ml.connector_id = $1 AND ml.kind = 'location' AND ml.external_id = m.loc`,
		}
		for i, q := range steps {
			res, err := tx.ExecContext(ctx, q, connectorID)
			if err != nil {
				return fmt.Errorf("baseline step %d: %w", i+1, err)
			}
			if i == 1 {
				n, _ := res.RowsAffected()
				applied = int(n)
			}
		}
		// Positions are keyed lookups, as in the real path.
		if err := keyedPlans(ctx, tx, true); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE bench_moves m SET delta = m.counted - p.on_hand
			FROM positions p WHERE m.counted IS NOT NULL AND p.location_id = m.location_id AND p.product_id = m.product_id`); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO ledger (location_id, product_id, bucket, delta, reason, source, source_ref, actor, occurred_at)
			SELECT location_id, product_id, 'on_hand', delta, reason, 'bench-baseline', ref, 'connector:bench', occurred_at
			FROM bench_moves WHERE delta <> 0`); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `UPDATE positions p SET on_hand = p.on_hand + d.delta, updated_at = now()
			FROM (SELECT location_id, product_id, sum(delta)::int AS delta FROM bench_moves GROUP BY 1, 2 HAVING sum(delta) <> 0) d
			WHERE p.location_id = d.location_id AND p.product_id = d.product_id`)
		return err
	})
	return applied, err
}

// BenchOnHandTotals sums on_hand over every position and over the ledger:
// the two agree when every movement reached both. It is the benchmark's
// quick whole-database check (Check itself is the thorough one).
func (db *DB) BenchOnHandTotals(ctx context.Context) (positions, ledger int64, err error) {
	err = db.QueryRowContext(ctx, `SELECT (SELECT COALESCE(sum(on_hand), 0) FROM positions),
		(SELECT COALESCE(sum(delta), 0) FROM ledger WHERE bucket = 'on_hand')`).Scan(&positions, &ledger)
	return
}
