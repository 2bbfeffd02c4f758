package views

import (
	"net/url"
	"strconv"
	"strings"

	"stockline/domain"
)

// csvHref is the page's address with its filters and format=csv (and the
// one table to export, or every table).
func csvHref(path string, f domain.DashboardFilters, table string) string {
	q := url.Values{"format": {"csv"}}
	for k, v := range map[string]string{"from": f.From, "to": f.To, "channel": f.Channel, "category": f.Category, "table": table} {
		if v != "" {
			q.Set(k, v)
		}
	}
	if !f.FixedLocation {
		for k, v := range map[string]string{"location": f.Location, "region": f.Region} {
			if v != "" {
				q.Set(k, v)
			}
		}
	}
	if strings.Contains(path, "?") { // the drill-down's path carries its measure
		return path + "&" + q.Encode()
	}
	return path + "?" + q.Encode()
}

func isNumeric(s domain.MetricTable, i int) bool { return i < len(s.Numeric) && s.Numeric[i] }

func firstBars(c *domain.BarChart) []domain.Bar {
	if len(c.Bars) > maxBars {
		return c.Bars[:maxBars]
	}
	return c.Bars
}

func chartHeight(c *domain.BarChart) int { return len(firstBars(c))*28 + 8 }

// chartWidth is the drawing width of the longest bar.
const chartWidth = 380.0

type segment struct{ X, W float64 }

func segments(c *domain.BarChart, b domain.Bar) []segment {
	out := make([]segment, len(b.Segments))
	x := 0.0
	for i, v := range b.Segments {
		w := 0.0
		if c.Max > 0 {
			w = v / c.Max * chartWidth
		}
		out[i] = segment{X: x, W: w}
		x += w
	}
	return out
}

func barSum(b domain.Bar) float64 {
	s := 0.0
	for _, v := range b.Segments {
		s += v
	}
	return s
}

func barWidth(c *domain.BarChart, b domain.Bar) float64 {
	if c.Max == 0 {
		return 0
	}
	return barSum(b) / c.Max * chartWidth
}

func legendOf(c *domain.BarChart, j int) string {
	if len(c.Legend) > 1 && j < len(c.Legend) {
		return " · " + c.Legend[j]
	}
	return ""
}

func trimFloat(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }

func clip(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}
