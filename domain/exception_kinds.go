package domain

import (
	"fmt"
	"slices"
	"time"
)

// Exception actions beyond reconciliation's (exception_actions.go): what
// a person does on an exception's page. Each does the real work and records
// its resolution code.
const (
	ActReallocate  ExceptionAction = "reallocate"       // hold the line at another store with stock
	ActCancelLine  ExceptionAction = "cancel_line"      // cancel the open units and notify the customer
	ActAdjust      ExceptionAction = "adjust"           // record a counted figure through the adjustment path
	ActRetry       ExceptionAction = "retry"            // retry the connector's dead-lettered events
	ActFixPayload  ExceptionAction = "fix_payload"      // retry one dead letter with a corrected payload
	ActPauseFeed   ExceptionAction = "pause_connector"  // stop pulling the feed
	ActResumeFeed  ExceptionAction = "resume_connector" // pull the feed again
	ActFound       ExceptionAction = "found"            // the missing transfer units arrived
	ActLost        ExceptionAction = "lost"             // write the missing transfer units off
	ActRecheck     ExceptionAction = "recheck"          // run the consistency check again
	ActAcknowledge ExceptionAction = "acknowledge"      // the store has seen it and acted outside Stockline
)

// Severities, least to most urgent.
var Severities = []string{"low", "medium", "high", "critical"}

// KindSpec is everything the product knows about one exception kind: who
// owns it, how urgent it is by default and what can be done about it.
// The due time per kind and severity lives in the exception_slas table
// (edited on /exceptions/slas); the defaults are in the migration.
type KindSpec struct {
	Kind     string
	Label    string
	Owners   []Role            // who works it (admin always may)
	Severity string            // severity when the source names none
	Actions  []ExceptionAction // the kind's actions on its page, dismiss last
}

// KindSpecs is the registry, in the order the queue lists kinds.
var KindSpecs = []KindSpec{
	{KindItemNotFound, "Item not found at pick", []Role{RoleAssociate, RoleManager}, "high", []ExceptionAction{ActReallocate, ActCancelLine, ActionDismiss}},
	{KindOversell, "Oversell", []Role{RoleManager, RoleInventoryLead}, "high", []ExceptionAction{ActReallocate, ActCancelLine, ActionDismiss}},
	{KindPaymentBeforeStock, "Payment captured before stock confirmed", []Role{RoleManager, RoleSupport, RoleInventoryLead}, "high", []ExceptionAction{ActReallocate, ActCancelLine, ActionDismiss}},
	{KindPickupOverdue, "Pickup overdue", []Role{RoleAssociate, RoleManager}, "medium", []ExceptionAction{ActCancelLine, ActAcknowledge, ActionDismiss}},
	{KindPickupLocationChange, "Pickup location change", []Role{RoleAssociate, RoleManager}, "medium", []ExceptionAction{ActAcknowledge, ActionDismiss}},
	{KindPartialShipment, "Partial shipment review", []Role{RoleManager, RoleSupport, RoleInventoryLead}, "medium", []ExceptionAction{ActCancelLine, ActAcknowledge, ActionDismiss}},
	{KindNegativeStock, "Negative stock", []Role{RoleInventoryLead, RoleManager}, "high", []ExceptionAction{ActAdjust, ActionDismiss}},
	{KindReconciliationDrift, "Reconciliation drift", []Role{RoleInventoryLead}, "medium", []ExceptionAction{ActionAcceptCount, ActionKeepSystem, ActionRequestRecount, ActionDismiss}},
	{KindTransferVariance, "Transfer receipt variance", []Role{RoleManager, RoleInventoryLead}, "medium", []ExceptionAction{ActFound, ActLost, ActionDismiss}},
	{KindFeedStale, "Feed stale or failing", []Role{RoleInventoryLead}, "high", []ExceptionAction{ActPauseFeed, ActResumeFeed, ActionDismiss}},
	{KindDeadLetter, "Event dead-lettered", []Role{RoleInventoryLead}, "medium", []ExceptionAction{ActRetry, ActFixPayload, ActionDismiss}},
	{KindCheckFailed, "Consistency check failed", []Role{RoleInventoryLead}, "critical", []ExceptionAction{ActRecheck, ActionDismiss}},
}

// KindSpecFor returns the registry entry of kind; an unknown kind gets a
// spec owned by inventory leads whose only action is dismiss.
func KindSpecFor(kind string) KindSpec {
	for _, k := range KindSpecs {
		if k.Kind == kind {
			return k
		}
	}
	return KindSpec{Kind: kind, Label: kind, Owners: []Role{RoleInventoryLead}, Severity: "medium", Actions: []ExceptionAction{ActionDismiss}}
}

// CanWork reports whether role may act on exceptions of the kind: its
// owners, and admins.
func (k KindSpec) CanWork(r Role) bool { return r == RoleAdmin || slices.Contains(k.Owners, r) }

// Allows reports whether action is one of the kind's actions.
func (k KindSpec) Allows(action ExceptionAction) bool { return slices.Contains(k.Actions, action) }

// KindsOwnedBy lists the kinds role works (every kind for admin).
func KindsOwnedBy(r Role) []string {
	var out []string
	for _, k := range KindSpecs {
		if k.CanWork(r) {
			out = append(out, k.Kind)
		}
	}
	return out
}

// ActionResolution is the resolution code an action records and the
// status it leaves: request_recount keeps the exception open.
func ActionResolution(action ExceptionAction) (code, status string) {
	switch action {
	case ActReallocate:
		return "reallocated", ExceptionResolved
	case ActCancelLine:
		return "cancelled_line", ExceptionResolved
	case ActAdjust:
		return "adjusted_count", ExceptionResolved
	case ActRetry, ActFixPayload:
		return "retried_event", ExceptionResolved
	case ActPauseFeed:
		return "paused_connector", ExceptionResolved
	case ActResumeFeed:
		return "resumed_connector", ExceptionResolved
	case ActFound:
		return "found_later", ExceptionResolved
	case ActLost:
		return "written_off", ExceptionResolved
	case ActRecheck:
		return "check_clean", ExceptionResolved
	case ActAcknowledge:
		return "acknowledged", ExceptionResolved
	case ActionAcceptCount:
		return ResolutionAcceptedCount, ExceptionResolved
	case ActionKeepSystem:
		return ResolutionKeptSystem, ExceptionResolved
	case ActionRequestRecount:
		return "recount_requested", ExceptionOpen
	case ActionDismiss:
		return ResolutionDismissed, ExceptionDismissed
	}
	return string(action), ExceptionResolved
}

// SLA states of an open exception on the queue.
const (
	SLAOverdue = "overdue"
	SLADueSoon = "due_soon"
	SLAOnTime  = "on_time"
)

// DueSoonWindow is how close to its due time an exception counts as due soon.
const DueSoonWindow = time.Hour

// SLAState places a due time against now.
func SLAState(now, due time.Time) string {
	switch {
	case due.IsZero():
		return SLAOnTime
	case !due.After(now):
		return SLAOverdue
	case due.Sub(now) <= DueSoonWindow:
		return SLADueSoon
	}
	return SLAOnTime
}

// SLA is the due time of one kind at one severity.
type SLA struct {
	Kind       string    `db:"kind"`
	Severity   string    `db:"severity"`
	DueMinutes int       `db:"due_minutes"`
	UpdatedBy  string    `db:"updated_by"`
	UpdatedAt  time.Time `db:"updated_at"`
}

// Validate checks an edited SLA.
func (s SLA) Validate() error {
	if !IsExceptionKind(s.Kind) {
		return FieldError("kind", "Unknown exception kind %q.", s.Kind)
	}
	if !slices.Contains(Severities, s.Severity) {
		return FieldError("severity", "Unknown severity %q.", s.Severity)
	}
	if s.DueMinutes < 1 || s.DueMinutes > 60*24*30 {
		return FieldError("due_minutes", "Give a due time between 1 minute and 30 days (43200 minutes).")
	}
	return nil
}

// AlertLimit bounds alerts for new critical exceptions: at most PerKey per
// kind and location within Window, and Global in all within Window.
type AlertLimit struct {
	Window time.Duration
	PerKey int
	Global int
}

// AlertDecision says whether one more alert may go, given how many were
// already sent (or queued) in the window for its key and in all.
func (l AlertLimit) AlertDecision(sentForKey, sentGlobal int) (send bool, why string) {
	switch {
	case sentForKey >= l.PerKey:
		return false, fmt.Sprintf("%d alert(s) for this kind and location in the last %s", sentForKey, l.Window)
	case sentGlobal >= l.Global:
		return false, fmt.Sprintf("%d alert(s) in all in the last %s", sentGlobal, l.Window)
	}
	return true, ""
}

// CancelReasonForException is the counted cancellation reason when a line
// is cancelled from an exception of the kind.
func CancelReasonForException(kind string) CancelReason {
	switch kind {
	case KindItemNotFound:
		return CancelItemNotFound
	case KindPickupOverdue:
		return CancelNotCollected
	}
	return CancelOutOfStock
}
