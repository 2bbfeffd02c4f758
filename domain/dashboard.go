package domain

import "time"

// Dashboard is one metrics page: its filters, how fresh its numbers are,
// and its measures, each a table with a chart drawn from it.
type Dashboard struct {
	Title   string
	Intro   string
	Path    string // the page's own path, for the filter form and exports
	Filters DashboardFilters
	// RollupAt is when the rollup-backed figures were last refreshed (zero: all
	// figures are live); LiveAt is when the live figures were computed.
	RollupAt, LiveAt time.Time
	Sections         []MetricTable
}

// DashboardFilters are a page's filter values and the choices offered.
type DashboardFilters struct {
	From, To                            string // dates, YYYY-MM-DD (to inclusive on the page)
	Location, Region, Channel, Category string
	Locations, Regions, Categories      []string
	Channels                            []string
	FixedLocation                       bool // the store page: the location is the page's
}

// MetricTable is one measure as a table: Definition says how it is
// computed (formula and window); Numeric marks right-aligned columns;
// Links, when set, is a drill-down href per row. Chart draws ChartCol (a
// numeric column) per row, or, with Stack, the stacked columns.
type MetricTable struct {
	ID         string
	Title      string
	Definition string
	Columns    []string
	Numeric    []bool
	Rows       [][]string
	Links      []string
	Chart      *BarChart
	Empty      string // what an empty table means
}

// BarChart is a horizontal bar chart: one bar per row, each made of one
// or more segments (a stacked bar for a mix).
type BarChart struct {
	Unit   string // what the bar length means, for the chart's title
	Legend []string
	Bars   []Bar
	Max    float64
}

// Bar is one labelled bar.
type Bar struct {
	Label    string
	Segments []float64
}

// NewBarChart builds a chart whose scale fits its longest bar.
func NewBarChart(unit string, legend []string, bars []Bar) *BarChart {
	c := &BarChart{Unit: unit, Legend: legend, Bars: bars}
	for _, b := range bars {
		sum := 0.0
		for _, s := range b.Segments {
			sum += s
		}
		c.Max = max(c.Max, sum)
	}
	return c
}
