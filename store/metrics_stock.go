package store

import (
	"context"
	"fmt"
	"time"

	"stockline/domain"
)

// soldReasons are the on_hand movements that are sales: POS sales and
// order fulfilments (pickups and shipments). Transfers in and out,
// receipts, counts and returns are not.
const soldReasons = `('sale', 'fulfilled')`

// StockRow is sell-through and weeks of cover for one location (and one
// category, when grouped by it).
type StockRow struct {
	Location     string
	Category     string // "" when not grouped by category
	Sold         int64  // units sold in the window
	OnHandEnd    int64  // on hand at the window's end
	SellThrough  float64
	WeeksOfCover *float64
}

// SellThroughRaw computes sell-through and weeks of cover from the ledger:
// units sold = −Σ on_hand deltas of sale and fulfilled movements that
// occurred in the window; on hand at the end = Σ on_hand deltas that
// occurred before the window's end (a position is the sum of its ledger).
func (db *DB) SellThroughRaw(ctx context.Context, f MetricFilter, byCategory bool) ([]StockRow, error) {
	var w metricWhere
	w.add("l.bucket = ?", "on_hand")
	f.places(&w, "", "p.category")
	from, to := len(w.args)+1, len(w.args)+2
	w.args = append(w.args, f.Window.From, f.Window.To)
	cat, group := "''", "loc.code"
	if byCategory {
		cat, group = "p.category", "loc.code, p.category"
	}
	q := fmt.Sprintf(`SELECT loc.code, %s,
			coalesce(-sum(l.delta) FILTER (WHERE l.reason IN %s AND l.occurred_at >= $%d AND l.occurred_at < $%d), 0),
			coalesce(sum(l.delta) FILTER (WHERE l.occurred_at < $%d), 0)
		FROM ledger l JOIN products p ON p.id = l.product_id JOIN locations loc ON loc.id = l.location_id
		WHERE %s GROUP BY %s ORDER BY 1, 2`, cat, soldReasons, from, to, to, w.sql(), group)
	return db.scanStock(ctx, f, q, w.args)
}

// SellThroughRollup is the same measure from the daily ledger rollup; the
// window must be on UTC day boundaries (ok false otherwise, or before the
// first rebuild).
func (db *DB) SellThroughRollup(ctx context.Context, f MetricFilter, byCategory bool) (rows []StockRow, freshAt time.Time, ok bool, err error) {
	if !f.Window.DayAligned() {
		return nil, time.Time{}, false, nil
	}
	if freshAt, ok, err = db.RollupFreshAt(ctx, rollupStock); err != nil || !ok {
		return nil, freshAt, false, err
	}
	var w metricWhere
	f.places(&w, "", "r.category")
	from, to := len(w.args)+1, len(w.args)+2
	w.args = append(w.args, utcDay(f.Window.From), utcDay(f.Window.To))
	cat, group := "''", "loc.code"
	if byCategory {
		cat, group = "r.category", "loc.code, r.category"
	}
	q := fmt.Sprintf(`SELECT loc.code, %s,
			coalesce(sum(r.sold_units) FILTER (WHERE r.day >= $%d AND r.day < $%d), 0)::bigint,
			coalesce(sum(r.on_hand_net) FILTER (WHERE r.day < $%d), 0)::bigint
		FROM metric_stock_daily r JOIN locations loc ON loc.id = r.location_id
		WHERE %s GROUP BY %s ORDER BY 1, 2`, cat, from, to, to, w.sql(), group)
	rows, err = db.scanStock(ctx, f, q, w.args)
	return rows, freshAt, err == nil, err
}

func (db *DB) scanStock(ctx context.Context, f MetricFilter, q string, args []any) ([]StockRow, error) {
	rows, err := db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("store: sell-through: %w", err)
	}
	defer rows.Close()
	out := []StockRow{}
	for rows.Next() {
		var r StockRow
		if err := rows.Scan(&r.Location, &r.Category, &r.Sold, &r.OnHandEnd); err != nil {
			return nil, fmt.Errorf("store: sell-through: %w", err)
		}
		if r.Sold == 0 && r.OnHandEnd == 0 {
			continue
		}
		r.SellThrough, r.WeeksOfCover = domain.SellThrough(r.Sold, r.OnHandEnd, f.Window.Weeks())
		out = append(out, r)
	}
	return out, rows.Err()
}
