package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"time"

	"github.com/lib/pq"

	"stockline/domain"
)

// NewException is work for a person, raised inside a transaction.
type NewException struct {
	Kind       string
	Severity   string // low, medium, high, critical
	LocationID int64  // 0 when none
	ProductID  int64  // 0 when none
	Ref        string // order, transfer, event or connector the exception is about
	Title      string
	Detail     string
	DueIn      time.Duration // SLA; 0 means none
	Dedupe     bool          // skip if an open one of this kind exists for the same location, product and ref
	OrderID    int64         // 0 when not about an order
	TransferID int64         // 0 when not about a transfer
	Data       any           // kind-specific figures (exceptions.data); nil means {}
}

// openException inserts an exception row inside tx.
func openException(ctx context.Context, tx *Tx, e NewException) error {
	_, err := openExceptionID(ctx, tx, e)
	return err
}

// openExceptionID inserts an exception row inside tx and returns its id
// (0 when Dedupe found an open one).
func openExceptionID(ctx context.Context, tx *Tx, e NewException) (int64, error) {
	if e.Severity == "" {
		e.Severity = "medium"
	}
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
	var due sql.NullTime
	if e.DueIn > 0 {
		due = sql.NullTime{Time: time.Now().Add(e.DueIn), Valid: true}
	}
	data := []byte("{}")
	if e.Data != nil {
		var err error
		if data, err = json.Marshal(e.Data); err != nil {
			return 0, fmt.Errorf("store: exception data: %w", err)
		}
	}
	var id int64
	err := tx.GetContext(ctx, &id, `INSERT INTO exceptions (kind, severity, location_id, product_id, ref, title, detail, due_at, order_id, transfer_id, data)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING id`, e.Kind, e.Severity, loc, prod, e.Ref, e.Title, e.Detail, due,
		nullID(e.OrderID), nullID(e.TransferID), data)
	if err != nil {
		return 0, fmt.Errorf("store: open exception: %w", err)
	}
	return id, nil
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

// ExceptionFilter narrows ListExceptions.
type ExceptionFilter struct {
	Statuses  []string // empty means open and in progress
	Kind      string
	Locations []string // location codes in scope; nil means all
	SKU       string   // "" means any
	OrderID   int64    // 0 means any
	BeforeID  int64
	Limit     int
	SkipTotal bool // the API pages by cursor and needs no total
}

const exceptionSelect = `SELECT e.id, e.kind, e.severity, e.status, l.code AS location, p.sku, e.ref, e.title, e.detail, e.due_at, e.created_at,
	COALESCE(u.email, '') AS assignee, e.resolution_code, e.resolution_note, e.resolved_at, e.updated_at,
	e.order_id, e.transfer_id, e.resolution_action, e.resolved_by, e.owner_role, e.data
	FROM exceptions e LEFT JOIN locations l ON l.id = e.location_id LEFT JOIN products p ON p.id = e.product_id
	LEFT JOIN users u ON u.id = e.assignee_id`

func exceptionWhere(f ExceptionFilter) ([]string, []any) {
	where, args := []string{}, []any{}
	st := f.Statuses
	if len(st) == 0 {
		st = []string{"open", "in_progress"}
	}
	args = append(args, pq.Array(st))
	where = append(where, fmt.Sprintf("e.status = ANY($%d)", len(args)))
	if f.Kind != "" {
		args = append(args, f.Kind)
		where = append(where, fmt.Sprintf("e.kind = $%d", len(args)))
	}
	if f.Locations != nil {
		args = append(args, pq.Array(f.Locations))
		where = append(where, fmt.Sprintf("l.code = ANY($%d)", len(args)))
	}
	if f.SKU != "" {
		args = append(args, f.SKU)
		where = append(where, fmt.Sprintf("e.product_id = (SELECT id FROM products WHERE sku = $%d)", len(args)))
	}
	if f.OrderID != 0 {
		args = append(args, f.OrderID)
		where = append(where, fmt.Sprintf("e.order_id = $%d", len(args)))
	}
	return where, args
}

// ListExceptions returns a page of exceptions, overdue and most severe
// first within the page order of newest id, plus the total matching.
func (db *DB) ListExceptions(ctx context.Context, f ExceptionFilter) ([]domain.ExceptionDetail, int, error) {
	if f.Limit <= 0 || f.Limit > 200 {
		f.Limit = 50
	}
	where, args := exceptionWhere(f)
	var total int
	if f.SkipTotal {
		total = -1
	} else if err := db.GetContext(ctx, &total, `SELECT count(*) FROM exceptions e LEFT JOIN locations l ON l.id = e.location_id WHERE `+joinAnd(where), args...); err != nil {
		return nil, 0, fmt.Errorf("store: count exceptions: %w", err)
	}
	if f.BeforeID > 0 {
		args = append(args, f.BeforeID)
		where = append(where, fmt.Sprintf("e.id < $%d", len(args)))
	}
	args = append(args, f.Limit)
	q := exceptionSelect + ` WHERE ` + joinAnd(where) + fmt.Sprintf(` ORDER BY e.id DESC LIMIT $%d`, len(args))
	out, err := selectAs(ctx, db, exceptionDetailRow.detail, q, args...)
	if err != nil {
		return nil, 0, fmt.Errorf("store: list exceptions: %w", err)
	}
	return out, total, nil
}

// ExceptionCounts counts open and in-progress exceptions per kind within
// the location scope (nil means all).
func (db *DB) ExceptionCounts(ctx context.Context, locations []string) ([]domain.KindCount, error) {
	where, args := exceptionWhere(ExceptionFilter{Locations: locations})
	var out []domain.KindCount
	err := db.SelectContext(ctx, &out, `SELECT e.kind, count(*) AS count, count(*) FILTER (WHERE e.due_at < now()) AS overdue
		FROM exceptions e LEFT JOIN locations l ON l.id = e.location_id WHERE `+joinAnd(where)+` GROUP BY e.kind ORDER BY count(*) DESC, e.kind`, args...)
	if err != nil {
		return nil, fmt.Errorf("store: exception counts: %w", err)
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
	return db.moveException(ctx, actor, id, domain.ExceptionInProgress, func(tx *Tx) error {
		_, err := tx.ExecContext(ctx, `UPDATE exceptions SET status = 'in_progress', assignee_id = $2, updated_at = now() WHERE id = $1`, id, nullID(actor.UserID))
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
	return db.moveException(ctx, actor, id, r.To, func(tx *Tx) error {
		_, err := tx.ExecContext(ctx, `UPDATE exceptions SET status = $2, resolution_code = $3, resolution_note = $4,
			resolved_at = now(), updated_at = now(), assignee_id = COALESCE(assignee_id, $5) WHERE id = $1`, id, r.To, r.Code, r.Note, nullID(actor.UserID))
		return err
	})
}

func (db *DB) moveException(ctx context.Context, actor domain.Actor, id int64, to string, update func(tx *Tx) error) error {
	return db.InTx(ctx, func(tx *Tx) error {
		before, err := getAs(ctx, tx, exceptionDetailRow.detail, exceptionSelect+` WHERE e.id = $1 FOR UPDATE OF e`, id)
		if err != nil {
			return notFound(err, "Exception %d does not exist.", id)
		}
		if err := domain.CheckExceptionMove(before.Status, to); err != nil {
			return err
		}
		if err := update(tx); err != nil {
			return fmt.Errorf("store: update exception: %w", err)
		}
		after, err := getAs(ctx, tx, exceptionDetailRow.detail, exceptionSelect+` WHERE e.id = $1`, id)
		if err != nil {
			return err
		}
		if err := insertAudit(ctx, tx, actor, "exception."+to, "exception", fmt.Sprint(id),
			map[string]any{"status": before.Status, "assignee": before.Assignee},
			map[string]any{"status": after.Status, "assignee": after.Assignee, "code": after.ResolutionCode, "note": after.ResolutionNote}); err != nil {
			return err
		}
		return insertOutbox(ctx, tx, "exception.updated", map[string]any{"id": id, "kind": after.Kind, "status": after.Status})
	})
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
