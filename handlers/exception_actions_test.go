package handlers_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"stockline/connectors"
	"stockline/connectors/sim"
	"stockline/domain"
	"stockline/store"
)

// exceptionOf finds the one exception of kind about ref.
func exceptionOf(t *testing.T, app *testApp, kind, ref string) domain.ExceptionDetail {
	t.Helper()
	rows, _, err := app.DB.ListExceptions(context.Background(), store.ExceptionFilter{Kind: kind, Ref: ref, Statuses: domain.ExceptionStatuses})
	if err != nil || len(rows) != 1 {
		t.Fatalf("%s exceptions about %s: %d %v", kind, ref, len(rows), err)
	}
	return rows[0]
}

func resolveForm(action string, kv ...string) url.Values {
	v := url.Values{"action": {action}}
	for i := 0; i+1 < len(kv); i += 2 {
		v.Set(kv[i], kv[i+1])
	}
	return v
}

// Every kind's action on the exception page does its work (stock, orders,
// connectors) and records a resolution code; the consistency check stays
// clean. Another action on a closed exception is 409, a role that does not
// own the kind is 403, and the page shows the context to decide.
func TestExceptionActionsDoTheWork(t *testing.T) {
	app := newApp(t)
	ctx := context.Background()
	sys := domain.SystemActor("test")
	manager, lead := app.login(domain.RoleManager), app.login(domain.RoleInventoryLead)
	sku := orderTestSKU(t, app, 60)
	setBOPISReservable(t, app.DB, sku, "S01", 2)
	setBOPISReservable(t, app.DB, sku, "S02", 4)
	tok := domain.Actor{Kind: "token", Name: "xq-test"}
	cr, err := app.DB.CreateOrder(ctx, tok, domain.NewOrder{Channel: domain.BOPIS, PickupLocation: "S01",
		Customer: domain.Customer{Name: "Queue Probe", Email: "q@example.com"}, Lines: []domain.OrderLineInput{{SKU: sku, Qty: 1}}})
	if err != nil {
		t.Fatal(err)
	}
	o := cr.Order
	if _, err := app.DB.RejectLine(ctx, sys, o.ID, o.Lines[0].ID, domain.RejectNotFound, "", 0, "shelf empty"); err != nil {
		t.Fatal(err)
	}
	inf := exceptionOf(t, app, domain.KindItemNotFound, o.Number)
	res, body := manager.get(fmt.Sprintf("/exceptions/%d", inf.ID))
	for _, want := range []string{`data-testid="context-order"`, `data-testid="context-nearby"`, `data-testid="context-ledger"`, "Reallocate to S", `data-testid="exception-timeline"`} {
		if res.StatusCode != http.StatusOK || !strings.Contains(body, want) {
			t.Fatalf("exception page lacks %s (%d)", want, res.StatusCode)
		}
	}
	if res, _ := manager.post(fmt.Sprintf("/exceptions/%d/resolve", inf.ID), resolveForm("reallocate", "location", "S02", "qty", "1")); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("reallocate: %d", res.StatusCode)
	}
	after, _ := app.DB.OrderByID(ctx, o.ID)
	held := 0
	for _, l := range after.Lines {
		if l.Location == "S02" {
			held += l.Held()
		}
	}
	if e, _ := app.DB.ExceptionByID(ctx, inf.ID); held != 1 || e.Status != domain.ExceptionResolved || e.ResolutionCode != "reallocated" || e.Action != domain.ActReallocate {
		t.Fatalf("after reallocate: held at S02 %d, exception %s %s %q", held, e.Status, e.ResolutionCode, e.Action)
	}
	if res, _ := manager.post(fmt.Sprintf("/exceptions/%d/resolve", inf.ID), resolveForm("dismiss", "note", "changed my mind")); res.StatusCode != http.StatusConflict {
		t.Fatalf("another action on a resolved exception: %d, want 409", res.StatusCode)
	}

	// Oversell: no stock anywhere for this SKU, so the order is held; cancel the line and notify.
	none := orderTestSKU(t, app, 61)
	cr, err = app.DB.CreateOrder(ctx, tok, domain.NewOrder{Channel: domain.EcommerceShip, Customer: domain.Customer{Name: "Over Sell", Email: "o@example.com"},
		Lines: []domain.OrderLineInput{{SKU: none, Qty: 500}}})
	if err != nil {
		t.Fatal(err)
	}
	over := exceptionOf(t, app, domain.KindOversell, cr.Order.Number)
	assoc := app.login(domain.RoleAssociate)
	if res, _ := assoc.post(fmt.Sprintf("/exceptions/%d/resolve", over.ID), resolveForm("cancel_line")); res.StatusCode != http.StatusNotFound && res.StatusCode != http.StatusForbidden {
		t.Fatalf("associate on an oversell: %d, want 403 or 404", res.StatusCode)
	}
	if res, _ := lead.post(fmt.Sprintf("/exceptions/%d/resolve", over.ID), resolveForm("cancel_line", "note", "no stock")); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("cancel line: %d", res.StatusCode)
	}
	ao, _ := app.DB.OrderByID(ctx, cr.Order.ID)
	if ao.Lines[0].Cancelled != 500 || ao.Status != domain.OrderCancelled {
		t.Fatalf("after cancel: %+v status %s", ao.Lines[0].LineQty, ao.Status)
	}

	// Negative stock: adjust to a counted figure through the adjustment path.
	neg := orderTestSKU(t, app, 62)
	if err := app.DB.RaiseException(ctx, sys, "S03", neg, store.NewException{Kind: domain.KindNegativeStock, Ref: "xq-neg", Title: "probe negative"}); err != nil {
		t.Fatal(err)
	}
	ne := exceptionOf(t, app, domain.KindNegativeStock, "xq-neg")
	res, body = lead.post(fmt.Sprintf("/exceptions/%d/resolve", ne.ID), resolveForm("adjust", "counted", "-3"))
	if res.StatusCode != http.StatusBadRequest || !strings.Contains(body, "counted units") {
		t.Fatalf("bad count: %d", res.StatusCode)
	}
	if res, _ := lead.post(fmt.Sprintf("/exceptions/%d/resolve", ne.ID), resolveForm("adjust", "counted", "7")); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("adjust: %d", res.StatusCode)
	}
	p, _ := app.DB.ProductBySKU(ctx, neg)
	s03, _ := app.DB.LocationByCode(ctx, "S03")
	if pos, _ := app.DB.PositionAt(ctx, s03.ID, p.ID); pos.OnHand != 7 {
		t.Fatalf("on hand after adjust: %d", pos.OnHand)
	}

	// Feed stale: pause the connector.
	cn, err := app.DB.CreateConnector(ctx, sys, store.NewConnector{Name: "xq-feed", Kind: "pos", Adapter: "square", Enabled: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := app.DB.RaiseException(ctx, sys, "", "", store.NewException{Kind: domain.KindFeedStale, Ref: "connector:xq-feed", Title: "xq feed stale"}); err != nil {
		t.Fatal(err)
	}
	fe := exceptionOf(t, app, domain.KindFeedStale, "connector:xq-feed")
	if res, _ := manager.get(fmt.Sprintf("/exceptions/%d", fe.ID)); res.StatusCode != http.StatusNotFound {
		t.Fatalf("a scoped manager opening a feed exception (no store): %d, want 404", res.StatusCode)
	}
	if res, _ := lead.post(fmt.Sprintf("/exceptions/%d/resolve", fe.ID), resolveForm("pause_connector")); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("pause: %d", res.StatusCode)
	}
	if c, _ := app.DB.ConnectorByID(ctx, cn.ID); c.Enabled {
		t.Fatal("connector still enabled")
	}
	if e, _ := app.DB.ExceptionByID(ctx, fe.ID); e.Status != domain.ExceptionResolved || e.Action != domain.ActPauseFeed {
		t.Fatalf("feed exception after pause: %s %q", e.Status, e.Action)
	}
	tl, _ := app.DB.ExceptionTimeline(ctx, ne.ID)
	if len(tl) < 2 || tl[0].Kind != "opened" || tl[len(tl)-1].Kind != domain.ExceptionResolved {
		t.Fatalf("timeline: %+v", tl)
	}
	exceptionDeadLetterActions(t, app, lead)
	checkOK(t, app.DB)
}

// The queue page: filters, counts, keyboard help, bulk assign to me, the
// polled partial keeping the row being worked on, and the associate's
// pickup page counting their stores' exceptions.
func TestExceptionQueuePage(t *testing.T) {
	app := newApp(t)
	ctx := context.Background()
	sys := domain.SystemActor("test")
	for i, loc := range []string{"S01", "S01", "S07"} {
		if err := app.DB.RaiseException(ctx, sys, loc, "", store.NewException{Kind: domain.KindPickupOverdue, Ref: fmt.Sprintf("xq-page-%d", i), Title: fmt.Sprintf("Queue page probe %d", i)}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := app.DB.ExecContext(ctx, `UPDATE exceptions SET due_at = now() - interval '38 minutes' WHERE ref = 'xq-page-0'`); err != nil {
		t.Fatal(err)
	}
	assoc := app.login(domain.RoleAssociate)
	res, body := assoc.get("/exceptions?kind=pickup_overdue")
	if res.StatusCode != http.StatusOK || !strings.Contains(body, "Queue page probe 0") || strings.Contains(body, "Queue page probe 2") ||
		!strings.Contains(body, "38 min late") || !strings.Contains(body, `data-testid="shortcuts-hint"`) || !strings.Contains(body, `id="shortcuts"`) {
		t.Fatalf("associate queue: %d\n%s", res.StatusCode, body)
	}
	if _, body := assoc.get("/exceptions?kind=pickup_overdue&sla=overdue&location=S01"); !strings.Contains(body, "Queue page probe 0") || strings.Contains(body, "Queue page probe 1") {
		t.Fatal("overdue filter")
	}
	if _, body := assoc.get("/exceptions?kind=oversell&severity=low"); !strings.Contains(body, `data-testid="exceptions-empty"`) || !strings.Contains(body, "Clear the filters") {
		t.Fatal("an empty filtered queue should say how to widen it")
	}
	if res, _ := assoc.get("/exceptions?status=nope"); res.StatusCode != http.StatusBadRequest {
		t.Fatalf("unknown status: %d", res.StatusCode)
	}
	var ids []string
	app.DB.SelectContext(ctx, &ids, `SELECT id::text FROM exceptions WHERE ref IN ('xq-page-0', 'xq-page-1') ORDER BY id`)
	if res, _ := assoc.post("/exceptions/bulk", url.Values{"op": {"assign_me"}, "ids": ids, "back": {"/exceptions?kind=pickup_overdue"}}); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("bulk assign: %d", res.StatusCode)
	}
	if _, body := assoc.get("/exceptions?kind=pickup_overdue&assignee=me"); strings.Count(body, "Queue page probe") != 2 {
		t.Fatal("assigned to me")
	}
	var foreign string
	app.DB.GetContext(ctx, &foreign, `SELECT id::text FROM exceptions WHERE ref = 'xq-page-2'`)
	if res, _ := assoc.post("/exceptions/bulk", url.Values{"op": {"dismiss"}, "reason": {"dupes"}, "ids": append(ids, foreign)}); res.StatusCode != http.StatusNotFound {
		t.Fatalf("bulk with another store's exception: %d, want 404", res.StatusCode)
	}
	// The partial keeps the row being worked on after it stops matching.
	_, body = assoc.get("/exceptions/list?kind=pickup_overdue&assignee=none&keep=" + ids[0])
	if !strings.Contains(body, "Queue page probe 0") || !strings.Contains(body, "kept while you work on it") {
		t.Fatalf("kept row:\n%s", body)
	}
	if _, body := assoc.get("/exceptions/list?keep=" + foreign); strings.Contains(body, "Queue page probe 2") {
		t.Fatal("keep must not show another store's exception")
	}
	if _, body := assoc.get("/pickups"); !strings.Contains(body, `data-testid="pickup-exceptions"`) || !strings.Contains(body, "overdue") {
		t.Fatal("the associate's pickup page should count their stores' overdue exceptions")
	}
	lead := app.login(domain.RoleInventoryLead)
	if res, _ := lead.post("/exceptions/slas", url.Values{"kind": {"pickup_overdue"}, "severity": {"medium"}, "due_minutes": {"90"}}); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("sla save: %d", res.StatusCode)
	}
	if res, _ := assoc.post("/exceptions/slas", url.Values{"kind": {"pickup_overdue"}, "severity": {"medium"}, "due_minutes": {"5"}}); res.StatusCode != http.StatusForbidden {
		t.Fatalf("associate editing SLAs: %d, want 403", res.StatusCode)
	}
}

// exceptionDeadLetterActions works a dead-letter exception from its page:
// a retry while the item is unmapped is 422 and changes nothing; once
// mapped, a retry applies what it can (the malformed event still fails,
// so the exception stays open), and fixing the malformed payload applies
// it and resolves the exception, all recorded with the work.
func exceptionDeadLetterActions(t *testing.T, app *testApp, lead *browser) {
	t.Helper()
	ctx := context.Background()
	sys := domain.SystemActor("test")
	cn, err := app.DB.CreateConnector(ctx, sys, store.NewConnector{Name: "xq-dl", Kind: "pos", Adapter: "square", Enabled: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := app.DB.SetMappings(ctx, sys, cn.ID, []store.Mapping{{Kind: "location", ExternalID: "LOC-XQ", Code: "S04"}}); err != nil {
		t.Fatal(err)
	}
	now := time.Now().Add(-time.Minute)
	if _, err := app.DB.Ingest(ctx, cn, []store.InboundEvent{
		connectors.ParseSquareChange(sim.SquareAdjustment("XQ-1", "NONE", "IN_STOCK", "LOC-XQ", "ITEM-XQ", 3, now, now)),
		connectors.ParseSquareChange(sim.SquareMalformed("XQ-2", "LOC-XQ", "ITEM-XQ", now)),
	}, ""); err != nil {
		t.Fatal(err)
	}
	dls, _, _ := app.DB.DeadLetters(ctx, cn.ID, "open", 0, 10)
	var malformed domain.DeadLetter
	for _, d := range dls {
		if strings.Contains(d.Payload, `"two"`) {
			malformed = d
		}
	}
	x := exceptionOf(t, app, domain.KindDeadLetter, "connector:xq-dl")
	resolve := func(form url.Values, want int) {
		t.Helper()
		if res, body := lead.post(fmt.Sprintf("/exceptions/%d/resolve", x.ID), form); res.StatusCode != want {
			t.Fatalf("%s: %d, want %d\n%s", form.Get("action"), res.StatusCode, want, body)
		}
	}
	before := onHand(t, app.DB, "FOO-11984", "S04")
	resolve(resolveForm("retry"), http.StatusUnprocessableEntity)
	if e, _ := app.DB.ExceptionByID(ctx, x.ID); e.Closed() || onHand(t, app.DB, "FOO-11984", "S04") != before {
		t.Fatalf("a failed retry changed something: %s, on hand %d", e.Status, onHand(t, app.DB, "FOO-11984", "S04"))
	}
	if err := app.DB.SetMappings(ctx, sys, cn.ID, []store.Mapping{{Kind: "item", ExternalID: "ITEM-XQ", Code: "FOO-11984"}}); err != nil {
		t.Fatal(err)
	}
	resolve(resolveForm("retry"), http.StatusUnprocessableEntity)
	if e, _ := app.DB.ExceptionByID(ctx, x.ID); e.Closed() || onHand(t, app.DB, "FOO-11984", "S04") != before+3 {
		t.Fatalf("retry with one still failing: %s, on hand %d, want %d", e.Status, onHand(t, app.DB, "FOO-11984", "S04"), before+3)
	}
	fixed := strings.Replace(malformed.Payload, `"two"`, `"2"`, 1)
	resolve(resolveForm("fix_payload", "dead_letter", fmt.Sprint(malformed.ID), "payload", fixed, "note", "typo"), http.StatusSeeOther)
	e, _ := app.DB.ExceptionByID(ctx, x.ID)
	if dl, _ := app.DB.DeadLetterByID(ctx, malformed.ID); !e.Closed() || e.Action != domain.ActFixPayload || dl.Status != "retried" ||
		onHand(t, app.DB, "FOO-11984", "S04") != before+1 {
		t.Fatalf("fix payload: exception %s %q, dead letter %s, on hand %d", e.Status, e.Action, dl.Status, onHand(t, app.DB, "FOO-11984", "S04"))
	}
}
