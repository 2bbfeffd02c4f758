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

// storeFeedEvents inserts new events (ON CONFLICT DO NOTHING: a known id is a
// duplicate) or claims stored ones still pending or dead, and returns the
// events this transaction owns, in order.
func storeFeedEvents(ctx context.Context, tx *Tx, c Connector, preps []*feedEvent, stored bool) ([]*feedEvent, error) {
	if stored {
		var out []*feedEvent
		for _, p := range preps {
			var id int64
			err := tx.GetContext(ctx, &id, `UPDATE inbound_events SET payload = $2, status = $3, pending_reason = $4, note = $5,
					applied_at = CASE WHEN $3 = 'applied' THEN now() END, occurred_at = COALESCE($6, occurred_at)
				WHERE id = $1 AND connector_id = $7 AND status IN ('pending', 'dead') RETURNING id`,
				p.ev.ID, feedPayloadText(p.ev.Payload), p.status, p.reason, p.note, feedNullTime(p.ev.OccurredAt), c.ID)
			if err != nil {
				if feedNoRows(err) {
					continue
				}
				return nil, fmt.Errorf("store: claim event: %w", err)
			}
			p.id = id
			out = append(out, p)
		}
		return out, nil
	}
	if err := stageFeedEvents(ctx, tx, preps); err != nil {
		return nil, err
	}
	n := len(preps)
	rows, err := tx.QueryContext(ctx, `INSERT INTO inbound_events (connector_id, source_event_id, type, occurred_at, via, delivery_id,
			status, pending_reason, note, payload, applied_at)
		SELECT $1, id, type, occ, via, deliv, stat, reason, note, payload, CASE WHEN stat = 'applied' THEN now() END
		FROM feed_stage ORDER BY ord
		ON CONFLICT (connector_id, source_event_id) DO NOTHING
		RETURNING id, source_event_id`, c.ID)
	if err != nil {
		return nil, fmt.Errorf("store: insert events: %w", err)
	}
	defer rows.Close()
	got := make(map[string]int64, n)
	for rows.Next() {
		var id int64
		var sid string
		if err := rows.Scan(&id, &sid); err != nil {
			return nil, err
		}
		got[sid] = id
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: insert events: %w", err)
	}
	out := make([]*feedEvent, 0, len(got))
	for _, p := range preps {
		if id, ok := got[p.ev.SourceEventID]; ok {
			p.id = id
			out = append(out, p)
		}
	}
	return out, nil
}

// stageFeedEvents copies a batch's events into this session's feed_stage
// table (emptied at every commit, so each ingest transaction starts with
// it empty) for storeFeedEvents' one insert. COPY instead of one array
// parameter per column: escaping every payload's quotes into an array
// literal and parsing it back made storing 200,000 events take 5.6–6.3 s,
// against 4.2–4.3 s with COPY (stockbench's ingest section, README).
func stageFeedEvents(ctx context.Context, tx *Tx, preps []*feedEvent) error {
	if _, err := tx.ExecContext(ctx, `CREATE TEMP TABLE IF NOT EXISTS feed_stage (ord int, id text, type text, occ timestamptz,
		via text, deliv text, stat text, reason text, note text, payload text) ON COMMIT DELETE ROWS`); err != nil {
		return fmt.Errorf("store: event staging: %w", err)
	}
	stmt, err := tx.PrepareContext(ctx, pq.CopyIn("feed_stage", "ord", "id", "type", "occ", "via", "deliv", "stat", "reason", "note", "payload"))
	if err != nil {
		return fmt.Errorf("store: event staging: %w", err)
	}
	defer stmt.Close()
	for i, p := range preps {
		typ, via := p.ev.Type, p.ev.Via
		if typ == "" {
			typ = "unknown"
		}
		if via == "" {
			via = "pull"
		}
		var occ any
		if !p.ev.OccurredAt.IsZero() {
			occ = p.ev.OccurredAt
		}
		if _, err := stmt.ExecContext(ctx, i, p.ev.SourceEventID, typ, occ, via, p.ev.DeliveryID, p.status, p.reason, p.note,
			feedPayloadText(p.ev.Payload)); err != nil {
			return fmt.Errorf("store: event staging: %w", err)
		}
	}
	if _, err := stmt.ExecContext(ctx); err != nil {
		return fmt.Errorf("store: event staging: %w", err)
	}
	return stmt.Close()
}
