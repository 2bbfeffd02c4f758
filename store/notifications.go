package store

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/lib/pq"

	"stockline/domain"
)

// NotificationTemplates returns every customer message template in the
// order domain.NotificationKinds lists them.
func (db *DB) NotificationTemplates(ctx context.Context) ([]domain.NotificationTemplate, error) {
	var rows []domain.NotificationTemplate
	if err := db.SelectContext(ctx, &rows, `SELECT kind, subject, body, enabled FROM notification_templates`); err != nil {
		return nil, fmt.Errorf("store: notification templates: %w", err)
	}
	byKind := map[string]domain.NotificationTemplate{}
	for _, r := range rows {
		byKind[r.Kind] = r
	}
	out := make([]domain.NotificationTemplate, 0, len(rows))
	for _, k := range domain.NotificationKinds {
		if t, ok := byKind[k]; ok {
			out = append(out, t)
		}
	}
	return out, nil
}

// SaveNotificationTemplate validates and stores an edited template, with an
// audit row; it applies to messages queued from then on. Errors: EINVALID.
func (db *DB) SaveNotificationTemplate(ctx context.Context, actor domain.Actor, t domain.NotificationTemplate) error {
	t.Subject, t.Body = strings.TrimSpace(t.Subject), strings.TrimSpace(t.Body)
	if err := t.Validate(); err != nil {
		return err
	}
	return db.InTx(ctx, func(tx *Tx) error {
		var before domain.NotificationTemplate
		_ = tx.GetContext(ctx, &before, `SELECT kind, subject, body, enabled FROM notification_templates WHERE kind = $1 FOR UPDATE`, t.Kind)
		if _, err := tx.ExecContext(ctx, `INSERT INTO notification_templates (kind, subject, body, enabled, updated_at, updated_by)
			VALUES ($1, $2, $3, $4, now(), $5) ON CONFLICT (kind) DO UPDATE SET subject = EXCLUDED.subject, body = EXCLUDED.body,
			enabled = EXCLUDED.enabled, updated_at = now(), updated_by = EXCLUDED.updated_by`,
			t.Kind, t.Subject, t.Body, t.Enabled, actor.String()); err != nil {
			return fmt.Errorf("store: save template: %w", err)
		}
		return insertAudit(ctx, tx, actor, "notification_template.save", "notification_template", t.Kind, before, t)
	})
}

// queueNotification renders the template for kind with the order's facts
// and vars and queues the message inside tx: a notifications row, an
// outbox row (topic notification.queued) that wakes the sender, and a
// timeline event. A disabled template or a customer with no email records
// the message as skipped, so the timeline still says why nobody was told.
func queueNotification(ctx context.Context, tx *Tx, o *Order, kind string, vars map[string]string, ch *orderChange) error {
	var t domain.NotificationTemplate
	err := tx.GetContext(ctx, &t, `SELECT kind, subject, body, enabled FROM notification_templates WHERE kind = $1`, kind)
	if err == sql.ErrNoRows {
		return nil
	} else if err != nil {
		return fmt.Errorf("store: template: %w", err)
	}
	v := map[string]string{"customer": firstNonEmpty(o.CustomerName, "customer"), "order": o.Number,
		"store": firstNonEmpty(o.PickupLocationName, o.PickupLocation), "items": orderItems(o), "tracking": "", "reason": ""}
	for k, x := range vars {
		v[k] = x
	}
	status, why := "queued", ""
	switch {
	case !t.Enabled:
		status, why = "skipped", "the template is switched off"
	case o.CustomerEmail == "":
		status, why = "skipped", "the customer has no email address"
	}
	var id int64
	err = tx.GetContext(ctx, &id, `INSERT INTO notifications (order_id, kind, recipient, subject, body, status, last_error)
		VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id`, o.ID, kind, o.CustomerEmail,
		domain.RenderNotification(t.Subject, v), domain.RenderNotification(t.Body, v), status, why)
	if err != nil {
		return fmt.Errorf("store: queue notification: %w", err)
	}
	label := notificationName(kind)
	if status == "skipped" {
		ch.event("notification", fmt.Sprintf("Did not send the %q message: %s.", label, why), notificationLink(id))
		return nil
	}
	ch.event("notification", fmt.Sprintf("Queued the %q email to %s.", label, o.CustomerEmail), notificationLink(id))
	return insertOutbox(ctx, tx, "notification.queued", map[string]any{"id": id, "order_id": o.ID, "kind": kind})
}

func notificationLink(id int64) string { return fmt.Sprintf("/notifications/%d", id) }

func notificationName(kind string) string {
	return strings.ReplaceAll(kind, "_", " ")
}

func firstNonEmpty(s ...string) string {
	for _, x := range s {
		if x != "" {
			return x
		}
	}
	return ""
}

func orderItems(o *Order) string {
	var s []string
	for _, l := range o.Lines {
		if n := l.Qty - l.Moved; n > 0 {
			s = append(s, fmt.Sprintf("%d × %s", n, l.ProductName))
		}
	}
	return strings.Join(s, ", ")
}

// notificationRow is a notification as scanned.
type notificationRow struct {
	domain.Notification
	SentAt sql.NullTime `db:"sent_at"`
}

func (r notificationRow) notification() domain.Notification {
	n := r.Notification
	n.SentAt = r.SentAt.Time
	return n
}

const notificationSelect = `SELECT n.id, n.order_id, o.number, n.kind, n.channel, n.recipient, n.subject, n.body, n.status, n.attempts,
	n.last_error, n.sent_via, n.created_at, n.sent_at FROM notifications n JOIN orders o ON o.id = n.order_id`

// Notifications lists messages newest first, paging backwards from
// beforeID (0: newest); the local outbox page of the demo.
func (db *DB) Notifications(ctx context.Context, beforeID int64, limit int) ([]domain.Notification, error) {
	if limit <= 0 || limit > 200 {
		limit = 50
	}
	if beforeID <= 0 {
		beforeID = 1 << 62
	}
	out, err := selectAs(ctx, db, notificationRow.notification, notificationSelect+` WHERE n.id < $1 ORDER BY n.id DESC LIMIT $2`, beforeID, limit)
	if err != nil {
		return nil, fmt.Errorf("store: notifications: %w", err)
	}
	return out, nil
}

// NotificationByID returns one message, or ENOTFOUND.
func (db *DB) NotificationByID(ctx context.Context, id int64) (domain.Notification, error) {
	n, err := getAs(ctx, db, notificationRow.notification, notificationSelect+` WHERE n.id = $1`, id)
	if err != nil {
		return n, notFound(err, "There is no notification %d.", id)
	}
	return n, nil
}

// SendFunc delivers one message and names how ("smtp", "local outbox").
type SendFunc func(ctx context.Context, n domain.Notification) (via string, err error)

// MaxNotificationAttempts is how often a failing message is tried before
// it is marked failed.
const MaxNotificationAttempts = 5

// SendQueuedNotifications delivers up to limit queued messages with send,
// each in its own transaction that locks it (SKIP LOCKED, so several
// instances may send at once), records the outcome and adds a timeline
// event to the order. A message whose send fails stays queued until
// MaxNotificationAttempts, then is marked failed. It returns how many it
// handled. Delivery is at least once: a crash between sending and
// committing sends that message again.
func (db *DB) SendQueuedNotifications(ctx context.Context, send SendFunc, limit int) (int, error) {
	done := 0
	for done < limit {
		handled := false
		err := db.InTx(ctx, func(tx *Tx) error {
			n, err := getAs(ctx, tx, notificationRow.notification, notificationSelect+` WHERE n.status = 'queued' ORDER BY n.id LIMIT 1 FOR UPDATE OF n SKIP LOCKED`)
			if err == sql.ErrNoRows {
				return nil
			} else if err != nil {
				return fmt.Errorf("store: next notification: %w", err)
			}
			handled = true
			via, serr := send(ctx, n)
			now := db.stamp()
			actor := domain.SystemActor("notifier")
			var msg string
			if serr == nil {
				_, err = tx.ExecContext(ctx, `UPDATE notifications SET status = 'sent', attempts = attempts + 1, sent_via = $2, sent_at = $3, last_error = '' WHERE id = $1`,
					n.ID, via, now)
				msg = fmt.Sprintf("Delivered the %q email to %s via %s.", notificationName(n.Kind), n.Recipient, via)
			} else {
				status := "queued"
				if n.Attempts+1 >= MaxNotificationAttempts {
					status = "failed"
				}
				_, err = tx.ExecContext(ctx, `UPDATE notifications SET status = $2, attempts = attempts + 1, last_error = $3 WHERE id = $1`,
					n.ID, status, truncate(serr.Error(), 500))
				msg = fmt.Sprintf("Could not deliver the %q email to %s (attempt %d): %s.", notificationName(n.Kind), n.Recipient, n.Attempts+1, truncate(serr.Error(), 200))
			}
			if err != nil {
				return fmt.Errorf("store: record notification: %w", err)
			}
			return insertOrderEvents(ctx, tx, n.OrderID, actor, "notifier", []orderEvent{{"notification", msg, notificationLink(n.ID)}}, now)
		})
		if err != nil {
			return done, err
		}
		if !handled {
			break
		}
		done++
	}
	return done, nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// OutboxEvent is one domain event from the outbox.
type OutboxEvent struct {
	ID      int64     `db:"id"`
	Topic   string    `db:"topic"`
	Payload []byte    `db:"payload"`
	At      time.Time `db:"created_at"`
}

// RelayOutbox is the outbox relay's step: it claims up to limit
// unpublished events in id order (SKIP LOCKED, so instances share the
// work), hands each to handle, and marks them published in the same
// transaction. An error from handle leaves the whole batch for the next
// round. It returns how many it published.
func (db *DB) RelayOutbox(ctx context.Context, limit int, handle func(ctx context.Context, e OutboxEvent) error) (int, error) {
	n := 0
	err := db.InTx(ctx, func(tx *Tx) error {
		var evs []OutboxEvent
		if err := tx.SelectContext(ctx, &evs, `SELECT id, topic, payload, created_at FROM outbox WHERE published_at IS NULL
			ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED`, limit); err != nil {
			return fmt.Errorf("store: outbox: %w", err)
		}
		ids := make([]int64, len(evs))
		for i, e := range evs {
			if handle != nil {
				if err := handle(ctx, e); err != nil {
					return err
				}
			}
			ids[i] = e.ID
		}
		n = len(ids)
		if n == 0 {
			return nil
		}
		_, err := tx.ExecContext(ctx, `UPDATE outbox SET published_at = now() WHERE id = ANY($1)`, pq.Array(ids))
		return err
	})
	return n, err
}
