package domain

import (
	"math"
	"slices"
	"strings"
	"time"
)

// MetricWindow is a measure's time window: From inclusive, To exclusive.
type MetricWindow struct {
	From, To time.Time
}

// MaxMetricWindow is the longest window a measure may be asked for.
const MaxMetricWindow = 400 * 24 * time.Hour

// ParseMetricWindow reads from and to (RFC 3339). An empty to is now and
// an empty from is 30 days before to. A bad time, from not before to, or a
// window over MaxMetricWindow is EINVALID naming the field.
func ParseMetricWindow(from, to string, now time.Time) (MetricWindow, error) {
	w := MetricWindow{To: now.UTC()}
	if s := strings.TrimSpace(to); s != "" {
		t, err := time.Parse(time.RFC3339, s)
		if err != nil {
			return w, FieldError("to", "to must be an RFC 3339 time, like 2026-12-01T00:00:00Z.")
		}
		w.To = t.UTC()
	}
	w.From = w.To.Add(-30 * 24 * time.Hour)
	if s := strings.TrimSpace(from); s != "" {
		t, err := time.Parse(time.RFC3339, s)
		if err != nil {
			return w, FieldError("from", "from must be an RFC 3339 time, like 2026-11-01T00:00:00Z.")
		}
		w.From = t.UTC()
	}
	if !w.From.Before(w.To) {
		return w, FieldError("from", "from must be before to.")
	}
	if w.To.Sub(w.From) > MaxMetricWindow {
		return w, FieldError("from", "The window may be at most 400 days.")
	}
	return w, nil
}

// DayAligned reports whether both ends of the window fall on UTC midnight,
// so that daily rollups can answer it.
func (w MetricWindow) DayAligned() bool {
	return w.From.Equal(w.From.Truncate(24*time.Hour)) && w.To.Equal(w.To.Truncate(24*time.Hour))
}

// Weeks is the window's length in weeks.
func (w MetricWindow) Weeks() float64 { return w.To.Sub(w.From).Hours() / (24 * 7) }

// MetricGroup is the dimensions a measure is grouped by.
type MetricGroup struct {
	Location, SKU, Channel bool
}

// ParseMetricGroup reads a comma-separated group_by against the allowed
// dimensions; an unknown or repeated one is EINVALID on field group_by.
func ParseMetricGroup(s string, allowed ...string) (MetricGroup, error) {
	var g MetricGroup
	seen := map[string]bool{}
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" && strings.TrimSpace(s) == "" {
			continue
		}
		if !slices.Contains(allowed, part) || seen[part] {
			return g, FieldError("group_by", "group_by takes any of %s, each once, separated by commas.", strings.Join(allowed, ", "))
		}
		seen[part] = true
		switch part {
		case "location":
			g.Location = true
		case "sku":
			g.SKU = true
		case "channel":
			g.Channel = true
		}
	}
	return g, nil
}

// Rate is num ÷ den rounded to 4 places, 0 when den is 0.
func Rate(num, den int64) float64 {
	if den == 0 {
		return 0
	}
	return Round4(float64(num) / float64(den))
}

// Round4 rounds to 4 decimal places.
func Round4(x float64) float64 { return math.Round(x*10000) / 10000 }

// CancellationRow is one group of the cancellation-rate measure. A
// dimension not grouped by is nil.
type CancellationRow struct {
	Location       *string          `json:"location"`
	SKU            *string          `json:"sku"`
	Channel        *string          `json:"channel"`
	OrderedUnits   int64            `json:"ordered_units"`
	CancelledUnits int64            `json:"cancelled_units"`
	Rate           float64          `json:"rate"`
	Reasons        map[string]int64 `json:"reasons"`
}

// BOPISRow is one group of the pickup measures.
type BOPISRow struct {
	Location          *string  `json:"location"`
	Orders            int64    `json:"orders"`
	ReadyP50Minutes   *float64 `json:"ready_p50_minutes"`
	ReadyP90Minutes   *float64 `json:"ready_p90_minutes"`
	WithinPromiseRate float64  `json:"within_promise_rate"`
	UncollectedRate   float64  `json:"uncollected_rate"`
	Overdue           int64    `json:"-"` // open pickups past their promise or window now (pages only)
}

// SellThrough is units sold ÷ (units sold + on hand at the window's end),
// and weeks of cover, on hand ÷ average weekly units sold (nil when
// nothing sold).
func SellThrough(sold, onHandEnd int64, weeks float64) (rate float64, cover *float64) {
	rate = Rate(sold, sold+max(onHandEnd, 0))
	if sold > 0 && weeks > 0 {
		c := math.Round(float64(onHandEnd)/(float64(sold)/weeks)*10) / 10
		cover = &c
	}
	return rate, cover
}

// NeutraliseCSVCell makes an exported cell safe to open in a spreadsheet:
// a cell beginning with =, +, - or @ (or a tab or carriage return, which
// some spreadsheets skip before a formula) is prefixed with a single quote
// so it is read as text, never as a formula.
func NeutraliseCSVCell(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}
