package store_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/lib/pq"

	"stockline/domain"
	"stockline/store"
	"stockline/store/pgtest"
)

// seededFresh is a fresh database of its own with the demo retailer.
func seededFresh(t *testing.T) *store.DB {
	t.Helper()
	store.BcryptCost = 4 // fast hashing in tests
	db := pgtest.Fresh(t)
	if _, err := db.SeedDemo(context.Background()); err != nil {
		t.Fatal(err)
	}
	return db
}

func requireCheckOK(t *testing.T, db *store.DB) {
	t.Helper()
	rep, err := db.Check(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if !rep.OK() {
		t.Fatalf("consistency check failed: %+v", rep)
	}
}

func ptr(n int) *int { return &n }

func TestAdjustWritesLedgerAuditOutboxAndKeepsCheck(t *testing.T) {
	ctx := context.Background()
	db := seededFresh(t)
	actor := domain.Actor{Kind: "user", Name: "lead@example.com"}
	const sku, loc = "FOO-10000", "S01"
	prod, err := db.ProductBySKU(ctx, sku)
	if err != nil {
		t.Fatal(err)
	}
	l, err := db.LocationByCode(ctx, loc)
	if err != nil {
		t.Fatal(err)
	}
	start, err := db.PositionAt(ctx, l.ID, prod.ID)
	if err != nil {
		t.Fatal(err)
	}

	steps := []struct {
		adj   domain.Adjustment
		moves []domain.Movement
	}{
		{domain.Adjustment{Reason: domain.ReasonReceived, Delta: ptr(5), Note: "truck 12"}, []domain.Movement{{Bucket: domain.OnHand, Delta: 5}}},
		{domain.Adjustment{Reason: domain.ReasonReturnDamaged, Delta: ptr(2)}, []domain.Movement{{Bucket: domain.OnHand, Delta: 2}, {Bucket: domain.Damaged, Delta: 2}}},
		{domain.Adjustment{Reason: domain.ReasonQualityHold, Delta: ptr(1)}, []domain.Movement{{Bucket: domain.QualityHold, Delta: 1}}},
		{domain.Adjustment{Reason: domain.ReasonShrinkage, Delta: ptr(1)}, []domain.Movement{{Bucket: domain.OnHand, Delta: -1}}},
		{domain.Adjustment{Reason: domain.ReasonCycleCount, Counted: ptr(start.OnHand + 3)}, []domain.Movement{{Bucket: domain.OnHand, Delta: -3}}},
	}
	want := start
	for i, st := range steps {
		res, err := db.AdjustPosition(ctx, actor, sku, loc, st.adj)
		if err != nil {
			t.Fatalf("step %d (%s): %v", i, st.adj.Reason, err)
		}
		if res.Before != want {
			t.Fatalf("step %d: before = %+v, want %+v", i, res.Before, want)
		}
		for _, m := range st.moves {
			want = want.Apply(m.Bucket, m.Delta)
		}
		if res.After != want || fmt.Sprint(res.Moves) != fmt.Sprint(st.moves) {
			t.Fatalf("step %d: after %+v moves %v, want %+v %v", i, res.After, res.Moves, want, st.moves)
		}
		if got, _ := db.PositionAt(ctx, l.ID, prod.ID); got != want {
			t.Fatalf("step %d: stored position %+v, want %+v", i, got, want)
		}
	}

	// The ledger shows every movement newest first, with its metadata.
	rows, next, err := db.LedgerPage(ctx, store.LedgerQuery{ProductID: prod.ID, Locations: []string{loc}, Limit: 6})
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 6 {
		t.Fatalf("want 6 ledger rows (5 steps, one with two movements), got %d", len(rows))
	}
	for i := 1; i < len(rows); i++ {
		if rows[i].ID >= rows[i-1].ID {
			t.Fatalf("ledger not newest first: %d then %d", rows[i-1].ID, rows[i].ID)
		}
	}
	top := rows[0]
	if top.Reason != domain.ReasonCycleCount || top.Bucket != domain.OnHand || top.Delta != -3 || top.Source != "stockline" ||
		top.SourceRef != "adjustment" || top.Actor != "user:lead@example.com" || top.Location != loc || top.SKU != sku {
		t.Fatalf("newest ledger row = %+v", top)
	}
	if rows[4].Note != "" || rows[5].Note != "truck 12" || rows[5].Reason != domain.ReasonReceived {
		t.Fatalf("oldest adjustment row = %+v", rows[5])
	}
	if next == 0 {
		t.Fatal("the opening balance is older, so there should be a next page")
	}
	older, next2, err := db.LedgerPage(ctx, store.LedgerQuery{ProductID: prod.ID, Locations: []string{loc}, BeforeID: next, Limit: 6})
	if err != nil {
		t.Fatal(err)
	}
	if len(older) == 0 || older[0].ID >= rows[5].ID || older[0].Source != "seed" || next2 != 0 {
		t.Fatalf("older page = %+v next %d", older, next2)
	}

	var audits, events int
	db.GetContext(ctx, &audits, `SELECT count(*) FROM audit_log WHERE action = 'inventory.adjust' AND entity_id = $1`, sku+"@"+loc)
	db.GetContext(ctx, &events, `SELECT count(*) FROM outbox WHERE topic = 'inventory.adjusted' AND payload->>'sku' = $1`, sku)
	if audits != len(steps) || events != len(steps) {
		t.Fatalf("audit rows %d, outbox rows %d; want %d each", audits, events, len(steps))
	}
	requireCheckOK(t, db)

	// Refusals change nothing.
	refusals := []struct {
		sku, loc string
		adj      domain.Adjustment
		code     string
		field    string
	}{
		{sku, loc, domain.Adjustment{Reason: "sale", Delta: ptr(1)}, domain.EINVALID, "reason"},
		{"NOPE-1", loc, domain.Adjustment{Reason: domain.ReasonReceived, Delta: ptr(1)}, domain.ENOTFOUND, ""},
		{sku, "S99", domain.Adjustment{Reason: domain.ReasonReceived, Delta: ptr(1)}, domain.ENOTFOUND, ""},
		{sku, loc, domain.Adjustment{Reason: domain.ReasonShrinkage, Delta: ptr(want.OnHand + 1)}, domain.EINVALID, "delta"},
		{sku, loc, domain.Adjustment{Reason: domain.ReasonCycleCount, Counted: ptr(want.OnHand)}, domain.EINVALID, "counted"},
	}
	for _, r := range refusals {
		_, err := db.Adjust(ctx, actor, r.sku, r.loc, r.adj)
		e := domain.AsError(err)
		if e == nil || e.Code != r.code || e.Field != r.field {
			t.Errorf("adjust %s@%s %+v: got %v, want %s on %q", r.sku, r.loc, r.adj, err, r.code, r.field)
		}
	}
	if got, _ := db.PositionAt(ctx, l.ID, prod.ID); got != want {
		t.Fatalf("a refused adjustment changed the position: %+v, want %+v", got, want)
	}
	requireCheckOK(t, db)
}

func TestAdjustCreatesMissingPosition(t *testing.T) {
	ctx := context.Background()
	db := seededFresh(t)
	prod, _ := db.ProductBySKU(ctx, "KIT-10007")
	l, _ := db.LocationByCode(ctx, "S12")
	if _, err := db.ExecContext(ctx, `DELETE FROM ledger WHERE product_id = $1 AND location_id = $2`, prod.ID, l.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := db.ExecContext(ctx, `DELETE FROM positions WHERE product_id = $1 AND location_id = $2`, prod.ID, l.ID); err != nil {
		t.Fatal(err)
	}
	pos, err := db.Adjust(ctx, domain.SystemActor("test"), "KIT-10007", "S12", domain.Adjustment{Reason: domain.ReasonReceived, Delta: ptr(4)})
	if err != nil || pos != (domain.Position{OnHand: 4}) {
		t.Fatalf("adjust into a missing position: %+v %v", pos, err)
	}
	requireCheckOK(t, db)
}

func TestCheckCatchesLedgerDrift(t *testing.T) {
	ctx := context.Background()
	db := seededFresh(t)
	requireCheckOK(t, db)
	// A position changed behind the ledger's back is a mismatch.
	if _, err := db.ExecContext(ctx, `UPDATE positions SET on_hand = on_hand + 1
		WHERE product_id = (SELECT id FROM products WHERE sku = 'TOP-10002') AND location_id = (SELECT id FROM locations WHERE code = 'S02')`); err != nil {
		t.Fatal(err)
	}
	rep, err := db.Check(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if rep.OK() || len(rep.LedgerMismatch) != 1 {
		t.Fatalf("check should report one ledger mismatch: %+v", rep)
	}
}

func TestStockForSKUAndPolicyCache(t *testing.T) {
	ctx := context.Background()
	db := seededFresh(t)
	stock, err := db.StockForSKU(ctx, "FOO-10000")
	if err != nil {
		t.Fatal(err)
	}
	locs, _ := db.ListLocations(ctx)
	if len(stock) != len(locs) || stock[0].Code != "DC1" || stock[1].Code != "S01" {
		t.Fatalf("stock rows %d (want %d), first %q", len(stock), len(locs), stock[0].Code)
	}
	prod, _ := db.ProductBySKU(ctx, "FOO-10000")
	for _, s := range stock {
		p, _ := db.PositionAt(ctx, s.ID, prod.ID)
		if p != s.Position {
			t.Fatalf("%s: StockForSKU %+v, PositionAt %+v", s.Code, s.Position, p)
		}
	}
	if _, err := db.StockForSKU(ctx, "NOPE-1"); domain.ErrorCode(err) != domain.ENOTFOUND {
		t.Fatalf("unknown sku: %v", err)
	}

	p, err := db.CachedPolicy(ctx, domain.BOPIS)
	if err != nil || p.SafetyStock != 1 {
		t.Fatalf("cached bopis policy: %+v %v", p, err)
	}
	p.SafetyStock = 4
	if err := db.SavePolicy(ctx, domain.SystemActor("test"), p); err != nil {
		t.Fatal(err)
	}
	if p2, _ := db.CachedPolicy(ctx, domain.BOPIS); p2.SafetyStock != 4 {
		t.Fatalf("SavePolicy must invalidate the cache: safety stock %d", p2.SafetyStock)
	}
	if _, err := db.CachedPolicy(ctx, "nope"); domain.ErrorCode(err) != domain.ENOTFOUND {
		t.Fatalf("unknown channel: %v", err)
	}
}

// TestATPSQLAgreesWithATP evaluates domain.ATPSQL in PostgreSQL over many
// random positions and safety stocks and compares it with domain.ATP.
func TestATPSQLAgreesWithATP(t *testing.T) {
	ctx := context.Background()
	db := pgtest.Open(t)
	rng := rand.New(rand.NewPCG(7, 42))
	const n = 5000
	cols := make([][]int64, 7)
	var want []int
	for i := range n {
		p := domain.Position{
			OnHand: rng.IntN(60) - 10, Reserved: rng.IntN(20), Damaged: rng.IntN(5),
			QualityHold: rng.IntN(5), TransferOut: rng.IntN(8), InTransitIn: rng.IntN(10),
		}
		if i%10 == 0 {
			p = domain.Position{} // plenty of exact zeros
		}
		safety := rng.IntN(6)
		for j, v := range []int{p.OnHand, p.Reserved, p.Damaged, p.QualityHold, p.TransferOut, p.InTransitIn, safety} {
			cols[j] = append(cols[j], int64(v))
		}
		want = append(want, domain.ATP(p, safety))
	}
	var got []int
	err := db.SelectContext(ctx, &got, `SELECT `+fmt.Sprintf(domain.ATPSQL, "p.safety")+` FROM unnest($1::int[], $2::int[], $3::int[], $4::int[], $5::int[], $6::int[], $7::int[])
		WITH ORDINALITY AS p(on_hand, reserved, damaged, quality_hold, transfer_out, in_transit_in, safety, i) ORDER BY p.i`,
		pq.Array(cols[0]), pq.Array(cols[1]), pq.Array(cols[2]), pq.Array(cols[3]), pq.Array(cols[4]), pq.Array(cols[5]), pq.Array(cols[6]))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != n {
		t.Fatalf("got %d rows, want %d", len(got), n)
	}
	zeros, positive := 0, 0
	for i := range got {
		if got[i] != want[i] {
			t.Fatalf("row %d: SQL ATP %d, domain.ATP %d (on_hand %d reserved %d damaged %d hold %d out %d safety %d)", i, got[i], want[i],
				cols[0][i], cols[1][i], cols[2][i], cols[3][i], cols[4][i], cols[6][i])
		}
		if want[i] == 0 {
			zeros++
		} else {
			positive++
		}
	}
	if zeros < n/10 || positive < n/10 {
		t.Fatalf("the sample should cover both clamped and positive ATP: %d zeros, %d positive", zeros, positive)
	}
}
