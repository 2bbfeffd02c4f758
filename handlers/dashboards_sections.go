package handlers

import (
	"context"
	"fmt"
	"net/url"
	"strconv"
	"sync"
	"time"

	"stockline/domain"
	"stockline/store"
)

// The measures' sections: each turns a store figure into a table with its
// definition and chart. fresh records the rollup time a section used.
type sections struct {
	mu     sync.Mutex // guards rollup: sections are built concurrently
	s      *Server
	ctx    context.Context
	f      store.MetricFilter
	df     domain.DashboardFilters
	rollup time.Time
}

// fromRollup answers a measure from its rollup when the rollup can answer
// exactly, recording the rollup's time for the page's freshness line (the
// oldest one used), else live from the raw tables.
func fromRollup[T any](b *sections, roll func() (T, time.Time, bool, error), raw func() (T, error)) (T, error) {
	v, fresh, ok, err := roll()
	if err != nil || !ok {
		if err != nil {
			return v, err
		}
		return raw()
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.rollup.IsZero() || fresh.Before(b.rollup) {
		b.rollup = fresh
	}
	return v, nil
}

func num(n int64) string   { return strconv.FormatInt(n, 10) }
func pct(r float64) string { return strconv.FormatFloat(r*100, 'f', 1, 64) + "%" }
func derefS(p *string) string {
	if p == nil {
		return "all"
	}
	return *p
}
func optF(p *float64) string {
	if p == nil {
		return "–"
	}
	return strconv.FormatFloat(*p, 'f', 1, 64)
}

// drill is the drill-down address for measure with the page's filters and
// the row's own location and channel.
func (b *sections) drill(measure, location, channel string) string {
	q := url.Values{"measure": {measure}, "from": {b.df.From}, "to": {b.df.To}}
	for k, v := range map[string]string{"region": b.df.Region, "category": b.df.Category, "location": b.df.Location, "channel": b.df.Channel} {
		if v != "" {
			q.Set(k, v)
		}
	}
	if location != "" && location != "all" && location != "unallocated" {
		q.Set("location", location)
	}
	if channel != "" && channel != "all" {
		q.Set("channel", channel)
	}
	return "/dashboards/drill?" + q.Encode()
}

const windowWords = "placed from the From date through the To date (UTC days)"

func (b *sections) cancellations(id, title string, g domain.MetricGroup, limit int) (domain.MetricTable, error) {
	rows, err := fromRollup(b, func() ([]domain.CancellationRow, time.Time, bool, error) {
		return b.s.DB.CancellationRateRollup(b.ctx, b.f, g)
	},
		func() ([]domain.CancellationRow, error) { return b.s.DB.CancellationRateRaw(b.ctx, b.f, g) })
	if err != nil {
		return domain.MetricTable{}, err
	}
	t := domain.MetricTable{ID: id, Title: title,
		Definition: "cancelled units ÷ ordered units (a line's quantity less units moved to another store's line) over the lines of orders " + windowWords +
			"; each cancelled unit is counted under its reason code. A line's location is where its units were held, else the pickup store. " +
			"Read from the daily cancellation rollups (per day, location, channel and SKU; exact as of their time above).",
		Empty: "No orders in this window and scope."}
	var legend []string
	for _, r := range domain.CancelReasons {
		legend = append(legend, r.Label())
	}
	dims := []struct {
		on   bool
		name string
	}{{g.Location, "Location"}, {g.SKU, "SKU"}, {g.Channel, "Channel"}}
	for _, d := range dims {
		if d.on {
			t.Columns, t.Numeric = append(t.Columns, d.name), append(t.Numeric, false)
		}
	}
	t.Columns = append(t.Columns, "Ordered units", "Cancelled units", "Rate")
	t.Numeric = append(t.Numeric, true, true, true)
	for _, l := range legend {
		t.Columns, t.Numeric = append(t.Columns, l), append(t.Numeric, true)
	}
	if g.SKU && len(rows) > limit { // the SKUs with most cancelled units first
		sortByCancelled(rows)
		rows = rows[:limit]
		t.Definition += fmt.Sprintf(" The %d SKUs with the most cancelled units are shown.", limit)
	}
	var bars []domain.Bar
	for _, r := range rows {
		var row []string
		label := ""
		for i, v := range []*string{r.Location, r.SKU, r.Channel} {
			if dims[i].on {
				row = append(row, derefS(v))
				label += " " + derefS(v)
			}
		}
		row = append(row, num(r.OrderedUnits), num(r.CancelledUnits), pct(r.Rate))
		seg := []float64{}
		for _, code := range domain.CancelReasons {
			row = append(row, num(r.Reasons[string(code)]))
			seg = append(seg, float64(r.Reasons[string(code)]))
		}
		t.Rows = append(t.Rows, row)
		loc, ch := derefS(r.Location), derefS(r.Channel)
		t.Links = append(t.Links, b.drill("cancellations", loc, ch))
		if r.CancelledUnits > 0 {
			bars = append(bars, domain.Bar{Label: label[1:], Segments: seg})
		}
	}
	t.Chart = domain.NewBarChart("cancelled units by reason code", legend, bars)
	return t, nil
}

func sortByCancelled(rows []domain.CancellationRow) {
	for i := 1; i < len(rows); i++ { // insertion sort keeps equal rows in SKU order
		for j := i; j > 0 && rows[j].CancelledUnits > rows[j-1].CancelledUnits; j-- {
			rows[j], rows[j-1] = rows[j-1], rows[j]
		}
	}
}

func (b *sections) bopis(byLocation bool) (domain.MetricTable, error) {
	rows, err := b.s.DB.BOPIS(b.ctx, b.f, byLocation)
	if err != nil {
		return domain.MetricTable{}, err
	}
	t := domain.MetricTable{ID: "bopis", Title: "Pickup (BOPIS): time to ready and promise kept",
		Definition: "Pickup orders " + windowWords + " (the category filter does not apply). Ready time = ready_at − placed_at in minutes, p50 and p90 over the orders made ready; " +
			"within promise = ready by the promised time ÷ orders ready or past their promise; uncollected = cancelled as not_collected ÷ orders made ready; " +
			"overdue = those still open now and past their promise (not ready) or their pickup window (ready). " +
			"Computed live from the orders when the page loads: exact percentiles, no rollup.",
		Columns: []string{"Pickup store", "Orders", "Ready p50 (min)", "Ready p90 (min)", "Within promise", "Uncollected", "Overdue now"},
		Numeric: []bool{false, true, true, true, true, true, true}, Empty: "No pickup orders in this window and scope."}
	var bars []domain.Bar
	for _, r := range rows {
		loc := derefS(r.Location)
		t.Rows = append(t.Rows, []string{loc, num(r.Orders), optF(r.ReadyP50Minutes), optF(r.ReadyP90Minutes), pct(r.WithinPromiseRate), pct(r.UncollectedRate), num(r.Overdue)})
		t.Links = append(t.Links, b.drill("pickups", loc, ""))
		if r.ReadyP90Minutes != nil {
			bars = append(bars, domain.Bar{Label: loc, Segments: []float64{*r.ReadyP90Minutes}})
		}
	}
	t.Chart = domain.NewBarChart("minutes from order to ready, p90", nil, bars)
	return t, nil
}

func (b *sections) oversell() (domain.MetricTable, error) {
	rows, err := fromRollup(b, func() ([]store.OversellRow, time.Time, bool, error) { return b.s.DB.OversellRollup(b.ctx, b.f) },
		func() ([]store.OversellRow, error) { return b.s.DB.OversellRaw(b.ctx, b.f) })
	if err != nil {
		return domain.MetricTable{}, err
	}
	t := domain.MetricTable{ID: "oversell", Title: "Oversell by channel",
		Definition: "orders with an oversell exception (they could not be reserved as promised) ÷ all orders " + windowWords + "; location filters use the pickup store; the category filter does not apply. " +
			"Read from the daily orders rollup (per day, pickup store and channel; exact as of its time above).",
		Columns: []string{"Channel", "Orders", "Oversold", "Rate"}, Numeric: []bool{false, true, true, true}, Empty: "No orders in this window and scope."}
	var bars []domain.Bar
	for _, r := range rows {
		t.Rows = append(t.Rows, []string{r.Channel, num(r.Orders), num(r.Oversold), pct(domain.Rate(r.Oversold, r.Orders))})
		bars = append(bars, domain.Bar{Label: r.Channel, Segments: []float64{float64(r.Oversold)}})
	}
	t.Chart = domain.NewBarChart("oversold orders", nil, bars)
	return t, nil
}

func (b *sections) exceptions() (domain.MetricTable, error) {
	rows, err := b.s.DB.Exceptions(b.ctx, b.f)
	if err != nil {
		return domain.MetricTable{}, err
	}
	t := domain.MetricTable{ID: "exceptions", Title: "Exceptions by kind and location",
		Definition: "opened = created in the window (From through To, UTC days); resolved = resolved or dismissed in the window; open now with their mean age in hours; " +
			"SLA breaches = opened in the window and closed after their due time, or still open past it. Channel and category filters do not apply.",
		Columns: []string{"Kind", "Location", "Opened", "Resolved", "Open now", "Mean age (h)", "SLA breaches"},
		Numeric: []bool{false, false, true, true, true, true, true}, Empty: "No exceptions in this window and scope."}
	var bars []domain.Bar
	for _, r := range rows {
		age := "–"
		if r.AgeHours.Valid {
			age = strconv.FormatFloat(r.AgeHours.Float64, 'f', 1, 64)
		}
		t.Rows = append(t.Rows, []string{domain.ExceptionKindLabel(r.Kind), r.Location, num(r.Opened), num(r.Resolved), num(r.OpenNow), age, num(r.SLABreaches)})
		t.Links = append(t.Links, "/exceptions?kind="+url.QueryEscape(r.Kind))
		bars = append(bars, domain.Bar{Label: domain.ExceptionKindLabel(r.Kind) + " " + r.Location, Segments: []float64{float64(r.Opened - r.SLABreaches), float64(r.SLABreaches)}})
	}
	t.Chart = domain.NewBarChart("exceptions opened, within SLA and breached", []string{"within SLA", "SLA breached"}, bars)
	return t, nil
}

func (b *sections) sellThrough(byCategory bool) (domain.MetricTable, error) {
	rows, err := fromRollup(b, func() ([]store.StockRow, time.Time, bool, error) {
		return b.s.DB.SellThroughRollup(b.ctx, b.f, byCategory)
	},
		func() ([]store.StockRow, error) { return b.s.DB.SellThroughRaw(b.ctx, b.f, byCategory) })
	if err != nil {
		return domain.MetricTable{}, err
	}
	t := domain.MetricTable{ID: "sell-through", Title: "Sell-through and weeks of cover",
		Definition: "sell-through = units sold ÷ (units sold + on hand at the window's end); units sold are sale and fulfilled movements off on hand " +
			"that occurred in the window (transfers in, receipts, counts and returns are not sales); on hand at the end is the sum of the ledger before it. " +
			"Weeks of cover = on hand at the end ÷ average weekly units sold in the window.",
		Columns: []string{"Location", "Units sold", "On hand at end", "Sell-through", "Weeks of cover"},
		Numeric: []bool{false, true, true, true, true}, Empty: "No stock movements in this window and scope."}
	if byCategory {
		t.Columns = slicesInsert(t.Columns, 1, "Category")
		t.Numeric = append([]bool{false, false}, t.Numeric[1:]...)
	}
	var bars []domain.Bar
	for _, r := range rows {
		row := []string{r.Location}
		label := r.Location
		if byCategory {
			row = append(row, r.Category)
			label += " " + r.Category
		}
		t.Rows = append(t.Rows, append(row, num(r.Sold), num(r.OnHandEnd), pct(r.SellThrough), optF(r.WeeksOfCover)))
		bars = append(bars, domain.Bar{Label: label, Segments: []float64{domain.Round4(r.SellThrough * 100)}})
	}
	t.Chart = domain.NewBarChart("sell-through, percent", nil, bars)
	return t, nil
}

func slicesInsert(s []string, i int, v string) []string {
	return append(s[:i], append([]string{v}, s[i:]...)...)
}

func (b *sections) feedHealth() (domain.MetricTable, error) {
	rows, err := b.s.DB.FeedHealth(b.ctx, b.f)
	if err != nil {
		return domain.MetricTable{}, err
	}
	t := domain.MetricTable{ID: "feed-health", Title: "Feed health per connector and day",
		Definition: "per connector and UTC day of receipt: events received; lag = median of received_at − the source's occurred_at, in seconds; " +
			"error rate = dead-lettered events ÷ events received. Network-wide: location filters do not apply.",
		Columns: []string{"Connector", "Day", "Events", "Lag p50 (s)", "Errors", "Error rate"},
		Numeric: []bool{false, false, true, true, true, true}, Empty: "No feed events in this window."}
	var bars []domain.Bar
	for _, r := range rows {
		lag := "–"
		if r.LagSeconds.Valid {
			lag = strconv.FormatFloat(r.LagSeconds.Float64, 'f', 1, 64)
			bars = append(bars, domain.Bar{Label: r.Connector + " " + r.Day[5:], Segments: []float64{r.LagSeconds.Float64}})
		}
		t.Rows = append(t.Rows, []string{r.Connector, r.Day, num(r.Events), lag, num(r.Errors), pct(domain.Rate(r.Errors, r.Events))})
	}
	t.Chart = domain.NewBarChart("median lag in seconds", nil, bars)
	return t, nil
}

func (b *sections) accuracy() (domain.MetricTable, error) {
	rows, err := b.s.DB.Accuracy(b.ctx, b.f)
	if err != nil {
		return domain.MetricTable{}, err
	}
	t := domain.MetricTable{ID: "accuracy", Title: "Inventory record accuracy and drift",
		Definition: "accuracy = 1 − positions with a reconciliation_drift exception opened in the window ÷ distinct positions counted in the window; " +
			"drift corrected = Σ|Δ on hand| of cycle_count movements in the window, in units and at price; time to resolve = median hours from opening to " +
			"resolving the drift exceptions resolved in the window.",
		Columns: []string{"Location", "Positions counted", "With drift", "Accuracy", "Drift corrected (units)", "Drift corrected (value)", "Drift exceptions", "Resolve p50 (h)"},
		Numeric: []bool{false, true, true, true, true, true, true, true}, Empty: "No counts or drift in this window and scope."}
	var bars []domain.Bar
	for _, r := range rows {
		acc := domain.Rate(r.Counted-r.Drifted, r.Counted)
		h := "–"
		if r.ResolveP50Hours.Valid {
			h = strconv.FormatFloat(r.ResolveP50Hours.Float64, 'f', 1, 64)
		}
		t.Rows = append(t.Rows, []string{r.Location, num(r.Counted), num(r.Drifted), pct(acc), num(r.CorrectedUnits),
			fmt.Sprintf("%d.%02d", r.CorrectedValue/100, r.CorrectedValue%100), num(r.DriftOpened), h})
		t.Links = append(t.Links, "/exceptions?kind=reconciliation_drift")
		if r.Counted > 0 {
			bars = append(bars, domain.Bar{Label: r.Location, Segments: []float64{domain.Round4(acc * 100)}})
		}
	}
	t.Chart = domain.NewBarChart("inventory record accuracy, percent", nil, bars)
	return t, nil
}
