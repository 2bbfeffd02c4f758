package store

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"stockline/domain"
)

// BOPIS computes the pickup measures over pickup orders placed in the
// window, per pickup store (or one row): orders; minutes from placed to
// ready, p50 and p90 over the orders made ready; the share of orders whose
// promise has passed or that are ready which were ready by the promise;
// the share of orders made ready that were cancelled not_collected; and
// the open pickups of the window that are overdue now.
func (db *DB) BOPIS(ctx context.Context, f MetricFilter, byLocation bool) ([]domain.BOPISRow, error) {
	now := db.stamp()
	var w metricWhere
	f.window(&w, "o.placed_at")
	f.places(&w, "o.channel", "")
	w.args = append(w.args, now)
	nowArg := fmt.Sprintf("$%d", len(w.args))
	// Each store's pickup orders are read from orders_pickup_placed (by
	// store, then placed time) alone; per store the aggregate needs no sort
	// of the window's orders.
	b := `SELECT o.status, o.promised_at, o.pickup_until, o.ready_at,
			extract(epoch FROM o.ready_at - o.placed_at) / 60 AS ready_min,
			o.id IN (SELECT c.order_id FROM line_cancellations c WHERE c.reason_code = 'not_collected') AS uncollected
		FROM orders o WHERE o.fulfilment = 'pickup' AND o.pickup_location_id = loc.id AND ` + w.sql()
	aggs := `count(*) AS n,
			percentile_cont(0.5) WITHIN GROUP (ORDER BY ready_min) FILTER (WHERE ready_at IS NOT NULL),
			percentile_cont(0.9) WITHIN GROUP (ORDER BY ready_min) FILTER (WHERE ready_at IS NOT NULL),
			count(*) FILTER (WHERE ready_at IS NOT NULL AND ready_at <= promised_at),
			count(*) FILTER (WHERE promised_at IS NOT NULL AND (ready_at IS NOT NULL OR promised_at < ` + nowArg + `)),
			count(*) FILTER (WHERE uncollected AND ready_at IS NOT NULL),
			count(*) FILTER (WHERE ready_at IS NOT NULL),
			count(*) FILTER (WHERE status NOT IN ('completed', 'cancelled') AND
				((ready_at IS NULL AND promised_at < ` + nowArg + `) OR (ready_at IS NOT NULL AND pickup_until < ` + nowArg + `)))`
	q := `SELECT NULL::text, ` + aggs + ` FROM locations loc CROSS JOIN LATERAL (` + b + `) b`
	if byLocation {
		q = `SELECT loc.code, a.* FROM locations loc CROSS JOIN LATERAL (SELECT ` + aggs + ` FROM (` + b + `) b) a
			WHERE a.n > 0 ORDER BY loc.code`
	}
	rows, err := db.QueryContext(ctx, q, w.args...)
	if err != nil {
		return nil, fmt.Errorf("store: bopis measures: %w", err)
	}
	defer rows.Close()
	out := []domain.BOPISRow{}
	for rows.Next() {
		var r domain.BOPISRow
		var p50, p90 sql.NullFloat64
		var inPromise, promised, uncollected, ready int64
		if err := rows.Scan(&r.Location, &r.Orders, &p50, &p90, &inPromise, &promised, &uncollected, &ready, &r.Overdue); err != nil {
			return nil, fmt.Errorf("store: bopis measures: %w", err)
		}
		if r.Orders == 0 {
			continue
		}
		r.ReadyP50Minutes, r.ReadyP90Minutes = roundMinutes(p50), roundMinutes(p90)
		r.WithinPromiseRate, r.UncollectedRate = domain.Rate(inPromise, promised), domain.Rate(uncollected, ready)
		out = append(out, r)
	}
	return out, rows.Err()
}

func roundMinutes(v sql.NullFloat64) *float64 {
	if !v.Valid {
		return nil
	}
	m := float64(int64(v.Float64*10+0.5)) / 10
	return &m
}

// PickupRecord is one pickup order behind the BOPIS measures.
type PickupRecord struct {
	ID         int64      `db:"id"`
	Number     string     `db:"number"`
	Location   string     `db:"location"`
	Status     string     `db:"status"`
	PlacedAt   time.Time  `db:"placed_at"`
	PromisedAt *time.Time `db:"promised_at"`
	ReadyAt    *time.Time `db:"ready_at"`
	ClosedAt   *time.Time `db:"closed_at"`
}

// PickupRecords lists pickup orders placed in the window (newest first,
// at most limit): the drill-down behind the BOPIS measures.
func (db *DB) PickupRecords(ctx context.Context, f MetricFilter, limit int) ([]PickupRecord, error) {
	var w metricWhere
	w.add("o.fulfilment = ?", "pickup")
	f.window(&w, "o.placed_at")
	f.places(&w, "o.channel", "")
	w.args = append(w.args, limit)
	out := []PickupRecord{}
	err := db.SelectContext(ctx, &out, `SELECT o.id, o.number, loc.code AS location, o.status, o.placed_at, o.promised_at, o.ready_at, o.closed_at
		FROM orders o JOIN locations loc ON loc.id = o.pickup_location_id
		WHERE `+w.sql()+fmt.Sprintf(` ORDER BY o.placed_at DESC, o.id DESC LIMIT $%d`, len(w.args)), w.args...)
	if err != nil {
		return nil, fmt.Errorf("store: pickup records: %w", err)
	}
	return out, nil
}
