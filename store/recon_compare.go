package store

import (
	"context"
	"fmt"
	"math"
)

// reconcileSQL compares one chunk of a connector (its mapped locations
// with ids in [$3, $4]) in one statement: the chunk's platform snapshot
// rows FULL OUTER JOIN its positions, of the products the connector maps
// or the snapshot lists (a product the platform does not list counts as 0
// there).
//
// The join is a merge join: both sides are read in their primary key's
// order (location, product), so no hash table of the chunk is built; the
// chunk's transaction turns hash joins off, since the planner's costs
// (random_page_cost for the index scans) pick the hash join, which spills
// 240,000 rows to disk in batches at the default work_mem and took about
// 1.5-2x as long (README, Performance).
//
// The join is read once: one aggregate counts the positions compared and
// keeps (as one array) only the candidates, the rows whose on_hand differs
// from the platform or whose position moved after the snapshot row's time
// (positions.updated_at is when the last movement was recorded, which is
// never before it happened). Stockline's figure is on_hand as of the
// snapshot row's time: for the candidates that moved, the on-hand
// movements that happened after that time are summed in one grouped join
// with the ledger and subtracted. Thresholds are the location's rule,
// else the category's, else the default, as in domain.Thresholds.For.
//
// Beyond: a new platform drift opens, due by the SLA of its kind and
// severity (computed here as the exceptions_due_at trigger would), with
// its "opened" timeline event and exception.opened outbox event as
// openExceptions writes them, or the open one is updated when its figures
// changed; an open one in the chunk now within the threshold resolves as
// snapshot_agrees, with a "resolved" timeline event. The few rows beyond
// meet their open drift by index, and the open drifts meet them by hash
// (NOT IN a hashed list), never pairwise.
//
// $1 connector, $2 connector name, $3 and $4 the chunk's location ids, $5
// true when every location in that range is mapped (the planner then
// drops the per-row location test).
const reconcileSQL = `WITH ml AS (
	SELECT location_id FROM connector_mappings WHERE connector_id = $1 AND kind = 'location' AND location_id BETWEEN $3 AND $4
), j AS (
	SELECT COALESCE(s.location_id, p.location_id) AS loc, COALESCE(s.product_id, p.product_id) AS prod,
		COALESCE(s.quantity, 0) AS counted, COALESCE(s.as_of, now()) AS as_of, COALESCE(s.source_ref, '') AS source_ref,
		COALESCE(p.on_hand, 0) AS on_hand, COALESCE(p.updated_at > s.as_of, false) AS moved
	FROM (SELECT location_id, product_id, quantity, as_of, source_ref FROM platform_snapshots
		WHERE connector_id = $1 AND location_id BETWEEN $3 AND $4 ORDER BY location_id, product_id) s
	FULL OUTER JOIN (SELECT location_id, product_id, on_hand, updated_at FROM positions WHERE location_id BETWEEN $3 AND $4
		ORDER BY location_id, product_id) p
	ON p.location_id = s.location_id AND p.product_id = s.product_id
	WHERE ($5 OR COALESCE(s.location_id, p.location_id) IN (SELECT location_id FROM ml))
	AND (s.product_id IS NOT NULL OR p.product_id IN (SELECT product_id FROM connector_mappings WHERE connector_id = $1 AND kind = 'item'))
), agg AS (
	SELECT count(*) AS compared, array_agg(j) FILTER (WHERE j.moved OR j.counted <> j.on_hand) AS cands FROM j
), cand AS MATERIALIZED (
	SELECT u.* FROM agg, unnest(agg.cands) AS u(loc bigint, prod bigint, counted int, as_of timestamptz, source_ref text, on_hand int, moved bool)
), late AS (
	SELECT c.loc, c.prod, sum(g.delta) AS delta FROM cand c JOIN ledger g ON g.product_id = c.prod AND g.location_id = c.loc
	WHERE c.moved AND g.bucket = 'on_hand' AND g.occurred_at > c.as_of GROUP BY c.loc, c.prod
), def AS (
	SELECT COALESCE((SELECT min_units FROM recon_thresholds WHERE scope = 'default'), 3) AS mu,
		COALESCE((SELECT min_percent FROM recon_thresholds WHERE scope = 'default'), 5) AS mp,
		COALESCE((SELECT min_value_cents FROM recon_thresholds WHERE scope = 'default'), 0) AS mv
), beyond AS MATERIALIZED (
	SELECT d.*, d.counted - d.system AS diff, pr.sku, pr.price_cents, lc.code, x.id AS xid,
		CASE WHEN abs(d.counted - d.system)::bigint * pr.price_cents >= 50000 THEN 'high' ELSE 'medium' END AS severity
	FROM (SELECT c.loc, c.prod, c.counted, c.as_of, c.source_ref, c.on_hand - COALESCE(l.delta, 0)::int AS system
		FROM cand c LEFT JOIN late l ON l.loc = c.loc AND l.prod = c.prod) d
	JOIN products pr ON pr.id = d.prod JOIN locations lc ON lc.id = d.loc
	LEFT JOIN exceptions x ON x.kind = 'reconciliation_drift' AND x.status IN ('open', 'in_progress') AND x.ref = 'snapshot:' || $2
		AND x.location_id = d.loc AND x.product_id = d.prod
	LEFT JOIN recon_thresholds tl ON tl.scope = 'location' AND tl.location_id = d.loc
	LEFT JOIN recon_thresholds tc ON tc.scope = 'category' AND tc.category = pr.category
	CROSS JOIN def
	WHERE d.counted <> d.system
	AND abs(d.counted - d.system) >= COALESCE(tl.min_units, tc.min_units, def.mu)
	AND abs(d.counted - d.system) * 100 >= COALESCE(tl.min_percent, tc.min_percent, def.mp) * abs(d.system)
	AND abs(d.counted - d.system)::bigint * pr.price_cents >= COALESCE(tl.min_value_cents, tc.min_value_cents, def.mv)
), ins AS (
	INSERT INTO exceptions (kind, severity, location_id, product_id, ref, title, detail, due_at, data)
	SELECT 'reconciliation_drift', b.severity, b.loc, b.prod, 'snapshot:' || $2,
		format('%s at %s: %s reports %s, the ledger had %s', b.sku, b.code, $2::text, b.counted, b.system),
		format('Difference %s units as of %s. Stockline is the ledger: accepting keeps its figure and records that %s should be corrected.',
			b.diff, b.as_of, $2::text),
		now() + COALESCE(sla.due_minutes, 1440) * interval '1 minute',
		jsonb_build_object('system', b.system, 'counted', b.counted, 'counted_at', b.as_of, 'recorded_at', now(),
			'price_cents', b.price_cents, 'held', 0, 'source', $2::text, 'source_ref', b.source_ref, 'platform', true)
	FROM beyond b LEFT JOIN exception_slas sla ON sla.kind = 'reconciliation_drift' AND sla.severity = b.severity
	WHERE b.xid IS NULL
	RETURNING id, kind, severity, location_id, ref, title
), ins_ev AS (
	INSERT INTO exception_events (exception_id, actor, kind, message) SELECT id, 'system', 'opened', title FROM ins
), ins_ob AS (
	INSERT INTO outbox (topic, payload) SELECT 'exception.opened', jsonb_build_object('id', id, 'kind', kind,
		'severity', severity, 'location_id', coalesce(location_id, 0), 'ref', ref) FROM ins
), upd AS (
	UPDATE exceptions e SET updated_at = now(), data = e.data || jsonb_build_object('system', b.system, 'counted', b.counted,
		'counted_at', b.as_of, 'source_ref', b.source_ref)
	FROM beyond b WHERE e.id = b.xid AND NOT e.data @> jsonb_build_object('system', b.system, 'counted', b.counted,
		'counted_at', b.as_of, 'source_ref', b.source_ref)
	RETURNING 1
), cls AS (
	UPDATE exceptions e SET status = 'resolved', resolution_code = 'snapshot_agrees', resolved_by = 'system:reconciliation',
		resolution_note = 'A later reconciliation run found ' || $2 || ' within the threshold.', resolved_at = now(), updated_at = now()
	WHERE e.kind = 'reconciliation_drift' AND e.status IN ('open', 'in_progress') AND e.ref = 'snapshot:' || $2
	AND e.location_id BETWEEN $3 AND $4 AND e.location_id IN (SELECT location_id FROM ml)
	AND e.id NOT IN (SELECT xid FROM beyond WHERE xid IS NOT NULL)
	RETURNING e.id, e.resolution_note
), cls_ev AS (
	INSERT INTO exception_events (exception_id, actor, kind, message)
	SELECT id, 'system:reconciliation', 'resolved', 'Resolved (snapshot_agrees): ' || resolution_note FROM cls
)
SELECT (SELECT compared FROM agg) AS compared, (SELECT count(*) FROM ins) AS opened, (SELECT count(*) FROM cls) AS closed,
	(SELECT count(*) FROM upd) AS updated`

// reconcileChunk compares one chunk of locations and records the run's
// progress, extending its lease, in the same transaction.
func (db *DB) reconcileChunk(ctx context.Context, run reconRunRef, c reconChunk) error {
	return db.InTx(ctx, func(tx *Tx) error {
		var n struct {
			Compared int `db:"compared"`
			Opened   int `db:"opened"`
			Closed   int `db:"closed"`
			Updated  int `db:"updated"`
		}
		// The comparison is a merge join of the two primary keys in their
		// order (see reconcileSQL); the planner's default, a hash join,
		// builds a table of the chunk's snapshot rows that spills to disk.
		if _, err := tx.ExecContext(ctx, `SET LOCAL enable_hashjoin = off`); err != nil {
			return fmt.Errorf("store: reconcile: %w", err)
		}
		if err := tx.GetContext(ctx, &n, reconcileSQL, run.ConnectorID, run.Connector, c.lo, c.hi, c.dense); err != nil {
			return fmt.Errorf("store: reconcile locations %d..%d: %w", c.lo, c.hi, err)
		}
		_, err := tx.ExecContext(ctx, `UPDATE recon_runs SET done = done + 1, compared = compared + $2, drifts_opened = drifts_opened + $3,
			drifts_closed = drifts_closed + $4, lease_until = now() + make_interval(secs => $5) WHERE id = $1`,
			run.ID, n.Compared, n.Opened, n.Closed, reconLease.Seconds())
		return err
	})
}

// A run is cut into chunks of about reconChunkPositions positions (by
// the planner's estimate), at most reconMaxChunks: each chunk is one
// statement (one progress step) over a range of the mapped locations, kept
// big, since every statement pays its own planning, scans and commit.
const (
	reconChunkPositions = 250_000
	reconMaxChunks      = 8
)

// reconChunk is a range of location ids, both ends included; dense when
// every location in it is mapped.
type reconChunk struct {
	lo, hi int64
	dense  bool
}

// reconLocation is a location and whether the connector maps it.
type reconLocation struct {
	ID     int64 `db:"id"`
	Mapped bool  `db:"mapped"`
}

// chunkLocations cuts the mapped ones of locations (sorted by id) into
// ranges of nearly equal counts, as many as positions (an estimate of the
// positions a run compares) asks for, from 1 to reconMaxChunks.
func chunkLocations(locs []reconLocation, positions float64) []reconChunk {
	var mapped []int // indexes into locs
	for i, l := range locs {
		if l.Mapped {
			mapped = append(mapped, i)
		}
	}
	n := min(len(mapped), reconMaxChunks, max(1, int(math.Ceil(positions/reconChunkPositions))))
	out := make([]reconChunk, 0, n)
	for i := range n {
		group := mapped[i*len(mapped)/n : (i+1)*len(mapped)/n]
		first, last := group[0], group[len(group)-1]
		out = append(out, reconChunk{lo: locs[first].ID, hi: locs[last].ID, dense: last-first == len(group)-1})
	}
	return out
}

type reconRunRef = struct {
	ID          int64
	ConnectorID int64
	Connector   string
}
