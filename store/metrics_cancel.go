package store

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"

	"stockline/domain"
)

// cancelReasonSums are the per-code unit sums, in domain.CancelReasons order.
var cancelReasonSums = func() string {
	var b []string
	for _, r := range domain.CancelReasons {
		b = append(b, fmt.Sprintf("coalesce(sum(%s), 0) AS %s", r, r))
	}
	return strings.Join(b, ", ")
}()

// cancelRow is one scanned group of the cancellation measure.
type cancelRow struct {
	Location, SKU, Channel *string
	Ordered, Cancelled     int64
	Reasons                [7]int64
}

func (r cancelRow) domain() domain.CancellationRow {
	out := domain.CancellationRow{Location: r.Location, SKU: r.SKU, Channel: r.Channel,
		OrderedUnits: r.Ordered, CancelledUnits: r.Cancelled, Rate: domain.Rate(r.Cancelled, r.Ordered), Reasons: map[string]int64{}}
	for i, code := range domain.CancelReasons {
		out.Reasons[string(code)] = r.Reasons[i]
	}
	return out
}

// groupCols is the SELECT list of the grouping dimensions (NULL for those
// not grouped by) and the GROUP BY list.
func groupCols(g domain.MetricGroup, loc, sku, channel string) (sel, group string) {
	var s, gb []string
	for _, d := range []struct {
		on  bool
		col string
	}{{g.Location, loc}, {g.SKU, sku}, {g.Channel, channel}} {
		if d.on {
			s = append(s, d.col)
			gb = append(gb, d.col)
		} else {
			s = append(s, "NULL::text")
		}
	}
	group = "()"
	if len(gb) > 0 {
		group = strings.Join(gb, ", ")
	}
	return strings.Join(s, ", "), group
}

func scanCancelRows(ctx context.Context, q sqlx.QueryerContext, query string, args []any) ([]domain.CancellationRow, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("store: cancellation rate: %w", err)
	}
	defer rows.Close()
	out := []domain.CancellationRow{}
	for rows.Next() {
		var r cancelRow
		dst := []any{&r.Location, &r.SKU, &r.Channel, &r.Ordered, &r.Cancelled}
		for i := range r.Reasons {
			dst = append(dst, &r.Reasons[i])
		}
		if err := rows.Scan(dst...); err != nil {
			return nil, fmt.Errorf("store: cancellation rate: %w", err)
		}
		out = append(out, r.domain())
	}
	return out, rows.Err()
}

// CancellationRateRaw computes the cancellation measure from the orders
// themselves: over the lines of orders placed in the window, ordered
// units (qty less units moved to another line) and cancelled units with
// their reason codes, per group; only groups with ordered units. A line's
// location is where its units are held, else the order's pickup store,
// else "unallocated".
func (db *DB) CancellationRateRaw(ctx context.Context, f MetricFilter, g domain.MetricGroup) ([]domain.CancellationRow, error) {
	var w metricWhere
	f.window(&w, "o.placed_at")
	f.places(&w, "o.channel", "p.category")
	sel, group := groupCols(g, "coalesce(loc.code, '"+unallocated+"')", "p.sku", "l.channel")
	q := `WITH l AS (
			SELECT ol.id, coalesce(ol.location_id, o.pickup_location_id) AS location_id, ol.product_id, o.channel,
			       ol.qty - ol.moved AS ordered, ol.cancelled
			FROM orders o JOIN order_lines ol ON ol.order_id = o.id
			JOIN products p ON p.id = ol.product_id
			LEFT JOIN locations loc ON loc.id = coalesce(ol.location_id, o.pickup_location_id)
			WHERE ` + w.sql() + `
		), c AS (
			SELECT order_line_id, ` + reasonFilters() + `
			FROM line_cancellations WHERE order_line_id IN (SELECT id FROM l) GROUP BY order_line_id
		)
		SELECT ` + sel + `, sum(l.ordered), sum(l.cancelled), ` + cancelReasonSums + `
		FROM l LEFT JOIN c ON c.order_line_id = l.id
		JOIN products p ON p.id = l.product_id
		LEFT JOIN locations loc ON loc.id = l.location_id
		GROUP BY ` + group + ` HAVING sum(l.ordered) > 0 ORDER BY 1, 2, 3`
	return scanCancelRows(ctx, db, q, w.args)
}

// reasonFilters sums a line's cancelled units per code.
func reasonFilters() string {
	var b []string
	for _, r := range domain.CancelReasons {
		b = append(b, fmt.Sprintf("sum(units) FILTER (WHERE reason_code = '%s') AS %s", r, r))
	}
	return strings.Join(b, ", ")
}

// CancellationRateRollup answers the same measure from the daily rollups:
// only for a window on UTC day boundaries (ok false otherwise, or before
// the first rebuild). Grouping by SKU or filtering by category reads the
// SKU rollup (by location and day), the rest the smaller daily one. It
// returns the rollup's fresh_at.
func (db *DB) CancellationRateRollup(ctx context.Context, f MetricFilter, g domain.MetricGroup) (rows []domain.CancellationRow, freshAt time.Time, ok bool, err error) {
	if !f.Window.DayAligned() {
		return nil, time.Time{}, false, nil
	}
	bySKU := g.SKU || f.Category != ""
	table, name, join := "metric_cancellations_daily", rollupCancellations, ""
	if bySKU {
		table, name, join = "metric_cancellations_sku_daily", rollupCancellationsSKU, " JOIN products p ON p.id = r.product_id"
	}
	freshAt, ok, err = db.RollupFreshAt(ctx, name)
	if err != nil || !ok {
		return nil, freshAt, false, err
	}
	var w metricWhere
	w.add("r.day >= ?", utcDay(f.Window.From))
	w.add("r.day < ?", utcDay(f.Window.To))
	if bySKU {
		f.places(&w, "r.channel", "p.category")
	} else {
		f.places(&w, "r.channel", "")
	}
	sel, group := groupCols(g, "coalesce(loc.code, '"+unallocated+"')", "p.sku", "r.channel")
	// location_id 0 (never allocated) matches no location (ids start at
	// 1); joining on the column itself lets one store's filter read its
	// range of the SKU rollup's key.
	q := `SELECT ` + sel + `, sum(r.ordered_units), sum(r.cancelled_units), ` + cancelReasonSums + `
		FROM ` + table + ` r LEFT JOIN locations loc ON loc.id = r.location_id` + join + `
		WHERE ` + w.sql() + ` GROUP BY ` + group + ` HAVING sum(r.ordered_units) > 0 ORDER BY 1, 2, 3`
	rows, err = scanCancelRows(ctx, db, q, w.args)
	return rows, freshAt, err == nil, err
}

// CancellationRate is the measure from the rollup when it can answer, else
// from the orders, with how fresh the figures are.
func (db *DB) CancellationRate(ctx context.Context, f MetricFilter, g domain.MetricGroup) ([]domain.CancellationRow, time.Time, error) {
	rows, fresh, ok, err := db.CancellationRateRollup(ctx, f, g)
	if err != nil || ok {
		return rows, fresh, err
	}
	now := db.stamp()
	rows, err = db.CancellationRateRaw(ctx, f, g)
	return rows, now, err
}

// CancellationRecord is one row behind the measure: units of a line
// cancelled under a code.
type CancellationRecord struct {
	OrderID     int64     `db:"order_id"`
	OrderNumber string    `db:"number"`
	SKU         string    `db:"sku"`
	Location    string    `db:"location"`
	Channel     string    `db:"channel"`
	ReasonCode  string    `db:"reason_code"`
	Units       int       `db:"units"`
	Actor       string    `db:"actor"`
	CancelledAt time.Time `db:"cancelled_at"`
}

// CancellationRecords lists the cancellations of orders placed in the
// window (newest first, at most limit), optionally of one reason code:
// the drill-down behind the cancellation measure.
func (db *DB) CancellationRecords(ctx context.Context, f MetricFilter, reason string, limit int) ([]CancellationRecord, error) {
	var w metricWhere
	f.window(&w, "o.placed_at")
	f.places(&w, "o.channel", "p.category")
	if reason != "" {
		w.add("c.reason_code = ?", reason)
	}
	w.args = append(w.args, limit)
	out := []CancellationRecord{}
	err := db.SelectContext(ctx, &out, `SELECT c.order_id, o.number, p.sku, coalesce(loc.code, '`+unallocated+`') AS location,
			o.channel, c.reason_code, c.units, c.actor, c.cancelled_at
		FROM line_cancellations c JOIN orders o ON o.id = c.order_id JOIN order_lines ol ON ol.id = c.order_line_id
		JOIN products p ON p.id = c.product_id
		LEFT JOIN locations loc ON loc.id = coalesce(ol.location_id, o.pickup_location_id)
		WHERE `+w.sql()+fmt.Sprintf(` ORDER BY c.cancelled_at DESC, c.id DESC LIMIT $%d`, len(w.args)), w.args...)
	if err != nil {
		return nil, fmt.Errorf("store: cancellation records: %w", err)
	}
	return out, nil
}
