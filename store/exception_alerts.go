package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"

	"stockline/domain"
)

// alertLock serialises alert queueing across instances, so two relays
// cannot both pass the rate limit with the last free slot.
const alertLock = 0x5701_a1e7

// QueueExceptionAlert is the outbox relay's handler for exception.opened:
// a critical exception gets an alert queued, or recorded as suppressed
// with the reason when the rate limit says no (limit: per kind and
// location, and in all, within the window). Other events are ignored.
// Handling the same event twice queues one alert.
func (db *DB) QueueExceptionAlert(ctx context.Context, e OutboxEvent, limit domain.AlertLimit) error {
	if e.Topic != "exception.opened" {
		return nil
	}
	var ev struct {
		ID         int64  `json:"id"`
		Kind       string `json:"kind"`
		Severity   string `json:"severity"`
		LocationID int64  `json:"location_id"`
	}
	if err := json.Unmarshal(e.Payload, &ev); err != nil || ev.Severity != "critical" {
		return nil
	}
	return db.InTx(ctx, func(tx *Tx) error {
		if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock($1)`, alertLock); err != nil {
			return fmt.Errorf("store: alert lock: %w", err)
		}
		var n struct {
			Key    int `db:"key"`
			Global int `db:"global"`
		}
		if err := tx.GetContext(ctx, &n, `SELECT count(*) FILTER (WHERE kind = $2 AND location_id IS NOT DISTINCT FROM $3) AS key, count(*) AS global
			FROM exception_alerts WHERE status <> 'suppressed' AND created_at > now() - $1 * interval '1 millisecond'`,
			limit.Window.Milliseconds(), ev.Kind, nullID(ev.LocationID)); err != nil {
			return fmt.Errorf("store: alert window: %w", err)
		}
		status, why := "queued", ""
		if ok, reason := limit.AlertDecision(n.Key, n.Global); !ok {
			status, why = "suppressed", reason
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO exception_alerts (exception_id, kind, location_id, status, why) VALUES ($1, $2, $3, $4, $5)
			ON CONFLICT (exception_id) DO NOTHING`, ev.ID, ev.Kind, nullID(ev.LocationID), status, why)
		if err != nil {
			return fmt.Errorf("store: queue alert: %w", err)
		}
		return nil
	})
}

// AlertSendFunc delivers one alert and names how ("webhook", "smtp ...").
type AlertSendFunc func(ctx context.Context, a domain.ExceptionAlert) (via string, err error)

// MaxAlertAttempts is how often a failing alert is tried before it is
// marked failed.
const MaxAlertAttempts = 5

// SendExceptionAlerts delivers up to limit queued alerts with send, each in
// its own transaction (SKIP LOCKED, so instances share the work), and
// records the outcome on the alert and on the exception's timeline. It
// returns how many it handled.
func (db *DB) SendExceptionAlerts(ctx context.Context, send AlertSendFunc, limit int) (int, error) {
	done := 0
	for done < limit {
		handled := false
		err := db.InTx(ctx, func(tx *Tx) error {
			var a domain.ExceptionAlert
			err := tx.GetContext(ctx, &a, `SELECT a.id, a.exception_id, a.kind, e.severity, COALESCE(l.code, '') AS location, e.title, e.detail, a.attempts
				FROM exception_alerts a JOIN exceptions e ON e.id = a.exception_id LEFT JOIN locations l ON l.id = a.location_id
				WHERE a.status = 'queued' ORDER BY a.id LIMIT 1 FOR UPDATE OF a SKIP LOCKED`)
			if err == sql.ErrNoRows {
				return nil
			} else if err != nil {
				return fmt.Errorf("store: next alert: %w", err)
			}
			handled = true
			via, serr := send(ctx, a)
			msg := "Alert sent via " + via + "."
			if serr == nil {
				_, err = tx.ExecContext(ctx, `UPDATE exception_alerts SET status = 'sent', attempts = attempts + 1, sent_via = $2, sent_at = now(), why = '' WHERE id = $1`, a.ID, via)
			} else {
				status := "queued"
				if a.Attempts+1 >= MaxAlertAttempts {
					status = "failed"
				}
				msg = fmt.Sprintf("Alert not delivered (attempt %d): %s", a.Attempts+1, truncate(serr.Error(), 200))
				_, err = tx.ExecContext(ctx, `UPDATE exception_alerts SET status = $2, attempts = attempts + 1, why = $3 WHERE id = $1`, a.ID, status, truncate(serr.Error(), 500))
			}
			if err != nil {
				return fmt.Errorf("store: record alert: %w", err)
			}
			return exceptionEvent(ctx, tx, a.ExceptionID, "alerts", "alert", msg)
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

// AlertCounts counts alerts by status (queued, sent, failed, suppressed).
func (db *DB) AlertCounts(ctx context.Context) (map[string]int, error) {
	var rows []struct {
		Status string `db:"status"`
		N      int    `db:"n"`
	}
	if err := db.SelectContext(ctx, &rows, `SELECT status, count(*) AS n FROM exception_alerts GROUP BY status`); err != nil {
		return nil, fmt.Errorf("store: alert counts: %w", err)
	}
	out := map[string]int{}
	for _, r := range rows {
		out[r.Status] = r.N
	}
	return out, nil
}
