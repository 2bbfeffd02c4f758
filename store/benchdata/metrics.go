package benchdata

import (
	"context"
	"fmt"
	"time"

	"stockline/store"
)

// MetricsDataset is what LoadMetricsHistory added.
type MetricsDataset struct {
	Cancellations int64 `db:"cancellations"` // line_cancellations rows
	Ledger        int64 `db:"ledger"`        // ledger rows in the database
}

// LoadMetricsHistory gives a database that LoadOrders filled the history
// the metrics section reads, set-based in SQL: a line_cancellations row
// for every cancelled bench line (reason codes in turn, half an hour after
// the order), and ledger movements up to ledgerRows in pairs on existing
// positions over the last 90 days — a receipt of k units and, a minute
// later, a sale of the same k — so every position still equals its
// ledger and the consistency check passes. Positions are numbered once
// and joined by number (an array of every position, subscripted per row,
// is read whole on each access: quadratic at the size).
func LoadMetricsHistory(ctx context.Context, db *store.DB, ledgerRows int, progress func(step string, took time.Duration)) (MetricsDataset, error) {
	var ds MetricsDataset
	steps := []struct {
		what string
		sql  string
		args []any
	}{
		{"cancellation records", `
			INSERT INTO line_cancellations (order_id, order_line_id, product_id, location_id, channel, reason_code, units, actor, cancelled_at)
			SELECT o.id, ol.id, ol.product_id, ol.location_id, o.channel,
				(ARRAY['out_of_stock','item_not_found','customer_request','payment_failed','fraud','not_collected','other'])[1 + ol.id % 7],
				ol.cancelled, 'token:bench', o.placed_at + interval '30 minutes'
			FROM orders o JOIN order_lines ol ON ol.order_id = o.id
			WHERE o.source = 'bench' AND ol.cancelled > 0
				AND NOT EXISTS (SELECT 1 FROM line_cancellations c WHERE c.order_line_id = ol.id)`, nil},
		{"ledger history", `
			WITH pos AS (SELECT (row_number() OVER (ORDER BY location_id, product_id) - 1)::bigint AS i, location_id, product_id FROM positions),
			n AS (SELECT count(*) AS n FROM positions),
			need AS (SELECT greatest(0, $1::bigint - (SELECT count(*) FROM ledger)) / 2 AS pairs),
			g AS (SELECT pos.location_id AS loc, pos.product_id AS prod, 1 + s.g % 4 AS k, now() - (s.g % 129600) * interval '1 minute' AS at
				FROM need CROSS JOIN n CROSS JOIN generate_series(1, need.pairs) AS s (g) JOIN pos ON pos.i = (s.g * 7919) % n.n)
			INSERT INTO ledger (location_id, product_id, bucket, delta, reason, source, source_ref, actor, note, occurred_at, recorded_at)
			SELECT loc, prod, 'on_hand', k, 'received', 'bench', 'bench-history', 'system:bench', '', at, at FROM g
			UNION ALL
			SELECT loc, prod, 'on_hand', -k, 'sale', 'bench', 'bench-history', 'system:bench', '', at + interval '1 minute', at + interval '1 minute' FROM g`,
			[]any{ledgerRows}},
		// What autovacuum does to insert-only tables after a bulk load, done
		// now so it does not run during the timed runs: statistics, and the
		// visibility map that lets the rollup rounds and the pickup
		// measures read their covering indexes without visiting the heap.
		{"vacuum ledger", `VACUUM (ANALYZE) ledger`, nil},
		{"vacuum line_cancellations", `VACUUM (ANALYZE) line_cancellations`, nil},
		{"vacuum orders", `VACUUM (ANALYZE) orders`, nil},
		{"vacuum order_lines", `VACUUM (ANALYZE) order_lines`, nil},
	}
	for _, s := range steps {
		t := time.Now()
		if s.what == "ledger history" {
			if err := bulkLoad(ctx, db, "ledger", s.sql, s.args...); err != nil {
				return ds, fmt.Errorf("benchdata: metrics %s: %w", s.what, err)
			}
		} else if _, err := db.ExecContext(ctx, s.sql, s.args...); err != nil {
			return ds, fmt.Errorf("benchdata: metrics %s: %w", s.what, err)
		}
		if progress != nil {
			progress(s.what, time.Since(t))
		}
	}
	err := db.GetContext(ctx, &ds, `SELECT (SELECT count(*) FROM line_cancellations) AS cancellations, (SELECT count(*) FROM ledger) AS ledger`)
	return ds, err
}

// bulkLoad runs one set-based insert into table as the retailer's load
// does: on one session without waiting for WAL flushes, with the table's
// indexes and keys dropped and rebuilt after (a sorted build instead of
// millions of random inserts into each btree) and triggers off
// (session_replication_role replica: no foreign-key checks, and no
// metric_dirty rows, so the caller must rebuild the metric rollups whole,
// as the bench section does right after).
func bulkLoad(ctx context.Context, db *store.DB, table, q string, args ...any) error {
	conn, err := db.Connx(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	for _, set := range []string{`SET synchronous_commit = off`, `SET maintenance_work_mem = '512MB'`, `SET session_replication_role = replica`} {
		if _, err := conn.ExecContext(ctx, set); err != nil {
			return err
		}
	}
	rebuild, err := dropIndexes(ctx, conn, table)
	if err != nil {
		return err
	}
	if _, err := conn.ExecContext(ctx, q, args...); err != nil {
		return err
	}
	for _, r := range append(rebuild, `SET session_replication_role = DEFAULT`, `RESET synchronous_commit`, `RESET maintenance_work_mem`) {
		if _, err := conn.ExecContext(ctx, r); err != nil {
			return fmt.Errorf("%w\n%s", err, r)
		}
	}
	return nil
}
