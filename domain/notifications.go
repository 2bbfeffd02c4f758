package domain

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// Notification kinds: the customer messages the communication rules send.
const (
	NotifyReadyForPickup   = "ready_for_pickup"
	NotifyDelayed          = "delayed"
	NotifyPartiallyShipped = "partially_shipped"
	NotifyShipped          = "shipped"
	NotifyCancelled        = "cancelled"
	NotifyRefundIssued     = "refund_issued"
	NotifyPickupChanged    = "pickup_changed"
)

// NotificationKinds lists every kind in the order the template page shows.
var NotificationKinds = []string{
	NotifyReadyForPickup, NotifyDelayed, NotifyPartiallyShipped, NotifyShipped,
	NotifyCancelled, NotifyRefundIssued, NotifyPickupChanged,
}

// NotificationKindLabel names a notification kind and the event that sends it.
func NotificationKindLabel(k string) string {
	switch k {
	case NotifyReadyForPickup:
		return "Ready for pickup — every item is picked at the pickup store"
	case NotifyDelayed:
		return "Delayed — an item could not be picked, or the order went on hold"
	case NotifyPartiallyShipped:
		return "Partially shipped — a shipment left and items are still open"
	case NotifyShipped:
		return "Shipped — the last open items left"
	case NotifyCancelled:
		return "Cancelled — the order or some of its items were cancelled"
	case NotifyRefundIssued:
		return "Refund issued — cancelled items of a paid order are refunded"
	case NotifyPickupChanged:
		return "Pickup store changed"
	}
	return k
}

// NotificationVars are the placeholders a template may use.
var NotificationVars = []string{"{customer}", "{order}", "{store}", "{items}", "{tracking}", "{reason}"}

// RenderNotification fills a template's placeholders with vars (keys
// without braces). Unknown placeholders stay as written, so a typo shows in
// the outbox instead of vanishing.
func RenderNotification(tmpl string, vars map[string]string) string {
	pairs := make([]string, 0, 2*len(vars))
	for k, v := range vars {
		pairs = append(pairs, "{"+k+"}", v)
	}
	return strings.NewReplacer(pairs...).Replace(tmpl)
}

// NotificationTemplate is one editable customer message.
type NotificationTemplate struct {
	Kind    string `db:"kind"`
	Subject string `db:"subject"`
	Body    string `db:"body"`
	Enabled bool   `db:"enabled"`
}

// Validate checks a template a person edited.
func (t NotificationTemplate) Validate() error {
	if !slices.Contains(NotificationKinds, t.Kind) {
		return FieldError("kind", "Unknown notification kind %q.", t.Kind)
	}
	if s := strings.TrimSpace(t.Subject); s == "" || len(s) > 200 {
		return FieldError("subject", "Subject must be 1 to 200 characters.")
	}
	if b := strings.TrimSpace(t.Body); b == "" || len(b) > 4000 {
		return FieldError("body", "Body must be 1 to 4000 characters.")
	}
	return nil
}

// DueText says how a promised time compares with now, the way staff read
// it: "due in 12 min", "38 min late".
func DueText(promised, now time.Time) string {
	d := promised.Sub(now)
	late := d < 0
	if late {
		d = -d
	}
	var s string
	switch {
	case d < time.Hour:
		s = fmt.Sprintf("%d min", int(d.Minutes()))
	case d < 48*time.Hour:
		s = fmt.Sprintf("%d h %d min", int(d.Hours()), int(d.Minutes())%60)
	default:
		s = fmt.Sprintf("%d days", int(d.Hours()/24))
	}
	if late {
		return s + " late"
	}
	return "due in " + s
}

// SuggestSplit proposes how to split need units over candidate stores whose
// ATP is given in the order they should be tried (most ATP first), when no
// single store can take it all: e.g. ATP [2, 1] and need 3 gives [2, 1].
// It returns nil when the first store can take everything (reallocate
// instead) or all of them together cannot.
func SuggestSplit(atp []int, need int) []int {
	if len(atp) == 0 || need <= 0 || atp[0] >= need {
		return nil
	}
	var out []int
	for _, a := range atp {
		if need == 0 {
			break
		}
		n := min(a, need)
		out = append(out, n)
		need -= n
	}
	if need > 0 {
		return nil
	}
	return out
}
