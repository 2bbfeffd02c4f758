package store

import (
	"context"
	"fmt"
	"strings"

	"github.com/lib/pq"

	"stockline/domain"
)

// ExceptionTimeline returns an exception's timeline, oldest first.
func (db *DB) ExceptionTimeline(ctx context.Context, id int64) ([]domain.ExceptionEvent, error) {
	var out []domain.ExceptionEvent
	if err := db.SelectContext(ctx, &out, `SELECT id, at, actor, kind, message FROM exception_events
		WHERE exception_id = $1 ORDER BY id LIMIT 200`, id); err != nil {
		return nil, fmt.Errorf("store: exception timeline: %w", err)
	}
	return out, nil
}

// BulkTarget is who may touch which exceptions in a bulk change: the
// user's location scope (nil: all) and the kinds their role works.
type BulkTarget struct {
	IDs       []int64
	Locations []string
	Kinds     []string
}

// lockBulk locks the target's exceptions. An id outside the scope, of a
// kind the role does not work, or unknown is ENOTFOUND: the whole change
// is refused and nothing moves.
func lockBulk(ctx context.Context, tx *Tx, t BulkTarget) ([]int64, error) {
	if len(t.IDs) == 0 {
		return nil, domain.FieldError("ids", "Choose at least one exception.")
	}
	if len(t.IDs) > 200 {
		return nil, domain.FieldError("ids", "Choose at most 200 exceptions at a time.")
	}
	where, args := []string{"e.id = ANY($1)", "e.kind = ANY($2)"}, []any{pq.Array(t.IDs), pq.Array(t.Kinds)}
	if t.Locations != nil {
		args = append(args, pq.Array(t.Locations))
		where = append(where, "e.location_id IN (SELECT id FROM locations WHERE code = ANY($3))")
	}
	var ids []int64
	if err := tx.SelectContext(ctx, &ids, `SELECT e.id FROM exceptions e WHERE `+joinAnd(where)+` ORDER BY e.id FOR UPDATE`, args...); err != nil {
		return nil, fmt.Errorf("store: lock exceptions: %w", err)
	}
	if len(ids) != len(uniqueIDs(t.IDs)) {
		return nil, domain.Errorf(domain.ENOTFOUND, "Some of the chosen exceptions are not yours to work; nothing was changed.")
	}
	return ids, nil
}

func uniqueIDs(ids []int64) map[int64]bool {
	m := map[int64]bool{}
	for _, id := range ids {
		m[id] = true
	}
	return m
}

// AssignExceptions gives every target exception to the user (in progress
// from then on) in one transaction. Errors: ENOTFOUND (an exception
// outside the target, or the user), ECONFLICT (one already closed).
func (db *DB) AssignExceptions(ctx context.Context, actor domain.Actor, t BulkTarget, userID int64) (int, error) {
	u, err := db.UserByID(ctx, userID)
	if err != nil || u.Disabled {
		return 0, domain.FieldError("assignee", "Choose someone to assign the exceptions to.")
	}
	n := 0
	err = db.InTx(ctx, func(tx *Tx) error {
		ids, err := lockBulk(ctx, tx, t)
		if err != nil {
			return err
		}
		for _, id := range ids {
			if err := assignExceptionTx(ctx, tx, actor, id, u.ID, u.Email); err != nil {
				return err
			}
		}
		n = len(ids)
		return nil
	})
	return n, err
}

// DismissExceptions dismisses every target exception with the reason, in
// one transaction. Errors: EINVALID (no reason), ENOTFOUND, ECONFLICT.
func (db *DB) DismissExceptions(ctx context.Context, actor domain.Actor, t BulkTarget, reason string) (int, error) {
	r := domain.ExceptionResolution{To: domain.ExceptionDismissed, Note: strings.TrimSpace(reason)}
	if err := r.Validate(); err != nil {
		return 0, err
	}
	n := 0
	err := db.InTx(ctx, func(tx *Tx) error {
		ids, err := lockBulk(ctx, tx, t)
		if err != nil {
			return err
		}
		for _, id := range ids {
			// Each kind's dismissal (a drift's releases its hold).
			if _, err := resolveExceptionTx(ctx, tx, actor, id, domain.ActionDismiss, r.Note); err != nil {
				return err
			}
		}
		n = len(ids)
		return nil
	})
	return n, err
}

// RecordExceptionAction records an action done on an exception: its
// resolution code and status (request_recount stays open), the note and
// the effect on the timeline. When the action's own work already closed
// the exception (a reallocation or a transfer settlement resolves its
// exceptions), only the timeline and audit rows are added. Errors:
// ENOTFOUND, ECONFLICT (the exception was closed by someone else).
//
// It is for actions whose only write is the record (acknowledge, a clean
// recheck); an action with work records through its store method (for
// example ReallocateForException), in the work's own transaction.
func (db *DB) RecordExceptionAction(ctx context.Context, actor domain.Actor, id int64, action domain.ExceptionAction, effect, note string) error {
	return db.InTx(ctx, func(tx *Tx) error {
		return recordExceptionActionTx(ctx, tx, actor, &ExceptionRecord{ID: id, Action: action, Effect: effect, Note: note})
	})
}

// ExceptionRecord is the resolution an action on an exception records
// (code and status from the action, the effect and the person's note, on
// the timeline and in the audit), written in the same transaction as the
// action's work, so a failure between them cannot leave the work done and
// the exception open.
type ExceptionRecord struct {
	ID     int64
	Action domain.ExceptionAction
	Effect string
	Note   string
}

// recordExceptionActionTx is RecordExceptionAction inside the caller's
// transaction; a nil record records nothing.
func recordExceptionActionTx(ctx context.Context, tx *Tx, actor domain.Actor, r *ExceptionRecord) error {
	if r == nil {
		return nil
	}
	code, status := domain.ActionResolution(r.Action)
	text := strings.TrimSpace(strings.TrimSpace(r.Effect) + " " + strings.TrimSpace(r.Note))
	e, err := lockException(ctx, tx, r.ID)
	if err != nil {
		return err
	}
	if e.Status == domain.ExceptionOpen || e.Status == domain.ExceptionInProgress {
		return closeExceptionTx(ctx, tx, actor, r.ID, status, code, text, r.Action)
	}
	return changeException(ctx, tx, actor, e, "action", domain.ActionLabel(r.Action)+": "+text, func() error {
		_, err := tx.ExecContext(ctx, `UPDATE exceptions SET resolution_code = $2, resolution_note = $3, resolution_action = $4,
			resolved_by = $5, updated_at = now() WHERE id = $1`, r.ID, code, text, string(r.Action), actor.String())
		return err
	})
}

// ExceptionSLAs lists the due times by kind and severity.
func (db *DB) ExceptionSLAs(ctx context.Context) ([]domain.SLA, error) {
	var out []domain.SLA
	if err := db.SelectContext(ctx, &out, `SELECT kind, severity, due_minutes, updated_by, updated_at FROM exception_slas
		ORDER BY kind, array_position(ARRAY['critical', 'high', 'medium', 'low'], severity)`); err != nil {
		return nil, fmt.Errorf("store: exception slas: %w", err)
	}
	return out, nil
}

// SaveExceptionSLA sets the due time of a kind at a severity, for
// exceptions raised from then on, with an audit row. Errors: EINVALID.
func (db *DB) SaveExceptionSLA(ctx context.Context, actor domain.Actor, s domain.SLA) error {
	if err := s.Validate(); err != nil {
		return err
	}
	return db.InTx(ctx, func(tx *Tx) error {
		var before []int
		if err := tx.SelectContext(ctx, &before, `SELECT due_minutes FROM exception_slas WHERE kind = $1 AND severity = $2 FOR UPDATE`, s.Kind, s.Severity); err != nil {
			return fmt.Errorf("store: sla: %w", err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO exception_slas (kind, severity, due_minutes, updated_at, updated_by) VALUES ($1, $2, $3, now(), $4)
			ON CONFLICT (kind, severity) DO UPDATE SET due_minutes = EXCLUDED.due_minutes, updated_at = now(), updated_by = EXCLUDED.updated_by`,
			s.Kind, s.Severity, s.DueMinutes, actor.String()); err != nil {
			return fmt.Errorf("store: save sla: %w", err)
		}
		var prev any
		if len(before) == 1 {
			prev = map[string]any{"due_minutes": before[0]}
		}
		return insertAudit(ctx, tx, actor, "exception_sla.save", "exception_sla", s.Kind+"/"+s.Severity, prev, map[string]any{"due_minutes": s.DueMinutes})
	})
}
