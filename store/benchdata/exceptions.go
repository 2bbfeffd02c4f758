package benchdata

import (
	"context"
	"fmt"
	"time"

	"stockline/store"
)

// ExceptionsDataset is what LoadExceptions built.
type ExceptionsDataset struct {
	Total int `db:"total"` // exceptions in the table
	Open  int `db:"open"`  // of them open or in progress
}

// LoadExceptions adds n exceptions to a seeded demo database, set-based in
// SQL (the exceptions section of cmd/stockbench): every kind, at every
// location (one in ten with none, as feed exceptions have), severities
// spread, raised over the last 90 days with due times from the SLA table;
// one in twenty still open (a tenth of those in progress), the rest
// resolved or dismissed, as in a queue people work.
func LoadExceptions(ctx context.Context, db *store.DB, n int, progress func(step string, took time.Duration)) (ExceptionsDataset, error) {
	var ds ExceptionsDataset
	steps := []struct{ what, sql string }{
		{"exceptions", `
			WITH loc AS (SELECT array_agg(id ORDER BY code) AS a, count(*)::int AS n FROM locations),
			prod AS (SELECT min(id) AS lo, max(id) AS hi FROM products),
			kinds AS (SELECT ARRAY['item_not_found', 'oversell', 'payment_before_stock', 'pickup_overdue', 'pickup_location_change',
				'partial_shipment', 'negative_stock', 'reconciliation_drift', 'transfer_variance', 'feed_stale', 'dead_letter', 'check_failed'] AS a),
			sev AS (SELECT ARRAY['low', 'medium', 'medium', 'high', 'high', 'critical'] AS a),
			g AS (
				SELECT g, (SELECT a FROM kinds)[1 + (g * 7) % 12] AS kind, (SELECT a FROM sev)[1 + (g * 13) % 6] AS severity,
					CASE WHEN g % 10 = 0 THEN NULL ELSE (SELECT a FROM loc)[1 + (g * 31) % (SELECT n FROM loc)] END AS location_id,
					now() - ((g::bigint * 7919) % 129600) * interval '1 minute' AS created_at,
					CASE WHEN g % 20 <> 0 THEN (CASE WHEN g % 3 = 0 THEN 'dismissed' ELSE 'resolved' END)
						WHEN g % 200 = 0 THEN 'in_progress' ELSE 'open' END AS status
				FROM generate_series(1, $1::int) g)
			INSERT INTO exceptions (kind, severity, status, location_id, product_id, ref, title, detail, created_at, updated_at, due_at,
				resolution_code, resolved_at)
			SELECT g.kind, g.severity, g.status, g.location_id,
				CASE WHEN g.location_id IS NULL THEN NULL ELSE (SELECT lo FROM prod) + (g.g * 17) % ((SELECT hi - lo + 1 FROM prod)) END,
				'bench-' || g.g, 'Bench exception ' || g.g, 'generated', g.created_at, g.created_at,
				g.created_at + s.due_minutes * interval '1 minute',
				CASE WHEN g.status IN ('resolved', 'dismissed') THEN 'no_action_needed' ELSE '' END,
				CASE WHEN g.status IN ('resolved', 'dismissed') THEN g.created_at + interval '2 hours' END
			FROM g JOIN exception_slas s ON s.kind = g.kind AND s.severity = g.severity`},
		{"vacuum analyze", `VACUUM ANALYZE exceptions`}, // what autovacuum does after a bulk load
	}
	for _, s := range steps {
		t := time.Now()
		var err error
		if s.what == "exceptions" {
			_, err = db.ExecContext(ctx, s.sql, n)
		} else {
			_, err = db.ExecContext(ctx, s.sql)
		}
		if err != nil {
			return ds, fmt.Errorf("benchdata: %s: %w", s.what, err)
		}
		progress(s.what, time.Since(t))
	}
	err := db.GetContext(ctx, &ds, `SELECT count(*) AS total, count(*) FILTER (WHERE status IN ('open', 'in_progress')) AS open FROM exceptions`)
	return ds, err
}
