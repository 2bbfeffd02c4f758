// Package store holds every SQL statement Stockline runs. Each exported
// method is one unit of work: it opens a transaction (through DB.InTx) and
// calls small unexported helpers that take the transaction.
package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync/atomic"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"stockline/domain"
)

// DB is Stockline's database handle.
type DB struct {
	*sqlx.DB
	now      func() time.Time
	policies policyCache             // see CachedPolicies
	resv     resvRuntime             // see reservations_batch.go
	sink     atomic.Pointer[sinkBox] // feed orders go here; see SetOrderSink
	dsn      string                  // for the availability listener (availability_listen.go)
	avail    availCache              // see availability_cache.go
	xcounts  exceptionCountsCache    // see exception_queue.go
	tokens   tokenCache              // see tokens_cache.go
	feedRefs feedRefCache            // see connectors_resolve.go
}

// Open connects to PostgreSQL at dsn and checks the connection.
func Open(ctx context.Context, dsn string) (*DB, error) {
	db, err := sqlx.Open("postgres", withConnectTimeout(dsn))
	if err != nil {
		return nil, fmt.Errorf("store: open: %w", err)
	}
	db.SetMaxOpenConns(40)
	db.SetMaxIdleConns(40)
	db.SetConnMaxIdleTime(5 * time.Minute)
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := db.PingContext(pctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("store: ping: %w", err)
	}
	d := &DB{DB: db, now: time.Now, dsn: dsn}
	d.SetOrderSink(FeedOrderSink())
	return d, nil
}

// detachedWriteTimeout bounds a write execDetached runs.
const detachedWriteTimeout = 5 * time.Second

// execDetached runs a write no request waits on (a token's last use, a
// session's last-seen time) in the background, detached from the
// request's context. Its error is dropped: such writes carry a condition
// that makes them safe to repeat, and the next use writes again.
func (db *DB) execDetached(query string, args ...any) {
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), detachedWriteTimeout)
		defer cancel()
		db.ExecContext(ctx, query, args...)
	}()
}

// Now is the store's clock; tests may replace it with SetClock.
func (db *DB) Now() time.Time { return db.now() }

// SetClock replaces the store's clock (tests only).
func (db *DB) SetClock(now func() time.Time) { db.now = now }

// Tx is the transaction type every helper takes.
type Tx = sqlx.Tx

// InTx runs fn in one transaction and commits it. A serialization failure
// (40001) or deadlock (40P01) rolls back and retries fn with backoff, so fn
// must have no effects outside the transaction.
func (db *DB) InTx(ctx context.Context, fn func(tx *Tx) error) error {
	return db.inTxOn(ctx, nil, fn)
}

// inTxOn is InTx whose first attempt runs on begun, a transaction already
// begun (nil: begin one); retries begin their own.
func (db *DB) inTxOn(ctx context.Context, begun *Tx, fn func(tx *Tx) error) error {
	const attempts = 8
	var err error
	for i := range attempts {
		err = db.inTxOnce(ctx, begun, fn)
		begun = nil
		if !retryable(err) {
			return err
		}
		retries.Add(1)
		d := time.Duration(1<<i) * time.Millisecond
		d += time.Duration(rand.Int64N(int64(d)))
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(d):
		}
	}
	return err
}

func (db *DB) inTxOnce(ctx context.Context, tx *Tx, fn func(tx *Tx) error) error {
	return db.committing(ctx, func() error {
		if tx == nil {
			var err error
			if tx, err = db.BeginTxx(ctx, nil); err != nil {
				return fmt.Errorf("store: begin: %w", err)
			}
		}
		defer tx.Rollback()
		if err := fn(tx); err != nil {
			return err
		}
		if err := tx.Commit(); err != nil {
			return fmt.Errorf("store: commit: %w", err)
		}
		return nil
	})
}

func retryable(err error) bool {
	var pqErr *pq.Error
	if errors.As(err, &pqErr) {
		return pqErr.Code == "40001" || pqErr.Code == "40P01"
	}
	return false
}

// isUniqueViolation reports whether err is a unique-constraint failure.
func isUniqueViolation(err error) bool {
	var pqErr *pq.Error
	return errors.As(err, &pqErr) && pqErr.Code == "23505"
}

// notFound turns sql.ErrNoRows into an ENOTFOUND domain error. Any other
// error passes through: a database failure is never "not found".
func notFound(err error, format string, args ...any) error {
	if errors.Is(err, sql.ErrNoRows) {
		return domain.Errorf(domain.ENOTFOUND, format, args...)
	}
	return err
}

// notFoundField names the input field of an ENOTFOUND error (an unknown
// location typed into a form); any other error passes through unchanged.
func notFoundField(err error, field string) error {
	if domain.ErrorCode(err) != domain.ENOTFOUND {
		return err
	}
	return &domain.Error{Code: domain.ENOTFOUND, Field: field, Message: domain.ErrorMessage(err)}
}
