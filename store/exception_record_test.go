package store_test

import (
	"context"
	"testing"
	"time"

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

// TestDeadLetterRetryAndRecordCommitTogether: a dead-letter exception's
// retry applies the event, closes its dead letter and records the
// exception's resolution in one transaction. A record that fails rolls the
// apply back; an event that still fails is dead-lettered again and the
// exception stays open with no resolution; a retry that goes through
// lands all three together.
func TestDeadLetterRetryAndRecordCommitTogether(t *testing.T) {
	ctx := context.Background()
	w := newFeedWorld(t, 1, 2)
	w.ingest(t, receive("r1", 1, 1, 10, t0))
	unmapped := sale("s-unmapped", 9, 1, 3, t0.Add(time.Minute))
	w.ingest(t, unmapped)
	dls, _, err := w.db.DeadLetters(ctx, w.conn.ID, "open", 0, 10)
	if err != nil || len(dls) != 1 {
		t.Fatalf("dead letters %+v %v", dls, err)
	}
	var xid int64
	if err := w.db.GetContext(ctx, &xid, `SELECT id FROM exceptions WHERE kind = 'dead_letter' AND status = 'open'`); err != nil {
		t.Fatal(err)
	}
	lead := domain.Actor{Kind: "user", Name: "lead@example.com"}
	retry := unmapped
	retry.ID = dls[0].EventID
	rec := store.ExceptionRecord{ID: xid, Action: domain.ActRetry, Effect: "1 dead-lettered event(s) retried and applied.", Note: "item mapped"}
	state := func() (domain.DeadLetter, domain.ExceptionDetail, int) {
		t.Helper()
		dl, err := w.db.DeadLetterByID(ctx, dls[0].ID)
		if err != nil {
			t.Fatal(err)
		}
		e, err := w.db.ExceptionByID(ctx, xid)
		if err != nil {
			t.Fatal(err)
		}
		return dl, e, w.pos(t, 2, 1).OnHand
	}

	// Still unmapped: dead-lettered again (attempts counted), no record.
	res, err := w.db.ApplyStoredForException(ctx, w.conn, []store.InboundEvent{retry}, lead, rec)
	if dl, e, _ := state(); err != nil || res.DeadLettered != 1 || dl.Status != "open" || dl.Attempts != 2 || e.Closed() || e.ResolutionCode != "" {
		t.Fatalf("still failing: %+v %v, dead letter %+v, exception %+v", res, err, dl, e)
	}
	if err := w.db.SetMappings(ctx, domain.SystemActor("test"), w.conn.ID, []store.Mapping{{Kind: "item", ExternalID: "I9", Code: w.skus[1]}}); err != nil {
		t.Fatal(err)
	}
	// The record fails (no such exception): the apply rolls back with it.
	gone := rec
	gone.ID = xid + 1000
	if _, err := w.db.ApplyStoredForException(ctx, w.conn, []store.InboundEvent{retry}, lead, gone); domain.ErrorCode(err) != domain.ENOTFOUND {
		t.Fatalf("retry with a record that fails: %v, want ENOTFOUND", err)
	}
	if dl, e, onHand := state(); dl.Status != "open" || e.Closed() || onHand != 0 {
		t.Fatalf("the apply committed without its record: dead letter %+v, exception %+v, on hand %d", dl, e, onHand)
	}
	// Goes through: applied, dead letter retried, exception resolved, timeline and audit.
	res, err = w.db.ApplyStoredForException(ctx, w.conn, []store.InboundEvent{retry}, lead, rec)
	dl, e, onHand := state()
	code, _ := domain.ActionResolution(domain.ActRetry)
	if err != nil || res.Applied != 1 || dl.Status != "retried" || onHand != -3 || !e.Closed() || e.ResolutionCode != code ||
		e.Action != domain.ActRetry || e.ResolutionNote != "1 dead-lettered event(s) retried and applied. item mapped" {
		t.Fatalf("retry with its record: %+v %v, dead letter %+v, exception %+v, on hand %d", res, err, dl, e, onHand)
	}
	var timeline, audits int
	if err := w.db.GetContext(ctx, &timeline, `SELECT count(*) FROM exception_events WHERE exception_id = $1 AND kind = 'resolved'`, xid); err != nil || timeline != 1 {
		t.Fatalf("resolved timeline entries %d %v, want 1", timeline, err)
	}
	if err := w.db.GetContext(ctx, &audits, `SELECT count(*) FROM audit_log WHERE entity = 'exception' AND entity_id = $1::text`, xid); err != nil || audits == 0 {
		t.Fatalf("the resolution is not audited: %d %v", audits, err)
	}
	requireCheckOK(t, w.db)
}
