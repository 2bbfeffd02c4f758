package domain

import (
	"fmt"
	"slices"
	"time"
)

// Exception kinds (DESIGN §5), each raised by its own source.
const (
	KindItemNotFound       = "item_not_found"         // a pick rejection: item not found or damaged at pick
	KindPickupChange       = "pickup_location_change" // the order now collects at another store
	KindPickupOverdue      = "pickup_overdue"         // the promised pickup window passed
	KindPartialShipment    = "partial_shipment"       // a shipment left units of the order open
	KindPaymentBeforeStock = "payment_before_stock"   // payment captured before stock was confirmed
	KindOversell           = "oversell"               // an order that could not be reserved
	KindDrift              = "reconciliation_drift"   // a count or snapshot beyond the threshold
	KindNegativeStock      = "negative_stock"         // a position out of bounds
	KindTransferVariance   = "transfer_variance"      // a transfer received short or over
	KindFeedStale          = "feed_stale"             // a connector with no success for too long, or failing
	KindDeadLetter         = "dead_letter"            // feed events that could not be applied
	KindCheckFailed        = "check_failed"           // the scheduled consistency check found violations
)

// Exception actions: what a person does on an exception's page. Each does
// the real work and records its resolution code.
const (
	ActReallocate     = "reallocate"       // hold the line at another store with stock
	ActCancelLine     = "cancel_line"      // cancel the open units and notify the customer
	ActAdjust         = "adjust"           // record a counted figure through the adjustment path
	ActRetry          = "retry"            // retry the connector's dead-lettered events
	ActFixPayload     = "fix_payload"      // retry one dead letter with a corrected payload
	ActPauseFeed      = "pause_connector"  // stop pulling the feed
	ActResumeFeed     = "resume_connector" // pull the feed again
	ActFound          = "found"            // the missing transfer units arrived
	ActLost           = "lost"             // write the missing transfer units off
	ActRecheck        = "recheck"          // run the consistency check again
	ActAcknowledge    = "acknowledge"      // the store has seen it and acted outside Stockline
	ActAcceptCount    = "accept_count"     // drift: the count stands (reconciliation)
	ActKeepSystem     = "keep_system"      // drift: the system figure stands (reconciliation)
	ActRequestRecount = "request_recount"  // drift: count again (reconciliation)
	ActDismiss        = "dismiss"          // no action needed, with a reason
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
	Owners   []Role   // who works it (admin always may)
	Severity string   // severity when the source names none
	Actions  []string // the kind's actions, dismiss last
}

// ExceptionKinds is the registry, in the order the queue lists kinds.
var ExceptionKinds = []KindSpec{
	{KindItemNotFound, "Item not found at pick", []Role{RoleAssociate, RoleManager}, "high", []string{ActReallocate, ActCancelLine, ActDismiss}},
	{KindOversell, "Oversell", []Role{RoleManager, RoleInventoryLead}, "high", []string{ActReallocate, ActCancelLine, ActDismiss}},
	{KindPaymentBeforeStock, "Payment captured before stock confirmed", []Role{RoleManager, RoleSupport}, "high", []string{ActReallocate, ActCancelLine, ActDismiss}},
	{KindPickupOverdue, "Pickup overdue", []Role{RoleAssociate, RoleManager}, "medium", []string{ActCancelLine, ActAcknowledge, ActDismiss}},
	{KindPickupChange, "Pickup location change", []Role{RoleAssociate, RoleManager}, "medium", []string{ActAcknowledge, ActDismiss}},
	{KindPartialShipment, "Partial shipment review", []Role{RoleManager, RoleSupport}, "medium", []string{ActCancelLine, ActAcknowledge, ActDismiss}},
	{KindNegativeStock, "Negative stock", []Role{RoleInventoryLead, RoleManager}, "high", []string{ActAdjust, ActDismiss}},
	{KindDrift, "Reconciliation drift", []Role{RoleInventoryLead}, "medium", []string{ActAcceptCount, ActKeepSystem, ActRequestRecount, ActDismiss}},
	{KindTransferVariance, "Transfer receipt variance", []Role{RoleManager, RoleInventoryLead}, "medium", []string{ActFound, ActLost, ActDismiss}},
	{KindFeedStale, "Feed stale or failing", []Role{RoleInventoryLead}, "high", []string{ActPauseFeed, ActResumeFeed, ActDismiss}},
	{KindDeadLetter, "Event dead-lettered", []Role{RoleInventoryLead}, "medium", []string{ActRetry, ActFixPayload, ActDismiss}},
	{KindCheckFailed, "Consistency check failed", []Role{RoleInventoryLead}, "critical", []string{ActRecheck, ActDismiss}},
}

// KindSpecFor returns the registry entry of kind; an unknown kind gets a
// spec owned by inventory leads whose only action is dismiss.
func KindSpecFor(kind string) KindSpec {
	for _, k := range ExceptionKinds {
		if k.Kind == kind {
			return k
		}
	}
	return KindSpec{Kind: kind, Label: kind, Owners: []Role{RoleInventoryLead}, Severity: "medium", Actions: []string{ActDismiss}}
}

// IsExceptionKind reports whether kind is in the registry.
func IsExceptionKind(kind string) bool {
	return slices.ContainsFunc(ExceptionKinds, func(k KindSpec) bool { return k.Kind == kind })
}

// CanWork reports whether role may act on exceptions of the kind: its
// owners, and admins.
func (k KindSpec) CanWork(r Role) bool { return r == RoleAdmin || slices.Contains(k.Owners, r) }

// Allows reports whether action is one of the kind's actions.
func (k KindSpec) Allows(action string) bool { return slices.Contains(k.Actions, action) }

// KindsOwnedBy lists the kinds role works (every kind for admin).
func KindsOwnedBy(r Role) []string {
	var out []string
	for _, k := range ExceptionKinds {
		if k.CanWork(r) {
			out = append(out, k.Kind)
		}
	}
	return out
}

// ActionResolution is the resolution code an action records and the
// status it leaves: request_recount keeps the exception open.
func ActionResolution(action string) (code, status string) {
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
	case ActAcceptCount:
		return "accepted_count", ExceptionResolved
	case ActKeepSystem:
		return "kept_system", ExceptionResolved
	case ActRequestRecount:
		return "recount_requested", ExceptionInProgress
	case ActDismiss:
		return "no_action_needed", ExceptionDismissed
	}
	return action, ExceptionResolved
}

// ActionLabel is an action's button text, a verb.
func ActionLabel(action string) string {
	switch action {
	case ActReallocate:
		return "Reallocate to another store"
	case ActCancelLine:
		return "Cancel line and notify customer"
	case ActAdjust:
		return "Adjust to a counted figure"
	case ActRetry:
		return "Retry the dead-lettered events"
	case ActFixPayload:
		return "Fix the payload and retry"
	case ActPauseFeed:
		return "Pause the connector"
	case ActResumeFeed:
		return "Resume the connector"
	case ActFound:
		return "Found later: receive the units"
	case ActLost:
		return "Lost: write the units off"
	case ActRecheck:
		return "Run the check again"
	case ActAcknowledge:
		return "Done: mark handled"
	case ActAcceptCount:
		return "Accept the count"
	case ActKeepSystem:
		return "Keep the system figure"
	case ActRequestRecount:
		return "Request a recount"
	case ActDismiss:
		return "Dismiss with a reason"
	}
	return action
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
