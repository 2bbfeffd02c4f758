package store

import (
	"context"
	"fmt"
	"io/fs"
	"regexp"
	"slices"
	"strconv"

	"stockline/migrations"
)

// Migration is one numbered pair of SQL files.
type Migration struct {
	Version int
	Name    string
	Up      string
	Down    string
}

var migrationName = regexp.MustCompile(`^(\d{4})_([a-z0-9_]+)\.(up|down)\.sql$`)

// Migrations reads the embedded migrations in order. It fails when a file is
// misnamed, a version repeats, or an up has no down (or the reverse).
func Migrations() ([]Migration, error) {
	entries, err := fs.ReadDir(migrations.FS, ".")
	if err != nil {
		return nil, err
	}
	byVersion := map[int]*Migration{}
	for _, e := range entries {
		m := migrationName.FindStringSubmatch(e.Name())
		if m == nil {
			return nil, fmt.Errorf("store: migration file %q is not named NNNN_name.up.sql or NNNN_name.down.sql", e.Name())
		}
		v, _ := strconv.Atoi(m[1])
		body, err := fs.ReadFile(migrations.FS, e.Name())
		if err != nil {
			return nil, err
		}
		mig := byVersion[v]
		if mig == nil {
			mig = &Migration{Version: v, Name: m[2]}
			byVersion[v] = mig
		} else if mig.Name != m[2] {
			return nil, fmt.Errorf("store: migration %04d has two names, %q and %q", v, mig.Name, m[2])
		}
		if m[3] == "up" {
			mig.Up = string(body)
		} else {
			mig.Down = string(body)
		}
	}
	var out []Migration
	for _, m := range byVersion {
		if m.Up == "" || m.Down == "" {
			return nil, fmt.Errorf("store: migration %04d_%s needs both an up and a down file", m.Version, m.Name)
		}
		out = append(out, *m)
	}
	slices.SortFunc(out, func(a, b Migration) int { return a.Version - b.Version })
	for i, m := range out {
		if m.Version != i+1 {
			return nil, fmt.Errorf("store: migration versions must run 1, 2, 3…; found %04d at position %d", m.Version, i+1)
		}
	}
	return out, nil
}

// migrateLock is the advisory lock key that serialises migrations across
// app instances starting at once.
const migrateLock = 72_001

// Migrate applies every migration not yet applied, each in its own
// transaction, and returns how many it applied.
func (db *DB) Migrate(ctx context.Context) (int, error) {
	migs, err := Migrations()
	if err != nil {
		return 0, err
	}
	conn, err := db.Connx(ctx)
	if err != nil {
		return 0, fmt.Errorf("store: migrate: %w", err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, `SELECT pg_advisory_lock($1)`, migrateLock); err != nil {
		return 0, fmt.Errorf("store: migrate lock: %w", err)
	}
	defer conn.ExecContext(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock($1)`, migrateLock)
	if _, err := conn.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`); err != nil {
		return 0, fmt.Errorf("store: migrate: %w", err)
	}
	var current int
	if err := conn.GetContext(ctx, &current, `SELECT COALESCE(max(version), 0) FROM schema_migrations`); err != nil {
		return 0, fmt.Errorf("store: migrate: %w", err)
	}
	applied := 0
	for _, m := range migs {
		if m.Version <= current {
			continue
		}
		tx, err := conn.BeginTxx(ctx, nil)
		if err != nil {
			return applied, err
		}
		if _, err := tx.ExecContext(ctx, m.Up); err != nil {
			tx.Rollback()
			return applied, fmt.Errorf("store: migration %04d_%s up: %w", m.Version, m.Name, err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, name) VALUES ($1, $2)`, m.Version, m.Name); err != nil {
			tx.Rollback()
			return applied, err
		}
		if err := tx.Commit(); err != nil {
			return applied, err
		}
		applied++
	}
	return applied, nil
}

// MigrateDown reverts the newest applied migrations down to (not including)
// version target. It exists for the migration round-trip test and for
// operators rolling back a release.
func (db *DB) MigrateDown(ctx context.Context, target int) error {
	migs, err := Migrations()
	if err != nil {
		return err
	}
	slices.Reverse(migs)
	return db.InTx(ctx, func(tx *Tx) error {
		if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock($1)`, migrateLock); err != nil {
			return err
		}
		var current int
		if err := tx.GetContext(ctx, &current, `SELECT COALESCE(max(version), 0) FROM schema_migrations`); err != nil {
			return err
		}
		for _, m := range migs {
			if m.Version > current || m.Version <= target {
				continue
			}
			if _, err := tx.ExecContext(ctx, m.Down); err != nil {
				return fmt.Errorf("store: migration %04d_%s down: %w", m.Version, m.Name, err)
			}
			if _, err := tx.ExecContext(ctx, `DELETE FROM schema_migrations WHERE version = $1`, m.Version); err != nil {
				return err
			}
		}
		return nil
	})
}
