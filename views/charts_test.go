package views

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"stockline/domain"
)

// The one bar layout: bars scale to the longest (stacked segments end to
// end), at most maxBars are drawn, and each segment takes its series
// class; both components render a titled SVG (the bar chart with its
// table, the metric chart with its legend).
func TestChartComponents(t *testing.T) {
	bars := []Bar{{Label: "S01", Value: 10, Text: "10 units"}, {Label: "S02", Value: 5, Text: "5 units"}}
	l := layoutBars(bars, nil)
	if len(l) != 2 || l[0].Segs[0].W != barAreaW || l[1].Segs[0].W != barAreaW/2 || l[0].Segs[0].Class != "series-0" {
		t.Fatalf("single bars %+v", l)
	}
	stacked := []Bar{{Label: "A", Segments: []float64{3, 1}}, {Label: "B", Segments: []float64{2}}}
	s := layoutBars(stacked, []string{"x", "y"})
	if s[0].Segs[1].X != barLabelW+s[0].Segs[0].W || s[0].Segs[0].W+s[0].Segs[1].W != barAreaW || s[0].Segs[1].Class != "series-1" ||
		s[0].Segs[1].Title != "A · y: 1" {
		t.Fatalf("stacked bars %+v", s)
	}
	many := make([]Bar, maxBars+5)
	if n := len(layoutBars(many, nil)); n != maxBars {
		t.Fatalf("%d bars drawn, want %d", n, maxBars)
	}
	var b bytes.Buffer
	if err := BarChart("probe", "Probe", "Units", bars).Render(context.Background(), &b); err != nil {
		t.Fatal(err)
	}
	if err := MetricChart("m", "Measure", domain.NewBarChart("units", []string{"x", "y"}, []domain.Bar{{Label: "A", Segments: []float64{3, 1}}})).Render(context.Background(), &b); err != nil {
		t.Fatal(err)
	}
	html := b.String()
	for _, want := range []string{`<title id="probe-title">Probe`, `<td>S02</td><td class="num">5 units</td>`, `class="series-1"`, `<ul class="legend">`, `<title id="m-chart-title">Measure: units`} {
		if !strings.Contains(html, want) {
			t.Fatalf("charts lack %s", want)
		}
	}
	if strings.Contains(html, "style=") || strings.Contains(html, "<script") {
		t.Fatal("a chart carries inline style or script")
	}
}
