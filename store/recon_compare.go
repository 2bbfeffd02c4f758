package store

import (
	"context"
	"fmt"
)

// reconcileSQL compares one location of a connector in one statement:
// its platform snapshot rows FULL OUTER JOIN the positions of the
// products the connector maps (a product the platform does not list
// counts as 0 there). Stockline's figure is on_hand as of the snapshot
// row's time: a position not updated since then has its current on_hand;
// one updated since has the on-hand movements that happened after the
// snapshot time subtracted (positions.updated_at is when the last
// movement was recorded, which is never before it happened). Thresholds
// are the location's rule, else the category's, else the default, as in
// domain.Thresholds.For. Beyond: a new platform drift opens, or the open
// one is updated; an open one now within the threshold resolves as
// snapshot_agrees. $1 connector, $2 location, $3 connector name, $4
// location code.
const reconcileSQL = `WITH s AS (
	SELECT product_id, quantity, as_of, source_ref FROM platform_snapshots WHERE connector_id = $1 AND location_id = $2
), p AS (
	SELECT product_id, on_hand, updated_at FROM positions
	WHERE location_id = $2 AND product_id IN (SELECT product_id FROM connector_mappings WHERE connector_id = $1 AND kind = 'item')
), cmp AS MATERIALIZED (
	SELECT COALESCE(s.product_id, p.product_id) AS prod, COALESCE(s.quantity, 0) AS counted,
		COALESCE(s.as_of, now()) AS as_of, COALESCE(s.source_ref, '') AS source_ref,
		COALESCE(p.on_hand, 0) - CASE WHEN p.updated_at > COALESCE(s.as_of, now()) THEN (
			SELECT COALESCE(sum(g.delta), 0) FROM ledger g WHERE g.product_id = p.product_id AND g.location_id = $2
			AND g.bucket = 'on_hand' AND g.occurred_at > COALESCE(s.as_of, now())) ELSE 0 END AS system
	FROM s FULL OUTER JOIN p ON p.product_id = s.product_id
), def AS (
	SELECT COALESCE((SELECT min_units FROM recon_thresholds WHERE scope = 'default'), 3) AS mu,
		COALESCE((SELECT min_percent FROM recon_thresholds WHERE scope = 'default'), 5) AS mp,
		COALESCE((SELECT min_value_cents FROM recon_thresholds WHERE scope = 'default'), 0) AS mv
), tl AS (
	SELECT min_units AS mu, min_percent AS mp, min_value_cents AS mv FROM recon_thresholds WHERE scope = 'location' AND location_id = $2
), diffs AS MATERIALIZED (
	SELECT * FROM cmp WHERE counted <> system
), beyond AS (
	SELECT c.*, pr.sku, pr.price_cents, c.counted - c.system AS diff
	FROM diffs c JOIN products pr ON pr.id = c.prod
	LEFT JOIN recon_thresholds tc ON tc.scope = 'category' AND tc.category = pr.category
	CROSS JOIN def LEFT JOIN tl ON true
	WHERE abs(c.counted - c.system) >= COALESCE(tl.mu, tc.min_units, def.mu)
	AND abs(c.counted - c.system) * 100 >= COALESCE(tl.mp, tc.min_percent, def.mp) * abs(c.system)
	AND abs(c.counted - c.system)::bigint * pr.price_cents >= COALESCE(tl.mv, tc.min_value_cents, def.mv)
), existing AS (
	SELECT id, product_id FROM exceptions WHERE kind = 'reconciliation_drift' AND status IN ('open', 'in_progress')
	AND location_id = $2 AND ref = 'snapshot:' || $3
), ins AS (
	INSERT INTO exceptions (kind, severity, location_id, product_id, ref, title, detail, due_at, data)
	SELECT 'reconciliation_drift', CASE WHEN abs(b.diff)::bigint * b.price_cents >= 50000 THEN 'high' ELSE 'medium' END, $2, b.prod,
		'snapshot:' || $3,
		format('%s at %s: %s reports %s, the ledger had %s', b.sku, $4::text, $3::text, b.counted, b.system),
		format('Difference %s units as of %s. Stockline is the ledger: accepting keeps its figure and records that %s should be corrected.',
			b.diff, b.as_of, $3::text),
		now() + interval '24 hours',
		jsonb_build_object('system', b.system, 'counted', b.counted, 'counted_at', b.as_of, 'recorded_at', now(),
			'price_cents', b.price_cents, 'held', 0, 'source', $3::text, 'source_ref', b.source_ref, 'platform', true)
	FROM beyond b WHERE NOT EXISTS (SELECT 1 FROM existing x WHERE x.product_id = b.prod)
	RETURNING 1
), upd AS (
	UPDATE exceptions e SET updated_at = now(), data = e.data || jsonb_build_object('system', b.system, 'counted', b.counted,
		'counted_at', b.as_of, 'source_ref', b.source_ref)
	FROM beyond b, existing x WHERE e.id = x.id AND x.product_id = b.prod
	RETURNING 1
), cls AS (
	UPDATE exceptions e SET status = 'resolved', resolution_code = 'snapshot_agrees', resolved_by = 'system:reconciliation',
		resolution_note = 'A later reconciliation run found ' || $3 || ' within the threshold.', resolved_at = now(), updated_at = now()
	FROM existing x WHERE e.id = x.id AND NOT EXISTS (SELECT 1 FROM beyond b WHERE b.prod = x.product_id)
	RETURNING 1
)
SELECT (SELECT count(*) FROM cmp) AS compared, (SELECT count(*) FROM ins) AS opened, (SELECT count(*) FROM cls) AS closed`

// reconcileLocation compares one location and records the run's progress,
// extending its lease, in the same transaction.
func (db *DB) reconcileLocation(ctx context.Context, run reconRunRef, locID int64, code string) error {
	return db.InTx(ctx, func(tx *Tx) error {
		var n struct {
			Compared int `db:"compared"`
			Opened   int `db:"opened"`
			Closed   int `db:"closed"`
		}
		if err := tx.GetContext(ctx, &n, reconcileSQL, run.ConnectorID, locID, run.Connector, code); err != nil {
			return fmt.Errorf("store: reconcile %s: %w", code, err)
		}
		_, err := tx.ExecContext(ctx, `UPDATE recon_runs SET done = done + 1, compared = compared + $2, drifts_opened = drifts_opened + $3,
			drifts_closed = drifts_closed + $4, lease_until = now() + make_interval(secs => $5) WHERE id = $1`,
			run.ID, n.Compared, n.Opened, n.Closed, reconLease.Seconds())
		return err
	})
}

type reconRunRef = struct {
	ID          int64
	ConnectorID int64
	Connector   string
}
