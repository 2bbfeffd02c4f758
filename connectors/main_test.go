package connectors_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"testing"
	"time"

	"stockline/connectors"
	"stockline/connectors/sim"
	"stockline/domain"
	"stockline/store"
	"stockline/store/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// world is a fresh database with a few stores and SKUs, mapped for a
// connector to ext ids LOC<n> and ITEM<n>.
type world struct {
	t    *testing.T
	db   *store.DB
	conn store.Connector
	locs []string
	skus []string
}

func newWorld(t *testing.T, adapter, baseURL string, nLocs, nSKUs int) *world {
	t.Helper()
	ctx := context.Background()
	db := pgtest.Fresh(t)
	w := &world{t: t, db: db}
	for i := range nLocs {
		code := fmt.Sprintf("T%02d", i+1)
		w.locs = append(w.locs, code)
		if _, err := db.ExecContext(ctx, `INSERT INTO locations (code, name, kind, region) VALUES ($1, $1, 'store', 'Test')`, code); err != nil {
			t.Fatal(err)
		}
	}
	for i := range nSKUs {
		sku := fmt.Sprintf("TST-%05d", i+1)
		w.skus = append(w.skus, sku)
		if _, err := db.ExecContext(ctx, `INSERT INTO products (sku, name, barcode, category, price_cents) VALUES ($1, $1, $2, 'Test', 100)`,
			sku, fmt.Sprintf("99%011d", i+1)); err != nil {
			t.Fatal(err)
		}
	}
	kind := "pos"
	if adapter == "shopify" {
		kind = "ecommerce"
	}
	c, err := db.CreateConnector(ctx, domain.SystemActor("test"), store.NewConnector{Name: adapter + "-test", Kind: kind, Adapter: adapter,
		BaseURL: baseURL, PollSeconds: 1, Enabled: true})
	if err != nil {
		t.Fatal(err)
	}
	w.conn = c
	var maps []store.Mapping
	for i, code := range w.locs {
		maps = append(maps, store.Mapping{Kind: "location", ExternalID: fmt.Sprintf("LOC%d", i+1), Code: code})
	}
	for i, sku := range w.skus {
		maps = append(maps, store.Mapping{Kind: "item", ExternalID: fmt.Sprintf("ITEM%d", i+1), Code: sku},
			store.Mapping{Kind: "item", ExternalID: fmt.Sprintf("inventory_item:%d", 7000+i+1), Code: sku})
	}
	if err := db.SetMappings(ctx, domain.SystemActor("test"), c.ID, maps); err != nil {
		t.Fatal(err)
	}
	return w
}

// onHand returns on_hand per "SKU@LOC" for every non-zero position.
func (w *world) positions() map[string]domain.Position {
	w.t.Helper()
	var rows []struct {
		SKU string `db:"sku"`
		Loc string `db:"code"`
		domain.Position
	}
	if err := w.db.SelectContext(context.Background(), &rows, `SELECT pr.sku, l.code, p.on_hand, p.reserved, p.damaged, p.quality_hold,
			p.transfer_out, p.in_transit_in
		FROM positions p JOIN products pr ON pr.id = p.product_id JOIN locations l ON l.id = p.location_id`); err != nil {
		w.t.Fatal(err)
	}
	out := map[string]domain.Position{}
	for _, r := range rows {
		if r.Position != (domain.Position{}) {
			out[r.SKU+"@"+r.Loc] = r.Position
		}
	}
	return out
}

func (w *world) count(q string, args ...any) int {
	w.t.Helper()
	var n int
	if err := w.db.GetContext(context.Background(), &n, q, args...); err != nil {
		w.t.Fatal(err)
	}
	return n
}

func (w *world) checkOK() {
	w.t.Helper()
	rep, err := w.db.Check(context.Background())
	if err != nil {
		w.t.Fatal(err)
	}
	if !rep.OK() {
		w.t.Fatalf("consistency check: %+v", rep)
	}
}

func (w *world) runner(owner string) *connectors.Runner {
	return &connectors.Runner{DB: w.db, Owner: owner, Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
		LeaseTTL: 3 * time.Second, ScanEvery: 50 * time.Millisecond, Backoff: connectors.Backoff{Base: 5 * time.Millisecond, Max: 40 * time.Millisecond}}
}

// squareServer starts a Square-shaped source on loopback.
func squareServer(t *testing.T) (*sim.Square, string) {
	sq := sim.NewSquare()
	ts := httptest.NewServer(sq)
	t.Cleanup(ts.Close)
	return sq, ts.URL
}

var base = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)

// applyEveryCount raises the default drift threshold beyond any count, so
// every count applies at once (the tests of pull rounds and delivery
// order check application, not drift review).
func (w *world) applyEveryCount() *world {
	w.t.Helper()
	if _, err := w.db.ExecContext(context.Background(), `UPDATE recon_thresholds SET min_units = $1 WHERE scope = 'default'`, domain.MaxQuantity+1); err != nil {
		w.t.Fatal(err)
	}
	return w
}
