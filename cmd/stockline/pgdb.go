package main

import (
	"database/sql"
	"fmt"

	"github.com/lib/pq"
)

// ensureDatabase creates database name on the private cluster if missing.
func ensureDatabase(adminDSN, name string) error {
	db, err := sql.Open("postgres", adminDSN)
	if err != nil {
		return err
	}
	defer db.Close()
	var exists bool
	if err := db.QueryRow(`SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)`, name).Scan(&exists); err != nil {
		return fmt.Errorf("private cluster: %w", err)
	}
	if exists {
		return nil
	}
	_, err = db.Exec(`CREATE DATABASE ` + pq.QuoteIdentifier(name))
	return err
}
