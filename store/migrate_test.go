package store_test

import (
	"context"
	"testing"

	"stockline/store"
	"stockline/store/pgtest"
)

// Every up has a down, and down-then-up leaves a working schema.
func TestMigrationsRoundTrip(t *testing.T) {
	migs, err := store.Migrations()
	if err != nil {
		t.Fatal(err)
	}
	if len(migs) == 0 {
		t.Fatal("no migrations embedded")
	}
	ctx := context.Background()
	db, err := store.Open(ctx, pgtest.EmptyDSN(t))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	n, err := db.Migrate(ctx)
	if err != nil || n != len(migs) {
		t.Fatalf("first migrate: applied %d of %d: %v", n, len(migs), err)
	}
	if n, err := db.Migrate(ctx); err != nil || n != 0 {
		t.Fatalf("second migrate should be a no-op: applied %d: %v", n, err)
	}
	if err := db.MigrateDown(ctx, 0); err != nil {
		t.Fatalf("down: %v", err)
	}
	var tables int
	if err := db.GetContext(ctx, &tables, `SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public' AND table_name <> 'schema_migrations'`); err != nil {
		t.Fatal(err)
	}
	if tables != 0 {
		t.Fatalf("after down, %d tables remain", tables)
	}
	if n, err := db.Migrate(ctx); err != nil || n != len(migs) {
		t.Fatalf("up after down: applied %d: %v", n, err)
	}
	if _, err := db.SeedDemo(ctx); err != nil {
		t.Fatalf("seed after round trip: %v", err)
	}
}
