package store

import (
	"context"
	"database/sql/driver"
	"errors"
	"io"
	"net"
	"net/url"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/lib/pq"
)

// Unavailable reports whether err means PostgreSQL could not be reached or
// dropped the connection (a restart, a crash, a broken network), rather
// than a statement failing. Handlers answer these with 503 and
// Retry-After: waiting helps, and nothing was applied, since a transaction
// that lost its connection never committed.
func Unavailable(err error) bool {
	if err == nil {
		return false
	}
	var pqErr *pq.Error
	if errors.As(err, &pqErr) {
		// 08: connection exception; 57P01-57P03: admin shutdown, crash
		// shutdown, cannot connect now (starting up or shutting down).
		c := string(pqErr.Code)
		return strings.HasPrefix(c, "08") || c == "57P01" || c == "57P02" || c == "57P03"
	}
	var netErr net.Error
	var opErr *net.OpError
	return errors.Is(err, driver.ErrBadConn) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) ||
		errors.As(err, &opErr) || errors.As(err, &netErr)
}

// Ready reports whether the database answers a trivial query within d.
func (db *DB) Ready(ctx context.Context, d time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	_, err := db.ExecContext(ctx, `SELECT 1`)
	return err
}

// retries counts transactions InTx ran again after a serialization failure
// or deadlock, over the process's life (the soak reports it).
var retries atomic.Int64

// Retries is how many times InTx has retried a transaction since start.
func Retries() int64 { return retries.Load() }

// connectTimeoutSeconds bounds how long opening one connection may take,
// so a database that accepts TCP but does not answer (a hung server, a
// black-holed network) fails a request in seconds instead of hanging it.
const connectTimeoutSeconds = "5"

// withConnectTimeout adds connect_timeout to dsn unless it names one. It
// handles both the URL form and the key=value form lib/pq accepts.
func withConnectTimeout(dsn string) string {
	if strings.Contains(dsn, "connect_timeout") {
		return dsn
	}
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		u, err := url.Parse(dsn)
		if err != nil {
			return dsn
		}
		q := u.Query()
		q.Set("connect_timeout", connectTimeoutSeconds)
		u.RawQuery = q.Encode()
		return u.String()
	}
	return strings.TrimSpace(dsn + " connect_timeout=" + connectTimeoutSeconds)
}
