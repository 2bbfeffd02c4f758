package handlers_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/PuerkitoBio/goquery"

	"stockline/domain"
	"stockline/store"
)

// Transfer page tests use demo SKUs at indexes 1640 and up.
func xferSKU(t *testing.T, app *testApp, i int) string { return resvSKU(t, app.DB, 1640+i) }

// setTransferable counts on_hand at loc so exactly n units are available
// to a transfer there.
func setTransferable(t *testing.T, db *store.DB, sku, loc string, n int) {
	t.Helper()
	ctx := context.Background()
	l, _ := db.LocationByCode(ctx, loc)
	p, _ := db.ProductBySKU(ctx, sku)
	pos, err := db.PositionAt(ctx, l.ID, p.ID)
	if err != nil {
		t.Fatal(err)
	}
	counted := n + pos.Reserved + pos.Damaged + pos.QualityHold + pos.TransferOut
	if counted != pos.OnHand {
		if _, err := db.Adjust(ctx, domain.SystemActor("test"), sku, loc, domain.Adjustment{Reason: domain.ReasonCycleCount, Counted: &counted}); err != nil {
			t.Fatal(err)
		}
	}
}

func xferPos(t *testing.T, db *store.DB, sku, loc string) domain.Position {
	t.Helper()
	ctx := context.Background()
	l, _ := db.LocationByCode(ctx, loc)
	p, _ := db.ProductBySKU(ctx, sku)
	pos, err := db.PositionAt(ctx, l.ID, p.ID)
	if err != nil {
		t.Fatal(err)
	}
	return pos
}

// requestTransfer posts the request form and returns the new transfer's id.
func requestTransfer(t *testing.T, b *browser, from, to, lines string) int64 {
	t.Helper()
	b.get("/transfers/new")
	res, body := b.post("/transfers", url.Values{"from": {from}, "to": {to}, "lines": {lines}, "reason": {"test"}, "needed_by": {"2026-12-24"}})
	loc := res.Header.Get("Location")
	if res.StatusCode != http.StatusSeeOther || !strings.HasPrefix(loc, "/transfers/") {
		t.Fatalf("request %s→%s: %d %s\n%s", from, to, res.StatusCode, loc, body)
	}
	id, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimPrefix(loc, "/transfers/"), "#timeline"), 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// act posts a form on the transfer page (fetching it first for the CSRF
// token) and checks the status.
func act(t *testing.T, b *browser, id int64, action string, form url.Values, want int) string {
	t.Helper()
	res, body := b.get(fmt.Sprintf("/transfers/%d", id))
	if action == "" {
		if res.StatusCode != want {
			t.Fatalf("transfer %d page: %d, want %d\n%s", id, res.StatusCode, want, body)
		}
		return body
	}
	res, body = b.post(fmt.Sprintf("/transfers/%d/%s", id, action), form)
	if res.StatusCode != want {
		t.Fatalf("%s on %d: %d, want %d\n%s", action, id, res.StatusCode, want, body)
	}
	if res.StatusCode == http.StatusSeeOther {
		_, body = b.get(res.Header.Get("Location"))
	}
	return body
}

// TestTransferPagesFlow walks one transfer through the pages: an
// associate requests it (bad input answered beside the field), the
// manager approves it from the queue, ships part of it, the associate
// receives part, then the rest short with a damaged unit, and a manager
// writes the missing unit off; the consistency check runs after every
// step that moves a bucket.
func TestTransferPagesFlow(t *testing.T) {
	app := newApp(t)
	sku := xferSKU(t, app, 0)
	setTransferable(t, app.DB, sku, "S02", 10)
	assoc, mgr := app.login(domain.RoleAssociate), app.login(domain.RoleManager)

	assoc.get("/transfers/new")
	for _, c := range []struct{ from, to, lines, field string }{
		{"S02", "S01", "NO-SUCH-SKU 2", "lines"},
		{"S02", "S01", sku + " two", "lines"},
		{"S01", "S01", sku + " 2", "to"},
		{"S07", "S08", sku + " 2", "from"},
	} {
		res, body := assoc.post("/transfers", url.Values{"from": {c.from}, "to": {c.to}, "lines": {c.lines}})
		if res.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(body, `data-testid="err-`+c.field+`"`) || !strings.Contains(body, c.lines) {
			t.Fatalf("%+v: %d, want 422 beside %s with the input kept\n%s", c, res.StatusCode, c.field, body)
		}
	}
	id := requestTransfer(t, assoc, "S02", "S01", sku+"\n"+sku+" 3") // a scan and a typed line: 4 units
	before := xferPos(t, app.DB, sku, "S02")
	body := act(t, assoc, id, "", nil, http.StatusOK)
	if !strings.Contains(body, "Awaiting approval") || strings.Contains(body, `data-testid="approve-form"`) {
		t.Fatal("the associate's view of a request shows the approve form or no status")
	}
	if res, _ := assoc.post(fmt.Sprintf("/transfers/%d/approve", id), nil); res.StatusCode != http.StatusForbidden {
		t.Fatalf("associate approves: %d, want 403", res.StatusCode)
	}

	_, queue := mgr.get("/transfers/approvals")
	if !strings.Contains(queue, fmt.Sprintf(`data-testid="approval-%d"`, id)) || !strings.Contains(queue, `data-testid="ctx-from-atp-`+sku+`">10`) ||
		!strings.Contains(queue, `data-testid="nav-count-Approvals"`) {
		t.Fatalf("the queue does not show the request with its stock context and the nav count\n%s", queue)
	}
	res, _ := mgr.post(fmt.Sprintf("/transfers/%d/approve", id), url.Values{"note": {"go ahead"}, "back": {"approvals"}})
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/transfers/approvals" {
		t.Fatalf("approve from the queue: %d %s", res.StatusCode, res.Header.Get("Location"))
	}
	if p := xferPos(t, app.DB, sku, "S02"); p.TransferOut != before.TransferOut+4 || domain.TransferAvailable(p) != 6 {
		t.Fatalf("after approval S02 %+v", p)
	}
	checkOK(t, app.DB)

	if res, _ := assoc.post(fmt.Sprintf("/transfers/%d/ship", id), url.Values{"qty_1": {"3"}, "tracking": {"T"}}); res.StatusCode != http.StatusForbidden {
		t.Fatalf("the destination's associate ships: %d, want 403", res.StatusCode)
	}
	act(t, mgr, id, "ship", url.Values{"qty_1": {"9"}, "tracking": {"1Z-9"}}, http.StatusBadRequest)
	dest := xferPos(t, app.DB, sku, "S01")
	body = act(t, mgr, id, "ship", url.Values{"qty_1": {"3"}, "tracking": {"1Z-9"}}, http.StatusSeeOther)
	if !strings.Contains(body, "1 approved unit(s) not shipped went back to sellable at S02") {
		t.Fatalf("ship confirmation\n%s", body)
	}
	if p := xferPos(t, app.DB, sku, "S01"); p.InTransitIn != dest.InTransitIn+3 {
		t.Fatalf("destination after ship %+v", p)
	}
	if p := xferPos(t, app.DB, sku, "S02"); p.TransferOut != before.TransferOut || p.OnHand != before.OnHand-3 {
		t.Fatalf("origin after ship %+v", p)
	}
	checkOK(t, app.DB)
	_, skuPage := assoc.get("/inventory/" + sku)
	if !strings.Contains(skuPage, fmt.Sprintf(`data-testid="sku-transfer-%d"`, id)) {
		t.Fatal("the SKU page does not list the open transfer")
	}
	_, incoming := assoc.get("/transfers?incoming=1")
	if !strings.Contains(incoming, fmt.Sprintf(`data-testid="transfer-%d"`, id)) || !strings.Contains(incoming, `data-testid="nav-count-Transfers"`) {
		t.Fatal("the associate's incoming list does not show the shipped transfer with a nav count")
	}
	if _, home := assoc.get("/pickups"); !strings.Contains(home, `data-testid="transfers-to-receive"`) {
		t.Fatal("the associate's home does not show transfers to receive")
	}

	receiveAndSettle(t, app, assoc, mgr, id, sku, dest)
}

func receiveAndSettle(t *testing.T, app *testApp, assoc, mgr *browser, id int64, sku string, dest domain.Position) {
	act(t, assoc, id, "receive", url.Values{"qty_1": {"1"}, "complete": {"false"}}, http.StatusSeeOther)
	if p := xferPos(t, app.DB, sku, "S01"); p.OnHand != dest.OnHand+1 || p.InTransitIn != dest.InTransitIn+2 {
		t.Fatalf("after a partial receipt S01 %+v", p)
	}
	checkOK(t, app.DB)
	body := act(t, assoc, id, "receive", url.Values{"scans": {sku}, "damaged_1": {"1"}, "complete": {"true"}}, http.StatusSeeOther)
	if !strings.Contains(body, "1 unit(s) did not arrive") || !strings.Contains(body, `data-testid="found-`+sku+`"`) || strings.Contains(body, `data-testid="lost-`+sku+`"`) {
		t.Fatalf("final short receipt: no variance, or the associate may write off\n%s", body)
	}
	if p := xferPos(t, app.DB, sku, "S01"); p.OnHand != dest.OnHand+2 || p.Damaged != dest.Damaged+1 || p.InTransitIn != dest.InTransitIn+1 {
		t.Fatalf("after the final receipt S01 %+v", p)
	}
	checkOK(t, app.DB)
	if res, _ := assoc.post(fmt.Sprintf("/transfers/%d/lost", id), url.Values{"sku": {sku}}); res.StatusCode != http.StatusForbidden {
		t.Fatalf("associate writes off: %d, want 403", res.StatusCode)
	}
	body = act(t, mgr, id, "lost", url.Values{"sku": {sku}}, http.StatusSeeOther)
	if !strings.Contains(body, "written off as lost") {
		t.Fatalf("write-off confirmation\n%s", body)
	}
	if p := xferPos(t, app.DB, sku, "S01"); p.InTransitIn != dest.InTransitIn {
		t.Fatalf("after the write-off S01 %+v", p)
	}
	var open int
	app.DB.GetContext(context.Background(), &open, `SELECT count(*) FROM exceptions WHERE kind = 'transfer_variance' AND ref = $1 AND status = 'open'`, fmt.Sprintf("transfer:%d", id))
	if open != 0 {
		t.Fatalf("%d variance exceptions still open", open)
	}
	checkOK(t, app.DB)
}

// TestTransferPagesScopeAndCancel: a manager sees a transfer with either
// end in scope but approves only when the origin is (403 otherwise); a
// transfer with neither end in scope is 404; an approval the stock no
// longer covers shows the current figures; cancelling before shipping
// returns the units, after shipping is already_shipped.
func TestTransferPagesScopeAndCancel(t *testing.T) {
	app := newApp(t)
	ctx := context.Background()
	sku := xferSKU(t, app, 1)
	for _, loc := range []string{"S03", "S07"} {
		setTransferable(t, app.DB, sku, loc, 10)
	}
	mgr, lead := app.login(domain.RoleManager), app.login(domain.RoleInventoryLead)
	tok := domain.Actor{Kind: "token", Name: "test"}
	create := func(from, to string, qty int) int64 {
		tr, err := app.DB.CreateTransfer(ctx, tok, domain.NewTransfer{From: from, To: to, Lines: []domain.TransferLineInput{{SKU: sku, Qty: qty}}})
		if err != nil {
			t.Fatal(err)
		}
		return tr.ID
	}
	intoScope, foreign := create("S07", "S01", 2), create("S07", "S08", 2)
	body := act(t, mgr, intoScope, "", nil, http.StatusOK)
	if strings.Contains(body, `data-testid="approve-form"`) {
		t.Fatal("a manager sees the approve form for an origin outside their scope")
	}
	act(t, mgr, intoScope, "approve", nil, http.StatusForbidden)
	act(t, mgr, foreign, "", nil, http.StatusNotFound)
	if res, _ := mgr.post(fmt.Sprintf("/transfers/%d/approve", foreign), nil); res.StatusCode != http.StatusNotFound {
		t.Fatalf("approve another region's transfer: %d, want 404", res.StatusCode)
	}
	if tr, _ := app.DB.TransferByID(ctx, intoScope); tr.Status != domain.TransferRequested {
		t.Fatalf("refused approvals changed the transfer: %s", tr.Status)
	}

	short := create("S03", "S01", 5)
	setTransferable(t, app.DB, sku, "S03", 2)
	body = act(t, mgr, short, "approve", nil, http.StatusConflict)
	if !strings.Contains(body, "5 requested, 2 available") || !strings.Contains(body, `data-testid="ctx-from-atp-`+sku+`">2`) {
		t.Fatalf("an approval the stock no longer covers does not show the current figures\n%s", body)
	}
	setTransferable(t, app.DB, sku, "S03", 10)
	act(t, mgr, short, "approve", nil, http.StatusSeeOther)
	body = act(t, lead, short, "cancel", nil, http.StatusSeeOther)
	if !strings.Contains(body, "went back from transfer_out to sellable at S03") || domain.TransferAvailable(xferPos(t, app.DB, sku, "S03")) != 10 {
		t.Fatalf("cancel after approval\n%s", body)
	}
	checkOK(t, app.DB)

	shipped := create("S03", "S02", 1)
	act(t, mgr, shipped, "approve", nil, http.StatusSeeOther)
	act(t, mgr, shipped, "ship", url.Values{"qty_1": {"1"}, "tracking": {"T-2"}}, http.StatusSeeOther)
	body = act(t, mgr, shipped, "cancel", nil, http.StatusConflict)
	if !strings.Contains(body, "It cannot be cancelled") {
		t.Fatalf("cancelling a shipped transfer\n%s", body)
	}
	checkOK(t, app.DB)
	transferListAndPages(t, app, mgr, lead)
	suggestedOneClick(t, app, mgr)
}

// suggestedOneClick: S04 sells out of a SKU through a pickup order; the
// suggestions page proposes a move to S04 with the numbers behind it, and
// its button makes the request in one click.
func suggestedOneClick(t *testing.T, app *testApp, mgr *browser) {
	ctx := context.Background()
	sku := xferSKU(t, app, 2)
	setBOPISReservable(t, app.DB, sku, "S04", 3)
	cr, err := app.DB.CreateOrder(ctx, domain.Actor{Kind: "token", Name: "test"}, domain.NewOrder{Channel: domain.BOPIS, PickupLocation: "S04",
		Customer: domain.Customer{Name: "Sam Suggest"}, Lines: []domain.OrderLineInput{{SKU: sku, Qty: 3}}})
	if err != nil {
		t.Fatal(err)
	}
	act := domain.Actor{Kind: "user", Name: "associate@demo.stockline"}
	if _, err := app.DB.PickLine(ctx, act, cr.Order.ID, cr.Order.Lines[0].ID, sku, 3); err != nil {
		t.Fatal(err)
	}
	if _, err := app.DB.HandOver(ctx, act, cr.Order.ID); err != nil {
		t.Fatal(err)
	}
	setTransferable(t, app.DB, sku, "S04", 0)
	_, body := mgr.get("/transfers/suggested")
	doc, err := goquery.NewDocumentFromReader(strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	row := doc.Find(`[data-testid^="suggestion-` + sku + `-"][data-testid$="-S04"]`).First()
	if row.Length() == 0 || !strings.Contains(row.Text(), "stockout") {
		t.Fatalf("no suggestion to S04 for %s\n%s", sku, body)
	}
	form := url.Values{}
	row.Find("form input").Each(func(_ int, in *goquery.Selection) { form.Set(in.AttrOr("name", ""), in.AttrOr("value", "")) })
	if form.Get("to") != "S04" || form.Get("lines") != sku+" 3" || !strings.Contains(form.Get("reason"), "S04 has 0 available and 0 in transit, sold 3") {
		t.Fatalf("suggestion form %v", form)
	}
	res, _ := mgr.post("/transfers", form)
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("one-click request: %d", res.StatusCode)
	}
	_, page := mgr.get(res.Header.Get("Location"))
	if !strings.Contains(page, "Awaiting approval") || !strings.Contains(page, "Suggested: ") {
		t.Fatalf("the suggested request\n%s", page)
	}
}

// transferListAndPages: the list filters and pages, the suggestions page
// answers, and the rules editor refuses bad input beside the field and
// saves (audited), then is disabled again.
func transferListAndPages(t *testing.T, app *testApp, mgr, lead *browser) {
	ctx := context.Background()
	for _, p := range []string{"/transfers", "/transfers?status=shipped", "/transfers?status=bogus", "/transfers?before=1", "/transfers/suggested", "/transfers/rules"} {
		if res, body := mgr.get(p); res.StatusCode != http.StatusOK {
			t.Fatalf("%s: %d\n%s", p, res.StatusCode, body)
		}
	}
	if _, body := mgr.get("/transfers?before=1"); !strings.Contains(body, `data-testid="transfers-empty"`) {
		t.Fatal("an empty page has no empty state")
	}
	if res, _ := lead.get("/transfers/rules"); res.StatusCode != http.StatusForbidden {
		t.Fatalf("inventory lead on the rules editor: %d, want 403", res.StatusCode)
	}
	mgr.get("/transfers/rules")
	res, body := mgr.post("/transfers/rules", url.Values{"name": {"Small moves"}, "max_units": {"0"}, "max_value": {"100"}, "same_region": {"on"}, "enabled": {"on"}})
	if res.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(body, `data-testid="err-max_units"`) {
		t.Fatalf("bad rule: %d\n%s", res.StatusCode, body)
	}
	res, _ = mgr.post("/transfers/rules", url.Values{"name": {"Small moves"}, "max_units": {"3"}, "max_value": {"50.00"}, "same_region": {"on"}})
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("save rule: %d", res.StatusCode)
	}
	rules, err := app.DB.TransferRules(ctx)
	if err != nil || len(rules) == 0 {
		t.Fatal(rules, err)
	}
	r := rules[len(rules)-1]
	if r.Enabled || r.MaxValueCents != 5000 || r.MaxUnits != 3 || !r.SameRegion {
		t.Fatalf("saved rule %+v", r)
	}
	mgr.get("/transfers/rules")
	if res, _ := mgr.post(fmt.Sprintf("/transfers/rules/%d", r.ID), url.Values{"name": {"Small moves"}, "max_units": {"4"}, "max_value": {"50"}}); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("update rule: %d", res.StatusCode)
	}
	var audits int
	app.DB.GetContext(ctx, &audits, `SELECT count(*) FROM audit_log WHERE entity = 'transfer_rule' AND entity_id = $1`, fmt.Sprint(r.ID))
	if audits != 2 {
		t.Fatalf("rule changes audited %d times, want 2", audits)
	}
}
