package store

import (
	"context"
	"fmt"

	"github.com/lib/pq"

	"stockline/domain"
)

// driftFacts is every drift raised in the window at the locations in
// scope ($2, NULL for all), with its difference in units and value.
const driftFacts = `WITH f AS (
	SELECT e.id, e.status, e.created_at, e.resolved_at, l.code AS location, pr.sku, pr.category,
		abs((e.data->>'counted')::int - (e.data->>'system')::int) AS units,
		abs((e.data->>'counted')::int - (e.data->>'system')::int)::bigint * COALESCE((e.data->>'price_cents')::bigint, pr.price_cents) AS value_cents
	FROM exceptions e JOIN locations l ON l.id = e.location_id JOIN products pr ON pr.id = e.product_id
	WHERE e.kind = 'reconciliation_drift' AND e.created_at > now() - make_interval(days => $1)
	AND ($2::text[] IS NULL OR l.code = ANY($2)) AND e.data ? 'counted'
) `

// ReconDashboard gathers the reconciliation dashboard over the last days
// at the given locations (nil for all).
func (db *DB) ReconDashboard(ctx context.Context, days int, locations []string) (domain.ReconDashboard, error) {
	out := domain.ReconDashboard{Days: days}
	var locs any
	if locations != nil {
		locs = pq.Array(locations)
	}
	group := func(dst *[]domain.DriftTotal, by, limit string) error {
		return db.SelectContext(ctx, dst, driftFacts+`SELECT `+by+` AS label, count(*) AS drifts, sum(units) AS units, sum(value_cents) AS value_cents
			FROM f GROUP BY 1 ORDER BY sum(value_cents) DESC, 1 `+limit, days, locs)
	}
	if err := group(&out.ByLocation, "location", ""); err != nil {
		return out, fmt.Errorf("store: drift by location: %w", err)
	}
	if err := group(&out.ByCategory, "category", ""); err != nil {
		return out, fmt.Errorf("store: drift by category: %w", err)
	}
	if err := group(&out.WorstSKUs, "sku", "LIMIT 10"); err != nil {
		return out, fmt.Errorf("store: worst SKUs: %w", err)
	}
	if err := db.SelectContext(ctx, &out.Trend, driftFacts+`SELECT d::date AS day, count(f.id) AS drifts, COALESCE(sum(f.units), 0) AS units,
			COALESCE(sum(f.value_cents), 0) AS value_cents
		FROM generate_series(date_trunc('day', now()) - make_interval(days => $1 - 1), date_trunc('day', now()), interval '1 day') d
		LEFT JOIN f ON date_trunc('day', f.created_at) = d GROUP BY d ORDER BY d`, days, locs); err != nil {
		return out, fmt.Errorf("store: drift trend: %w", err)
	}
	if err := db.SelectContext(ctx, &out.Resolution, driftFacts+`SELECT location AS label,
			count(*) FILTER (WHERE resolved_at IS NOT NULL) AS resolved,
			COALESCE(percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM resolved_at - created_at) / 3600)
				FILTER (WHERE resolved_at IS NOT NULL), 0) AS median_hours,
			count(*) FILTER (WHERE status IN ('open', 'in_progress')) AS open
		FROM f GROUP BY 1 ORDER BY 1`, days, locs); err != nil {
		return out, fmt.Errorf("store: drift resolution times: %w", err)
	}
	// Accuracy: positions counted in the window (by a counting feed), less
	// those whose count opened a drift.
	if err := db.SelectContext(ctx, &out.Accuracy, `WITH counted AS (
			SELECT DISTINCT s.location_id, s.product_id FROM count_snapshots s WHERE s.recorded_at > now() - make_interval(days => $1)
		), drifted AS (
			SELECT DISTINCT e.location_id, e.product_id FROM exceptions e WHERE e.kind = 'reconciliation_drift'
			AND e.created_at > now() - make_interval(days => $1) AND NOT COALESCE((e.data->>'platform')::boolean, false)
		)
		SELECT l.code AS label, count(*) AS counted, count(*) FILTER (WHERE d.location_id IS NULL) AS within
		FROM counted c JOIN locations l ON l.id = c.location_id
		LEFT JOIN drifted d ON d.location_id = c.location_id AND d.product_id = c.product_id
		WHERE ($2::text[] IS NULL OR l.code = ANY($2)) GROUP BY l.code ORDER BY l.code`, days, locs); err != nil {
		return out, fmt.Errorf("store: record accuracy: %w", err)
	}
	runs, err := db.RecentReconRuns(ctx, 10)
	out.Runs = runs
	return out, err
}
