// Package pgtest gives each test package its own real PostgreSQL database,
// created from a migrated template. `make test` starts one throwaway
// cluster and passes its admin URL in STOCKLINE_TEST_PG; without it, the
// package starts its own throwaway cluster through pgcluster.
package pgtest

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"testing"
	"time"

	_ "github.com/lib/pq"

	"stockline/store"
	"stockline/store/pgcluster"
)

var (
	adminDSN string // the cluster's "postgres" database
	tmplName string // the migrated template database
	pkgDSN   string // this package's database
)

// Main wraps testing.M.Run: it sets up the package database, runs the
// tests and drops it. Call it from TestMain. It exits non-zero, loudly,
// when PostgreSQL cannot be started: no test is skipped for want of it.
func Main(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	adminDSN = os.Getenv("STOCKLINE_TEST_PG")
	if adminDSN == "" {
		dir, err := os.MkdirTemp("", "stockline-test-pg-")
		if err != nil {
			fmt.Fprintln(os.Stderr, "pgtest:", err)
			return 2
		}
		defer os.RemoveAll(dir)
		c, err := pgcluster.Ensure(dir)
		if err != nil {
			fmt.Fprintln(os.Stderr, "pgtest: cannot start PostgreSQL:", err)
			return 2
		}
		defer c.Stop()
		adminDSN = c.DSN("postgres")
	}
	var err error
	if tmplName, err = ensureTemplate(); err != nil {
		fmt.Fprintln(os.Stderr, "pgtest:", err)
		return 2
	}
	name, err := createDatabase()
	if err != nil {
		fmt.Fprintln(os.Stderr, "pgtest:", err)
		return 2
	}
	pkgDSN = withDB(adminDSN, name)
	code := m.Run()
	dropDatabase(name)
	return code
}

// DSN is the package database's connection string.
func DSN() string { return pkgDSN }

// Open returns a store on the package database, closed when t ends.
func Open(t testing.TB) *store.DB {
	t.Helper()
	return open(t, pkgDSN)
}

// Fresh returns a store on a new, empty, migrated database of its own,
// dropped when t ends. Use it where a test needs state no other test sees.
func Fresh(t testing.TB) *store.DB {
	t.Helper()
	name, err := createDatabase()
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	t.Cleanup(func() { dropDatabase(name) })
	return open(t, withDB(adminDSN, name))
}

// FreshDSN is Fresh for tests that need the connection string itself.
func FreshDSN(t testing.TB) string {
	t.Helper()
	name, err := createDatabase()
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	t.Cleanup(func() { dropDatabase(name) })
	return withDB(adminDSN, name)
}

// EmptyDSN returns a new database with no schema at all, for migration tests.
func EmptyDSN(t testing.TB) string {
	t.Helper()
	name := "e_" + randomHex(6)
	if err := adminExec(fmt.Sprintf(`CREATE DATABASE %s`, name)); err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	t.Cleanup(func() { dropDatabase(name) })
	return withDB(adminDSN, name)
}

func open(t testing.TB, dsn string) *store.DB {
	db, err := store.Open(context.Background(), dsn)
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// ensureTemplate creates, once per cluster and migration set, a database
// with every migration applied. Packages run in parallel, so an advisory
// lock serialises the creation.
func ensureTemplate() (string, error) {
	migs, err := store.Migrations()
	if err != nil {
		return "", err
	}
	h := sha256.New()
	for _, m := range migs {
		h.Write([]byte(m.Up))
		h.Write([]byte(m.Down))
	}
	name := "tmpl_" + hex.EncodeToString(h.Sum(nil))[:16]
	admin, err := sql.Open("postgres", adminDSN)
	if err != nil {
		return "", err
	}
	defer admin.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	conn, err := admin.Conn(ctx)
	if err != nil {
		return "", fmt.Errorf("connect to test cluster: %w", err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, `SELECT pg_advisory_lock(4242)`); err != nil {
		return "", err
	}
	defer conn.ExecContext(context.Background(), `SELECT pg_advisory_unlock(4242)`)
	var exists bool
	if err := conn.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)`, name).Scan(&exists); err != nil {
		return "", err
	}
	if exists {
		return name, nil
	}
	build := name + "_build"
	conn.ExecContext(ctx, fmt.Sprintf(`DROP DATABASE IF EXISTS %s`, build))
	if _, err := conn.ExecContext(ctx, fmt.Sprintf(`CREATE DATABASE %s`, build)); err != nil {
		return "", err
	}
	db, err := store.Open(ctx, withDB(adminDSN, build))
	if err != nil {
		return "", err
	}
	_, err = db.Migrate(ctx)
	db.Close()
	if err != nil {
		return "", err
	}
	if _, err := conn.ExecContext(ctx, fmt.Sprintf(`ALTER DATABASE %s RENAME TO %s`, build, name)); err != nil {
		return "", err
	}
	return name, nil
}

func createDatabase() (string, error) {
	name := "t_" + randomHex(6)
	// CREATE DATABASE ... TEMPLATE fails if another session is connected to
	// the template; only ensureTemplate connects to it, under the lock.
	var err error
	for range 20 {
		if err = adminExec(fmt.Sprintf(`CREATE DATABASE %s TEMPLATE %s`, name, tmplName)); err == nil {
			return name, nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	return "", err
}

func dropDatabase(name string) {
	adminExec(fmt.Sprintf(`DROP DATABASE IF EXISTS %s WITH (FORCE)`, name))
}

func adminExec(stmt string) error { return pgcluster.Exec(adminDSN, stmt) }

func withDB(dsn, db string) string {
	u, err := url.Parse(dsn)
	if err != nil {
		panic(err)
	}
	u.Path = "/" + db
	return u.String()
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}
