package pgcluster

import (
	"database/sql"
	"fmt"

	"github.com/lib/pq"
)

// Exec runs one administrative statement (CREATE, ALTER or DROP DATABASE)
// on the database at adminDSN, as the make run, test and bench set-up do.
func Exec(adminDSN, stmt string) error {
	db, err := sql.Open("postgres", adminDSN)
	if err != nil {
		return err
	}
	defer db.Close()
	if _, err := db.Exec(stmt); err != nil {
		return fmt.Errorf("pgcluster: %s: %w", stmt, err)
	}
	return nil
}

// EnsureDatabase creates database name if it does not exist yet.
func EnsureDatabase(adminDSN, name string) error {
	db, err := sql.Open("postgres", adminDSN)
	if err != nil {
		return err
	}
	defer db.Close()
	var exists bool
	if err := db.QueryRow(`SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)`, name).Scan(&exists); err != nil {
		return fmt.Errorf("pgcluster: %w", err)
	}
	if exists {
		return nil
	}
	return Exec(adminDSN, `CREATE DATABASE `+pq.QuoteIdentifier(name))
}
