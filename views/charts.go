package views

import (
	"fmt"
	"strconv"

	"stockline/domain"
)

// The one set of chart components (charts.templ), used by the
// reconciliation dashboard and the metrics dashboards: server-drawn SVG,
// each with a title, its figures in a table, colours from app.css's
// Okabe–Ito series classes (colour-blind-safe), no inline style or script.

// Bar is one bar of a chart: its label, its length (Value, or the sum of
// Segments for a stacked bar, one segment per legend entry) and the value
// as shown.
type Bar struct {
	Label    string
	Value    float64
	Text     string
	Segments []float64
}

// length is the bar's whole length.
func (b Bar) length() float64 {
	if len(b.Segments) == 0 {
		return b.Value
	}
	s := 0.0
	for _, v := range b.Segments {
		s += v
	}
	return s
}

// maxBars is how many rows a chart draws; its table has them all.
const maxBars = 15

// Bar chart geometry, in viewBox units: a label column, then the bars
// scaled to the longest, then the value.
const (
	barRow    = 28
	barLabelW = 180.0
	barAreaW  = 380.0
)

type barLayout struct {
	Y            int
	Label, Text  string
	Segs         []segLayout
	End          float64
	SegmentsText []string
}

type segLayout struct {
	X, W  float64
	Class string
	Title string
}

// layoutBars places the first maxBars bars; legend names the segments.
func layoutBars(bars []Bar, legend []string) []barLayout {
	if len(bars) > maxBars {
		bars = bars[:maxBars]
	}
	maxV := 0.0
	for _, b := range bars {
		maxV = max(maxV, b.length())
	}
	scale := func(v float64) float64 {
		if maxV <= 0 {
			return 0
		}
		return v / maxV * barAreaW
	}
	out := make([]barLayout, len(bars))
	for i, b := range bars {
		l := barLayout{Y: i * barRow, Label: clip(b.Label, 22), Text: clip(b.Text, 14)}
		segs := b.Segments
		if len(segs) == 0 {
			segs = []float64{b.Value}
		}
		x := barLabelW
		for j, v := range segs {
			name := ""
			if len(legend) > 1 && j < len(legend) {
				name = " · " + legend[j]
			}
			w := scale(v)
			l.Segs = append(l.Segs, segLayout{X: x, W: w, Class: fmt.Sprintf("series-%d", j%8), Title: b.Label + name + ": " + trimFloat(v)})
			x += w
		}
		l.End = x + 6
		out[i] = l
	}
	return out
}

func barsHeight(n int) string { return strconv.Itoa(max(min(n, maxBars), 1)*barRow + 8) }

// metricBars turns a metrics chart into bars (the value shown is the
// bar's total).
func metricBars(c *domain.BarChart) []Bar {
	out := make([]Bar, len(c.Bars))
	for i, b := range c.Bars {
		out[i] = Bar{Label: b.Label, Segments: b.Segments}
		out[i].Text = trimFloat(out[i].length())
	}
	return out
}

func num(f float64) string { return fmt.Sprintf("%.1f", f) }

func trimFloat(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }

func clip(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

// column is one column of a column chart.
type column struct {
	X, Y, W, H float64
	Label      string
}

// Column chart geometry: columns over time in a viewBox as wide as the
// bar charts', over an axis.
const (
	colAreaW = 640.0
	colAreaH = 160.0
)

// layoutColumns places one column per bar, scaled to the tallest.
func layoutColumns(bars []Bar) []column {
	maxV := 0.0
	for _, b := range bars {
		maxV = max(maxV, b.length())
	}
	n := float64(max(len(bars), 1))
	w := colAreaW / n
	out := make([]column, len(bars))
	for i, b := range bars {
		h := 0.0
		if maxV > 0 {
			h = b.length() / maxV * (colAreaH - 8)
		}
		out[i] = column{X: float64(i)*w + w*0.1, W: w * 0.8, H: h, Y: colAreaH - 4 - h, Label: b.Label + ": " + b.Text}
	}
	return out
}

func seriesClass(j int) string { return fmt.Sprintf("series-%d", j%8) }
