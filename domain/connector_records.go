package domain

import (
	"encoding/json"
	"time"
)

// Read models of the connector registry and its inbound events. As in
// order.go, a column that may be NULL reads as its zero value.

// Connector is one feed in the registry with its health record.
type Connector struct {
	ID               int64           `db:"id"`
	Name             string          `db:"name"`
	Kind             string          `db:"kind"`
	Adapter          string          `db:"adapter"`
	BaseURL          string          `db:"base_url"`
	CredentialRef    string          `db:"credential_ref"`    // "env:NAME", or "" when sealed or none
	CredentialSealed []byte          `db:"credential_sealed"` // AES-GCM sealed secret; nil when none
	CredentialHint   string          `db:"credential_hint"`   // safe to show: "env:NAME" or "••••abcd"
	Settings         json.RawMessage `db:"settings"`
	PollSeconds      int             `db:"poll_interval_seconds"`
	StaleSeconds     int             `db:"stale_after_seconds"`
	Enabled          bool            `db:"enabled"`
	Simulated        bool            `db:"simulated"`
	LastAttemptAt    time.Time       `db:"last_attempt_at"` // zero: never attempted
	LastSuccessAt    time.Time       `db:"last_success_at"` // zero: never succeeded
	LastSourceAt     time.Time       `db:"last_source_at"`  // zero: no event seen yet
	NextAttemptAt    time.Time       `db:"next_attempt_at"` // zero: none scheduled
	ErrorCount       int             `db:"error_count"`
	ErrorsTotal      int64           `db:"errors_total"`
	LastError        string          `db:"last_error"`
	LastErrorAt      time.Time       `db:"last_error_at"` // zero: no error yet
	EventsTotal      int64           `db:"events_total"`
	CreatedAt        time.Time       `db:"created_at"`
	UpdatedAt        time.Time       `db:"updated_at"`
}

// PollInterval is how long the loop waits between rounds.
func (c Connector) PollInterval() time.Duration { return time.Duration(c.PollSeconds) * time.Second }

// StaleAfter is how long without a successful pull makes the feed stale.
func (c Connector) StaleAfter() time.Duration { return time.Duration(c.StaleSeconds) * time.Second }

// StoredEvent is an inbound_events row as pages and retries see it.
type StoredEvent struct {
	ID            int64     `db:"id"`
	ConnectorID   int64     `db:"connector_id"`
	SourceEventID string    `db:"source_event_id"`
	Type          string    `db:"type"`
	OccurredAt    time.Time `db:"occurred_at"` // zero when the source gave no time
	ReceivedAt    time.Time `db:"received_at"`
	AppliedAt     time.Time `db:"applied_at"` // zero until applied
	Via           string    `db:"via"`
	DeliveryID    string    `db:"delivery_id"`
	Status        string    `db:"status"`
	PendingReason string    `db:"pending_reason"`
	Note          string    `db:"note"`
	Payload       string    `db:"payload"`
}

// Pending reasons: why an event waits instead of being applied.
const (
	PendingNoOrderSink   = "no_order_sink"   // orders are not built into this version yet
	PendingPaused        = "paused"          // the connector is paused
	PendingOrderNotFound = "order_not_found" // a cancel arrived before its order
)

// EventCounts is how many of a connector's events are in each status.
type EventCounts struct {
	Applied, Pending, Dead, Dismissed int
	OpenDeadLetters                   int
}

// DeadLetter is a dead_letters row with its event.
type DeadLetter struct {
	ID            int64     `db:"id"`
	ConnectorID   int64     `db:"connector_id"`
	EventID       int64     `db:"inbound_event_id"`
	Error         string    `db:"error"`
	Status        string    `db:"status"`
	Attempts      int       `db:"attempts"`
	CreatedAt     time.Time `db:"created_at"`
	UpdatedAt     time.Time `db:"updated_at"`
	ResolvedAt    time.Time `db:"resolved_at"` // zero while open
	ResolvedBy    string    `db:"resolved_by"`
	SourceEventID string    `db:"source_event_id"`
	Type          string    `db:"type"`
	OccurredAt    time.Time `db:"occurred_at"` // zero when the source gave no time
	Via           string    `db:"via"`
	Payload       string    `db:"payload"`
}
