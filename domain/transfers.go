package domain

import (
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// TransferStatus is where a transfer is in its life (DESIGN §6).
type TransferStatus string

// requested → approved | rejected; approved → shipped → received;
// requested or approved → cancelled.
const (
	TransferRequested TransferStatus = "requested"
	TransferApproved  TransferStatus = "approved"
	TransferRejected  TransferStatus = "rejected"
	TransferShipped   TransferStatus = "shipped"
	TransferReceived  TransferStatus = "received"
	TransferCancelled TransferStatus = "cancelled"
)

// TransferStatuses lists every status in life order.
var TransferStatuses = []TransferStatus{TransferRequested, TransferApproved, TransferRejected, TransferShipped, TransferReceived, TransferCancelled}

var transferMoves = map[TransferStatus][]TransferStatus{
	TransferRequested: {TransferApproved, TransferRejected, TransferCancelled},
	TransferApproved:  {TransferShipped, TransferCancelled},
	TransferShipped:   {TransferReceived},
}

// CheckTransferMove returns nil when a transfer may go from one status to
// the other, else a 409: not_approved for shipping what is not approved,
// already_shipped for cancelling what left, conflict otherwise.
func CheckTransferMove(from, to TransferStatus) error {
	if slices.Contains(transferMoves[from], to) {
		return nil
	}
	switch {
	case to == TransferShipped && (from == TransferRequested || from == TransferRejected || from == TransferCancelled):
		return &Error{Code: CodeNotApproved, Message: fmt.Sprintf("The transfer is %s, not approved; it cannot ship.", from)}
	case to == TransferCancelled && (from == TransferShipped || from == TransferReceived):
		return &Error{Code: CodeAlreadyShipped,
			Message: "The transfer has shipped: its units are on the way, and the receipt settles them. It cannot be cancelled."}
	}
	return Errorf(ECONFLICT, "A transfer that is %s cannot become %s.", from, to)
}

// Transfer is a move of stock between two locations.
type Transfer struct {
	ID           int64           `db:"id"`
	Status       TransferStatus  `db:"status"`
	FromID       int64           `db:"from_location_id"`
	ToID         int64           `db:"to_location_id"`
	From         string          `db:"from_code"`
	To           string          `db:"to_code"`
	FromName     string          `db:"from_name"`
	ToName       string          `db:"to_name"`
	FromRegion   string          `db:"from_region"`
	ToRegion     string          `db:"to_region"`
	Reason       string          `db:"reason"`
	NeededBy     *time.Time      `db:"needed_by"`
	Tracking     string          `db:"tracking"`
	RequestedBy  string          `db:"requested_by"`
	DecidedBy    string          `db:"decided_by"`
	DecisionNote string          `db:"decision_note"`
	CreatedAt    time.Time       `db:"created_at"`
	UpdatedAt    time.Time       `db:"updated_at"`
	ApprovedAt   *time.Time      `db:"approved_at"`
	ShippedAt    *time.Time      `db:"shipped_at"`
	ReceivedAt   *time.Time      `db:"received_at"`
	Lines        []TransferLine  `db:"-"`
	Timeline     []TransferEvent `db:"-"`
}

// Units is the total requested.
func (t Transfer) Units() int {
	n := 0
	for _, l := range t.Lines {
		n += l.Requested
	}
	return n
}

// InTransitDays is how many whole days a shipped transfer has been on the
// way at now (0 when it is not in transit).
func (t Transfer) InTransitDays(now time.Time) int {
	if t.Status != TransferShipped || t.ShippedAt == nil {
		return 0
	}
	return int(now.Sub(*t.ShippedAt) / (24 * time.Hour))
}

// Overdue reports whether a shipped transfer has been in transit longer
// than days.
func (t Transfer) Overdue(now time.Time, days int) bool {
	return t.Status == TransferShipped && t.ShippedAt != nil && now.Sub(*t.ShippedAt) > time.Duration(days)*24*time.Hour
}

// Outstanding is the units of every line still in transit.
func (t Transfer) Outstanding() int {
	n := 0
	for _, l := range t.Lines {
		n += l.Outstanding()
	}
	return n
}

// TransferLine is one SKU of a transfer and how far its units got.
type TransferLine struct {
	LineNo     int    `db:"line_no"`
	ProductID  int64  `db:"product_id"`
	SKU        string `db:"sku"`
	Name       string `db:"name"`
	PriceCents int64  `db:"price_cents"`
	Requested  int    `db:"requested"`
	Approved   int    `db:"approved"`
	Shipped    int    `db:"shipped"`
	Received   int    `db:"received"` // every unit that arrived, damaged ones included
	Damaged    int    `db:"damaged"`
	Lost       int    `db:"lost"` // written off after a short receipt
}

// Outstanding is the line's units shipped and neither received nor
// written off: they are still in the destination's in_transit_in.
func (l TransferLine) Outstanding() int { return max(0, l.Shipped-l.Received-l.Lost) }

// Variance is received plus lost less shipped: negative when short,
// positive when more arrived than left.
func (l TransferLine) Variance() int { return l.Received + l.Lost - l.Shipped }

// TransferEvent is one timeline entry.
type TransferEvent struct {
	At      time.Time `db:"at"`
	Kind    string    `db:"kind"`
	Actor   string    `db:"actor"`
	Message string    `db:"message"`
}

// TransferLineInput is one requested line.
type TransferLineInput struct {
	SKU string `json:"sku"`
	Qty int    `json:"qty"`
}

// NewTransfer is a request to move stock.
type NewTransfer struct {
	From     string
	To       string
	Lines    []TransferLineInput
	Reason   string
	NeededBy string // YYYY-MM-DD, optional
}

// Unprocessable is a 422 about one input field.
func Unprocessable(field, format string, args ...any) *Error {
	return &Error{Code: CodeUnprocessable, Field: field, Message: fmt.Sprintf(format, args...)}
}

// MaxTransferLines bounds the lines of one transfer.
const MaxTransferLines = 200

// Validate checks the request's own fields (422 with field) and returns
// the needed-by date, if any. Locations and SKUs are checked by the store.
func (n NewTransfer) Validate() (*time.Time, error) {
	if strings.TrimSpace(n.From) == "" {
		return nil, Unprocessable("from", "Name the origin location.")
	}
	if strings.TrimSpace(n.To) == "" {
		return nil, Unprocessable("to", "Name the destination location.")
	}
	if n.From == n.To {
		return nil, Unprocessable("to", "The origin and the destination are both %s; choose another destination.", n.From)
	}
	if len(n.Lines) == 0 || len(n.Lines) > MaxTransferLines {
		return nil, Unprocessable("lines", "Give between 1 and %d lines.", MaxTransferLines)
	}
	seen := map[string]bool{}
	for i, l := range n.Lines {
		f := fmt.Sprintf("lines[%d].qty", i)
		if l.Qty <= 0 || l.Qty > MaxQuantity {
			return nil, Unprocessable(f, "Quantity for %s must be between 1 and %d.", l.SKU, MaxQuantity)
		}
		if strings.TrimSpace(l.SKU) == "" {
			return nil, Unprocessable(fmt.Sprintf("lines[%d].sku", i), "Name the SKU of line %d.", i+1)
		}
		if seen[l.SKU] {
			return nil, Unprocessable(fmt.Sprintf("lines[%d].sku", i), "%s is on two lines; give it once with the total.", l.SKU)
		}
		seen[l.SKU] = true
	}
	if len(n.Reason) > 500 || !utf8.ValidString(n.Reason) || strings.ContainsRune(n.Reason, 0) {
		return nil, Unprocessable("reason", "Keep the reason to 500 characters of plain text.")
	}
	if n.NeededBy == "" {
		return nil, nil
	}
	d, err := time.Parse(time.DateOnly, n.NeededBy)
	if err != nil {
		return nil, Unprocessable("needed_by", "needed_by is a date like 2026-12-24.")
	}
	return &d, nil
}

// ValidateNote checks a decision note (optional, plain text).
func ValidateNote(note string) error {
	if len(note) > MaxNoteLength || !utf8.ValidString(note) || strings.ContainsRune(note, 0) {
		return FieldError("note", "Keep the note under %d characters of plain text.", MaxNoteLength)
	}
	return nil
}

// ValidateTracking checks a shipment's tracking reference.
func ValidateTracking(tracking string) error {
	t := strings.TrimSpace(tracking)
	if t == "" || len(t) > 100 || !utf8.ValidString(t) || strings.ContainsRune(t, 0) {
		return FieldError("tracking", "Enter the shipment's tracking reference (up to 100 characters).")
	}
	return nil
}

// TransferApprovalShort is the 409 insufficient_stock answer to an
// approval the origin's stock no longer covers, with the current figures.
func TransferApprovalShort(origin string, short []ShortLine) *Error {
	parts := make([]string, len(short))
	for i, s := range short {
		parts[i] = fmt.Sprintf("%s: %d requested, %d available", s.SKU, s.Requested, s.Available)
	}
	return InsufficientStock(fmt.Sprintf("%s no longer has the stock for this transfer (%s); nothing was approved.", origin, strings.Join(parts, "; ")), short)
}

// TransferAvailable is what an origin can give a transfer: its ATP with no
// channel's safety stock (a transfer is not a sale).
func TransferAvailable(p Position) int { return ATP(p, 0) }

// Step is one ledger reason and the movements written under it.
type Step struct {
	Reason Reason
	Moves  []Movement
}

// Transfer reason codes beyond the common set.
const (
	ReasonTransferRelease Reason = "transfer_release" // approved, not shipped: back to sellable
)

// ApproveSteps puts n units into the origin's transfer_out.
func ApproveSteps(n int) []Step {
	return []Step{{ReasonTransferOut, []Movement{{TransferOut, n}}}}
}

// ShipSteps is what shipping n of approved units does at the origin and
// at the destination: they leave on_hand and transfer_out at the origin,
// the rest of the approved units go back to sellable, and the shipped ones
// appear in the destination's in_transit_in.
func ShipSteps(approved, n int) (origin, dest []Step) {
	if n > 0 {
		origin = append(origin, Step{ReasonTransferOut, []Movement{{OnHand, -n}, {TransferOut, -n}}})
		dest = append(dest, Step{ReasonTransferIn, []Movement{{InTransitIn, n}}})
	}
	if approved > n {
		origin = append(origin, Step{ReasonTransferRelease, []Movement{{TransferOut, -(approved - n)}}})
	}
	return origin, dest
}

// CancelSteps returns the approved units from transfer_out to sellable.
func CancelSteps(approved int) []Step {
	if approved == 0 {
		return nil
	}
	return []Step{{ReasonTransferRelease, []Movement{{TransferOut, -approved}}}}
}

// ReceiveSteps is what receiving qty units of a line (damaged of them
// damaged) does at the destination: up to what is outstanding leaves
// in_transit_in, every unit arrives on_hand, damaged ones also in damaged.
func ReceiveSteps(l TransferLine, qty, damaged int) []Step {
	var out []Step
	if qty > 0 {
		out = append(out, Step{ReasonReceived, []Movement{{InTransitIn, -min(qty, l.Outstanding())}, {OnHand, qty}}})
	}
	if damaged > 0 {
		out = append(out, Step{ReasonDamaged, []Movement{{Damaged, damaged}}})
	}
	return out
}

// LostSteps writes off n units still in transit.
func LostSteps(n int) []Step {
	return []Step{{ReasonShrinkage, []Movement{{InTransitIn, -n}}}}
}

// ReceiptLine is one SKU of a receipt.
type ReceiptLine struct {
	SKU     string `json:"sku"`
	Qty     int    `json:"qty"`
	Damaged int    `json:"damaged"`
}

// Validate checks one receipt line at index i.
func (r ReceiptLine) Validate(i int) error {
	if r.Qty < 0 || r.Qty > MaxQuantity {
		return FieldError(fmt.Sprintf("lines[%d].qty", i), "Quantity for %s must be between 0 and %d.", r.SKU, MaxQuantity)
	}
	if r.Damaged < 0 || r.Damaged > r.Qty {
		return FieldError(fmt.Sprintf("lines[%d].damaged", i), "Damaged units of %s count within qty (0 to %d).", r.SKU, r.Qty)
	}
	return nil
}

// ValidateReceipt checks every line of a receipt, and that the lines of
// one SKU do not add up past MaxQuantity (each line may be in bounds and
// their sum still overflow what a quantity can hold).
func ValidateReceipt(lines []ReceiptLine) error {
	sum := map[string]int{}
	for i, l := range lines {
		if err := l.Validate(i); err != nil {
			return err
		}
		if sum[l.SKU] += l.Qty; sum[l.SKU] > MaxQuantity {
			return FieldError(fmt.Sprintf("lines[%d].qty", i), "The lines for %s add up to more than %d units.", l.SKU, MaxQuantity)
		}
	}
	return nil
}

// ApprovalRule approves matching requests at once.
type ApprovalRule struct {
	ID            int64     `db:"id"`
	Name          string    `db:"name"`
	SameRegion    bool      `db:"same_region"`
	MaxUnits      int       `db:"max_units"`
	MaxValueCents int64     `db:"max_value_cents"`
	Enabled       bool      `db:"enabled"`
	UpdatedAt     time.Time `db:"updated_at"`
	UpdatedBy     string    `db:"updated_by"`
}

// Validate checks a rule's fields.
func (r ApprovalRule) Validate() error {
	if n := strings.TrimSpace(r.Name); n == "" || len(n) > 100 {
		return FieldError("name", "Name the rule (up to 100 characters).")
	}
	if r.MaxUnits <= 0 || r.MaxUnits > MaxQuantity {
		return FieldError("max_units", "Units must be between 1 and %d.", MaxQuantity)
	}
	if r.MaxValueCents <= 0 {
		return FieldError("max_value", "The value limit must be above zero.")
	}
	return nil
}

// Matches reports whether the rule approves a transfer of units worth
// valueCents from one location to another: enabled, within one region
// when the rule says so, and under both limits.
func (r ApprovalRule) Matches(from, to Location, units int, valueCents int64) bool {
	return r.Enabled && (!r.SameRegion || from.Region == to.Region) && units < r.MaxUnits && valueCents < r.MaxValueCents
}

// MayApprove reports whether the user may approve or reject a transfer
// whose origin is origin: a manager whose scope holds the origin, or an
// admin.
func MayApprove(u *User, origin string) bool {
	switch u.Role {
	case RoleAdmin:
		return true
	case RoleManager:
		return u.CanSeeLocation(origin)
	}
	return false
}

// TransferVisible reports whether a scoped user may see the transfer: its
// origin or its destination is theirs.
func TransferVisible(u *User, t Transfer) bool {
	return u.CanSeeLocation(t.From) || u.CanSeeLocation(t.To)
}

// TransferStatusLabel is the status in words.
func TransferStatusLabel(s TransferStatus) string {
	switch s {
	case TransferRequested:
		return "Awaiting approval"
	case TransferApproved:
		return "Approved, to ship"
	case TransferRejected:
		return "Rejected"
	case TransferShipped:
		return "In transit"
	case TransferReceived:
		return "Received"
	case TransferCancelled:
		return "Cancelled"
	}
	return string(s)
}
