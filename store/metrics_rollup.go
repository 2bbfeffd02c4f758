package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// The rollups, by name in metric_rollups.
const (
	rollupCancellations    = "cancellations_daily"
	rollupCancellationsSKU = "cancellations_sku_daily"
	rollupOrders           = "orders_daily"
	rollupStock            = "stock_daily"
)

// rollupLockKey is the advisory lock that lets one instance at a time
// rebuild the rollups; the others skip the round.
const rollupLockKey = 0x5354_4b4c_4d45_5452 // "STKLMETR"

// rollupSQL rebuilds each rollup from the raw tables in one statement, in
// order: the daily cancellations are summed from the SKU rollup built just
// before them in the same snapshot.
var rollupSQL = []struct{ name, delete, insert string }{
	{rollupCancellationsSKU, `DELETE FROM metric_cancellations_sku_daily`, `INSERT INTO metric_cancellations_sku_daily
		SELECT (o.placed_at AT TIME ZONE 'UTC')::date, coalesce(ol.location_id, o.pickup_location_id, 0), o.channel, ol.product_id,
		       sum(ol.qty - ol.moved), sum(ol.cancelled), ` + cancelReasonSums + `
		FROM orders o JOIN order_lines ol ON ol.order_id = o.id
		LEFT JOIN (SELECT order_line_id, ` + reasonFilters() + ` FROM line_cancellations GROUP BY order_line_id) c
		       ON c.order_line_id = ol.id
		GROUP BY 1, 2, 3, 4`},
	{rollupCancellations, `DELETE FROM metric_cancellations_daily`, `INSERT INTO metric_cancellations_daily
		SELECT day, location_id, channel, sum(ordered_units), sum(cancelled_units), ` + cancelReasonSums + `
		FROM metric_cancellations_sku_daily GROUP BY 1, 2, 3`},
	{rollupOrders, `DELETE FROM metric_orders_daily`, `INSERT INTO metric_orders_daily
		SELECT (o.placed_at AT TIME ZONE 'UTC')::date, coalesce(o.pickup_location_id, 0), o.channel, count(*), count(x.ref)
		FROM orders o LEFT JOIN (SELECT DISTINCT ref FROM exceptions WHERE kind = 'oversell') x ON x.ref = o.number
		GROUP BY 1, 2, 3`},
	{rollupStock, `DELETE FROM metric_stock_daily`, `INSERT INTO metric_stock_daily
		SELECT (l.occurred_at AT TIME ZONE 'UTC')::date, l.location_id, p.category,
		       coalesce(-sum(l.delta) FILTER (WHERE l.reason IN ` + soldReasons + `), 0), sum(l.delta)
		FROM ledger l JOIN products p ON p.id = l.product_id
		WHERE l.bucket = 'on_hand'
		GROUP BY 1, 2, 3`},
}

// RefreshRollups rebuilds every metric rollup from the raw tables in one
// repeatable-read transaction, so each rollup is exactly the raw query's
// figure as of the transaction's snapshot, and records fresh_at. When
// another instance holds the rollup lock it does nothing and says so
// (done false): several instances may run the worker.
func (db *DB) RefreshRollups(ctx context.Context, by string) (done bool, took time.Duration, err error) {
	start := time.Now()
	tx, err := db.BeginTxx(ctx, &sql.TxOptions{Isolation: sql.LevelRepeatableRead})
	if err != nil {
		return false, 0, fmt.Errorf("store: refresh rollups: %w", err)
	}
	defer tx.Rollback()
	var got bool
	if err := tx.GetContext(ctx, &got, `SELECT pg_try_advisory_xact_lock($1)`, int64(rollupLockKey)); err != nil {
		return false, 0, fmt.Errorf("store: rollup lock: %w", err)
	}
	if !got {
		return false, 0, nil
	}
	// fresh_at is the transaction's start, before its snapshot (taken by
	// the lock's query), so every change committed before fresh_at is in.
	var freshAt time.Time
	if err := tx.GetContext(ctx, &freshAt, `SELECT now()`); err != nil {
		return false, 0, fmt.Errorf("store: rollup clock: %w", err)
	}
	for _, r := range rollupSQL {
		if _, err := tx.ExecContext(ctx, r.delete); err != nil {
			return false, 0, fmt.Errorf("store: clear rollup %s: %w", r.name, err)
		}
		if _, err := tx.ExecContext(ctx, r.insert); err != nil {
			return false, 0, fmt.Errorf("store: rebuild rollup %s: %w", r.name, err)
		}
		took = time.Since(start)
		if _, err := tx.ExecContext(ctx, `INSERT INTO metric_rollups (name, fresh_at, took_ms, refreshed_by) VALUES ($1, $2, $3, $4)
			ON CONFLICT (name) DO UPDATE SET fresh_at = excluded.fresh_at, took_ms = excluded.took_ms, refreshed_by = excluded.refreshed_by`,
			r.name, freshAt, took.Milliseconds(), by); err != nil {
			return false, 0, fmt.Errorf("store: rollup %s fresh_at: %w", r.name, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return false, 0, fmt.Errorf("store: commit rollups: %w", err)
	}
	return true, time.Since(start), nil
}

// RollupFreshAt is when the named rollup was last rebuilt (ok false if
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
