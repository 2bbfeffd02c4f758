package domain

import "slices"

// Exception statuses (DESIGN §5): open → in_progress → resolved | dismissed.
const (
	ExceptionOpen       = "open"
	ExceptionInProgress = "in_progress"
	ExceptionResolved   = "resolved"
	ExceptionDismissed  = "dismissed"
)

// ExceptionStatuses lists every status in queue order.
var ExceptionStatuses = []string{ExceptionOpen, ExceptionInProgress, ExceptionResolved, ExceptionDismissed}

var exceptionMoves = map[string][]string{
	ExceptionOpen:       {ExceptionInProgress, ExceptionResolved, ExceptionDismissed},
	ExceptionInProgress: {ExceptionOpen, ExceptionResolved, ExceptionDismissed},
}

// CheckExceptionMove returns an ECONFLICT error unless an exception may go
// from one status to the other. Resolved and dismissed are final.
func CheckExceptionMove(from, to string) error {
	if !slices.Contains(exceptionMoves[from], to) {
		return Errorf(ECONFLICT, "An exception that is %s cannot become %s.", StatusLabel(from), StatusLabel(to))
	}
	return nil
}

// StatusLabel is an exception status in words.
func StatusLabel(s string) string {
	switch s {
	case ExceptionOpen:
		return "open"
	case ExceptionInProgress:
		return "in progress"
	case ExceptionResolved:
		return "resolved"
	case ExceptionDismissed:
		return "dismissed"
	}
	return s
}

// ResolutionCodes are what a person did to close an exception.
var ResolutionCodes = []string{
	"adjusted_count", "accepted_count", "reallocated", "cancelled_line", "retried_event", "recounted", "no_action_needed", "other",
}

// ExceptionResolution is a person's closing of an exception.
type ExceptionResolution struct {
	To   string // resolved or dismissed
	Code string // one of ResolutionCodes when resolving
	Note string
}

// Validate checks the resolution's fields.
func (r ExceptionResolution) Validate() error {
	switch r.To {
	case ExceptionResolved:
		if !slices.Contains(ResolutionCodes, r.Code) {
			return FieldError("code", "Choose what you did to resolve it.")
		}
	case ExceptionDismissed:
		if len(r.Note) < 3 {
			return FieldError("note", "Say why this exception needs no action.")
		}
	default:
		return FieldError("to", "Unknown outcome %q.", r.To)
	}
	if len(r.Note) > 2000 {
		return FieldError("note", "Keep the note under 2000 characters.")
	}
	return nil
}

// ExceptionKindLabel names an exception kind for people.
func ExceptionKindLabel(kind string) string { return KindSpecFor(kind).Label }
