package store

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// OversellRow is orders that could not be reserved as promised (an
// oversell exception names them) out of the orders placed, per channel.
type OversellRow struct {
	Channel  string `db:"channel"`
	Orders   int64  `db:"orders"`
	Oversold int64  `db:"oversold"`
}

// OversellRaw counts, per channel, the orders placed in the window and
// those with an oversell exception, from the orders themselves.
func (db *DB) OversellRaw(ctx context.Context, f MetricFilter) ([]OversellRow, error) {
	var w metricWhere
	f.window(&w, "o.placed_at")
	f.places(&w, "o.channel", "")
	out := []OversellRow{}
	err := db.SelectContext(ctx, &out, `SELECT o.channel, count(*) AS orders,
			count(*) FILTER (WHERE EXISTS (SELECT 1 FROM exceptions e WHERE e.ref = o.number AND e.kind = 'oversell')) AS oversold
		FROM orders o LEFT JOIN locations loc ON loc.id = o.pickup_location_id
		WHERE `+w.sql()+` GROUP BY o.channel ORDER BY o.channel`, w.args...)
	if err != nil {
		return nil, fmt.Errorf("store: oversell: %w", err)
	}
	return out, nil
}

// OversellRollup answers the same from the daily orders rollup (per day,
// pickup store and channel): only for a window on UTC day boundaries (ok
// false otherwise, or before the first rebuild).
func (db *DB) OversellRollup(ctx context.Context, f MetricFilter) (out []OversellRow, freshAt time.Time, ok bool, err error) {
	if !f.Window.DayAligned() {
		return nil, time.Time{}, false, nil
	}
	if freshAt, ok, err = db.RollupFreshAt(ctx, rollupOrders); err != nil || !ok {
		return nil, freshAt, false, err
	}
	var w metricWhere
	w.add("r.day >= ?", utcDay(f.Window.From))
	w.add("r.day < ?", utcDay(f.Window.To))
	f.places(&w, "r.channel", "")
	out = []OversellRow{}
	err = db.SelectContext(ctx, &out, `SELECT r.channel, sum(r.orders) AS orders, sum(r.oversold) AS oversold
		FROM metric_orders_daily r LEFT JOIN locations loc ON loc.id = r.location_id
		WHERE `+w.sql()+` GROUP BY r.channel ORDER BY r.channel`, w.args...)
	if err != nil {
		return nil, freshAt, false, fmt.Errorf("store: oversell rollup: %w", err)
	}
	return out, freshAt, true, nil
}

// ExceptionRow is the exception measures for one kind at one location.
type ExceptionRow struct {
	Kind        string          `db:"kind"`
	Location    string          `db:"location"`
	Opened      int64           `db:"opened"`
	Resolved    int64           `db:"resolved"`
	OpenNow     int64           `db:"open_now"`
	AgeHours    sql.NullFloat64 `db:"age_hours"` // mean age of those open now
	SLABreaches int64           `db:"breaches"`
}

// Exceptions counts per kind and location: opened in the window, resolved
// (or dismissed) in the window, open now with their mean age in hours, and
// SLA breaches among those opened in the window (closed after their due
// time, or still open past it).
func (db *DB) Exceptions(ctx context.Context, f MetricFilter) ([]ExceptionRow, error) {
	now := db.stamp()
	var w metricWhere
	f.places(&w, "", "")
	n := len(w.args)
	w.args = append(w.args, f.Window.From, f.Window.To, now)
	from, to, at := fmt.Sprintf("$%d", n+1), fmt.Sprintf("$%d", n+2), fmt.Sprintf("$%d", n+3)
	in := func(col string) string { return col + " >= " + from + " AND " + col + " < " + to }
	open := "e.status IN ('open', 'in_progress')"
	out := []ExceptionRow{}
	err := db.SelectContext(ctx, &out, `SELECT e.kind, coalesce(loc.code, '') AS location,
			count(*) FILTER (WHERE `+in("e.created_at")+`) AS opened,
			count(*) FILTER (WHERE `+in("e.resolved_at")+`) AS resolved,
			count(*) FILTER (WHERE `+open+`) AS open_now,
			round((avg(extract(epoch FROM `+at+` - e.created_at)) FILTER (WHERE `+open+`) / 3600)::numeric, 1)::float8 AS age_hours,
			count(*) FILTER (WHERE `+in("e.created_at")+` AND e.due_at IS NOT NULL AND coalesce(e.resolved_at, `+at+`) > e.due_at) AS breaches
		FROM exceptions e LEFT JOIN locations loc ON loc.id = e.location_id
		WHERE `+w.sql()+` AND (`+in("e.created_at")+` OR `+in("e.resolved_at")+` OR `+open+`)
		GROUP BY e.kind, loc.code ORDER BY e.kind, loc.code`, w.args...)
	if err != nil {
		return nil, fmt.Errorf("store: exception measures: %w", err)
	}
	return out, nil
}

// FeedHealthRow is one connector's day: events received, the median lag
// from the source's time to receipt, and dead letters (errors).
type FeedHealthRow struct {
	Connector  string          `db:"connector"`
	Day        string          `db:"day"`
	Events     int64           `db:"events"`
	LagSeconds sql.NullFloat64 `db:"lag_seconds"`
	Errors     int64           `db:"errors"`
}

// FeedHealth is each connector's daily lag and error rate over the window
// (UTC days; the error rate is errors ÷ events).
func (db *DB) FeedHealth(ctx context.Context, f MetricFilter) ([]FeedHealthRow, error) {
	out := []FeedHealthRow{}
	// Per connector, so each reads its own range of inbound_events_received.
	err := db.SelectContext(ctx, &out, `WITH ev AS (
			SELECT k.id AS connector_id, e.day, e.events, e.lag_seconds FROM connectors k CROSS JOIN LATERAL (
				SELECT (i.received_at AT TIME ZONE 'UTC')::date AS day, count(*) AS events,
				       percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM i.received_at - i.occurred_at))
				           FILTER (WHERE i.occurred_at IS NOT NULL) AS lag_seconds
				FROM inbound_events i WHERE i.connector_id = k.id AND i.received_at >= $1 AND i.received_at < $2 GROUP BY 1) e
		), dl AS (
			SELECT d.connector_id, (d.created_at AT TIME ZONE 'UTC')::date AS day, count(*) AS errors
			FROM dead_letters d WHERE d.created_at >= $1 AND d.created_at < $2 GROUP BY 1, 2
		)
		SELECT c.name AS connector, to_char(coalesce(ev.day, dl.day), 'YYYY-MM-DD') AS day,
		       coalesce(ev.events, 0) AS events, round(ev.lag_seconds::numeric, 1)::float8 AS lag_seconds, coalesce(dl.errors, 0) AS errors
		FROM ev FULL JOIN dl ON dl.connector_id = ev.connector_id AND dl.day = ev.day
		JOIN connectors c ON c.id = coalesce(ev.connector_id, dl.connector_id)
		ORDER BY 1, 2`, f.Window.From, f.Window.To)
	if err != nil {
		return nil, fmt.Errorf("store: feed health: %w", err)
	}
	return out, nil
}

// AccuracyRow is the reconciliation measures for one location.
type AccuracyRow struct {
	Location        string          `db:"location"`
	Counted         int64           `db:"counted"`           // distinct positions counted in the window
	Drifted         int64           `db:"drifted"`           // of those, with a reconciliation_drift exception opened in the window
	CorrectedUnits  int64           `db:"corrected_units"`   // Σ|Δ on_hand| of cycle_count movements in the window
	CorrectedValue  int64           `db:"corrected_value"`   // the same units at price, in cents
	DriftOpened     int64           `db:"drift_opened"`      // reconciliation_drift exceptions opened in the window
	ResolveP50Hours sql.NullFloat64 `db:"resolve_p50_hours"` // median time to resolve those resolved in the window
}

// Accuracy computes inventory record accuracy, 1 − drifted ÷ counted, with
// the drift found (cycle-count corrections in units and value) and the
// time to resolve drift exceptions, per location.
func (db *DB) Accuracy(ctx context.Context, f MetricFilter) ([]AccuracyRow, error) {
	var w metricWhere
	f.places(&w, "", "")
	n := len(w.args)
	w.args = append(w.args, f.Window.From, f.Window.To)
	from, to := fmt.Sprintf("$%d", n+1), fmt.Sprintf("$%d", n+2)
	out := []AccuracyRow{}
	err := db.SelectContext(ctx, &out, `WITH counted AS (
			SELECT location_id, count(DISTINCT product_id) AS n FROM count_snapshots
			WHERE counted_at >= `+from+` AND counted_at < `+to+` GROUP BY 1
		), drift AS (
			SELECT location_id, count(DISTINCT product_id) AS positions, count(*) AS opened FROM exceptions
			WHERE kind = 'reconciliation_drift' AND created_at >= `+from+` AND created_at < `+to+` GROUP BY 1
		), resolved AS (
			SELECT location_id, percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM resolved_at - created_at) / 3600) AS h
			FROM exceptions WHERE kind = 'reconciliation_drift' AND resolved_at >= `+from+` AND resolved_at < `+to+` GROUP BY 1
		), fixed AS (
			SELECT l.location_id, sum(abs(l.delta)) AS units, sum(abs(l.delta)::bigint * p.price_cents) AS value
			FROM ledger l JOIN products p ON p.id = l.product_id
			WHERE l.reason = 'cycle_count' AND l.bucket = 'on_hand' AND l.occurred_at >= `+from+` AND l.occurred_at < `+to+` GROUP BY 1
		)
		SELECT loc.code AS location, coalesce(counted.n, 0) AS counted, least(coalesce(drift.positions, 0), coalesce(counted.n, 0)) AS drifted,
		       coalesce(fixed.units, 0) AS corrected_units, coalesce(fixed.value, 0) AS corrected_value,
		       coalesce(drift.opened, 0) AS drift_opened, round(resolved.h::numeric, 1)::float8 AS resolve_p50_hours
		FROM locations loc LEFT JOIN counted ON counted.location_id = loc.id LEFT JOIN drift ON drift.location_id = loc.id
		LEFT JOIN resolved ON resolved.location_id = loc.id LEFT JOIN fixed ON fixed.location_id = loc.id
		WHERE `+w.sql()+` AND (counted.n IS NOT NULL OR drift.opened IS NOT NULL OR fixed.units IS NOT NULL OR resolved.h IS NOT NULL)
		ORDER BY loc.code`, w.args...)
	if err != nil {
		return nil, fmt.Errorf("store: accuracy: %w", err)
	}
	return out, nil
}
