package store_test

import (
	"context"
	"testing"

	"stockline/domain"
	"stockline/store"
)

// TestExceptionActionWorkAndRecordCommitTogether: an action's work and its
// resolution record are one transaction. When the record fails (here: the
// exception is gone), the work rolls back: no stock moves, the connector
// stays as it was. When it succeeds, both are there.
func TestExceptionActionWorkAndRecordCommitTogether(t *testing.T) {
	ctx := context.Background()
	w := newFeedWorld(t, 1, 1)
	w.ingest(t, receive("r1", 1, 1, 20, t0))
	sys := domain.SystemActor("test")
	if err := w.db.RaiseException(ctx, sys, w.locs[0], w.skus[0], store.NewException{Kind: domain.KindNegativeStock, Title: "probe"}); err != nil {
		t.Fatal(err)
	}
	var id int64
	if err := w.db.GetContext(ctx, &id, `SELECT id FROM exceptions WHERE title = 'probe'`); err != nil {
		t.Fatal(err)
	}
	counted := 17
	adj := domain.Adjustment{Reason: domain.ReasonCycleCount, Counted: &counted, Note: "probe count"}
	gone := store.ExceptionRecord{ID: id + 1000, Action: domain.ActAdjust, Effect: "counted"}
	failing := []struct {
		name string
		do   func() error
	}{
		{"adjust", func() error {
			_, err := w.db.AdjustForException(ctx, sys, gone, w.skus[0], w.locs[0], adj)
			return err
		}},
		{"pause feed", func() error {
			_, err := w.db.SetConnectorEnabledForException(ctx, sys, store.ExceptionRecord{ID: gone.ID, Action: domain.ActPauseFeed}, w.conn.ID, false)
			return err
		}},
	}
	for _, f := range failing {
		if err := f.do(); domain.ErrorCode(err) != domain.ENOTFOUND {
			t.Fatalf("%s with a record that fails: %v, want ENOTFOUND", f.name, err)
		}
	}
	if p := w.pos(t, 1, 1); p.OnHand != 20 {
		t.Fatalf("the adjustment committed without its record: on hand %d", p.OnHand)
	}
	if c, err := w.db.ConnectorByID(ctx, w.conn.ID); err != nil || !c.Enabled {
		t.Fatalf("the pause committed without its record: %+v %v", c, err)
	}

	rec := store.ExceptionRecord{ID: id, Action: domain.ActAdjust, Effect: "Counted 17.", Note: "shelf recounted"}
	if _, err := w.db.AdjustForException(ctx, sys, rec, w.skus[0], w.locs[0], adj); err != nil {
		t.Fatal(err)
	}
	e, err := w.db.ExceptionByID(ctx, id)
	code, _ := domain.ActionResolution(domain.ActAdjust)
	if err != nil || w.pos(t, 1, 1).OnHand != 17 || !e.Closed() || e.ResolutionCode != code || e.Action != domain.ActAdjust ||
		e.ResolutionNote != "Counted 17. shelf recounted" {
		t.Fatalf("adjust with its record: on hand %d, exception %+v %v", w.pos(t, 1, 1).OnHand, e, err)
	}
	var audits int
	if err := w.db.GetContext(ctx, &audits, `SELECT count(*) FROM audit_log WHERE entity = 'exception' AND entity_id = $1::text`, id); err != nil || audits == 0 {
		t.Fatalf("the resolution is not audited: %d %v", audits, err)
	}
	requireCheckOK(t, w.db)
}
