package views

import "fmt"

// Bar is one bar of a chart: its label, its value (which sets its length)
// and the value as shown.
type Bar struct {
	Label string
	Value float64
	Text  string
}

// barLayout places horizontal bars in a 100-wide SVG viewBox: label
// column on the left, bars scaled to the largest value.
type barLayout struct {
	Y, W        float64
	Label, Text string
}

const (
	barRow    = 14.0
	barLabelW = 30.0
	barAreaW  = 55.0
)

func layoutBars(bars []Bar) []barLayout {
	maxV := 0.0
	for _, b := range bars {
		maxV = max(maxV, b.Value)
	}
	out := make([]barLayout, len(bars))
	for i, b := range bars {
		w := 0.0
		if maxV > 0 {
			w = b.Value / maxV * barAreaW
		}
		out[i] = barLayout{Y: float64(i) * barRow, W: max(w, 0.5), Label: b.Label, Text: b.Text}
	}
	return out
}

func barsHeight(n int) string { return num(max(float64(n)*barRow, barRow)) }

func num(f float64) string { return fmt.Sprintf("%.2f", f) }

// column is one column of a column chart.
type column struct {
	X, Y, W, H float64
	Label      string
}

// layoutColumns places columns in a 100×40 viewBox.
func layoutColumns(bars []Bar) []column {
	maxV := 0.0
	for _, b := range bars {
		maxV = max(maxV, b.Value)
	}
	n := float64(max(len(bars), 1))
	w := 100 / n
	out := make([]column, len(bars))
	for i, b := range bars {
		h := 0.0
		if maxV > 0 {
			h = b.Value / maxV * 36
		}
		out[i] = column{X: float64(i)*w + w*0.1, W: w * 0.8, H: h, Y: 38 - h, Label: b.Label + ": " + b.Text}
	}
	return out
}
