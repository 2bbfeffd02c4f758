package views

import (
	"fmt"

	"stockline/domain"
)

// ReconPage is what the reconciliation dashboard shows.
type ReconPage struct {
	Dashboard domain.ReconDashboard
	// Feeds are the snapshot connectors a run can be started for (empty
	// for roles that may not start runs).
	Feeds    []domain.Connector
	CanStart bool
	Done     string
	Err      *domain.Error
}

func totalBars(ts []domain.DriftTotal, value bool) []Bar {
	out := make([]Bar, len(ts))
	for i, t := range ts {
		if value {
			out[i] = Bar{Label: t.Label, Value: float64(t.ValueCents), Text: domain.Money(t.ValueCents)}
		} else {
			out[i] = Bar{Label: t.Label, Value: float64(t.Units), Text: fmt.Sprintf("%d units", t.Units)}
		}
	}
	return out
}

func trendBars(days []domain.DriftDay) []Bar {
	out := make([]Bar, len(days))
	for i, d := range days {
		out[i] = Bar{Label: d.Day.Format("Jan 2"), Value: float64(d.Units), Text: fmt.Sprintf("%d drifts, %d units", d.Drifts, d.Units)}
	}
	return out
}

func resolutionBars(rs []domain.DriftResolution) []Bar {
	out := make([]Bar, 0, len(rs))
	for _, r := range rs {
		out = append(out, Bar{Label: r.Location, Value: r.MedianHours,
			Text: fmt.Sprintf("%.1f h median (%d resolved, %d open)", r.MedianHours, r.Resolved, r.Open)})
	}
	return out
}

func accuracyBars(as []domain.RecordAccuracy) []Bar {
	out := make([]Bar, len(as))
	for i, a := range as {
		out[i] = Bar{Label: a.Location, Value: a.Percent(), Text: fmt.Sprintf("%.1f%% (%d of %d)", a.Percent(), a.Within, a.Counted)}
	}
	return out
}

func runURL(r domain.ReconRun) string { return fmt.Sprintf("/reconciliation/runs/%d", r.ID) }

func orDash(s string) string {
	if s == "" {
		return "—"
	}
	return s
}

// ThresholdsPage is the thresholds edit page's state.
type ThresholdsPage struct {
	Rules     []domain.ThresholdRule
	Locations []domain.Location
	Form      ThresholdForm
	Done      string
}

// ThresholdForm is the add or change form's input.
type ThresholdForm struct {
	Scope, Location, Category, Units, Percent, Value string
	Err                                              *domain.Error
}

func ruleScope(r domain.ThresholdRule) string {
	switch r.Scope {
	case domain.ThresholdLocation:
		return "Location " + r.Location
	case domain.ThresholdCategory:
		return "Category " + r.Category
	}
	return "Default (every other position)"
}

func percentText(p float64) string { return fmt.Sprintf("%g", p) }
