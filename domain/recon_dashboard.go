package domain

import "time"

// DriftTotal is drift summed over one group (a location, a category, a
// SKU): how many drift exceptions, and the absolute difference in units
// and value.
type DriftTotal struct {
	Label      string `db:"label"`
	Drifts     int    `db:"drifts"`
	Units      int    `db:"units"`
	ValueCents int64  `db:"value_cents"`
}

// DriftDay is one day of the drift trend.
type DriftDay struct {
	Day        time.Time `db:"day"`
	Drifts     int       `db:"drifts"`
	Units      int       `db:"units"`
	ValueCents int64     `db:"value_cents"`
}

// DriftResolution is how long drifts took from detection to resolution at
// one location.
type DriftResolution struct {
	Location    string  `db:"label"`
	Resolved    int     `db:"resolved"`
	MedianHours float64 `db:"median_hours"`
	Open        int     `db:"open"`
}

// RecordAccuracy is inventory record accuracy at one location: the share
// of counted positions whose count agreed within the threshold.
type RecordAccuracy struct {
	Location string `db:"label"`
	Counted  int    `db:"counted"`
	Within   int    `db:"within"`
}

// Percent is Within of Counted, 0..100.
func (a RecordAccuracy) Percent() float64 {
	if a.Counted == 0 {
		return 0
	}
	return float64(a.Within) * 100 / float64(a.Counted)
}

// ReconDashboard is the reconciliation dashboard over a window of days.
type ReconDashboard struct {
	Days       int
	ByLocation []DriftTotal
	ByCategory []DriftTotal
	WorstSKUs  []DriftTotal
	Trend      []DriftDay
	Resolution []DriftResolution
	Accuracy   []RecordAccuracy
	Runs       []ReconRun
}
