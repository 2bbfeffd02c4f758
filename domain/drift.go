package domain

import (
	"fmt"
	"time"
)

// Threshold says when a count disagrees enough with the ledger to need a
// person: the difference is beyond it when it meets every bound that is
// set (a zero bound is not set). The default is at least 3 units and at
// least 5 % of the system figure.
type Threshold struct {
	MinUnits      int     `db:"min_units"`
	MinPercent    float64 `db:"min_percent"`
	MinValueCents int64   `db:"min_value_cents"`
}

// DefaultThreshold is the threshold when no row says otherwise.
var DefaultThreshold = Threshold{MinUnits: 3, MinPercent: 5}

// Beyond reports whether a count differing from the system figure, for a
// product priced priceCents, is beyond the threshold. Agreement (no
// difference) is never beyond.
func (t Threshold) Beyond(system, counted int, priceCents int64) bool {
	diff := abs(counted - system)
	if diff == 0 {
		return false
	}
	if diff < t.MinUnits {
		return false
	}
	if float64(diff)*100 < t.MinPercent*float64(abs(system)) {
		return false
	}
	return int64(diff)*priceCents >= t.MinValueCents
}

// Validate checks a threshold's bounds.
func (t Threshold) Validate() error {
	switch {
	case t.MinUnits < 0 || t.MinUnits > MaxQuantity:
		return FieldError("min_units", "Units must be between 0 and %d.", MaxQuantity)
	case t.MinPercent < 0 || t.MinPercent > 1000:
		return FieldError("min_percent", "Percent must be between 0 and 1000.")
	case t.MinValueCents < 0:
		return FieldError("min_value", "Value cannot be negative.")
	}
	return nil
}

// Threshold scopes.
const (
	ThresholdDefault  = "default"
	ThresholdLocation = "location"
	ThresholdCategory = "category"
)

// ThresholdRule is one row of the thresholds page.
type ThresholdRule struct {
	ID        int64     `db:"id"`
	Scope     string    `db:"scope"`
	Location  string    `db:"location"` // location code for scope location
	Category  string    `db:"category"` // for scope category
	UpdatedAt time.Time `db:"updated_at"`
	UpdatedBy string    `db:"updated_by"`
	Threshold
}

// Thresholds are every rule, looked up per position.
type Thresholds struct {
	Default    Threshold
	ByLocation map[string]Threshold // by location code
	ByCategory map[string]Threshold
}

// NewThresholds indexes rules; with no default rule the default is
// DefaultThreshold.
func NewThresholds(rules []ThresholdRule) Thresholds {
	t := Thresholds{Default: DefaultThreshold, ByLocation: map[string]Threshold{}, ByCategory: map[string]Threshold{}}
	for _, r := range rules {
		switch r.Scope {
		case ThresholdDefault:
			t.Default = r.Threshold
		case ThresholdLocation:
			t.ByLocation[r.Location] = r.Threshold
		case ThresholdCategory:
			t.ByCategory[r.Category] = r.Threshold
		}
	}
	return t
}

// For is the threshold of a position: its location's rule, else its
// category's, else the default. A location knows its own counting
// practice best, so it wins over the category.
func (t Thresholds) For(location, category string) Threshold {
	if th, ok := t.ByLocation[location]; ok {
		return th
	}
	if th, ok := t.ByCategory[category]; ok {
		return th
	}
	return t.Default
}

// DriftData is what a reconciliation_drift exception holds (exceptions.data).
type DriftData struct {
	System     int       `json:"system"`      // ledger on_hand as of CountedAt, when last evaluated
	Counted    int       `json:"counted"`     // the count or snapshot figure
	CountedAt  time.Time `json:"counted_at"`  // the count's own time
	RecordedAt time.Time `json:"recorded_at"` // when the count reached Stockline
	PriceCents int64     `json:"price_cents"` // unit price when opened
	Held       int       `json:"held"`        // units moved into quality_hold for the review
	Source     string    `json:"source"`      // the connector that brought the count
	SourceRef  string    `json:"source_ref"`  // its event or snapshot reference
	Platform   bool      `json:"platform"`    // a platform snapshot: Stockline's figure stands on accept
	// ExplainedBy names the late events that explained it (when they did).
	ExplainedBy []string `json:"explained_by,omitempty"`
}

// Difference is counted − system.
func (d DriftData) Difference() int { return d.Counted - d.System }

// ValueDifference is the difference in money, "-12.50" style.
func (d DriftData) ValueDifference() string { return Money(int64(d.Difference()) * d.PriceCents) }

// Money formats cents as a decimal string in major units.
func Money(cents int64) string {
	sign := ""
	if cents < 0 {
		sign, cents = "-", -cents
	}
	return fmt.Sprintf("%s%d.%02d", sign, cents/100, cents%100)
}

// ShortfallToHold is how many units a count beyond the threshold moves
// into quality_hold: the shortfall (system − counted, when positive),
// capped by the units not already reserved, damaged, held or outbound, so
// the position stays within bounds.
func ShortfallToHold(system, counted int, p Position) int {
	short := system - counted
	free := p.OnHand - p.Reserved - p.Damaged - p.QualityHold - p.TransferOut
	return max(0, min(short, free))
}

// ReplayRow is one ledger movement in a drift's explanation.
type ReplayRow struct {
	OccurredAt time.Time `db:"occurred_at" json:"occurred_at"`
	RecordedAt time.Time `db:"recorded_at" json:"recorded_at"`
	Bucket     Bucket    `db:"bucket" json:"bucket"`
	Delta      int       `db:"delta" json:"delta"`
	Reason     Reason    `db:"reason" json:"reason"`
	Source     string    `db:"source" json:"source"`
	SourceRef  string    `db:"source_ref" json:"source_ref"`
}

// Late reports whether a replayed movement is a late event: it happened
// before the count but reached Stockline after the count did.
func (d DriftData) Late(r ReplayRow) bool {
	return r.OccurredAt.Before(d.CountedAt) && r.RecordedAt.After(d.RecordedAt)
}

// Drift is a drift exception's figures and explanation, as the exception
// page and GET /api/v1/exceptions/{id} show them.
type Drift struct {
	DriftData
	// Since is where the replay starts: the previous agreeing count's
	// time, or zero for the position's first movement.
	Since       time.Time
	Explanation []ReplayRow
}

// ReconRun is one reconciliation run of a connector's snapshot.
type ReconRun struct {
	ID           int64     `db:"id"`
	ConnectorID  int64     `db:"connector_id"`
	Connector    string    `db:"connector"`
	Status       string    `db:"status"` // queued, running, finished, failed
	Trigger      string    `db:"trigger"`
	StartedBy    string    `db:"started_by"`
	QueuedAt     time.Time `db:"queued_at"`
	StartedAt    time.Time `db:"started_at"`
	FinishedAt   time.Time `db:"finished_at"`
	Total        int       `db:"total"` // locations to compare
	Done         int       `db:"done"`
	Compared     int       `db:"compared"` // positions compared
	DriftsOpened int       `db:"drifts_opened"`
	DriftsClosed int       `db:"drifts_closed"`
	Error        string    `db:"error"`
}

// Active reports whether the run is queued or running.
func (r ReconRun) Active() bool { return r.Status == "queued" || r.Status == "running" }

// Percent is the run's progress, 0..100.
func (r ReconRun) Percent() int {
	if r.Status == "finished" {
		return 100
	}
	if r.Total == 0 {
		return 0
	}
	return r.Done * 100 / r.Total
}
