package store

import (
	"context"
	"sync"

	"github.com/jmoiron/sqlx"
)

// stmtCache prepares each query it is given once per DB handle (and
// database/sql once per connection), so the batcher's statements skip the
// parse-and-plan round trip. A nil cache runs queries plainly.
type stmtCache struct {
	db *DB
	mu sync.Mutex
	m  map[string]*sqlx.Stmt
}

func (c *stmtCache) stmt(ctx context.Context, query string) (*sqlx.Stmt, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if st, ok := c.m[query]; ok {
		return st, nil
	}
	st, err := c.db.PreparexContext(ctx, query)
	if err != nil {
		return nil, err
	}
	if c.m == nil {
		c.m = map[string]*sqlx.Stmt{}
	}
	c.m[query] = st
	return st, nil
}

// selectIn runs query inside tx and scans its rows into dest; with no tx,
// on the pool, where the one statement commits on its own.
func (c *stmtCache) selectIn(ctx context.Context, tx *Tx, dest any, query string, args ...any) error {
	if tx == nil {
		return c.selectDB(ctx, dest, query, args...)
	}
	if c == nil {
		return tx.SelectContext(ctx, dest, query, args...)
	}
	st, err := c.stmt(ctx, query)
	if err != nil {
		return err
	}
	return tx.StmtxContext(ctx, st).SelectContext(ctx, dest, args...)
}

// prepared is the DB handle's statement cache, for hot paths outside a
// transaction too (token checks, availability).
func (db *DB) prepared() *stmtCache {
	db.resv.init(db)
	return &db.resv.stmts
}

// selectDB runs query on the pool and scans its rows into dest.
func (c *stmtCache) selectDB(ctx context.Context, dest any, query string, args ...any) error {
	st, err := c.stmt(ctx, query)
	if err != nil {
		return err
	}
	return st.SelectContext(ctx, dest, args...)
}

// getDB runs query on the pool and scans its one row into dest
// (sql.ErrNoRows when there is none).
func (c *stmtCache) getDB(ctx context.Context, dest any, query string, args ...any) error {
	st, err := c.stmt(ctx, query)
	if err != nil {
		return err
	}
	return st.GetContext(ctx, dest, args...)
}

// getRow runs query on the pool and scans its one row into dest.
func (c *stmtCache) getRow(ctx context.Context, query string, args []any, dest ...any) error {
	st, err := c.stmt(ctx, query)
	if err != nil {
		return err
	}
	return st.QueryRowContext(ctx, args...).Scan(dest...)
}
