package store_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"stockline/domain"
	"stockline/store/pgtest"
)

// The first SKU the reservation path's cache lacks loads the catalogue in
// the background; SKUs added afterwards are still found one by one, and an
// unknown SKU is still a 404.
func TestProductCacheLoadsTheCatalogueOnFirstMiss(t *testing.T) {
	ctx := context.Background()
	db := pgtest.Fresh(t)
	add := func(sku string) {
		t.Helper()
		if _, err := db.ExecContext(ctx, `INSERT INTO products (sku, name, barcode, category, price_cents) VALUES ($1, $1, $1, 'Test', 100)`, sku); err != nil {
			t.Fatal(err)
		}
	}
	var before int
	if err := db.GetContext(ctx, &before, `SELECT count(*) FROM products`); err != nil {
		t.Fatal(err)
	}
	for i := range 40 {
		add(fmt.Sprintf("WARM-%03d", i))
	}
	if p, err := db.ProductForReservation(ctx, "WARM-007"); err != nil || p.SKU != "WARM-007" {
		t.Fatalf("first lookup: %+v %v", p, err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for db.CachedProducts() < before+40 {
		if time.Now().After(deadline) {
			t.Fatalf("cache holds %d products, want the whole catalogue (%d)", db.CachedProducts(), before+40)
		}
		time.Sleep(10 * time.Millisecond)
	}
	add("WARM-LATE")
	if p, err := db.ProductForReservation(ctx, "WARM-LATE"); err != nil || p.SKU != "WARM-LATE" {
		t.Fatalf("SKU added after the load: %+v %v", p, err)
	}
	if _, err := db.ProductForReservation(ctx, "NO-SUCH-SKU"); domain.ErrorCode(err) != domain.ENOTFOUND {
		t.Fatalf("unknown SKU: %v, want not found", err)
	}
}
