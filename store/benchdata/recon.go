package benchdata

import (
	"context"
	"fmt"
	"time"

	"stockline/domain"
	"stockline/store"
)

// ReconConnector is the platform connector the reconciliation benchmark
// compares.
const ReconConnector = "bench-platform"

// AddReconSnapshot adds an ecommerce connector mapping every location and
// BEN- product of a database LoadRetailer filled, and a platform snapshot
// row for every position as of now: the platform agrees, except one
// position in driftEvery, where it reports 10 fewer units (a drift beyond
// the default threshold). It returns the connector.
func AddReconSnapshot(ctx context.Context, db *store.DB, driftEvery int) (store.Connector, error) {
	c, err := db.CreateConnector(ctx, domain.SystemActor("bench"), store.NewConnector{Name: ReconConnector, Kind: "ecommerce", Adapter: "shopify",
		BaseURL: "http://127.0.0.1:1", Enabled: false})
	if err != nil {
		return c, err
	}
	asOf := time.Now().Add(time.Second)
	steps := []string{
		`INSERT INTO connector_mappings (connector_id, kind, external_id, location_id)
			SELECT $1, 'location', 'P' || id, id FROM locations`,
		`INSERT INTO connector_mappings (connector_id, kind, external_id, product_id)
			SELECT $1, 'item', 'inventory_item:' || id, id FROM products WHERE sku LIKE 'BEN-%'`,
		`INSERT INTO platform_snapshots (connector_id, location_id, product_id, quantity, as_of, source_ref)
			SELECT $1, location_id, product_id,
				CASE WHEN (location_id * 7919 + product_id) % $2 = 0 THEN GREATEST(on_hand - 10, 0) ELSE on_hand END, $3, 'bench'
			FROM positions`,
		`ANALYZE connector_mappings`,
		// Settled as autovacuum and the checkpointer would leave a loaded
		// table, so that neither the baseline nor a run pays the load's
		// hint bits or its dirty pages' flush in its measured time.
		`VACUUM (ANALYZE) platform_snapshots`, `VACUUM (ANALYZE) positions`, `CHECKPOINT`,
	}
	for i, q := range steps {
		var err error
		switch i {
		case 0, 1:
			_, err = db.ExecContext(ctx, q, c.ID)
		case 2:
			_, err = db.ExecContext(ctx, q, c.ID, driftEvery, asOf)
		default:
			_, err = db.ExecContext(ctx, q)
		}
		if err != nil {
			return c, fmt.Errorf("benchdata: recon snapshot: %w", err)
		}
	}
	return c, nil
}

// ReconBaseline is the bare SQL comparison of the same tables: the
// snapshot FULL OUTER JOIN the positions, counting the positions that
// differ. It returns that count.
func ReconBaseline(ctx context.Context, db *store.DB, connectorID int64) (int, error) {
	var n int
	err := db.GetContext(ctx, &n, `SELECT count(*) FILTER (WHERE COALESCE(s.quantity, 0) <> COALESCE(p.on_hand, 0))
		FROM (SELECT * FROM platform_snapshots WHERE connector_id = $1) s
		FULL OUTER JOIN positions p ON p.location_id = s.location_id AND p.product_id = s.product_id`, connectorID)
	return n, err
}
