package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"
)

// The rollups, by name in metric_rollups.
const (
	rollupCancellations    = "cancellations_daily"
	rollupCancellationsSKU = "cancellations_sku_daily"
	rollupOrders           = "orders_daily"
	rollupStock            = "stock_daily"
)

// rollupLockKey is the advisory lock that lets one instance at a time
// refresh the rollups; the others skip the round.
const rollupLockKey = 0x5354_4b4c_4d45_5452 // "STKLMETR"

// A recompute of days reads the UTC days in $1 (a date[]): the orders
// placed on them, or the ledger rows that occurred on them, each day a
// range of its time index.
// The orders of the days are a materialized CTE (o: day, id, number,
// pickup_location_id, channel), and each order's lines a LATERAL … OFFSET 0
// probe of order_lines by order_id: without both fences the planner, which
// cannot know how many orders a day holds, may join every line of every
// order and filter the days after (a round then costs as much as a full
// rebuild).
const (
	ordersOfDaysCTE = `WITH o AS MATERIALIZED (SELECT d.day, o.id, o.number, o.pickup_location_id, o.channel
		FROM unnest($1::date[]) AS d (day) JOIN orders o
		ON o.placed_at >= d.day::timestamp AT TIME ZONE 'UTC' AND o.placed_at < (d.day + 1)::timestamp AT TIME ZONE 'UTC') `
	ledgerOfDays = `unnest($1::date[]) AS d (day) JOIN ledger l
		ON l.bucket = 'on_hand' AND l.occurred_at >= d.day::timestamp AT TIME ZONE 'UTC' AND l.occurred_at < (d.day + 1)::timestamp AT TIME ZONE 'UTC'`
)

// rollupStep recomputes one rollup: whole (full) or only the days in $1
// (days). family is the metric_dirty family whose days it recomputes. In
// order: the daily cancellations are summed from the SKU rollup computed
// just before them in the same snapshot.
type rollupStep struct {
	name, family                 string
	fullDelete, fullInsert       string
	daysDelete, daysInsertSelect string
}

var rollupSteps = []rollupStep{
	{rollupCancellationsSKU, "orders",
		`DELETE FROM metric_cancellations_sku_daily`, `INSERT INTO metric_cancellations_sku_daily
		SELECT (o.placed_at AT TIME ZONE 'UTC')::date, coalesce(ol.location_id, o.pickup_location_id, 0), o.channel, ol.product_id,
		       sum(ol.qty - ol.moved), sum(ol.cancelled), ` + cancelReasonSums + `
		FROM orders o JOIN order_lines ol ON ol.order_id = o.id
		LEFT JOIN (SELECT order_line_id, ` + reasonFilters() + ` FROM line_cancellations GROUP BY order_line_id) c
		       ON c.order_line_id = ol.id
		GROUP BY 1, 2, 3, 4`,
		`DELETE FROM metric_cancellations_sku_daily WHERE day = ANY($1::date[])`, `INSERT INTO metric_cancellations_sku_daily
		` + ordersOfDaysCTE + `SELECT o.day, coalesce(ol.location_id, o.pickup_location_id, 0), o.channel, ol.product_id,
		       sum(ol.qty - ol.moved), sum(ol.cancelled), ` + cancelReasonSums + `
		FROM o CROSS JOIN LATERAL (SELECT * FROM order_lines l WHERE l.order_id = o.id OFFSET 0) ol
		LEFT JOIN LATERAL (SELECT ` + reasonFilters() + ` FROM line_cancellations lc WHERE lc.order_line_id = ol.id) c ON true
		GROUP BY 1, 2, 3, 4`},
	{rollupCancellations, "orders",
		`DELETE FROM metric_cancellations_daily`, `INSERT INTO metric_cancellations_daily
		SELECT day, location_id, channel, sum(ordered_units), sum(cancelled_units), ` + cancelReasonSums + `
		FROM metric_cancellations_sku_daily GROUP BY 1, 2, 3`,
		`DELETE FROM metric_cancellations_daily WHERE day = ANY($1::date[])`, `INSERT INTO metric_cancellations_daily
		SELECT day, location_id, channel, sum(ordered_units), sum(cancelled_units), ` + cancelReasonSums + `
		FROM metric_cancellations_sku_daily WHERE day = ANY($1::date[]) GROUP BY 1, 2, 3`},
	{rollupOrders, "orders",
		`DELETE FROM metric_orders_daily`, `INSERT INTO metric_orders_daily
		SELECT (o.placed_at AT TIME ZONE 'UTC')::date, coalesce(o.pickup_location_id, 0), o.channel, count(*), count(x.ref)
		FROM orders o LEFT JOIN (SELECT DISTINCT ref FROM exceptions WHERE kind = 'oversell') x ON x.ref = o.number
		GROUP BY 1, 2, 3`,
		`DELETE FROM metric_orders_daily WHERE day = ANY($1::date[])`, `INSERT INTO metric_orders_daily
		` + ordersOfDaysCTE + `SELECT o.day, coalesce(o.pickup_location_id, 0), o.channel, count(*),
		       count(*) FILTER (WHERE EXISTS (SELECT 1 FROM exceptions x WHERE x.ref = o.number AND x.ref <> '' AND x.kind = 'oversell'))
		FROM o
		GROUP BY 1, 2, 3`},
	{rollupStock, "stock",
		`DELETE FROM metric_stock_daily`, `INSERT INTO metric_stock_daily
		SELECT (l.occurred_at AT TIME ZONE 'UTC')::date, l.location_id, p.category,
		       coalesce(-sum(l.delta) FILTER (WHERE l.reason IN ` + soldReasons + `), 0), sum(l.delta)
		FROM ledger l JOIN products p ON p.id = l.product_id
		WHERE l.bucket = 'on_hand'
		GROUP BY 1, 2, 3`,
		`DELETE FROM metric_stock_daily WHERE day = ANY($1::date[])`, `INSERT INTO metric_stock_daily
		SELECT d.day, l.location_id, p.category,
		       coalesce(-sum(l.delta) FILTER (WHERE l.reason IN ` + soldReasons + `), 0), sum(l.delta)
		FROM ` + ledgerOfDays + ` JOIN products p ON p.id = l.product_id
		GROUP BY 1, 2, 3`},
}

// RollupRound is what one refresh did.
type RollupRound struct {
	Done bool          // false: another instance held the lock
	Full bool          // every rollup rebuilt from scratch
	Days int           // incremental: the days recomputed (order days plus ledger days)
	Took time.Duration //
}

// RefreshRollups brings every metric rollup up to date in one
// repeatable-read transaction and records fresh_at: incrementally, by
// recomputing only the days that metric_dirty names (the triggers of
// migration 0013 write them in every writer's transaction), or whole when
// a rollup was never built (a new or crashed database) or a change touches
// every day. It takes the dirty rows its snapshot sees (and only those:
// a writer that commits later leaves its row for the next round) and
// recomputes their days from the raw tables in that same snapshot, so each
// rollup is exactly the raw query's figure as of the snapshot. When
// another instance holds the rollup lock it does nothing (Done false):
// several instances may run the worker.
func (db *DB) RefreshRollups(ctx context.Context, by string) (RollupRound, error) {
	return db.refreshRollups(ctx, by, false)
}

// RebuildRollups rebuilds every rollup whole, whatever is dirty (the bench
// compares it with a round).
func (db *DB) RebuildRollups(ctx context.Context, by string) (RollupRound, error) {
	return db.refreshRollups(ctx, by, true)
}

func (db *DB) refreshRollups(ctx context.Context, by string, full bool) (RollupRound, error) {
	start := time.Now()
	var round RollupRound
	tx, err := db.BeginTxx(ctx, &sql.TxOptions{Isolation: sql.LevelRepeatableRead})
	if err != nil {
		return round, fmt.Errorf("store: refresh rollups: %w", err)
	}
	defer tx.Rollback()
	var got bool
	if err := tx.GetContext(ctx, &got, `SELECT pg_try_advisory_xact_lock($1)`, int64(rollupLockKey)); err != nil {
		return round, fmt.Errorf("store: rollup lock: %w", err)
	}
	if !got {
		return round, nil
	}
	// fresh_at is the transaction's start, before its snapshot (taken by
	// the lock's query), so every change committed before fresh_at is in.
	var freshAt time.Time
	if err := tx.GetContext(ctx, &freshAt, `SELECT now()`); err != nil {
		return round, fmt.Errorf("store: rollup clock: %w", err)
	}
	days, all, err := takeDirtyDays(ctx, tx)
	if err != nil {
		return round, err
	}
	var built int
	if err := tx.GetContext(ctx, &built, `SELECT count(*) FROM metric_rollups`); err != nil {
		return round, fmt.Errorf("store: rollups built: %w", err)
	}
	round.Full = full || all || built < len(rollupSteps)
	// A round's statements are many small reads: compiling them (JIT, on
	// by cost) took longer than running them, and their sorts fit in
	// memory.
	settings := []string{`SET LOCAL work_mem = '64MB'`}
	if !round.Full {
		settings = append(settings, `SET LOCAL jit = off`)
	}
	for _, q := range settings {
		if _, err := tx.ExecContext(ctx, q); err != nil {
			return round, fmt.Errorf("store: rollup settings: %w", err)
		}
	}
	for _, r := range rollupSteps {
		if err := r.run(ctx, tx, round.Full, days[r.family]); err != nil {
			return round, err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO metric_rollups (name, fresh_at, took_ms, refreshed_by) VALUES ($1, $2, $3, $4)
			ON CONFLICT (name) DO UPDATE SET fresh_at = excluded.fresh_at, took_ms = excluded.took_ms, refreshed_by = excluded.refreshed_by`,
			r.name, freshAt, time.Since(start).Milliseconds(), by); err != nil {
			return round, fmt.Errorf("store: rollup %s fresh_at: %w", r.name, err)
		}
	}
	if !round.Full {
		round.Days = len(days["orders"]) + len(days["stock"])
	}
	if err := tx.Commit(); err != nil {
		return round, fmt.Errorf("store: commit rollups: %w", err)
	}
	round.Done, round.Took = true, time.Since(start)
	return round, nil
}

// takeDirtyDays deletes the dirty rows this snapshot sees and answers
// their distinct days per family, and whether one asked for a full
// rebuild.
func takeDirtyDays(ctx context.Context, tx *sqlx.Tx) (map[string][]string, bool, error) {
	rows, err := tx.QueryContext(ctx, `WITH d AS (DELETE FROM metric_dirty RETURNING family, day)
		SELECT DISTINCT family, coalesce(to_char(day, 'YYYY-MM-DD'), '') FROM d`)
	if err != nil {
		return nil, false, fmt.Errorf("store: dirty rollup days: %w", err)
	}
	defer rows.Close()
	days, all := map[string][]string{}, false
	for rows.Next() {
		var family, day string
		if err := rows.Scan(&family, &day); err != nil {
			return nil, false, fmt.Errorf("store: dirty rollup days: %w", err)
		}
		if family == "all" {
			all = true
			continue
		}
		days[family] = append(days[family], day)
	}
	return days, all, rows.Err()
}

// run recomputes the rollup whole, or only the given days.
func (r rollupStep) run(ctx context.Context, tx *sqlx.Tx, full bool, days []string) error {
	stmts, args := []string{r.fullDelete, r.fullInsert}, []any(nil)
	if !full {
		if len(days) == 0 {
			return nil
		}
		stmts, args = []string{r.daysDelete, r.daysInsertSelect}, []any{pq.Array(days)}
	}
	for _, q := range stmts {
		if _, err := tx.ExecContext(ctx, q, args...); err != nil {
			return fmt.Errorf("store: refresh rollup %s: %w", r.name, err)
		}
	}
	return nil
}

// RollupFreshAt is when the named rollup was last refreshed (ok false if
// never).
func (db *DB) RollupFreshAt(ctx context.Context, name string) (time.Time, bool, error) {
	var t time.Time
	err := db.GetContext(ctx, &t, `SELECT fresh_at FROM metric_rollups WHERE name = $1`, name)
	if errors.Is(err, sql.ErrNoRows) {
		return t, false, nil
	}
	if err != nil {
		return t, false, fmt.Errorf("store: rollup fresh_at: %w", err)
	}
	return t, true, nil
}
