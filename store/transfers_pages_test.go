package store_test

import (
	"context"
	"testing"

	"stockline/domain"
	"stockline/store"
)

// TestTransferPageQueries: the sales behind suggestions and stock context
// come from the ledger's sale movements; suggestions feed on them; the
// approval rules editor saves, audits and takes effect; a SKU's open
// transfers and the navigation counts follow.
func TestTransferPageQueries(t *testing.T) {
	ctx := context.Background()
	db := seededFresh(t)
	lead := domain.Actor{Kind: "user", Name: "lead@example.com"}
	var sku string
	if err := db.GetContext(ctx, &sku, `SELECT sku FROM products ORDER BY sku OFFSET 5 LIMIT 1`); err != nil {
		t.Fatal(err)
	}
	prod, _ := db.ProductBySKU(ctx, sku)
	s01, _ := db.LocationByCode(ctx, "S01")
	for loc, n := range map[string]int{"S01": 8, "S02": 40} {
		if _, err := db.Adjust(ctx, lead, sku, loc, domain.Adjustment{Reason: domain.ReasonCycleCount, Counted: ptr(n)}); err != nil && domain.ErrorCode(err) != domain.EINVALID {
			t.Fatal(err)
		}
	}
	// S01 sells all 8 at the till.
	if _, err := db.ApplyTestBatch(ctx, store.LedgerMeta{Reason: domain.ReasonSale, Source: "pos", Actor: lead},
		[]store.TestMove{{LocationID: s01.ID, ProductID: prod.ID, Bucket: domain.OnHand, Delta: -8}}); err != nil {
		t.Fatal(err)
	}
	sig, err := db.StockSignals(ctx, []string{"S01", "S02"}, []string{sku}, store.SalesWindowDays)
	if err != nil || len(sig) != 2 || sig[0].Location != "S01" || sig[0].Sold != 8 || sig[0].OnHand != 0 || sig[1].Sold != 0 || sig[1].ATP() != 40-sig[1].Damaged {
		t.Fatalf("stock signals %+v %v", sig, err)
	}
	all, err := db.SuggestionSignals(ctx, store.SalesWindowDays)
	if err != nil {
		t.Fatal(err)
	}
	got := 0
	for _, s := range domain.SuggestTransfers(all, domain.DefaultSuggestParams) {
		if s.SKU == sku && s.To == "S01" {
			got += s.Qty
			if s.ToSold != 8 || !s.Stockout || s.From == "S01" {
				t.Errorf("suggestion %+v", s)
			}
		}
	}
	if got != 8 {
		t.Fatalf("suggested %d units of %s to S01, want 8 (four weeks at 2 a week)", got, sku)
	}

	if _, err := db.SaveTransferRule(ctx, lead, domain.ApprovalRule{Name: "small", MaxUnits: 0, MaxValueCents: 100}); domain.AsError(err) == nil || domain.AsError(err).Field != "max_units" {
		t.Fatalf("invalid rule: %v", err)
	}
	rule, err := db.SaveTransferRule(ctx, lead, domain.ApprovalRule{Name: " North small ", SameRegion: true, MaxUnits: 5, MaxValueCents: 1_000_000_00, Enabled: true})
	if err != nil || rule.ID == 0 || rule.Name != "North small" {
		t.Fatalf("create rule %+v %v", rule, err)
	}
	req := domain.NewTransfer{From: "S02", To: "S01", Lines: []domain.TransferLineInput{{SKU: sku, Qty: 2}}}
	if tr, err := db.CreateTransfer(ctx, lead, req); err != nil || tr.Status != domain.TransferApproved {
		t.Fatalf("under the rule: %+v %v", tr.Status, err)
	}
	rule.Enabled = false
	if _, err := db.SaveTransferRule(ctx, lead, rule); err != nil {
		t.Fatal(err)
	}
	if tr, err := db.CreateTransfer(ctx, lead, req); err != nil || tr.Status != domain.TransferRequested {
		t.Fatalf("rule disabled: %+v %v", tr.Status, err)
	}
	if _, err := db.SaveTransferRule(ctx, lead, domain.ApprovalRule{ID: 999999, Name: "x", MaxUnits: 1, MaxValueCents: 1}); domain.ErrorCode(err) != domain.ENOTFOUND {
		t.Fatalf("unknown rule: %v", err)
	}
	var audits int
	db.GetContext(ctx, &audits, `SELECT count(*) FROM audit_log WHERE entity = 'transfer_rule' AND entity_id = $1`, rule.ID)
	rules, _ := db.TransferRules(ctx)
	if audits != 2 || len(rules) != 1 || rules[0].Enabled {
		t.Fatalf("audits %d, rules %+v", audits, rules)
	}
	open, err := db.OpenTransfersForSKU(ctx, prod.ID, []string{"S01"})
	if err != nil || len(open) != 2 {
		t.Fatalf("open transfers %d %v", len(open), err)
	}
	if none, _ := db.OpenTransfersForSKU(ctx, prod.ID, []string{"S09"}); len(none) != 0 {
		t.Fatalf("S09 sees %d", len(none))
	}
	if n, _ := db.CountAwaitingApproval(ctx, []string{"S02"}); n != 1 {
		t.Fatalf("awaiting at S02: %d", n)
	}
	if n, _ := db.CountAwaitingApproval(ctx, []string{"S01"}); n != 0 {
		t.Fatalf("awaiting with origin S01: %d", n)
	}
	requireCheckOK(t, db)
}
