package store

import (
	"context"
	"database/sql"
	"fmt"
	"time"
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
}

// openException inserts an exception row inside tx.
func openException(ctx context.Context, tx *Tx, e NewException) error {
	if e.Severity == "" {
		e.Severity = "medium"
	}
	loc, prod := nullID(e.LocationID), nullID(e.ProductID)
	if e.Dedupe {
		var n int
		err := tx.GetContext(ctx, &n, `SELECT count(*) FROM exceptions WHERE kind = $1 AND status IN ('open', 'in_progress')
			AND location_id IS NOT DISTINCT FROM $2 AND product_id IS NOT DISTINCT FROM $3 AND ref = $4`, e.Kind, loc, prod, e.Ref)
		if err != nil {
			return fmt.Errorf("store: exception dedupe: %w", err)
		}
		if n > 0 {
			return nil
		}
	}
	var due sql.NullTime
	if e.DueIn > 0 {
		due = sql.NullTime{Time: time.Now().Add(e.DueIn), Valid: true}
	}
	_, err := tx.ExecContext(ctx, `INSERT INTO exceptions (kind, severity, location_id, product_id, ref, title, detail, due_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`, e.Kind, e.Severity, loc, prod, e.Ref, e.Title, e.Detail, due)
	if err != nil {
		return fmt.Errorf("store: open exception: %w", err)
	}
	return nil
}

func nullID(id int64) sql.NullInt64 { return sql.NullInt64{Int64: id, Valid: id != 0} }

// ExceptionRow is an exception as listed on pages.
type ExceptionRow struct {
	ID        int64          `db:"id"`
	Kind      string         `db:"kind"`
	Severity  string         `db:"severity"`
	Status    string         `db:"status"`
	Location  sql.NullString `db:"location"`
	SKU       sql.NullString `db:"sku"`
	Ref       string         `db:"ref"`
	Title     string         `db:"title"`
	Detail    string         `db:"detail"`
	DueAt     sql.NullTime   `db:"due_at"`
	CreatedAt time.Time      `db:"created_at"`
}

// OpenExceptionsForProduct lists the open exceptions about a product.
func (db *DB) OpenExceptionsForProduct(ctx context.Context, productID int64) ([]ExceptionRow, error) {
	var out []ExceptionRow
	err := db.SelectContext(ctx, &out, `SELECT e.id, e.kind, e.severity, e.status, l.code AS location, p.sku, e.ref, e.title, e.detail, e.due_at, e.created_at
		FROM exceptions e LEFT JOIN locations l ON l.id = e.location_id LEFT JOIN products p ON p.id = e.product_id
		WHERE e.product_id = $1 AND e.status IN ('open', 'in_progress') ORDER BY e.id DESC LIMIT 50`, productID)
	if err != nil {
		return nil, fmt.Errorf("store: exceptions: %w", err)
	}
	return out, nil
}
