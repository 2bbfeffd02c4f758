package benchdata

// The SQL behind the ingest section of `make bench` (cmd/stockbench): the
// connector the feed arrives through, over the retailer LoadRetailer
// builds, and the bare-SQL baseline the apply path is measured against. It
// runs only on the benchmark's own throwaway cluster.

import (
	"context"
	"fmt"

	"github.com/lib/pq"

	"stockline/domain"
	"stockline/store"
)

// IngestConnector is the connector the ingest benchmark feeds.
const IngestConnector = "bench-pos"

// AddIngestConnector adds the Square-style connector the ingest
// benchmark feeds to a database LoadBenchDataset filled, with a mapping for
// every location and product: locations are L001… in id order (the DC
// first, then the stores), items I000001… by their SKU's number
// (BEN-000001 is I000001).
func AddIngestConnector(ctx context.Context, db *store.DB) error {
	c, err := db.CreateConnector(ctx, domain.SystemActor("bench"), store.NewConnector{Name: IngestConnector, Kind: "pos", Adapter: "square",
		BaseURL: "http://127.0.0.1:1", Enabled: true})
	if err != nil {
		return err
	}
	steps := []string{
		`INSERT INTO connector_mappings (connector_id, kind, external_id, location_id)
			SELECT $1, 'location', 'L' || lpad((row_number() OVER (ORDER BY id))::text, 3, '0'), id FROM locations`,
		`INSERT INTO connector_mappings (connector_id, kind, external_id, product_id)
			SELECT $1, 'item', 'I' || substr(sku, 5), id FROM products WHERE sku LIKE 'BEN-%'`,
	}
	for _, q := range steps {
		if _, err := db.ExecContext(ctx, q, c.ID); err != nil {
			return fmt.Errorf("benchdata: mappings: %w", err)
		}
	}
	_, err = db.ExecContext(ctx, `ANALYZE connectors; ANALYZE connector_mappings`)
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
func IngestBaseline(ctx context.Context, db *store.DB, connectorID int64, batch []BaselineChange) (applied int, err error) {
	err = db.InTx(ctx, func(tx *store.Tx) error {
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
		if _, err := tx.ExecContext(ctx, `SET LOCAL enable_hashjoin = off; SET LOCAL enable_mergejoin = off`); err != nil {
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

// OnHandTotals sums on_hand over every position and over the ledger:
// the two agree when every movement reached both. It is the benchmark's
// quick whole-database check (Check itself is the thorough one).
func OnHandTotals(ctx context.Context, db *store.DB) (positions, ledger int64, err error) {
	err = db.QueryRowContext(ctx, `SELECT (SELECT COALESCE(sum(on_hand), 0) FROM positions),
		(SELECT COALESCE(sum(delta), 0) FROM ledger WHERE bucket = 'on_hand')`).Scan(&positions, &ledger)
	return
}
