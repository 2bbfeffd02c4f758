package store_test

import (
	"context"
	"testing"

	"stockline/domain"
	"stockline/store"
	"stockline/store/pgtest"
)

// TestDatabaseErrorIsNeverNotFound: only "no such row" becomes ENOTFOUND
// (404); a failing database is an internal error (500), including where a
// lookup's ENOTFOUND is given a field name.
func TestDatabaseErrorIsNeverNotFound(t *testing.T) {
	ctx := context.Background()
	pgtest.Open(t) // the package database exists and is migrated
	db, err := store.Open(ctx, pgtest.DSN())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.LocationByCode(ctx, "NO-SUCH"); domain.ErrorCode(err) != domain.ENOTFOUND {
		t.Fatalf("an unknown location on a working database: %v, want not_found", err)
	}
	db.Close() // every query now fails
	actor := domain.SystemActor("test")
	cases := []struct {
		name string
		err  error
	}{
		{"LocationByCode", func() error { _, err := db.LocationByCode(ctx, "S01"); return err }()},
		{"ProductBySKU", func() error { _, err := db.ProductBySKU(ctx, "HOM-00001"); return err }()},
		{"OrderByNumber", func() error { _, err := db.OrderByNumber(ctx, "SL-100001"); return err }()},
		{"OrderByID", func() error { _, err := db.OrderByID(ctx, 1); return err }()},
		{"ChangePickupLocation", func() error { _, err := db.ChangePickupLocation(ctx, actor, 1, "S01"); return err }()},
		{"ReallocateLine", func() error {
			_, err := db.ReallocateLine(ctx, actor, 1, 1, []store.Allocation{{Location: "S01", Qty: 1}})
			return err
		}()},
	}
	for _, c := range cases {
		if c.err == nil {
			t.Errorf("%s on a closed database: no error", c.name)
		} else if code := domain.ErrorCode(c.err); code != domain.EINTERNAL {
			t.Errorf("%s on a closed database: code %q (%v), want internal", c.name, code, c.err)
		}
	}
}
