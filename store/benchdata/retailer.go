// Package benchdata holds the SQL behind `make bench` (cmd/stockbench):
// the generated retailer at scale, the orders and feed datasets, and the
// raw-SQL ceilings and baselines the application's paths are measured
// against. It runs only on the benchmark's own throwaway cluster. Only
// cmd/stockbench and tests import it (a test checks that no production
// package does), so none of it ships in the stockline binary; it lives
// under store/ because SQL lives only there.
package benchdata

import (
	"context"
	"fmt"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"stockline/domain"
	"stockline/store"
)

// Dataset is what LoadRetailer built.
type Dataset struct {
	Locations   int
	SKUs        int
	Positions   int
	HotLocation domain.Location // a pickup store
	HotSKU      domain.Product  // stocked deep at HotLocation and at the DC for the hot-SKU runs
	DC          domain.Location // the one DC: ecommerce_ship's only eligible location, where sourced holds go
	CeilingSKU  domain.Product  // the raw-SQL ceiling's own hot position, at HotLocation
}

// hotStock is added to the hot positions. on_hand: enough that no run can
// sell them out, so every request measures a successful hold.
const hotStock = 1_000_000

// LoadRetailer fills an empty, migrated database with a generated
// retailer, set-based in SQL: one DC and locations-1 pickup stores (every
// other one ships from store), skus products, a position for every pair
// with 20–99 units on hand, and the opening ledger rows behind them, so
// the consistency check holds. Indexes and keys on positions and ledger
// are dropped during the load and rebuilt after it, which is several times
// faster than maintaining them row by row. The default channel policies
// are saved. It refuses a database that already has locations.
func LoadRetailer(ctx context.Context, db *store.DB, locations, skus int) (Dataset, error) {
	ds := Dataset{Locations: locations, SKUs: skus, Positions: locations * skus}
	if locations < 2 || skus < 3 {
		return ds, fmt.Errorf("benchdata: dataset needs at least 2 locations and 3 SKUs")
	}
	var n int
	if err := db.GetContext(ctx, &n, `SELECT count(*) FROM locations`); err != nil || n > 0 {
		return ds, fmt.Errorf("benchdata: dataset needs an empty database (found %d locations): %v", n, err)
	}
	conn, err := db.Connx(ctx)
	if err != nil {
		return ds, err
	}
	defer conn.Close()
	exec := func(q string, args ...any) error {
		if _, err := conn.ExecContext(ctx, q, args...); err != nil {
			return fmt.Errorf("benchdata: dataset: %w\n%s", err, q)
		}
		return nil
	}
	// Bulk-load settings for this session only: the load is one idempotent
	// step of a throwaway cluster, so it need not wait for each WAL flush.
	for _, q := range []string{`SET synchronous_commit = off`, `SET maintenance_work_mem = '512MB'`, `SET session_replication_role = replica`} {
		if err := exec(q); err != nil {
			return ds, err
		}
	}
	rebuild, err := dropIndexes(ctx, conn, "positions", "ledger")
	if err != nil {
		return ds, err
	}
	steps := []string{
		`INSERT INTO locations (code, name, kind, region, timezone, pickup, ship_from_store)
			SELECT CASE WHEN i = 1 THEN 'DC1' ELSE 'S' || lpad((i - 1)::text, 3, '0') END,
				CASE WHEN i = 1 THEN 'Bench distribution centre' ELSE 'Bench store ' || (i - 1) END,
				CASE WHEN i = 1 THEN 'dc' ELSE 'store' END, CASE WHEN i % 2 = 0 THEN 'North' ELSE 'South' END,
				'America/Chicago', i > 1, i > 1 AND i % 2 = 0
			FROM generate_series(1, $1) AS i`,
		`INSERT INTO products (sku, name, barcode, category, price_cents)
			SELECT 'BEN-' || lpad(i::text, 6, '0'), 'Bench item ' || i, (2000000000000 + i)::text, 'Bench', 1000 + i % 9000
			FROM generate_series(1, $1) AS i`,
		// Location by location, as stock arrives at stores: one SKU's
		// positions lie on as many pages as there are locations, the
		// realistic (and slower) layout for reading a SKU everywhere.
		`INSERT INTO positions (location_id, product_id, on_hand)
			SELECT l, p, 20 + ((l * 7919 + p * 104729) % 80)::int
			FROM (SELECT min(id) AS l0, count(*) AS ln FROM locations) lo, (SELECT min(id) AS p0, count(*) AS pn FROM products) po,
				generate_series(0, lo.ln * po.pn - 1) AS g,
				LATERAL (SELECT lo.l0 + g / po.pn AS l, po.p0 + g % po.pn AS p) AS x`,
		`INSERT INTO ledger (location_id, product_id, bucket, delta, reason, source, source_ref, actor, occurred_at)
			SELECT location_id, product_id, 'on_hand', on_hand, 'received', 'bench', 'opening-balance', 'system:bench', now() - interval '1 day'
			FROM positions`,
	}
	for i, q := range steps {
		var args []any
		switch i {
		case 0:
			args = []any{locations}
		case 1:
			args = []any{skus}
		}
		if err := exec(q, args...); err != nil {
			return ds, err
		}
	}
	for _, q := range rebuild {
		if err := exec(q); err != nil {
			return ds, err
		}
	}
	if err := exec(`SET session_replication_role = DEFAULT`); err != nil {
		return ds, err
	}
	// Settled as autovacuum and the checkpointer would leave the load: the
	// 4M-row tables' first vacuum (hint bits, visibility map) and the
	// flush of their dirty pages happen here, not beside the first timed
	// runs, the app's and the baseline's alike.
	for _, q := range []string{`ANALYZE locations`, `ANALYZE products`, `VACUUM (ANALYZE) positions`, `VACUUM (ANALYZE) ledger`, `CHECKPOINT`} {
		if err := exec(q); err != nil {
			return ds, err
		}
	}
	for _, p := range store.DefaultPolicies() {
		if err := db.SavePolicy(ctx, domain.SystemActor("bench"), p); err != nil {
			return ds, err
		}
	}
	if ds.HotLocation, err = db.LocationByCode(ctx, "S002"); err != nil {
		return ds, err
	}
	if ds.HotSKU, err = db.ProductBySKU(ctx, "BEN-000001"); err != nil {
		return ds, err
	}
	if ds.CeilingSKU, err = db.ProductBySKU(ctx, "BEN-000002"); err != nil {
		return ds, err
	}
	if ds.DC, err = db.LocationByCode(ctx, "DC1"); err != nil {
		return ds, err
	}
	hot := []struct {
		sku string
		loc domain.Location
	}{{ds.HotSKU.SKU, ds.HotLocation}, {ds.CeilingSKU.SKU, ds.HotLocation}, {ds.HotSKU.SKU, ds.DC}}
	for _, h := range hot {
		counted := hotStock
		if _, err := db.Adjust(ctx, domain.SystemActor("bench"), h.sku, h.loc.Code,
			domain.Adjustment{Reason: domain.ReasonReceived, Delta: &counted, Note: "bench hot stock"}); err != nil {
			return ds, err
		}
	}
	return ds, nil
}

// dropIndexes drops every index on the tables, key constraints included
// (and the foreign keys that reference those keys, such as the ledger's
// reference to its position), and returns the statements that rebuild
// them, the foreign keys last.
func dropIndexes(ctx context.Context, conn *sqlx.Conn, tables ...string) ([]string, error) {
	var cons, fks []struct {
		Table string `db:"tbl"`
		Name  string `db:"name"`
		Def   string `db:"def"`
	}
	if err := conn.SelectContext(ctx, &fks, `SELECT conrelid::regclass::text AS tbl, conname AS name, pg_get_constraintdef(oid) AS def
		FROM pg_constraint WHERE confrelid = ANY($1::text[]::regclass[]) AND contype = 'f'`, pq.Array(tables)); err != nil {
		return nil, fmt.Errorf("benchdata: dataset: %w", err)
	}
	for _, c := range fks {
		if _, err := conn.ExecContext(ctx, `ALTER TABLE `+c.Table+` DROP CONSTRAINT `+pq.QuoteIdentifier(c.Name)); err != nil {
			return nil, fmt.Errorf("benchdata: dataset: %w", err)
		}
	}
	if err := conn.SelectContext(ctx, &cons, `SELECT conrelid::regclass::text AS tbl, conname AS name, pg_get_constraintdef(oid) AS def
		FROM pg_constraint WHERE conrelid = ANY($1::text[]::regclass[]) AND contype IN ('p', 'u')`, pq.Array(tables)); err != nil {
		return nil, fmt.Errorf("benchdata: dataset: %w", err)
	}
	var idx []struct {
		Name string `db:"indexname"`
		Def  string `db:"indexdef"`
	}
	if err := conn.SelectContext(ctx, &idx, `SELECT indexname, indexdef FROM pg_indexes
		WHERE schemaname = current_schema() AND tablename = ANY($1)
			AND indexname NOT IN (SELECT conname FROM pg_constraint WHERE contype IN ('p', 'u'))`, pq.Array(tables)); err != nil {
		return nil, fmt.Errorf("benchdata: dataset: %w", err)
	}
	var rebuild []string
	for _, c := range cons {
		if _, err := conn.ExecContext(ctx, `ALTER TABLE `+c.Table+` DROP CONSTRAINT `+pq.QuoteIdentifier(c.Name)); err != nil {
			return nil, fmt.Errorf("benchdata: dataset: %w", err)
		}
		rebuild = append(rebuild, `ALTER TABLE `+c.Table+` ADD CONSTRAINT `+pq.QuoteIdentifier(c.Name)+` `+c.Def)
	}
	for _, i := range idx {
		if _, err := conn.ExecContext(ctx, `DROP INDEX `+pq.QuoteIdentifier(i.Name)); err != nil {
			return nil, fmt.Errorf("benchdata: dataset: %w", err)
		}
		rebuild = append(rebuild, i.Def)
	}
	for _, c := range fks {
		rebuild = append(rebuild, `ALTER TABLE `+c.Table+` ADD CONSTRAINT `+pq.QuoteIdentifier(c.Name)+` `+c.Def)
	}
	return rebuild, nil
}
