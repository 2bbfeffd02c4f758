package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/lib/pq"

	"stockline/domain"
)

// NewException is work for a person, raised inside a transaction. Its due
// time comes from the SLA of its kind and severity (exception_slas).
type NewException struct {
	Kind       string
	Severity   string // low, medium, high, critical; "" takes the kind's default
	LocationID int64  // 0 when none
	ProductID  int64  // 0 when none
	Ref        string // order, transfer, event or connector the exception is about
	Title      string
	Detail     string
	DueIn      time.Duration // overrides the SLA of the kind and severity when set
	Dedupe     bool          // skip if an open one of this kind exists for the same location, product and ref
	Once       bool          // skip if a unique index already holds one (pickup_overdue: once per order)
	OrderID    int64         // 0 when not about an order
	TransferID int64         // 0 when not about a transfer
	Data       any           // kind-specific figures (exceptions.data); nil means {}
}

// openException inserts an exception row inside tx.
func openException(ctx context.Context, tx *Tx, e NewException) error {
	_, err := openExceptionID(ctx, tx, e)
	return err
}

// openExceptionID inserts an exception row inside tx with its "opened"
// timeline event and an exception.opened outbox event (the alert worker's
// source), and returns its id; 0 when Dedupe or Once found one already.
func openExceptionID(ctx context.Context, tx *Tx, e NewException) (int64, error) {
	loc, prod := nullID(e.LocationID), nullID(e.ProductID)
	if e.Dedupe {
		var n int
		err := tx.GetContext(ctx, &n, `SELECT count(*) FROM exceptions WHERE kind = $1 AND status IN ('open', 'in_progress')
			AND location_id IS NOT DISTINCT FROM $2 AND product_id IS NOT DISTINCT FROM $3 AND ref = $4`, e.Kind, loc, prod, e.Ref)
		if err != nil {
			return 0, fmt.Errorf("store: exception dedupe: %w", err)
		}
		if n > 0 {
			return 0, nil
		}
	}
	ids, err := openExceptions(ctx, tx, e.Once, []NewException{e})
	if err != nil || len(ids) == 0 {
		return 0, err
	}
	return ids[0], nil
}

// openExceptions inserts exceptions inside tx in one statement, each with
// its "opened" timeline event and exception.opened outbox event, and
// returns the ids inserted, in no particular order. With once, an
// exception a unique index already holds is skipped. Dedupe is the single
// form's (openExceptionID) and is not looked at here.
func openExceptions(ctx context.Context, tx *Tx, once bool, es []NewException) ([]int64, error) {
	if len(es) == 0 {
		return nil, nil
	}
	n := len(es)
	kind, sev, ref, title, detail, data := make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	loc, prod, order, transfer, dueIn := make([]int64, n), make([]int64, n), make([]int64, n), make([]int64, n), make([]int64, n)
	for i, e := range es {
		if e.Severity == "" {
			e.Severity = domain.KindSpecFor(e.Kind).Severity
		}
		d := []byte("{}")
		if e.Data != nil {
			var err error
			if d, err = json.Marshal(e.Data); err != nil {
				return nil, fmt.Errorf("store: exception data: %w", err)
			}
		}
		kind[i], sev[i], ref[i], title[i], detail[i], data[i] = e.Kind, e.Severity, e.Ref, e.Title, e.Detail, string(d)
		loc[i], prod[i], order[i], transfer[i] = e.LocationID, e.ProductID, e.OrderID, e.TransferID
		dueIn[i] = e.DueIn.Microseconds() // 0: the exceptions_due_at trigger takes the SLA's due time
	}
	onConflict := ""
	if once {
		onConflict = " ON CONFLICT DO NOTHING"
	}
	var ids []int64
	err := tx.SelectContext(ctx, &ids, `WITH e AS (
			INSERT INTO exceptions (kind, severity, location_id, product_id, ref, title, detail, due_at, order_id, transfer_id, data)
			SELECT k, s, NULLIF(l, 0), NULLIF(p, 0), r, t, d, CASE WHEN du > 0 THEN now() + du * interval '1 microsecond' END,
				NULLIF(o, 0), NULLIF(tr, 0), x
			FROM unnest($1::text[], $2::text[], $3::bigint[], $4::bigint[], $5::text[], $6::text[], $7::text[], $8::bigint[],
				$9::bigint[], $10::bigint[], $11::jsonb[]) AS u(k, s, l, p, r, t, d, du, o, tr, x)`+onConflict+`
			RETURNING id, kind, severity, location_id, ref, title
		), ev AS (
			INSERT INTO exception_events (exception_id, actor, kind, message) SELECT id, 'system', 'opened', title FROM e
		), ob AS (
			INSERT INTO outbox (topic, payload) SELECT 'exception.opened', jsonb_build_object('id', id, 'kind', kind,
				'severity', severity, 'location_id', coalesce(location_id, 0), 'ref', ref) FROM e
		)
		SELECT id FROM e`, pq.Array(kind), pq.Array(sev), pq.Array(loc), pq.Array(prod), pq.Array(ref), pq.Array(title),
		pq.Array(detail), pq.Array(dueIn), pq.Array(order), pq.Array(transfer), pq.Array(data))
	if err != nil {
		return nil, fmt.Errorf("store: open exceptions: %w", err)
	}
	return ids, nil
}

// exceptionEvent adds an entry to an exception's own timeline.
func exceptionEvent(ctx context.Context, tx *Tx, id int64, actor, kind, message string) error {
	if _, err := tx.ExecContext(ctx, `INSERT INTO exception_events (exception_id, actor, kind, message) VALUES ($1, $2, $3, $4)`,
		id, actor, kind, message); err != nil {
		return fmt.Errorf("store: exception event: %w", err)
	}
	return nil
}

func nullID(id int64) sql.NullInt64 { return sql.NullInt64{Int64: id, Valid: id != 0} }

// exceptionRow and exceptionDetailRow are exceptions as scanned.
type exceptionRow struct {
	domain.ExceptionRow
	Location sql.NullString `db:"location"`
	SKU      sql.NullString `db:"sku"`
	DueAt    sql.NullTime   `db:"due_at"`
}

func (r exceptionRow) row() domain.ExceptionRow {
	e := r.ExceptionRow
	e.Location, e.SKU, e.DueAt = r.Location.String, r.SKU.String, r.DueAt.Time
	return e
}

type exceptionDetailRow struct {
	domain.ExceptionDetail
	Location   sql.NullString `db:"location"`
	SKU        sql.NullString `db:"sku"`
	DueAt      sql.NullTime   `db:"due_at"`
	ResolvedAt sql.NullTime   `db:"resolved_at"`
	OrderID    sql.NullInt64  `db:"order_id"`
	TransferID sql.NullInt64  `db:"transfer_id"`
	Data       []byte         `db:"data"`
}

func (r exceptionDetailRow) detail() domain.ExceptionDetail {
	e := r.ExceptionDetail
	e.Location, e.SKU, e.DueAt, e.ResolvedAt = r.Location.String, r.SKU.String, r.DueAt.Time, r.ResolvedAt.Time
	e.OrderID, e.TransferID, e.Data = r.OrderID.Int64, r.TransferID.Int64, json.RawMessage(r.Data)
	return e
}

// OpenExceptionsForProduct lists the open exceptions about a product.
func (db *DB) OpenExceptionsForProduct(ctx context.Context, productID int64) ([]domain.ExceptionRow, error) {
	out, err := selectAs(ctx, db, exceptionRow.row, `SELECT e.id, e.kind, e.severity, e.status, l.code AS location, p.sku, e.ref, e.title, e.detail, e.due_at, e.created_at
		FROM exceptions e LEFT JOIN locations l ON l.id = e.location_id LEFT JOIN products p ON p.id = e.product_id
		WHERE e.product_id = $1 AND e.status IN ('open', 'in_progress') ORDER BY e.id DESC LIMIT 50`, productID)
	if err != nil {
		return nil, fmt.Errorf("store: exceptions: %w", err)
	}
	return out, nil
}

// ExceptionByID returns one exception, or ENOTFOUND.
func (db *DB) ExceptionByID(ctx context.Context, id int64) (domain.ExceptionDetail, error) {
	e, err := getAs(ctx, db, exceptionDetailRow.detail, exceptionSelect+` WHERE e.id = $1`, id)
	if err != nil {
		return e, notFound(err, "Exception %d does not exist.", id)
	}
	return e, nil
}

// TakeException assigns an open exception to the acting user and marks it
// in progress. Errors: ENOTFOUND, ECONFLICT.
func (db *DB) TakeException(ctx context.Context, actor domain.Actor, id int64) error {
	return db.InTx(ctx, func(tx *Tx) error { return assignExceptionTx(ctx, tx, actor, id, actor.UserID, actor.String()) })
}

// assignExceptionTx gives an open or in-progress exception to a user (in
// progress from then on). An exception already theirs is left alone.
func assignExceptionTx(ctx context.Context, tx *Tx, actor domain.Actor, id, userID int64, who string) error {
	before, err := lockException(ctx, tx, id)
	if err != nil {
		return err
	}
	if before.Status != domain.ExceptionOpen && before.Status != domain.ExceptionInProgress {
		return domain.Errorf(domain.ECONFLICT, "Exception %d is %s; it cannot be assigned.", id, domain.StatusLabel(before.Status))
	}
	if before.Status == domain.ExceptionInProgress && before.Assignee == who {
		return nil
	}
	return changeException(ctx, tx, actor, before, "assigned", "Assigned to "+who+".", func() error {
		_, err := tx.ExecContext(ctx, `UPDATE exceptions SET status = 'in_progress', assignee_id = $2, updated_at = now() WHERE id = $1`, id, nullID(userID))
		return err
	})
}

// CloseException resolves or dismisses an exception with a code and note.
// Errors: EINVALID, ENOTFOUND, ECONFLICT.
func (db *DB) CloseException(ctx context.Context, actor domain.Actor, id int64, r domain.ExceptionResolution) error {
	if err := r.Validate(); err != nil {
		return err
	}
	// A kind whose actions do work is closed by them (ResolveException),
	// never by a bare status change that would leave the work undone.
	e, err := db.ExceptionByID(ctx, id)
	if err != nil {
		return err
	}
	if len(domain.ActionsFor(e.Kind)) > 1 {
		if r.To == domain.ExceptionDismissed {
			_, err := db.ResolveException(ctx, actor, id, domain.ActionDismiss, r.Note)
			return err
		}
		return &domain.Error{Code: domain.CodeActionNotAllowed, Field: "action",
			Message: "Resolve this exception with one of its actions, which do the work."}
	}
	return db.InTx(ctx, func(tx *Tx) error { return closeExceptionTx(ctx, tx, actor, id, r.To, r.Code, r.Note, "") })
}

// closeExceptionTx moves an exception to status (resolved, dismissed, or
// in_progress for an action that keeps it open) with a resolution code,
// note and the action that closed it ("" for none), on its timeline and
// in the audit trail.
func closeExceptionTx(ctx context.Context, tx *Tx, actor domain.Actor, id int64, status, code, note string, action domain.ExceptionAction) error {
	before, err := lockException(ctx, tx, id)
	if err != nil {
		return err
	}
	if before.Status != status || status != domain.ExceptionInProgress {
		if err := domain.CheckExceptionMove(before.Status, status); err != nil {
			return err
		}
	}
	msg := fmt.Sprintf("%s (%s)", strings.ToUpper(domain.StatusLabel(status)[:1])+domain.StatusLabel(status)[1:], code)
	if note != "" {
		msg += ": " + note
	}
	kind := status
	if status == domain.ExceptionInProgress {
		kind = "action"
	}
	return changeException(ctx, tx, actor, before, kind, msg, func() error {
		resolvedAt, by := "now()", actor.String()
		if status == domain.ExceptionInProgress {
			resolvedAt, by = "NULL", ""
		}
		_, err := tx.ExecContext(ctx, `UPDATE exceptions SET status = $2, resolution_code = $3, resolution_note = $4, resolution_action = $6,
			resolved_by = $7, resolved_at = `+resolvedAt+`, updated_at = now(), assignee_id = COALESCE(assignee_id, $5) WHERE id = $1`,
			id, status, code, note, nullID(actor.UserID), string(action), by)
		return err
	})
}

// changeException runs update on a locked exception and records the
// change three ways: its timeline, the audit trail and the outbox.
func changeException(ctx context.Context, tx *Tx, actor domain.Actor, before domain.ExceptionDetail, event, message string, update func() error) error {
	if err := update(); err != nil {
		return fmt.Errorf("store: update exception: %w", err)
	}
	after, err := getAs(ctx, tx, exceptionDetailRow.detail, exceptionSelect+` WHERE e.id = $1`, before.ID)
	if err != nil {
		return err
	}
	if err := exceptionEvent(ctx, tx, before.ID, actor.String(), event, message); err != nil {
		return err
	}
	if err := insertAudit(ctx, tx, actor, "exception."+event, "exception", fmt.Sprint(before.ID),
		map[string]any{"status": before.Status, "assignee": before.Assignee},
		map[string]any{"status": after.Status, "assignee": after.Assignee, "code": after.ResolutionCode, "note": after.ResolutionNote}); err != nil {
		return err
	}
	return insertOutbox(ctx, tx, "exception.updated", map[string]any{"id": before.ID, "kind": after.Kind, "status": after.Status})
}

// RaiseException opens an exception in its own transaction, with an audit
// row naming who raised it. Location and SKU are codes ("" for none).
func (db *DB) RaiseException(ctx context.Context, actor domain.Actor, location, sku string, e NewException) error {
	if location != "" {
		l, err := db.LocationByCode(ctx, location)
		if err != nil {
			return err
		}
		e.LocationID = l.ID
	}
	if sku != "" {
		p, err := db.ProductBySKU(ctx, sku)
		if err != nil {
			return err
		}
		e.ProductID = p.ID
	}
	return db.InTx(ctx, func(tx *Tx) error {
		if err := openException(ctx, tx, e); err != nil {
			return err
		}
		return insertAudit(ctx, tx, actor, "exception.raise", "exception", e.Kind, nil, e)
	})
}
