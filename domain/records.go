package domain

import (
	"encoding/json"
	"fmt"
	"time"
)

// Read models of the records the pages list: exceptions, counts, the audit
// log, users and tokens, notifications, locations and reservations. As in
// order.go, a column that may be NULL reads as its zero value.

// ExceptionRow is an exception as listed on pages.
type ExceptionRow struct {
	ID        int64     `db:"id"`
	Kind      string    `db:"kind"`
	Severity  string    `db:"severity"`
	Status    string    `db:"status"`
	Location  string    `db:"location"` // location code, or "" when none
	SKU       string    `db:"sku"`      // or "" when none
	Ref       string    `db:"ref"`
	Title     string    `db:"title"`
	Detail    string    `db:"detail"`
	DueAt     time.Time `db:"due_at"` // zero when there is no SLA
	CreatedAt time.Time `db:"created_at"`
}

// ExceptionDetail is an exception with its assignee and resolution.
type ExceptionDetail struct {
	ExceptionRow
	Assignee       string    `db:"assignee"`
	ResolutionCode string    `db:"resolution_code"`
	ResolutionNote string    `db:"resolution_note"`
	ResolvedAt     time.Time `db:"resolved_at"` // zero while open
	UpdatedAt      time.Time `db:"updated_at"`
	OrderID        int64     `db:"order_id"`    // 0 when not about an order
	TransferID     int64     `db:"transfer_id"` // 0 when not about a transfer
	// Action is the action that closed it ("" while open, or when the
	// system or the generic close form closed it).
	Action     ExceptionAction `db:"resolution_action"`
	ResolvedBy string          `db:"resolved_by"` // actor string of whoever closed it
	OwnerRole  string          `db:"owner_role"`  // "" means the kind's usual owner
	// Data holds kind-specific figures as JSON (a drift's DriftData).
	Data json.RawMessage `db:"data"`
}

// Closed reports whether the exception is resolved or dismissed.
func (e ExceptionDetail) Closed() bool {
	return e.Status == ExceptionResolved || e.Status == ExceptionDismissed
}

// KindCount is how many open exceptions there are of one kind.
type KindCount struct {
	Kind    string `db:"kind"`
	Count   int    `db:"count"`
	Overdue int    `db:"overdue"`
}

// CountUpload is an uploaded cycle count file, validated and maybe applied.
type CountUpload struct {
	ID          int64           `db:"id"`
	LocationID  int64           `db:"location_id"`
	Location    string          `db:"location"`
	Timezone    string          `db:"timezone"`
	Filename    string          `db:"filename"`
	UploadedBy  string          `db:"uploaded_by"`
	TotalRows   int             `db:"total_rows"`
	Rows        json.RawMessage `db:"rows"`   // the valid lines, as the handler stored them
	Errors      json.RawMessage `db:"errors"` // [{line, message}]
	Status      string          `db:"status"` // validated or applied
	AppliedRows int             `db:"applied_rows"`
	ChangedRows int             `db:"changed_rows"`
	CreatedAt   time.Time       `db:"created_at"`
	AppliedAt   time.Time       `db:"applied_at"` // zero until applied
	ErrorCount  int             `db:"error_count"`
	ValidCount  int             `db:"valid_count"`
}

// LineError is a problem on one line of a count file.
type LineError struct {
	Line    int    `json:"line"`
	Message string `json:"message"`
}

func (e LineError) String() string { return fmt.Sprintf("line %d: %s", e.Line, e.Message) }

// Audit is one audit_log row: who did what to which record, with the
// record's state before and after.
type Audit struct {
	ID        int64            `db:"id"`
	At        time.Time        `db:"at"`
	Actor     string           `db:"actor"`
	Action    string           `db:"action"`
	Entity    string           `db:"entity"`
	EntityID  string           `db:"entity_id"`
	Before    *json.RawMessage `db:"before"`
	After     *json.RawMessage `db:"after"`
	RequestID string           `db:"request_id"`
}

// UserSummary is a user as the admin pages show them: the user plus when
// they were added and how many sessions they have open.
type UserSummary struct {
	*User
	CreatedAt      time.Time
	ActiveSessions int
}

// APIToken is an API token as the admin page lists it (never the secret).
type APIToken struct {
	ID         int64     `db:"id"`
	Name       string    `db:"name"`
	Prefix     string    `db:"prefix"`
	Scopes     []string  `db:"scopes"`
	CreatedAt  time.Time `db:"created_at"`
	LastUsedAt time.Time `db:"last_used_at"` // zero when never used
	RevokedAt  time.Time `db:"revoked_at"`   // zero while valid
}

// Revoked reports whether the token was revoked.
func (t APIToken) Revoked() bool { return !t.RevokedAt.IsZero() }

// Notification is a customer message queued for an order.
type Notification struct {
	ID        int64     `db:"id"`
	OrderID   int64     `db:"order_id"`
	Number    string    `db:"number"`
	Kind      string    `db:"kind"`
	Channel   string    `db:"channel"`
	Recipient string    `db:"recipient"`
	Subject   string    `db:"subject"`
	Body      string    `db:"body"`
	Status    string    `db:"status"`
	Attempts  int       `db:"attempts"`
	LastError string    `db:"last_error"`
	SentVia   string    `db:"sent_via"`
	CreatedAt time.Time `db:"created_at"`
	SentAt    time.Time `db:"sent_at"` // zero until sent
}

// LocationSummary is a location with the counts the locations list shows.
type LocationSummary struct {
	Location
	OpenExceptions int `db:"open_exceptions"`
}

// LocationHolds is what is held at one location: reservation lines, units,
// and lines past their expiry.
type LocationHolds struct {
	Location string `db:"location"`
	Lines    int    `db:"lines"`
	Units    int    `db:"units"`
	Overdue  int    `db:"overdue"` // lines past their expiry (holds about to be swept, committed ones waiting)
}

// ReservationRow is one reservation line as the reservations page lists it.
type ReservationRow struct {
	ID          int64     `db:"id"`
	LineNo      int       `db:"line_no"`
	Channel     string    `db:"channel"`
	Status      string    `db:"status"`
	SKU         string    `db:"sku"`
	ProductName string    `db:"product_name"`
	Location    string    `db:"location"`
	Timezone    string    `db:"timezone"`
	Qty         int       `db:"qty"`
	ExpiresAt   time.Time `db:"expires_at"`
	CreatedAt   time.Time `db:"created_at"`
	CheckoutRef string    `db:"checkout_ref"`
	OrderRef    string    `db:"order_ref"`
}

// ExceptionEvent is one entry of an exception's own timeline.
type ExceptionEvent struct {
	ID      int64     `db:"id"`
	At      time.Time `db:"at"`
	Actor   string    `db:"actor"`
	Kind    string    `db:"kind"` // opened, assigned, action, resolved, dismissed, in_progress
	Message string    `db:"message"`
}

// ExceptionAlert is a message about a new critical exception, sent by the
// alert worker to a webhook or by email.
type ExceptionAlert struct {
	ID          int64  `db:"id"`
	ExceptionID int64  `db:"exception_id"`
	Kind        string `db:"kind"`
	Severity    string `db:"severity"`
	Location    string `db:"location"` // code, or ""
	Title       string `db:"title"`
	Detail      string `db:"detail"`
	Attempts    int    `db:"attempts"`
}
