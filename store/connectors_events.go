package store

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/lib/pq"

	"stockline/domain"
)

// storedEventRow is an inbound_events row as scanned.
type storedEventRow struct {
	domain.StoredEvent
	OccurredAt sql.NullTime `db:"occurred_at"`
	AppliedAt  sql.NullTime `db:"applied_at"`
}

func (r storedEventRow) event() domain.StoredEvent {
	e := r.StoredEvent
	e.OccurredAt, e.AppliedAt = r.OccurredAt.Time, r.AppliedAt.Time
	return e
}

const storedEventCols = `id, connector_id, source_event_id, type, occurred_at, received_at, applied_at, via, delivery_id,
	status, pending_reason, note, payload`

// RecentEvents returns one page of a connector's events, newest first,
// older than beforeID (0: the newest), and the beforeID of the next page.
func (db *DB) RecentEvents(ctx context.Context, connectorID, beforeID int64, limit int) ([]domain.StoredEvent, int64, error) {
	if limit <= 0 || limit > 200 {
		limit = 25
	}
	// Keyset by (received_at, id) on the inbound_events_received index.
	out, err := selectAs(ctx, db, storedEventRow.event, `SELECT `+storedEventCols+` FROM inbound_events
		WHERE connector_id = $1 AND ($2 = 0 OR (received_at, id) < (SELECT received_at, id FROM inbound_events WHERE id = $2))
		ORDER BY received_at DESC, id DESC LIMIT $3`, connectorID, beforeID, limit+1)
	if err != nil {
		return nil, 0, fmt.Errorf("store: recent events: %w", err)
	}
	var next int64
	if len(out) > limit {
		out = out[:limit]
		next = out[len(out)-1].ID
	}
	return out, next, nil
}

// EventByID returns one stored event, or ENOTFOUND.
func (db *DB) EventByID(ctx context.Context, id int64) (domain.StoredEvent, error) {
	e, err := getAs(ctx, db, storedEventRow.event, `SELECT `+storedEventCols+` FROM inbound_events WHERE id = $1`, id)
	return e, notFound(err, "Event %d does not exist.", id)
}

// PendingEvents returns up to limit of a connector's pending events in
// source order, optionally only those pending for one of reasons.
func (db *DB) PendingEvents(ctx context.Context, connectorID int64, reasons []string, limit int) ([]domain.StoredEvent, error) {
	if limit <= 0 {
		limit = 500
	}
	out, err := selectAs(ctx, db, storedEventRow.event, `SELECT `+storedEventCols+` FROM inbound_events
		WHERE connector_id = $1 AND status = 'pending' AND (cardinality($2::text[]) = 0 OR pending_reason = ANY($2::text[]))
		ORDER BY occurred_at NULLS FIRST, id LIMIT $3`, connectorID, feedStrings(reasons), limit)
	if err != nil {
		return nil, fmt.Errorf("store: pending events: %w", err)
	}
	return out, nil
}

// ConnectorEventCounts counts a connector's events by status. It reads
// the small statuses exactly and takes applied from the connector's
// running total, so it stays cheap on feeds with millions of events.
func (db *DB) ConnectorEventCounts(ctx context.Context, connectorID int64) (domain.EventCounts, error) {
	var r domain.EventCounts
	err := db.QueryRowContext(ctx, `SELECT
			(SELECT count(*) FROM inbound_events WHERE connector_id = $1 AND status = 'pending'),
			(SELECT count(*) FROM inbound_events WHERE connector_id = $1 AND status = 'dead'),
			(SELECT count(*) FROM inbound_events WHERE connector_id = $1 AND status = 'dismissed'),
			(SELECT count(*) FROM dead_letters WHERE connector_id = $1 AND status = 'open'),
			(SELECT events_total FROM connectors WHERE id = $1)`, connectorID).
		Scan(&r.Pending, &r.Dead, &r.Dismissed, &r.OpenDeadLetters, &r.Applied)
	if err != nil {
		return r, fmt.Errorf("store: event counts: %w", err)
	}
	r.Applied -= r.Pending + r.Dead + r.Dismissed
	if r.Applied < 0 {
		r.Applied = 0
	}
	return r, nil
}

// deadLetterRow is a dead letter with its event as scanned.
type deadLetterRow struct {
	domain.DeadLetter
	ResolvedAt sql.NullTime `db:"resolved_at"`
	OccurredAt sql.NullTime `db:"occurred_at"`
}

func (r deadLetterRow) letter() domain.DeadLetter {
	d := r.DeadLetter
	d.ResolvedAt, d.OccurredAt = r.ResolvedAt.Time, r.OccurredAt.Time
	return d
}

const deadLetterCols = `d.id, d.connector_id, d.inbound_event_id, d.error, d.status, d.attempts, d.created_at, d.updated_at,
	d.resolved_at, d.resolved_by, e.source_event_id, e.type, e.occurred_at, e.via, e.payload`

// DeadLetters returns one page of a connector's dead letters in status
// (open, retried, dismissed; "" for all), newest first.
func (db *DB) DeadLetters(ctx context.Context, connectorID int64, status string, beforeID int64, limit int) ([]domain.DeadLetter, int64, error) {
	if limit <= 0 || limit > 200 {
		limit = 25
	}
	if beforeID <= 0 {
		beforeID = 1<<63 - 1
	}
	out, err := selectAs(ctx, db, deadLetterRow.letter, `SELECT `+deadLetterCols+` FROM dead_letters d JOIN inbound_events e ON e.id = d.inbound_event_id
		WHERE d.connector_id = $1 AND ($2 = '' OR d.status = $2) AND d.id < $3 ORDER BY d.id DESC LIMIT $4`,
		connectorID, status, beforeID, limit+1)
	if err != nil {
		return nil, 0, fmt.Errorf("store: dead letters: %w", err)
	}
	var next int64
	if len(out) > limit {
		out = out[:limit]
		next = out[len(out)-1].ID
	}
	return out, next, nil
}

// DeadLetterByID returns one dead letter, or ENOTFOUND.
func (db *DB) DeadLetterByID(ctx context.Context, id int64) (domain.DeadLetter, error) {
	d, err := getAs(ctx, db, deadLetterRow.letter, `SELECT `+deadLetterCols+` FROM dead_letters d JOIN inbound_events e ON e.id = d.inbound_event_id
		WHERE d.id = $1`, id)
	return d, notFound(err, "Dead letter %d does not exist.", id)
}

// DismissDeadLetter closes an open dead letter without applying its event;
// the event becomes dismissed. Errors: ENOTFOUND, ECONFLICT (not open).
func (db *DB) DismissDeadLetter(ctx context.Context, actor domain.Actor, id int64, note string) error {
	return db.InTx(ctx, func(tx *Tx) error {
		var d struct {
			Status  string `db:"status"`
			EventID int64  `db:"inbound_event_id"`
			Conn    int64  `db:"connector_id"`
		}
		if err := tx.GetContext(ctx, &d, `SELECT status, inbound_event_id, connector_id FROM dead_letters WHERE id = $1 FOR UPDATE`, id); err != nil {
			return notFound(err, "Dead letter %d does not exist.", id)
		}
		if d.Status != "open" {
			return domain.Errorf(domain.ECONFLICT, "Dead letter %d is already %s.", id, d.Status)
		}
		if _, err := tx.ExecContext(ctx, `UPDATE dead_letters SET status = 'dismissed', resolved_at = now(), resolved_by = $2, updated_at = now()
			WHERE id = $1`, id, actor.String()); err != nil {
			return fmt.Errorf("store: dismiss dead letter: %w", err)
		}
		if _, err := tx.ExecContext(ctx, `UPDATE inbound_events SET status = 'dismissed', note = $2 WHERE id = $1 AND status = 'dead'`,
			d.EventID, feedTruncate("Dismissed: "+note, 500)); err != nil {
			return fmt.Errorf("store: dismiss event: %w", err)
		}
		return insertAudit(ctx, tx, actor, "connector.dead_letter.dismiss", "dead_letter", fmt.Sprint(id), nil, map[string]any{"note": note})
	})
}

// RecordWebhookDelivery notes a webhook delivery id; seen is true when the
// same delivery came before (the caller answers 200 and does nothing).
func (db *DB) RecordWebhookDelivery(ctx context.Context, connectorID int64, deliveryID, topic string) (seen bool, err error) {
	if deliveryID == "" {
		return false, nil
	}
	res, err := db.ExecContext(ctx, `INSERT INTO webhook_deliveries (connector_id, delivery_id, topic) VALUES ($1, $2, $3)
		ON CONFLICT DO NOTHING`, connectorID, feedTruncate(deliveryID, 200), feedTruncate(topic, 100))
	if err != nil {
		return false, fmt.Errorf("store: webhook delivery: %w", err)
	}
	n, _ := res.RowsAffected()
	return n == 0, nil
}

// ForgetWebhookDelivery removes a delivery record, so a delivery whose
// events failed to store is processed again when the platform retries it.
func (db *DB) ForgetWebhookDelivery(ctx context.Context, connectorID int64, deliveryID string) error {
	_, err := db.ExecContext(ctx, `DELETE FROM webhook_deliveries WHERE connector_id = $1 AND delivery_id = $2`, connectorID, deliveryID)
	return err
}

// feedStrings is a text[] parameter that is '{}' rather than NULL when empty.
func feedStrings(s []string) any {
	if s == nil {
		s = []string{}
	}
	return pq.Array(s)
}
