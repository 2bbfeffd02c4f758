package store_test

import (
	"context"
	"encoding/json"
	"slices"
	"testing"
	"time"

	"stockline/domain"
	"stockline/store"
	"stockline/store/pgtest"
)

// queueDB is an empty database with two stores in two regions and one
// product, for tests that count every exception.
func queueDB(t *testing.T) *store.DB {
	t.Helper()
	db := pgtest.Fresh(t)
	ctx := context.Background()
	for _, l := range [][]string{{"N1", "north"}, {"S1", "south"}} {
		if _, err := db.ExecContext(ctx, `INSERT INTO locations (code, name, kind, region) VALUES ($1, $1, 'store', $2)`, l[0], l[1]); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := db.InsertTestProduct(ctx, "Q-1", "Queue probe", "999000111", "test", 1250); err != nil {
		t.Fatal(err)
	}
	return db
}

func raise(t *testing.T, db *store.DB, loc, kind, severity, title string, due time.Duration) int64 {
	t.Helper()
	ctx := context.Background()
	if err := db.RaiseException(ctx, domain.SystemActor("test"), loc, "Q-1", store.NewException{Kind: kind, Severity: severity, Title: title}); err != nil {
		t.Fatal(err)
	}
	var id int64
	if err := db.GetContext(ctx, &id, `UPDATE exceptions SET due_at = now() + $2 * interval '1 second' WHERE title = $1 RETURNING id`, title, due.Seconds()); err != nil {
		t.Fatal(err)
	}
	return id
}

// The queue: sorted by due time, keyset pages that cover every row once,
// each filter, and the counts beside the filters.
func TestExceptionQueueFiltersPagesAndCounts(t *testing.T) {
	db := queueDB(t)
	ctx := context.Background()
	ids := []int64{
		raise(t, db, "N1", domain.KindOversell, "high", "late 2h", -2*time.Hour),
		raise(t, db, "S1", domain.KindNegativeStock, "high", "late 30m", -30*time.Minute),
		raise(t, db, "N1", domain.KindItemNotFound, "medium", "due 10m", 10*time.Minute),
		raise(t, db, "S1", domain.KindItemNotFound, "low", "due 30m", 30*time.Minute),
		raise(t, db, "N1", domain.KindPickupOverdue, "medium", "due 2h", 2*time.Hour),
		raise(t, db, "S1", domain.KindOversell, "critical", "due 5h", 5*time.Hour),
		raise(t, db, "N1", domain.KindDeadLetter, "medium", "due 1d", 24*time.Hour),
	}
	var got []int64
	f := store.ExceptionFilter{Limit: 3, DueOrder: true}
	for page := 0; page < 5; page++ {
		rows, total, err := db.ListExceptions(ctx, f)
		if err != nil {
			t.Fatal(err)
		}
		if total != 7 {
			t.Fatalf("total %d, want 7", total)
		}
		for _, r := range rows {
			got = append(got, r.ID)
		}
		if len(rows) < f.Limit {
			break
		}
		f.After = store.CursorOf(rows[len(rows)-1])
	}
	if !slices.Equal(got, ids) {
		t.Fatalf("pages in due order: %v, want %v", got, ids)
	}

	var uid int64
	if err := db.GetContext(ctx, &uid, `INSERT INTO users (email, role, password_hash) VALUES ('q@x', 'inventory_lead', 'x') RETURNING id`); err != nil {
		t.Fatal(err)
	}
	if err := db.TakeException(ctx, domain.Actor{Kind: "user", UserID: uid, Name: "q@x"}, ids[3]); err != nil {
		t.Fatal(err)
	}
	if _, err := db.ExecContext(ctx, `UPDATE exceptions SET created_at = now() - interval '3 hours' WHERE id = $1`, ids[6]); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name string
		f    store.ExceptionFilter
		want []int64
	}{
		{"overdue", store.ExceptionFilter{SLA: domain.SLAOverdue}, ids[:2]},
		{"due soon", store.ExceptionFilter{SLA: domain.SLADueSoon}, ids[2:4]},
		{"on time", store.ExceptionFilter{SLA: domain.SLAOnTime}, ids[4:]},
		{"kind", store.ExceptionFilter{Kind: domain.KindOversell}, []int64{ids[0], ids[5]}},
		{"location", store.ExceptionFilter{Location: "S1"}, []int64{ids[1], ids[3], ids[5]}},
		{"region", store.ExceptionFilter{Region: "north"}, []int64{ids[0], ids[2], ids[4], ids[6]}},
		{"scope", store.ExceptionFilter{Locations: []string{"S1"}, Severity: "high"}, []int64{ids[1]}},
		{"empty scope", store.ExceptionFilter{Locations: []string{}}, nil},
		{"assignee", store.ExceptionFilter{AssigneeID: uid}, []int64{ids[3]}},
		{"unassigned overdue", store.ExceptionFilter{AssigneeID: store.UnassignedID, SLA: domain.SLAOverdue}, ids[:2]},
		{"older than 2h", store.ExceptionFilter{OlderThan: 2 * time.Hour}, []int64{ids[6]}},
		{"in progress", store.ExceptionFilter{Statuses: []string{domain.ExceptionInProgress}}, []int64{ids[3]}},
		{"sku", store.ExceptionFilter{SKU: "Q-1", Kind: domain.KindDeadLetter}, []int64{ids[6]}},
	} {
		tt.f.DueOrder = true
		rows, total, err := db.ListExceptions(ctx, tt.f)
		if err != nil {
			t.Fatal(err)
		}
		var gotIDs []int64
		for _, r := range rows {
			gotIDs = append(gotIDs, r.ID)
		}
		if !slices.Equal(gotIDs, tt.want) || total != len(tt.want) {
			t.Errorf("%s: %v (total %d), want %v", tt.name, gotIDs, total, tt.want)
		}
	}
	c, err := db.ExceptionCounts(ctx, store.ExceptionFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if c.Total != 7 || c.Overdue != 2 || c.BySLA[domain.SLADueSoon] != 2 || c.BySLA[domain.SLAOnTime] != 3 ||
		c.ByKind[domain.KindOversell] != 2 || c.BySeverity["high"] != 2 || c.BySeverity["critical"] != 1 {
		t.Fatalf("counts: %+v", c)
	}
	if _, n, err := db.OpenExceptionCounts(ctx, []string{domain.KindItemNotFound, domain.KindOversell}, []string{"N1"}); err != nil || n != 1 {
		t.Fatalf("overdue owned at N1: %d %v", n, err)
	}
}

// A new exception is due by the SLA of its kind and severity; editing the
// SLA changes exceptions raised afterwards and is audited. Bulk dismiss is
// all or nothing: an id outside the target refuses the whole change.
func TestExceptionSLADueTimesAndBulk(t *testing.T) {
	db := queueDB(t)
	ctx := context.Background()
	due := func(title string) time.Duration {
		var d float64
		if err := db.GetContext(ctx, &d, `SELECT extract(epoch FROM due_at - created_at) FROM exceptions WHERE title = $1`, title); err != nil {
			t.Fatal(err)
		}
		return time.Duration(d) * time.Second
	}
	sys := domain.SystemActor("test")
	db.RaiseException(ctx, sys, "N1", "", store.NewException{Kind: domain.KindOversell, Severity: "high", Title: "sla a"})
	db.RaiseException(ctx, sys, "N1", "", store.NewException{Kind: domain.KindOversell, Title: "sla default severity"})
	if d := due("sla a"); d != time.Hour {
		t.Fatalf("oversell/high due after %s, want 1h (the migration's default)", d)
	}
	if d := due("sla default severity"); d != time.Hour { // the registry's default severity for oversell is high
		t.Fatalf("oversell with no severity due after %s, want 1h", d)
	}
	if err := db.SaveExceptionSLA(ctx, sys, domain.SLA{Kind: domain.KindOversell, Severity: "high", DueMinutes: 15}); err != nil {
		t.Fatal(err)
	}
	if err := db.SaveExceptionSLA(ctx, sys, domain.SLA{Kind: domain.KindOversell, Severity: "high", DueMinutes: 0}); domain.ErrorCode(err) != domain.EINVALID {
		t.Fatalf("0 minutes: %v", err)
	}
	db.RaiseException(ctx, sys, "N1", "", store.NewException{Kind: domain.KindOversell, Severity: "high", Title: "sla b"})
	if d, d0 := due("sla b"), due("sla a"); d != 15*time.Minute || d0 != time.Hour {
		t.Fatalf("after the edit: new %s (want 15m), old %s (want 1h)", d, d0)
	}
	audit, err := db.ListAudit(ctx, store.AuditFilter{Entity: "exception_sla", EntityID: "oversell/high"})
	if err != nil || len(audit) != 1 {
		t.Fatalf("sla audit rows: %d %v", len(audit), err)
	}

	rows, _, _ := db.ListExceptions(ctx, store.ExceptionFilter{Kind: domain.KindOversell})
	var ids []int64
	for _, r := range rows {
		ids = append(ids, r.ID)
	}
	other := raise(t, db, "S1", domain.KindOversell, "high", "south", time.Hour)
	target := store.BulkTarget{IDs: append(slices.Clone(ids), other), Locations: []string{"N1"}, Kinds: []string{domain.KindOversell}}
	if _, err := db.DismissExceptions(ctx, sys, target, "duplicates"); domain.ErrorCode(err) != domain.ENOTFOUND {
		t.Fatalf("bulk with another store's exception: %v, want not found", err)
	}
	target.IDs = ids
	if n, err := db.DismissExceptions(ctx, sys, target, "duplicates of one order"); err != nil || n != 3 {
		t.Fatalf("bulk dismiss: %d %v", n, err)
	}
	left, _, _ := db.ListExceptions(ctx, store.ExceptionFilter{Kind: domain.KindOversell})
	if len(left) != 1 || left[0].ID != other {
		t.Fatalf("left open: %+v", left)
	}
	tl, err := db.ExceptionTimeline(ctx, ids[0])
	if err != nil || len(tl) != 2 || tl[0].Kind != "opened" || tl[1].Kind != domain.ExceptionDismissed {
		t.Fatalf("timeline: %+v %v", tl, err)
	}
}

// Alerts for new critical exceptions are rate-limited per kind and
// location and in all; the rest are suppressed with the reason. Handling
// the same outbox event twice queues one alert, and sending records the
// outcome on the exception's timeline.
func TestExceptionAlertRateLimit(t *testing.T) {
	db := queueDB(t)
	ctx := context.Background()
	limit := domain.AlertLimit{Window: time.Hour, PerKey: 2, Global: 3}
	sys := domain.SystemActor("test")
	for i, loc := range []string{"N1", "N1", "N1", "N1", "S1", "S1"} {
		if err := db.RaiseException(ctx, sys, loc, "", store.NewException{Kind: domain.KindFeedStale, Severity: "critical", Title: "feed down " + loc + string(rune('a'+i))}); err != nil {
			t.Fatal(err)
		}
	}
	db.RaiseException(ctx, sys, "N1", "", store.NewException{Kind: domain.KindFeedStale, Severity: "high", Title: "not critical"})
	var seen []store.OutboxEvent
	if _, err := db.RelayOutbox(ctx, 1000, func(ctx context.Context, e store.OutboxEvent) error {
		seen = append(seen, e)
		return db.QueueExceptionAlert(ctx, e, limit)
	}); err != nil {
		t.Fatal(err)
	}
	for _, e := range seen { // a relay that handles a batch again (crash before commit) queues nothing new
		if err := db.QueueExceptionAlert(ctx, e, limit); err != nil {
			t.Fatal(err)
		}
	}
	counts, err := db.AlertCounts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// N1: 2 queued (per key), 2 suppressed; S1: 1 queued (global 3), 1 suppressed; the high one: none.
	if counts["queued"] != 3 || counts["suppressed"] != 3 || len(counts) != 2 {
		t.Fatalf("alerts: %v", counts)
	}
	var sent []domain.ExceptionAlert
	fail := true
	send := func(ctx context.Context, a domain.ExceptionAlert) (string, error) {
		if fail {
			fail = false
			return "", context.DeadlineExceeded
		}
		sent = append(sent, a)
		return "test", nil
	}
	if n, err := db.SendExceptionAlerts(ctx, send, 10); err != nil || n != 4 || len(sent) != 3 {
		t.Fatalf("send: %d handled, %d sent, %v", n, len(sent), err)
	}
	counts, _ = db.AlertCounts(ctx)
	if counts["sent"] != 3 || counts["queued"] != 0 {
		t.Fatalf("after sending: %v", counts)
	}
	tl, _ := db.ExceptionTimeline(ctx, sent[0].ExceptionID)
	if !slices.ContainsFunc(tl, func(e domain.ExceptionEvent) bool { return e.Kind == "alert" }) {
		t.Fatalf("no alert on the timeline: %+v", tl)
	}
	b, _ := json.Marshal(sent[0])
	if sent[0].Severity != "critical" || sent[0].Location == "" {
		t.Fatalf("alert content: %s", b)
	}
}

// Overdue pickups are raised once per order, even after the first one is
// dismissed; the scheduled check's failure is one exception, resolved when
// the check is clean. Pickup store changes raise an exception at the new
// store.
func TestExceptionsFromTimeAndCheck(t *testing.T) {
	db := resvDB(t)
	ctx := context.Background()
	// The demo retailer's queue: the associate's store has overdue work.
	if _, n, err := db.OpenExceptionCounts(ctx, domain.KindsOwnedBy(domain.RoleAssociate), []string{"S01"}); err != nil || n < 1 {
		t.Fatalf("demo overdue exceptions at S01: %d %v", n, err)
	}
	sku := orderSKU(t, db, 40)
	setReservable(t, db, domain.BOPIS, sku, "S01", 3)
	setReservable(t, db, domain.BOPIS, sku, "S02", 3)
	o := mustCreate(t, db, newBopis("S01", domain.OrderLineInput{SKU: sku, Qty: 1}))
	if _, err := db.ExecContext(ctx, `UPDATE orders SET pickup_until = now() - interval '1 minute' WHERE id = $1`, o.ID); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 2; i++ {
		if _, err := db.RaiseOverduePickups(ctx, time.Now(), 100); err != nil {
			t.Fatal(err)
		}
	}
	ex := openExceptions(t, db, domain.KindPickupOverdue, o.Number)
	if len(ex) != 1 || ex[0].Location != "S01" {
		t.Fatalf("overdue pickup exceptions: %+v", ex)
	}
	if err := db.CloseException(ctx, orderActor, ex[0].ID, domain.ExceptionResolution{To: domain.ExceptionDismissed, Note: "customer called"}); err != nil {
		t.Fatal(err)
	}
	if n, err := db.RaiseOverduePickups(ctx, time.Now(), 100); err != nil || openExceptions(t, db, domain.KindPickupOverdue, o.Number) != nil {
		t.Fatalf("raised again after dismissal: %d %v", n, err)
	}

	if _, err := db.ChangePickupLocation(ctx, orderActor, o.ID, "S02"); err != nil {
		t.Fatal(err)
	}
	if ex := openExceptions(t, db, domain.KindPickupLocationChange, o.Number); len(ex) != 1 || ex[0].Location != "S02" {
		t.Fatalf("pickup change exceptions: %+v", ex)
	}

	bad := store.CheckReport{LedgerMismatch: []string{"S01/X: on_hand 3, ledger 2"}}
	for i := 0; i < 2; i++ {
		if err := db.RecordCheckResult(ctx, bad); err != nil {
			t.Fatal(err)
		}
	}
	if ex := openExceptions(t, db, domain.KindCheckFailed, "check"); len(ex) != 1 || ex[0].Severity != "critical" {
		t.Fatalf("check_failed exceptions: %+v", ex)
	}
	if err := db.RecordCheckResult(ctx, store.CheckReport{}); err != nil {
		t.Fatal(err)
	}
	if ex := openExceptions(t, db, domain.KindCheckFailed, "check"); len(ex) != 0 {
		t.Fatalf("check_failed still open after a clean check: %+v", ex)
	}
	mustCheck(t, db)
}
