package benchdata_test

import (
	"context"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"stockline/connectors/sim"
	"stockline/store"
	"stockline/store/benchdata"
	"stockline/store/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

const self = "stockline/store/benchdata"

// The benchmark datasets ship in no production binary: of the module's
// packages only cmd/stockbench (and tests, whose imports go list -deps
// does not show) may depend on this package.
func TestOnlyTheBenchmarkDependsOnBenchdata(t *testing.T) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		goBin = filepath.Join(runtime.GOROOT(), "bin", "go")
	}
	out, err := exec.Command(goBin, "list", "-f", `{{.ImportPath}}:{{join .Deps " "}}`, "stockline/...").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	allowed := map[string]bool{"stockline/cmd/stockbench": true, self: true}
	seen := map[string]bool{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		pkg, deps, _ := strings.Cut(line, ":")
		seen[pkg] = true
		if allowed[pkg] {
			continue
		}
		for _, d := range strings.Fields(deps) {
			if d == self {
				t.Errorf("%s depends on %s; only cmd/stockbench and tests may", pkg, self)
			}
		}
	}
	// The list must have covered the production packages, or the test
	// proves nothing.
	for _, p := range []string{"stockline/cmd/stockline", "stockline/handlers", "stockline/views", "stockline/connectors", "stockline/store", "stockline/cmd/stockbench"} {
		if !seen[p] {
			t.Errorf("go list did not list %s", p)
		}
	}
	// And the benchmark really does use it, so the rule is not vacuous.
	dep, err := exec.Command(goBin, "list", "-deps", "stockline/cmd/stockbench").CombinedOutput()
	if err != nil || !strings.Contains(string(dep), self+"\n") {
		t.Errorf("cmd/stockbench does not depend on %s: %v", self, err)
	}
}

// Every dataset the benchmark builds passes the consistency check, so
// `make bench`'s closing checks judge only the application's work: the
// retailer with its hot stock, the ceiling's effect undone by Reset, the
// orders dataset on the demo retailer, and the bare-SQL feed baseline.
func TestDatasetsPassTheConsistencyCheck(t *testing.T) {
	ctx := context.Background()
	check := func(t *testing.T, db *store.DB, what string) {
		t.Helper()
		rep, err := db.Check(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if !rep.OK() {
			t.Fatalf("%s: consistency check %+v", what, rep)
		}
		if n, err := benchdata.Oversold(ctx, db); err != nil || n != 0 {
			t.Fatalf("%s: %d oversold (%v)", what, n, err)
		}
	}

	t.Run("retailer, ceiling and feed baseline", func(t *testing.T) {
		db := pgtest.Fresh(t)
		ds, err := benchdata.LoadRetailer(ctx, db, 4, 30)
		if err != nil {
			t.Fatal(err)
		}
		if ds.Positions != 120 || ds.HotLocation.Code != "S002" || ds.HotSKU.SKU != "BEN-000001" || ds.CeilingSKU.SKU != "BEN-000002" {
			t.Fatalf("dataset %+v", ds)
		}
		if _, err := benchdata.LoadRetailer(ctx, db, 4, 30); err == nil {
			t.Fatal("a second load into a filled database was accepted")
		}
		check(t, db, "retailer")

		c := benchdata.NewCeiling(db)
		defer c.Close()
		for range 5 {
			if ok, err := c.Reserve(ctx, ds.HotLocation.ID, ds.CeilingSKU.ID, time.Now().Add(time.Hour)); err != nil || !ok {
				t.Fatalf("ceiling reserve: %v %v", ok, err)
			}
		}
		pos, err := db.PositionAt(ctx, ds.HotLocation.ID, ds.CeilingSKU.ID)
		if err != nil || pos.Reserved != 5 {
			t.Fatalf("after 5 ceiling holds reserved = %d (%v)", pos.Reserved, err)
		}
		if err := c.Reset(ctx, []int64{ds.HotLocation.ID}, []int64{ds.CeilingSKU.ID}); err != nil {
			t.Fatal(err)
		}
		check(t, db, "after the ceiling reset")
		ids, err := benchdata.ProductIDs(ctx, db)
		if err != nil || len(ids) != 30 {
			t.Fatalf("product ids %d (%v)", len(ids), err)
		}

		if err := benchdata.AddIngestConnector(ctx, db); err != nil {
			t.Fatal(err)
		}
		conn, err := db.ConnectorByName(ctx, benchdata.IngestConnector)
		if err != nil {
			t.Fatal(err)
		}
		at := sim.SquareTime(time.Now().Add(-time.Hour))
		feed := []benchdata.BaselineChange{
			{SourceEventID: "square:adjustment:a1", Type: "ADJUSTMENT", OccurredAt: at, Item: "I000003", Location: "L002",
				FromState: "IN_STOCK", ToState: "SOLD", Quantity: "2", Payload: []byte(`{}`)},
			{SourceEventID: "square:transfer:t1", Type: "TRANSFER", OccurredAt: at, Item: "I000004", Location: "L002", ToLocation: "L003",
				Quantity: "3", Payload: []byte(`{}`)},
			{SourceEventID: "square:physical_count:c1", Type: "PHYSICAL_COUNT", OccurredAt: at, Item: "I000005", Location: "L004",
				Quantity: "7", Payload: []byte(`{}`)},
			{SourceEventID: "square:adjustment:bad", Type: "ADJUSTMENT", OccurredAt: at, Item: "I000003", Location: "L002",
				FromState: "IN_STOCK", ToState: "SOLD", Payload: []byte(`{}`)},
		}
		n, err := benchdata.IngestBaseline(ctx, db, conn.ID, feed)
		if err != nil {
			t.Fatal(err)
		}
		if n != 4 { // the sale, both legs of the transfer, the count
			t.Fatalf("baseline moves %d, want 4", n)
		}
		if n, err := benchdata.IngestBaseline(ctx, db, conn.ID, feed); err != nil || n != 0 {
			t.Fatalf("a repeated batch moved %d (%v)", n, err)
		}
		p, _ := db.ProductBySKU(ctx, "BEN-000005")
		l, _ := db.LocationByCode(ctx, "S003")
		if pos, err := db.PositionAt(ctx, l.ID, p.ID); err != nil || pos.OnHand != 7 {
			t.Fatalf("counted position on hand %d (%v)", pos.OnHand, err)
		}
		positions, ledger, err := benchdata.OnHandTotals(ctx, db)
		if err != nil || positions != ledger {
			t.Fatalf("on hand totals: positions %d, ledger %d (%v)", positions, ledger, err)
		}
		check(t, db, "after the feed baseline")
	})

	t.Run("orders on the demo retailer", func(t *testing.T) {
		db := pgtest.Fresh(t)
		store.BcryptCost = 4
		if _, err := db.SeedDemo(ctx); err != nil {
			t.Fatal(err)
		}
		steps := 0
		ds, err := benchdata.LoadOrders(ctx, db, 1000, func(string, time.Duration) { steps++ })
		if err != nil {
			t.Fatal(err)
		}
		if steps == 0 || ds.Open != 5 || ds.MaxID-ds.MinID != 999 || ds.Lines < 1000 || ds.Events < 2000 {
			t.Fatalf("orders dataset %+v after %d steps", ds, steps)
		}
		check(t, db, "orders dataset")
		// The exceptions dataset on the same database: every one due, one in twenty open.
		before, _, _ := db.ListExceptions(ctx, store.ExceptionFilter{Limit: 200})
		ex, err := benchdata.LoadExceptions(ctx, db, 2000, func(string, time.Duration) {})
		if err != nil {
			t.Fatal(err)
		}
		if ex.Open != len(before)+100 || ex.Total < 2000 {
			t.Fatalf("exceptions dataset %+v (open before %d)", ex, len(before))
		}
		check(t, db, "exceptions dataset")
	})
}
