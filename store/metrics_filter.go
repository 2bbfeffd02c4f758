package store

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/lib/pq"

	"stockline/domain"
)

// MetricFilter narrows a measure: its window and the dashboard filters.
// Scope is the location codes the viewer may see (nil: all); Location,
// Region, Channel and Category are the page's filters ("" for any).
type MetricFilter struct {
	Window                              domain.MetricWindow
	Scope                               []string
	Location, Region, Channel, Category string
}

// metricWhere builds a measure's WHERE clause from conditions and their
// arguments, numbering the placeholders in order.
type metricWhere struct {
	conds []string
	args  []any
}

// add appends a condition whose ? placeholders all take v.
func (w *metricWhere) add(cond string, v any) {
	w.args = append(w.args, v)
	w.conds = append(w.conds, strings.ReplaceAll(cond, "?", fmt.Sprintf("$%d", len(w.args))))
}

func (w *metricWhere) sql() string {
	if len(w.conds) == 0 {
		return "true"
	}
	return strings.Join(w.conds, " AND ")
}

// places filters on the location (alias loc, LEFT JOINed: NULL when the
// row has none) and, when the measure has them, the channel and category
// columns; an empty column name means the measure has no such dimension.
func (f MetricFilter) places(w *metricWhere, channelCol, categoryCol string) {
	if f.Scope != nil {
		w.add("loc.code = ANY(?)", pq.Array(f.Scope))
	}
	if f.Location != "" {
		w.add("loc.code = ?", f.Location)
	}
	if f.Region != "" {
		w.add("loc.region = ?", f.Region)
	}
	if f.Channel != "" && channelCol != "" {
		w.add(channelCol+" = ?", f.Channel)
	}
	if f.Category != "" && categoryCol != "" {
		w.add(categoryCol+" = ?", f.Category)
	}
}

// window filters col to the filter's window.
func (f MetricFilter) window(w *metricWhere, col string) {
	w.add(col+" >= ?", f.Window.From)
	w.add(col+" < ?", f.Window.To)
}

// utcDay is t's UTC date, the key of the daily rollups.
func utcDay(t time.Time) time.Time { return t.UTC().Truncate(24 * time.Hour) }

// unallocated names the location of units never allocated to one.
const unallocated = "unallocated"

// MetricCategories lists the product categories, for the dashboards'
// category filter.
func (db *DB) MetricCategories(ctx context.Context) ([]string, error) {
	var out []string
	if err := db.SelectContext(ctx, &out, `SELECT DISTINCT category FROM products ORDER BY 1`); err != nil {
		return nil, fmt.Errorf("store: categories: %w", err)
	}
	return out, nil
}
