package store_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"stockline/domain"
	"stockline/store"
)

// openDrifts returns the position's drift exceptions, newest first.
func (w *feedWorld) drifts(t *testing.T) []domain.ExceptionDetail {
	t.Helper()
	rows, _, err := w.db.ListExceptions(context.Background(), store.ExceptionFilter{Kind: domain.KindReconciliationDrift, Statuses: domain.ExceptionStatuses})
	if err != nil {
		t.Fatal(err)
	}
	return rows
}

func (w *feedWorld) ingest(t *testing.T, evs ...store.InboundEvent) {
	t.Helper()
	if _, err := w.db.Ingest(context.Background(), w.conn, evs, ""); err != nil {
		t.Fatal(err)
	}
}

// TestCountsComparedAsOfTheirTime: a count within the threshold applies
// at once; a count taken while offline sales were still arriving waits,
// holds its shortfall, and resolves itself when the sales land; a count
// with real drift stays open with its hold.
func TestCountsComparedAsOfTheirTime(t *testing.T) {
	ctx := context.Background()
	w := newFeedWorld(t, 1, 3)
	w.ingest(t, receive("r1", 1, 1, 40, t0), receive("r2", 2, 1, 40, t0), receive("r3", 3, 1, 40, t0))

	// Within the threshold (2 of 40): applies as a cycle_count at once.
	w.ingest(t, count("c-within", 1, 1, 38, t0.Add(time.Hour)))
	if p := w.pos(t, 1, 1); p.OnHand != 38 || p.QualityHold != 0 {
		t.Fatalf("within threshold: %+v", p)
	}
	if d := w.drifts(t); len(d) != 0 {
		t.Fatalf("drifts after a count within threshold: %+v", d)
	}

	// Item 2: counted 30 at 10:00 while 8 offline sales from 9:30 have not
	// synced. Beyond the threshold: on_hand stays, 10 units held.
	w.ingest(t, count("c-offline", 2, 1, 30, t0.Add(time.Hour)))
	if p := w.pos(t, 2, 1); p.OnHand != 40 || p.QualityHold != 10 {
		t.Fatalf("drift opened: %+v", p)
	}
	drifts := w.drifts(t)
	if len(drifts) != 1 || drifts[0].Status != domain.ExceptionOpen || drifts[0].SKU != w.skus[1] {
		t.Fatalf("drifts: %+v", drifts)
	}
	drift, err := w.db.DriftOf(ctx, drifts[0])
	if err != nil || drift.System != 40 || drift.Counted != 30 || drift.Held != 10 || drift.ValueDifference() != "-10.00" {
		t.Fatalf("drift figures %+v %v", drift, err)
	}
	// A sale after the count is no explanation.
	w.ingest(t, sale("s-after", 2, 1, 1, t0.Add(2*time.Hour)))
	if d := w.drifts(t); d[0].Status != domain.ExceptionOpen {
		t.Fatalf("a later sale closed the drift: %+v", d[0])
	}
	// The offline sales land late, before the count's time: explained.
	w.ingest(t, sale("off-1", 2, 1, 5, t0.Add(30*time.Minute)), sale("off-2", 2, 1, 3, t0.Add(40*time.Minute)))
	e, err := w.db.ExceptionByID(ctx, drifts[0].ID)
	if err != nil || e.Status != domain.ExceptionResolved || e.ResolutionCode != domain.ResolutionExplainedByLateEvents ||
		!strings.Contains(e.ResolutionNote, "off-1") || !strings.Contains(e.ResolutionNote, "off-2") {
		t.Fatalf("after late sales: %+v %v", e, err)
	}
	// 40 - 8 offline = 32 as of the count, counted 30: a -2 cycle_count
	// as of 10:00; then the 11:00 sale: 29. The hold is gone.
	if p := w.pos(t, 2, 1); p.OnHand != 29 || p.QualityHold != 0 {
		t.Fatalf("after explanation: %+v", p)
	}
	drift, err = w.db.DriftOf(ctx, e)
	if err != nil || drift.System != 32 || len(drift.Explanation) < 3 {
		t.Fatalf("explained drift %+v %v", drift, err)
	}
	late := 0
	for _, r := range drift.Explanation {
		if drift.Late(r) {
			late++
		}
	}
	if late != 2 {
		t.Fatalf("replay should show the 2 late sales as late: %+v", drift.Explanation)
	}

	// Item 3: real drift (counted 20 of 40) stays open, holding 20.
	w.ingest(t, count("c-real", 3, 1, 20, t0.Add(time.Hour)), sale("off-3", 3, 1, 1, t0.Add(30*time.Minute)))
	if p := w.pos(t, 3, 1); p.OnHand != 39 || p.QualityHold != 19 {
		t.Fatalf("real drift: %+v (hold shrinks to the shortfall as late events land)", p)
	}
	if d := w.drifts(t); d[0].Status != domain.ExceptionOpen || d[0].SKU != w.skus[2] {
		t.Fatalf("real drift should stay open: %+v", d[0])
	}
	requireCheckOK(t, w.db)
}

// TestDriftActions: each action's effect on stock, then the check.
func TestDriftActions(t *testing.T) {
	ctx := context.Background()
	w := newFeedWorld(t, 1, 4)
	lead := domain.Actor{Kind: "user", Name: "lead@test"}
	for i := 1; i <= 4; i++ {
		w.ingest(t, receive("r"+string(rune('0'+i)), i, 1, 20, t0))
		w.ingest(t, count("c"+string(rune('0'+i)), i, 1, 10, t0.Add(time.Hour)))
		w.ingest(t, sale("s"+string(rune('0'+i)), i, 1, 2, t0.Add(2*time.Hour)))
	}
	ids := map[string]int64{}
	for _, d := range w.drifts(t) {
		ids[d.SKU] = d.ID
	}
	if len(ids) != 4 {
		t.Fatalf("want 4 drifts, got %v", ids)
	}
	type want struct{ onHand, held int }
	cases := []struct {
		item   int
		action domain.ExceptionAction
		status string
		want   want
	}{
		{1, domain.ActionAcceptCount, domain.ExceptionResolved, want{8, 0}}, // 10 counted at 10:00, 2 sold after
		{2, domain.ActionKeepSystem, domain.ExceptionResolved, want{18, 0}},
		{3, domain.ActionRequestRecount, domain.ExceptionOpen, want{18, 10}},
		{4, domain.ActionDismiss, domain.ExceptionDismissed, want{18, 0}},
	}
	for _, c := range cases {
		id := ids[w.skus[c.item-1]]
		e, err := w.db.ResolveException(ctx, lead, id, c.action, "checked the shelf")
		if err != nil || e.Status != c.status {
			t.Fatalf("%s: %+v %v", c.action, e, err)
		}
		if p := w.pos(t, c.item, 1); p.OnHand != c.want.onHand || p.QualityHold != c.want.held {
			t.Fatalf("%s: position %+v, want %+v", c.action, p, c.want)
		}
		requireCheckOK(t, w.db)
	}
	recount, _ := w.db.ExceptionByID(ctx, ids[w.skus[2]])
	if recount.OwnerRole != string(domain.RoleAssociate) || recount.Assignee != "" || recount.DueAt.IsZero() {
		t.Fatalf("recount should go to the store's associates: %+v", recount)
	}
	// Same action again: 200, nothing changes. Another action: 409.
	again, err := w.db.ResolveException(ctx, lead, ids[w.skus[0]], domain.ActionAcceptCount, "")
	if err != nil || again.Status != domain.ExceptionResolved || w.pos(t, 1, 1).OnHand != 8 {
		t.Fatalf("same action again: %+v %v", again, err)
	}
	if _, err := w.db.ResolveException(ctx, lead, ids[w.skus[0]], domain.ActionKeepSystem, ""); domain.ErrorCode(err) != domain.CodeAlreadyResolved {
		t.Fatalf("another action on a resolved drift: %v", err)
	}
	// A recount (a newer count) replaces the one under review.
	w.ingest(t, count("c3-recount", 3, 1, 18, t0.Add(3*time.Hour)))
	e, _ := w.db.ExceptionByID(ctx, ids[w.skus[2]])
	if e.Status != domain.ExceptionResolved || e.ResolutionCode != domain.ResolutionRecounted {
		t.Fatalf("recounted drift: %+v", e)
	}
	if p := w.pos(t, 3, 1); p.OnHand != 18 || p.QualityHold != 0 {
		t.Fatalf("after the recount: %+v", p)
	}
	requireCheckOK(t, w.db)
}

// TestSnapshotFeedsNeverChangePositions: an ecommerce connector's levels
// are stored as snapshots only.
func TestSnapshotFeedsNeverChangePositions(t *testing.T) {
	ctx := context.Background()
	w := newFeedWorld(t, 1, 2)
	w.ingest(t, receive("r1", 1, 1, 10, t0))
	before := w.positions(t)
	if _, err := w.db.ExecContext(ctx, `UPDATE connectors SET kind = 'ecommerce' WHERE id = $1`, w.conn.ID); err != nil {
		t.Fatal(err)
	}
	c, err := w.db.ConnectorByID(ctx, w.conn.ID)
	if err != nil {
		t.Fatal(err)
	}
	w.conn = c
	w.ingest(t, count("lvl-1", 1, 1, 3, t0.Add(time.Hour)), count("lvl-2", 2, 1, 7, t0.Add(time.Hour)), count("lvl-0", 1, 1, 4, t0.Add(time.Minute)))
	after := w.positions(t)
	if len(after) != len(before) || after[w.skus[0]+"@"+w.locs[0]] != before[w.skus[0]+"@"+w.locs[0]] {
		t.Fatalf("a snapshot feed changed positions: %v -> %v", before, after)
	}
	var snaps []struct {
		Qty int    `db:"quantity"`
		Ref string `db:"source_ref"`
	}
	if err := w.db.SelectContext(ctx, &snaps, `SELECT quantity, source_ref FROM platform_snapshots ORDER BY quantity`); err != nil {
		t.Fatal(err)
	}
	if len(snaps) != 2 || snaps[0].Ref != "lvl-1" || snaps[1].Ref != "lvl-2" {
		t.Fatalf("snapshots %+v (the newest per position)", snaps)
	}
	requireCheckOK(t, w.db)
}

// TestReconciliationRun: a platform snapshot beyond the threshold opens a
// platform drift (positions untouched), a later agreeing snapshot closes
// it, and only one run per connector is active at a time.
func TestReconciliationRun(t *testing.T) {
	ctx := context.Background()
	w := newFeedWorld(t, 2, 3)
	w.ingest(t, receive("r1", 1, 1, 20, t0), receive("r2", 2, 1, 20, t0), receive("r3", 1, 2, 20, t0))
	sys := domain.SystemActor("test")
	shop, err := w.db.CreateConnector(ctx, sys, store.NewConnector{Name: "shop-test", Kind: "ecommerce", Adapter: "shopify", Enabled: true})
	if err != nil {
		t.Fatal(err)
	}
	var maps []store.Mapping
	for i, code := range w.locs {
		maps = append(maps, store.Mapping{Kind: "location", ExternalID: "L" + string(rune('1'+i)), Code: code})
	}
	for i, sku := range w.skus {
		maps = append(maps, store.Mapping{Kind: "item", ExternalID: "I" + string(rune('1'+i)), Code: sku})
	}
	if err := w.db.SetMappings(ctx, sys, shop.ID, maps); err != nil {
		t.Fatal(err)
	}
	// The platform says 12 of item 1 at T01 as of 10:00 (Stockline: 20,
	// though a sale at 11:00 makes it 19 now); the rest agree.
	w.ingest(t, sale("s1", 1, 1, 1, t0.Add(2*time.Hour)))
	before := w.positions(t)
	if _, err := w.db.Ingest(ctx, shop, []store.InboundEvent{count("l1", 1, 1, 12, t0.Add(time.Hour)), count("l2", 2, 1, 20, t0.Add(time.Hour)),
		count("l3", 1, 2, 20, t0.Add(time.Hour))}, ""); err != nil {
		t.Fatal(err)
	}
	run := func() domain.ReconRun {
		t.Helper()
		q, err := w.db.QueueReconRun(ctx, sys, shop.ID, "manual")
		if err != nil {
			t.Fatal(err)
		}
		if again, err := w.db.QueueReconRun(ctx, sys, shop.ID, "manual"); err != nil || again.ID != q.ID {
			t.Fatalf("a second queue while one is active: %+v %v", again, err)
		}
		claimed, ok, err := w.db.ClaimReconRun(ctx)
		if err != nil || !ok || claimed.ID != q.ID {
			t.Fatalf("claim: %+v %v %v", claimed, ok, err)
		}
		if _, ok, _ := w.db.ClaimReconRun(ctx); ok {
			t.Fatal("a running run was claimed twice")
		}
		done, err := w.db.RunReconciliation(ctx, claimed)
		if err != nil || done.Status != "finished" || done.Done != done.Total || done.Done < 1 || done.Percent() != 100 {
			t.Fatalf("run: %+v %v", done, err)
		}
		return done
	}
	r1 := run()
	if r1.Compared != 3 || r1.DriftsOpened != 1 || r1.DriftsClosed != 0 {
		t.Fatalf("first run %+v", r1)
	}
	if after := w.positions(t); len(after) != len(before) || after[w.skus[0]+"@"+w.locs[0]] != before[w.skus[0]+"@"+w.locs[0]] {
		t.Fatalf("a run changed positions")
	}
	d := w.drifts(t)
	drift, err := w.db.DriftOf(ctx, d[0])
	if len(d) != 1 || err != nil || drift.System != 20 || drift.Counted != 12 || !drift.Platform {
		t.Fatalf("platform drift %+v %+v %v", d, drift, err)
	}
	// Accepting a platform drift keeps Stockline's figure.
	e, err := w.db.ResolveException(ctx, sys, d[0].ID, domain.ActionAcceptCount, "")
	if err != nil || e.ResolutionCode != domain.ResolutionPlatformToCorrect || w.pos(t, 1, 1).OnHand != 19 {
		t.Fatalf("accept platform drift: %+v %v", e, err)
	}
	// The platform is corrected; another drift at T02 would close itself.
	if _, err := w.db.Ingest(ctx, shop, []store.InboundEvent{count("l1b", 1, 1, 19, t0.Add(3*time.Hour)), count("l3b", 1, 2, 2, t0.Add(3*time.Hour))}, ""); err != nil {
		t.Fatal(err)
	}
	if r2 := run(); r2.DriftsOpened != 1 {
		t.Fatalf("second run %+v", r2)
	}
	if _, err := w.db.Ingest(ctx, shop, []store.InboundEvent{count("l3c", 1, 2, 20, t0.Add(4*time.Hour))}, ""); err != nil {
		t.Fatal(err)
	}
	if r3 := run(); r3.DriftsOpened != 0 || r3.DriftsClosed != 1 {
		t.Fatalf("third run %+v", r3)
	}
	// A run's drifts have their timelines like every other source's: an
	// "opened" entry, and "resolved" for the one that closed itself.
	selfClosed := 0
	for _, x := range w.drifts(t) {
		tl, err := w.db.ExceptionTimeline(ctx, x.ID)
		if err != nil || len(tl) == 0 || tl[0].Kind != "opened" {
			t.Fatalf("drift %d timeline %+v %v", x.ID, tl, err)
		}
		if x.ResolutionCode == domain.ResolutionSnapshotAgrees {
			selfClosed++
			if tl[len(tl)-1].Kind != "resolved" {
				t.Fatalf("self-closed drift %d timeline %+v", x.ID, tl)
			}
		}
	}
	if selfClosed != 1 {
		t.Fatalf("%d drifts closed themselves, want 1", selfClosed)
	}
	requireCheckOK(t, w.db)
}

// applyEveryCount raises the default threshold beyond any count, so every
// count applies at once as before drift review existed: the tests of
// as-of application and delivery order use it.
func (w *feedWorld) applyEveryCount(t *testing.T) *feedWorld {
	t.Helper()
	if _, err := w.db.ExecContext(context.Background(), `UPDATE recon_thresholds SET min_units = $1 WHERE scope = 'default'`, domain.MaxQuantity+1); err != nil {
		t.Fatal(err)
	}
	return w
}

// TestSeedDemoDrifts: the demo retailer has one drift explained by late
// sales and two open, one holding its shortfall; the check is clean.
func TestSeedDemoDrifts(t *testing.T) {
	db := seededFresh(t)
	rows, _, err := db.ListExceptions(context.Background(), store.ExceptionFilter{Kind: domain.KindReconciliationDrift, Statuses: domain.ExceptionStatuses})
	if err != nil {
		t.Fatal(err)
	}
	byStatus := map[string]int{}
	held := 0
	for _, e := range rows {
		byStatus[e.Status+"/"+e.ResolutionCode]++
		d, err := db.DriftOf(context.Background(), e)
		if err != nil {
			t.Fatal(err)
		}
		held += d.Held
	}
	if byStatus["resolved/explained_by_late_events"] != 1 || byStatus["open/"] != 2 || held <= 0 {
		t.Fatalf("demo drifts %v, held %d", byStatus, held)
	}
	requireCheckOK(t, db)
}
