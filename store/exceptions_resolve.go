package store

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"stockline/domain"
)

// resolveOutcome is what a kind's action did, for ResolveException to
// record on the exception row.
type resolveOutcome struct {
	Code string // resolution code when the action closes the exception
	Note string // resolution note; "" keeps the person's note
	// KeepOpen leaves the exception open (a recount request): it is
	// reassigned to OwnerRole with a new due time, and nobody is assigned.
	KeepOpen  bool
	OwnerRole string
	DueIn     time.Duration
	Data      any // the exception's new data; nil leaves it as it was
}

// exceptionResolver does one kind's action inside the resolving
// transaction, with the exception row locked; it does the real work (stock
// moves through the stock primitive, order changes, retries) and says how
// the exception ends. The action has been checked to fit the kind.
type exceptionResolver func(ctx context.Context, tx *Tx, actor domain.Actor, e domain.ExceptionDetail, action domain.ExceptionAction, note string) (resolveOutcome, error)

// exceptionResolvers are the kinds whose actions do work. A kind not
// listed has dismiss only (domain.ActionsFor), which closes it and moves
// nothing. A kind with its own actions also handles dismiss here (a
// drift's dismissal releases its hold).
var exceptionResolvers = map[string]exceptionResolver{
	domain.KindReconciliationDrift: resolveDrift,
}

// dismissOnly is the resolver of kinds with no actions of their own.
func dismissOnly(_ context.Context, _ *Tx, _ domain.Actor, _ domain.ExceptionDetail, _ domain.ExceptionAction, _ string) (resolveOutcome, error) {
	return resolveOutcome{Code: domain.ResolutionDismissed}, nil
}

// ResolveException does an action on an exception (domain.ActionsFor its
// kind) and records it: the kind's resolver does the work, then the
// exception is closed with a resolution code, the note, the action and the
// actor (or, for a recount request, reassigned and left open), audited and
// published, all in one transaction. It returns the exception after.
//
// Errors: ENOTFOUND; EINVALID (field action when empty, field note);
// action_not_allowed (422) when the action does not fit the kind;
// already_resolved (409) when the exception was closed by another action.
// Repeating the action that closed it changes nothing and returns the
// exception as it is.
func (db *DB) ResolveException(ctx context.Context, actor domain.Actor, id int64, action domain.ExceptionAction, note string) (domain.ExceptionDetail, error) {
	var out domain.ExceptionDetail
	err := db.InTx(ctx, func(tx *Tx) error {
		var err error
		out, err = resolveExceptionTx(ctx, tx, actor, id, action, note)
		return err
	})
	return out, err
}

// resolveExceptionTx is ResolveException inside the caller's transaction
// (bulk dismissal resolves many in one).
func resolveExceptionTx(ctx context.Context, tx *Tx, actor domain.Actor, id int64, action domain.ExceptionAction, note string) (domain.ExceptionDetail, error) {
	e, err := lockException(ctx, tx, id)
	if err != nil {
		return e, err
	}
	if err := domain.CheckAction(e.Kind, action); err != nil {
		return e, err
	}
	if e.Closed() {
		if e.Action == action {
			return e, nil
		}
		return e, &domain.Error{Code: domain.CodeAlreadyResolved,
			Message: fmt.Sprintf("Exception %d is already %s (%s).", e.ID, domain.StatusLabel(e.Status), e.ResolutionCode)}
	}
	if err := domain.ValidateActionNote(action, note); err != nil {
		return e, err
	}
	resolve, ok := exceptionResolvers[e.Kind]
	if !ok {
		resolve = dismissOnly
	}
	o, err := resolve(ctx, tx, actor, e, action, note)
	if err != nil {
		return e, err
	}
	return recordResolution(ctx, tx, actor, e, action, note, o)
}

// lockException reads an exception and locks its row until tx ends.
func lockException(ctx context.Context, tx *Tx, id int64) (domain.ExceptionDetail, error) {
	e, err := getAs(ctx, tx, exceptionDetailRow.detail, exceptionSelect+` WHERE e.id = $1 FOR UPDATE OF e`, id)
	if err != nil {
		return e, notFound(err, "Exception %d does not exist.", id)
	}
	return e, nil
}

// recordResolution writes an action's outcome on the exception row, the
// audit row and the exception.updated event, and returns the row after.
// The system's own closings (late events, reconciliation runs) use it
// too, with action "" and a system actor.
func recordResolution(ctx context.Context, tx *Tx, actor domain.Actor, e domain.ExceptionDetail, action domain.ExceptionAction, note string, o resolveOutcome) (domain.ExceptionDetail, error) {
	if o.Note == "" {
		o.Note = note
	}
	data := []byte(e.Data)
	if o.Data != nil {
		var err error
		if data, err = json.Marshal(o.Data); err != nil {
			return e, fmt.Errorf("store: exception data: %w", err)
		}
	}
	if len(data) == 0 {
		data = []byte("{}")
	}
	var err error
	if o.KeepOpen {
		_, err = tx.ExecContext(ctx, `UPDATE exceptions SET status = 'open', assignee_id = NULL, owner_role = $2,
			due_at = now() + make_interval(secs => $3), data = $4, updated_at = now() WHERE id = $1`,
			e.ID, o.OwnerRole, o.DueIn.Seconds(), data)
	} else {
		status := domain.ExceptionResolved
		if action == domain.ActionDismiss {
			status = domain.ExceptionDismissed
		}
		_, err = tx.ExecContext(ctx, `UPDATE exceptions SET status = $2, resolution_code = $3, resolution_note = $4,
			resolution_action = $5, resolved_by = $6, resolved_at = now(), updated_at = now(), data = $7,
			assignee_id = COALESCE(assignee_id, $8) WHERE id = $1`,
			e.ID, status, o.Code, o.Note, string(action), actor.String(), data, nullID(actor.UserID))
	}
	if err != nil {
		return e, fmt.Errorf("store: resolve exception: %w", err)
	}
	after, err := getAs(ctx, tx, exceptionDetailRow.detail, exceptionSelect+` WHERE e.id = $1`, e.ID)
	if err != nil {
		return after, err
	}
	verb := "exception.resolve"
	if o.KeepOpen {
		verb = "exception." + string(action)
	}
	event, msg := after.Status, fmt.Sprintf("%s (%s)", domain.ActionLabel(action), after.ResolutionCode)
	if o.KeepOpen {
		event, msg = "action", domain.ActionLabel(action)+": reassigned to "+o.OwnerRole
	}
	if o.Note != "" {
		msg += ": " + o.Note
	}
	if err := exceptionEvent(ctx, tx, e.ID, actor.String(), event, msg); err != nil {
		return after, err
	}
	if err := insertAudit(ctx, tx, actor, verb, "exception", fmt.Sprint(e.ID),
		map[string]any{"status": e.Status, "assignee": e.Assignee, "data": json.RawMessage(e.Data)},
		map[string]any{"status": after.Status, "action": action, "code": after.ResolutionCode, "note": o.Note,
			"owner_role": after.OwnerRole, "data": json.RawMessage(after.Data)}); err != nil {
		return after, err
	}
	return after, insertOutbox(ctx, tx, "exception.updated", map[string]any{"id": e.ID, "kind": after.Kind, "status": after.Status})
}
