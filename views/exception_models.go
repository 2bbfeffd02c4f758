package views

import (
	"fmt"
	"net/url"
	"time"

	"stockline/domain"
)

// QueueFilter is the exception queue's filter, as the query string says.
type QueueFilter struct {
	Kind, Location, Region, Severity, Status, Assignee, Age, SLA string
	After                                                        string // keyset cursor of the page shown; "" for the first
}

// Values is the filter as a query string (without the cursor).
func (f QueueFilter) Values() url.Values {
	v := url.Values{}
	for k, x := range map[string]string{"kind": f.Kind, "location": f.Location, "region": f.Region, "severity": f.Severity,
		"status": f.Status, "assignee": f.Assignee, "age": f.Age, "sla": f.SLA} {
		if x != "" {
			v.Set(k, x)
		}
	}
	return v
}

// Any reports whether any filter is set.
func (f QueueFilter) Any() bool { return len(f.Values()) > 0 }

// With is the queue's URL with one filter changed (and the cursor reset).
func (f QueueFilter) With(key, value string) string {
	v := f.Values()
	if value == "" {
		v.Del(key)
	} else {
		v.Set(key, value)
	}
	return "/exceptions?" + v.Encode()
}

// Option is a value of a select with its label.
type Option struct{ Value, Label string }

// QueueView is everything the queue page shows.
type QueueView struct {
	Filter     QueueFilter
	Rows       []domain.ExceptionDetail
	Kept       int64 // id of a row kept on screen because it was being worked on, though it no longer matches
	Total      int
	Next       string // URL of the next page, "" on the last
	Counts     QueueCounts
	Locations  []Option
	Regions    []string
	Assignees  []Option
	CanWork    map[string]bool // kinds the user's role works
	Now        time.Time
	Flash      string
	Err        *domain.Error
	ScopeNames string // the user's stores, for the empty state; "" when unscoped
}

// QueueCounts are the counts beside each filter value.
type QueueCounts struct {
	Total      int
	ByKind     map[string]int
	BySeverity map[string]int
	BySLA      map[string]int
}

// ListURL is the partial's polling URL: the same filter and page.
func (m QueueView) ListURL() string {
	v := m.Filter.Values()
	if m.Filter.After != "" {
		v.Set("after", m.Filter.After)
	}
	return "/exceptions/list?" + v.Encode()
}

func exceptionURL(id int64) string { return fmt.Sprintf("/exceptions/%d", id) }

func excDueClass(now time.Time, e domain.ExceptionDetail) string {
	if e.Status != domain.ExceptionOpen && e.Status != domain.ExceptionInProgress {
		return "muted"
	}
	switch domain.SLAState(now, e.DueAt) {
	case domain.SLAOverdue:
		return "badge bad"
	case domain.SLADueSoon:
		return "badge warn"
	}
	return "badge ok"
}

func dueWords(now time.Time, e domain.ExceptionDetail) string {
	if e.Status != domain.ExceptionOpen && e.Status != domain.ExceptionInProgress {
		return domain.StatusLabel(e.Status) + " " + Ago(e.ResolvedAt)
	}
	return domain.DueText(e.DueAt, now)
}

// SLAStates in the order the queue shows them.
var SLAStates = []Option{{domain.SLAOverdue, "Overdue"}, {domain.SLADueSoon, "Due soon"}, {domain.SLAOnTime, "On time"}}

// AgeOptions are the age filter's choices.
var AgeOptions = []Option{{"1h", "Older than 1 hour"}, {"4h", "Older than 4 hours"}, {"24h", "Older than a day"}, {"168h", "Older than a week"}}

// ExceptionPage is one exception with the context to decide and the
// actions the user may take.
type ExceptionPage struct {
	E         domain.ExceptionDetail
	Spec      domain.KindSpec
	CanWork   bool
	Now       time.Time
	Timeline  []domain.ExceptionEvent
	Order     *domain.Order
	Nearby    []domain.LocationStock // the SKU at stores in the exception location's region
	Ledger    []domain.LedgerEntry
	Line      *domain.OrderLine   // the order line the exception is about, waiting for a decision
	Stores    []domain.StoreATP   // where that line could be reallocated
	Connector *domain.Connector   // feed and dead-letter exceptions
	Dead      []domain.DeadLetter // the connector's open dead letters
	Transfer  *domain.Transfer
	Drift     *domain.Drift            // a drift's figures and ledger replay
	Actions   []domain.ExceptionAction // the kind's actions that apply now
	Flash     string
	Err       *domain.Error
	ErrAction domain.ExceptionAction // the action whose form the error belongs to
	Form      map[string]string
}

func (p ExceptionPage) open() bool {
	return p.E.Status == domain.ExceptionOpen || p.E.Status == domain.ExceptionInProgress
}

func resolveURL(id int64) string { return fmt.Sprintf("/exceptions/%d/resolve", id) }

func (p ExceptionPage) errFor(action domain.ExceptionAction) *domain.Error {
	if p.ErrAction == action {
		return p.Err
	}
	return nil
}

func roundDur(d time.Duration) string {
	switch {
	case d < time.Hour:
		return fmt.Sprintf("%d min", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%d h", int(d.Hours()))
	}
	return fmt.Sprintf("%d days", int(d.Hours()/24))
}

func (p ExceptionPage) noteFor(action domain.ExceptionAction) string {
	if p.ErrAction == action {
		return p.Form["note"]
	}
	return ""
}
