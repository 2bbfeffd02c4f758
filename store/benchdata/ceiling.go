package benchdata

// The raw-SQL ceiling the reservations section of `make bench` measures
// the reservation path against, and the section's own checks.

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"stockline/store"
)

// Ceiling is the raw-SQL ceiling the reservation path is measured
// against: one statement, prepared once (and by database/sql once per
// connection), as the application's own hot statements are.
type Ceiling struct {
	db   *store.DB
	mu   sync.Mutex
	stmt *sqlx.Stmt
}

// NewCeiling returns the ceiling on db; Close frees its statement.
func NewCeiling(db *store.DB) *Ceiling { return &Ceiling{db: db} }

// Close closes the prepared statement.
func (c *Ceiling) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.stmt == nil {
		return nil
	}
	err := c.stmt.Close()
	c.stmt = nil
	return err
}

func (c *Ceiling) prepared(ctx context.Context) (*sqlx.Stmt, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.stmt != nil {
		return c.stmt, nil
	}
	st, err := c.db.PreparexContext(ctx, ceilingReserve)
	if err != nil {
		return nil, fmt.Errorf("benchdata: prepare ceiling: %w", err)
	}
	c.stmt = st
	return st, nil
}

// Reserve takes a unit from the position with the conditional UPDATE and
// inserts the reservation row, committed durably on its own (autocommit).
// ok is false when the position had no unit left.
func (c *Ceiling) Reserve(ctx context.Context, locationID, productID int64, expires time.Time) (bool, error) {
	st, err := c.prepared(ctx)
	if err != nil {
		return false, err
	}
	var n int
	err = st.QueryRowContext(ctx, locationID, productID, expires).Scan(&n)
	return n == 1, err
}

const ceilingReserve = `WITH u AS (
			UPDATE positions SET reserved = reserved + 1
			WHERE location_id = $1 AND product_id = $2
				AND on_hand - reserved - damaged - quality_hold - transfer_out - 1 >= 1
			RETURNING 1
		), r AS (
			INSERT INTO reservations (channel, status, checkout_ref, expires_at, created_at, created_by)
			SELECT 'bopis', 'released', 'bench-ceiling', $3, now(), 'system:bench-ceiling' FROM u
			RETURNING 1
		)
		SELECT count(*) FROM r`

// Reset undoes the ceiling's effect on the given positions:
// reserved goes back to what the ledger says and the ceiling's rows go, so
// the consistency check judges only the application's work.
func (c *Ceiling) Reset(ctx context.Context, locationIDs, productIDs []int64) error {
	_, err := c.db.ExecContext(ctx, `WITH t AS (SELECT DISTINCT * FROM unnest($1::bigint[], $2::bigint[]) AS t(loc, prod))
		UPDATE positions p SET reserved = COALESCE((SELECT sum(delta) FROM ledger g
			WHERE g.location_id = p.location_id AND g.product_id = p.product_id AND g.bucket = 'reserved'), 0)
		FROM t WHERE p.location_id = t.loc AND p.product_id = t.prod`, pq.Array(locationIDs), pq.Array(productIDs))
	if err != nil {
		return fmt.Errorf("benchdata: ceiling reset: %w", err)
	}
	if _, err := c.db.ExecContext(ctx, `DELETE FROM reservations WHERE checkout_ref = 'bench-ceiling' AND created_by = 'system:bench-ceiling'`); err != nil {
		return fmt.Errorf("benchdata: ceiling reset: %w", err)
	}
	return nil
}

// ProductIDs returns every product id, for the load generator's
// random picks.
func ProductIDs(ctx context.Context, db *store.DB) ([]int64, error) {
	var ids []int64
	if err := db.SelectContext(ctx, &ids, `SELECT id FROM products ORDER BY id`); err != nil {
		return nil, fmt.Errorf("benchdata: products: %w", err)
	}
	return ids, nil
}

// Oversold counts positions holding more for reservations than they have
// sellable: reserved above on_hand less damaged, quality hold and transfer
// out. A correct reservation path keeps it at zero.
func Oversold(ctx context.Context, db *store.DB) (int, error) {
	var n int
	err := db.GetContext(ctx, &n, `SELECT count(*) FROM positions WHERE reserved > 0 AND reserved > on_hand - damaged - quality_hold - transfer_out`)
	if err != nil {
		return 0, fmt.Errorf("benchdata: oversold: %w", err)
	}
	return n, nil
}
