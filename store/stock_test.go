package store_test

import (
	"context"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"math/rand/v2"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/lib/pq"

	"stockline/domain"
	"stockline/store"
	"stockline/store/pgtest"
)

// TestReservableSQLAgreesWithDomain evaluates the primitive's take guard in
// PostgreSQL over random positions and channel rules and compares it with
// domain.Reservable at an eligible location.
func TestReservableSQLAgreesWithDomain(t *testing.T) {
	ctx := context.Background()
	db := pgtest.Open(t)
	rng := rand.New(rand.NewPCG(3, 11))
	const n = 5000
	cols := make([][]int64, 7)
	var promise []bool
	var want []int
	loc := domain.Location{Code: "S01", Kind: domain.Store, Pickup: true, ShipFromStore: true}
	for i := range n {
		p := domain.Position{
			OnHand: rng.IntN(60) - 10, Reserved: rng.IntN(20), Damaged: rng.IntN(5),
			QualityHold: rng.IntN(5), TransferOut: rng.IntN(8), InTransitIn: rng.IntN(10),
		}
		if i%10 == 0 {
			p = domain.Position{}
		}
		pol := domain.Policy{Channel: domain.Channel("bopis"), SafetyStock: rng.IntN(6), PromiseIncomingStock: rng.IntN(2) == 0,
			EligibleKinds: []domain.LocationKind{domain.Store}}
		for j, v := range []int{p.OnHand, p.Reserved, p.Damaged, p.QualityHold, p.TransferOut, p.InTransitIn, pol.SafetyStock} {
			cols[j] = append(cols[j], int64(v))
		}
		promise = append(promise, pol.PromiseIncomingStock)
		want = append(want, domain.Reservable(pol, loc, p))
	}
	var got []int
	err := db.SelectContext(ctx, &got, `SELECT `+store.ReservableSQL+` FROM unnest($1::int[], $2::int[], $3::int[], $4::int[], $5::int[], $6::int[], $7::int[], $8::bool[])
		WITH ORDINALITY AS p(on_hand, reserved, damaged, quality_hold, transfer_out, in_transit_in, safety, promise, i),
		LATERAL (SELECT p.safety, p.promise) d ORDER BY p.i`,
		pq.Array(cols[0]), pq.Array(cols[1]), pq.Array(cols[2]), pq.Array(cols[3]), pq.Array(cols[4]), pq.Array(cols[5]), pq.Array(cols[6]), pq.BoolArray(promise))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != n {
		t.Fatalf("got %d rows, want %d", len(got), n)
	}
	zeros, positive := 0, 0
	for i := range got {
		if got[i] != want[i] {
			t.Fatalf("row %d: SQL guard %d, domain.Reservable %d (position %v safety %d promise %v)", i, got[i], want[i],
				[]int64{cols[0][i], cols[1][i], cols[2][i], cols[3][i], cols[4][i], cols[5][i]}, cols[6][i], promise[i])
		}
		if want[i] == 0 {
			zeros++
		} else {
			positive++
		}
	}
	if zeros < n/10 || positive < n/10 {
		t.Fatalf("the sample should cover both clamped and positive values: %d zeros, %d positive", zeros, positive)
	}
}

// TestOnlyStockUpdatesPositions fails when an UPDATE of positions appears in
// any hand-written Go file outside store/stock.go. Tests are exempt, and
// so are the benchmark's datasets and raw-SQL ceilings (store/benchdata,
// cmd/stockbench), which only the benchmark and tests import: bypassing
// the application is their point.
func TestOnlyStockUpdatesPositions(t *testing.T) {
	root := filepath.Join("..")
	re := regexp.MustCompile(`(?i)\bupdate\s+positions\b`)
	found := 0
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if name := d.Name(); name != ".." && (strings.HasPrefix(name, ".") || name == "node_modules" || name == "stockbench" || name == "benchdata") {
				return filepath.SkipDir
			}
			return nil
		}
		name := d.Name()
		if !strings.HasSuffix(name, ".go") || strings.HasSuffix(name, "_test.go") || strings.HasSuffix(name, "_templ.go") {
			return nil
		}
		f, err := parser.ParseFile(token.NewFileSet(), path, nil, 0)
		if err != nil {
			return err
		}
		ast.Inspect(f, func(n ast.Node) bool {
			lit, ok := n.(*ast.BasicLit)
			if !ok || lit.Kind != token.STRING {
				return true
			}
			s, err := strconv.Unquote(lit.Value)
			if err != nil || !re.MatchString(s) {
				return true
			}
			if filepath.ToSlash(path) == "../store/stock.go" {
				found++
				return true
			}
			t.Errorf("%s updates positions outside the stock primitive (store/stock.go): %q", path, s)
			return true
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if found != 1 {
		t.Fatalf("store/stock.go has %d UPDATE positions statements, want exactly 1", found)
	}
}

// TestStockBatch applies one batch over several positions, one of them new,
// and checks what the primitive promises: positions and ledger move
// together (one row per bucket move, with its meta), a new position is
// created, an out-of-bounds result opens one negative_stock exception, the
// outbox event is written, and a take the position cannot cover fails the
// whole batch.
func TestStockBatch(t *testing.T) {
	ctx := context.Background()
	db := seededFresh(t)
	locs, err := db.ListLocations(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var prods []int64
	if err := db.SelectContext(ctx, &prods, `SELECT id FROM products ORDER BY id LIMIT 2`); err != nil {
		t.Fatal(err)
	}
	var fresh int64 // a product with no position at locs[0]
	if err := db.GetContext(ctx, &fresh, `INSERT INTO products (sku, name, barcode, category, price_cents) VALUES ('STOCK-BATCH-NEW', 'New', 'STOCK-BATCH-NEW', 'test', 0) RETURNING id`); err != nil {
		t.Fatal(err)
	}
	l0, l1 := locs[0].ID, locs[1].ID
	before0, _ := db.PositionAt(ctx, l0, prods[0])
	before1, _ := db.PositionAt(ctx, l1, prods[1])
	meta := store.LedgerMeta{Reason: domain.ReasonCycleCount, Source: "test", SourceRef: "batch-1",
		Actor: domain.SystemActor("stock-test"), Note: "n", Event: &store.StockEvent{Topic: "test.batch", Payload: map[string]int{"n": 3}}}
	after, err := db.ApplyTestBatch(ctx, meta, []store.TestMove{
		{LocationID: l0, ProductID: prods[0], Bucket: domain.OnHand, Delta: 2},
		{LocationID: l0, ProductID: prods[0], Bucket: domain.Damaged, Delta: 1},
		{LocationID: l1, ProductID: prods[1], Bucket: domain.OnHand, Delta: -(before1.OnHand + 1)},
		{LocationID: l0, ProductID: fresh, Bucket: domain.QualityHold, Delta: 4},
	})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := after[[2]int64{l0, prods[0]}], before0.Apply(domain.OnHand, 2).Apply(domain.Damaged, 1); got != want {
		t.Fatalf("position 0: %+v, want %+v", got, want)
	}
	if got := after[[2]int64{l0, fresh}]; got != (domain.Position{QualityHold: 4}) {
		t.Fatalf("new position: %+v", got)
	}
	var rows int
	db.GetContext(ctx, &rows, `SELECT count(*) FROM ledger WHERE source = 'test' AND source_ref = 'batch-1' AND reason = 'cycle_count'
		AND actor = $1 AND note = 'n' AND recorded_at IS NOT NULL`, domain.SystemActor("stock-test").String())
	if rows != 4 {
		t.Fatalf("ledger rows %d, want 4", rows)
	}
	var neg, events int
	db.GetContext(ctx, &neg, `SELECT count(*) FROM exceptions WHERE kind = 'negative_stock' AND status = 'open' AND location_id = $1 AND product_id = $2`, l1, prods[1])
	db.GetContext(ctx, &events, `SELECT count(*) FROM outbox WHERE topic = 'test.batch' AND payload->>'n' = '3'`)
	if neg != 1 || events != 1 {
		t.Fatalf("negative_stock exceptions %d, outbox events %d; want 1 each", neg, events)
	}
	// A take beyond what the position can cover fails the batch as a whole.
	pol := domain.Policy{Channel: "bopis", EligibleKinds: domain.LocationKinds}
	p0 := after[[2]int64{l0, prods[0]}]
	_, err = db.ApplyTestBatch(ctx, store.LedgerMeta{Reason: domain.ReasonReservation, Source: "test", SourceRef: "batch-2"}, []store.TestMove{
		{LocationID: l0, ProductID: fresh, Bucket: domain.OnHand, Delta: 1},
		{LocationID: l0, ProductID: prods[0], Bucket: domain.Reserved, Delta: domain.Reservable(pol, locs[0], p0) + 1, Take: &pol},
	})
	if err == nil {
		t.Fatal("a take beyond the reservable units was applied")
	}
	if got, _ := db.PositionAt(ctx, l0, fresh); got != (domain.Position{QualityHold: 4}) {
		t.Fatalf("a refused batch moved stock: %+v", got)
	}
	// A reserved rise with no take rule is refused too.
	if _, err := db.ApplyTestBatch(ctx, store.LedgerMeta{Reason: domain.ReasonReservation, Source: "test"}, []store.TestMove{
		{LocationID: l0, ProductID: prods[0], Bucket: domain.Reserved, Delta: 1},
	}); err == nil {
		t.Fatal("a reserved rise with no take rule was applied")
	}
	// Exactly the reservable units are applied.
	n := domain.Reservable(pol, locs[0], p0)
	if n == 0 {
		t.Fatalf("the seeded position has nothing reservable: %+v", p0)
	}
	if _, err := db.ApplyTestBatch(ctx, store.LedgerMeta{Reason: domain.ReasonReservation, Source: "test"}, []store.TestMove{
		{LocationID: l0, ProductID: prods[0], Bucket: domain.Reserved, Delta: n, Take: &pol},
	}); err != nil {
		t.Fatal(err)
	}
}

// TestSinglePositionChangeIsPublished: a caller of the single-position
// form that names no event still publishes one inventory.moved event with
// the movements, so every stock change reaches the outbox.
func TestSinglePositionChangeIsPublished(t *testing.T) {
	ctx := context.Background()
	db := seededFresh(t)
	locs, err := db.ListLocations(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var prod int64
	if err := db.GetContext(ctx, &prod, `SELECT id FROM products ORDER BY id LIMIT 1`); err != nil {
		t.Fatal(err)
	}
	meta := store.LedgerMeta{Reason: domain.ReasonDamaged, Source: "test", SourceRef: "moved-1", Actor: domain.SystemActor("stock-test")}
	if _, err := db.ApplyTestMovements(ctx, locs[1].ID, prod, []domain.Movement{{Bucket: domain.OnHand, Delta: 1}, {Bucket: domain.Damaged, Delta: 1}}, meta); err != nil {
		t.Fatal(err)
	}
	var payloads []string
	if err := db.SelectContext(ctx, &payloads, `SELECT payload::text FROM outbox WHERE topic = 'inventory.moved' AND payload->>'source_ref' = 'moved-1'`); err != nil {
		t.Fatal(err)
	}
	if len(payloads) != 1 || !strings.Contains(payloads[0], `"bucket": "damaged"`) || !strings.Contains(payloads[0], `"delta": 1`) {
		t.Fatalf("inventory.moved events: %q", payloads)
	}
	requireCheckOK(t, db)
}
