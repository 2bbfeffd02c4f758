package domain

import "slices"

// Exception kinds (DESIGN §5). exceptions.kind is free text in the
// database; these are the kinds Stockline raises.
const (
	KindNegativeStock        = "negative_stock"
	KindItemNotFound         = "item_not_found"
	KindPickupLocationChange = "pickup_location_change"
	KindPickupOverdue        = "pickup_overdue"
	KindPartialShipment      = "partial_shipment"
	KindPaymentBeforeStock   = "payment_before_stock"
	KindOversell             = "oversell"
	KindReconciliationDrift  = "reconciliation_drift"
	KindTransferVariance     = "transfer_variance"
	KindFeedStale            = "feed_stale"
	KindDeadLetter           = "dead_letter"
	KindCheckFailed          = "check_failed"
)

// ExceptionKinds lists every kind, for filters (GET /api/v1/exceptions
// answers 400 on a kind not listed here).
var ExceptionKinds = []string{
	KindNegativeStock, KindItemNotFound, KindPickupLocationChange, KindPickupOverdue, KindPartialShipment,
	KindPaymentBeforeStock, KindOversell, KindReconciliationDrift, KindTransferVariance, KindFeedStale,
	KindDeadLetter, KindCheckFailed,
}

// ExceptionAction is what a person does to an exception: real work, then a
// resolution code (DESIGN §5). The strings are the API's "action" values.
type ExceptionAction string

// Actions. Dismiss fits every kind; the others fit the kinds ActionsFor
// names them for.
const (
	ActionAcceptCount    ExceptionAction = "accept_count"    // drift: the count applies as of its time, the hold is released
	ActionKeepSystem     ExceptionAction = "keep_system"     // drift: the ledger's figure stands, the hold is released
	ActionRequestRecount ExceptionAction = "request_recount" // drift: stays open, reassigned to the store's associates
	ActionDismiss        ExceptionAction = "dismiss"         // any kind: no action needed, with a reason
)

// exceptionActions are each kind's own actions (dismiss comes on top).
var exceptionActions = map[string][]ExceptionAction{
	KindReconciliationDrift: {ActionAcceptCount, ActionKeepSystem, ActionRequestRecount},
}

// ActionsFor lists the actions that fit an exception kind, dismiss last.
func ActionsFor(kind string) []ExceptionAction {
	return append(slices.Clone(exceptionActions[kind]), ActionDismiss)
}

// CheckAction returns nil if the action fits the kind; an empty action is
// EINVALID on field action, any other misfit is action_not_allowed.
func CheckAction(kind string, a ExceptionAction) error {
	if a == "" {
		return FieldError("action", "Choose an action.")
	}
	if !slices.Contains(ActionsFor(kind), a) {
		return &Error{Code: CodeActionNotAllowed, Field: "action",
			Message: "That action does not fit a " + ExceptionKindLabel(kind) + " exception."}
	}
	return nil
}

// KeepsOpen reports whether the action leaves the exception open (a
// recount request), rather than closing it.
func (a ExceptionAction) KeepsOpen() bool { return a == ActionRequestRecount }

// Closing is the status an action closes an exception with.
func (a ExceptionAction) Closing() string {
	if a == ActionDismiss {
		return ExceptionDismissed
	}
	return ExceptionResolved
}

// ActionLabel names an action for people.
func ActionLabel(a ExceptionAction) string {
	switch a {
	case ActionAcceptCount:
		return "Accept the count"
	case ActionKeepSystem:
		return "Keep the system figure"
	case ActionRequestRecount:
		return "Request a recount"
	case ActionDismiss:
		return "Dismiss with a reason"
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
	}
	return string(a)
}

// Resolution codes written by actions and by the system.
const (
	ResolutionAcceptedCount         = "accepted_count"
	ResolutionKeptSystem            = "kept_system"
	ResolutionPlatformToCorrect     = "platform_to_correct" // a platform snapshot's drift: Stockline's figure stands
	ResolutionExplainedByLateEvents = "explained_by_late_events"
	ResolutionRecounted             = "recounted" // a newer count replaced the one under review
	ResolutionDismissed             = "dismissed"
	ResolutionSnapshotAgrees        = "snapshot_agrees" // a later reconciliation run found the platform in agreement
)

// ValidateActionNote checks a resolving note: dismiss needs a reason, and
// every note stays under 2000 characters.
func ValidateActionNote(a ExceptionAction, note string) error {
	if a == ActionDismiss && len(note) < 3 {
		return FieldError("note", "Say why this exception needs no action.")
	}
	if len(note) > 2000 {
		return FieldError("note", "Keep the note under 2000 characters.")
	}
	return nil
}

// IsExceptionKind reports whether kind is one Stockline raises.
func IsExceptionKind(kind string) bool { return slices.Contains(ExceptionKinds, kind) }

// IsExceptionStatus reports whether s is an exception status.
func IsExceptionStatus(s string) bool { return slices.Contains(ExceptionStatuses, s) }
