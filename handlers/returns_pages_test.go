package handlers_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/PuerkitoBio/goquery"

	"stockline/domain"
	"stockline/views"
)

// The associate's returns desk: the scan finds the order (also another
// store's online order), more than was delivered is refused next to the
// form with nothing moved, a good return redirects to its page with a
// confirmation naming the effect, and quality-hold units are released
// from the desk; a pending return from a refund is received with
// dispositions. Stores outside the associate's are refused.
func TestReturnsDeskFlow(t *testing.T) {
	app := newApp(t)
	ctx := context.Background()
	sku := orderTestSKU(t, app, 62)
	o := collectedOrder(t, app, sku, 4) // collected at S02; the associate works at S01
	// The order page offers the return to the desk's roles.
	if _, body := app.login(domain.RoleManager).get(fmt.Sprintf("/orders/%d", o.ID)); !strings.Contains(body, `data-testid="start-return"`) ||
		!strings.Contains(body, "/returns?q="+o.Number) {
		t.Fatal("the order page does not offer a return")
	}
	b := app.login(domain.RoleAssociate)
	if res, body := b.get("/returns"); res.StatusCode != http.StatusOK || !strings.Contains(body, `data-testid="return-scan"`) {
		t.Fatalf("desk %d", res.StatusCode)
	}
	if _, body := b.get("/returns?q=SL-NOPE-1"); !strings.Contains(body, `data-testid="scan-error"`) {
		t.Fatal("an unknown order shows no scan error")
	}
	_, body := b.get("/returns?q=" + url.QueryEscape(strings.ToLower(o.Number)))
	doc, _ := goquery.NewDocumentFromReader(strings.NewReader(body))
	if doc.Find(`[data-testid="returnable-line"]`).Length() != 1 || doc.Find(`[data-testid="return-store"]`).Text() != "S01" {
		t.Fatalf("order on the desk:\n%s", body)
	}
	lineID := o.Lines[0].ID
	field := func(d domain.Disposition) string { return views.ReturnQtyField(lineID, d) }
	before := positionOf(t, app, sku, "S01")
	res, body := b.post("/returns", url.Values{"order": {fmt.Sprint(o.ID)}, "location": {"S01"}, field(domain.DispositionRestock): {"5"}})
	if res.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(body, "cannot return 5") {
		t.Fatalf("exceeding on the page: %d", res.StatusCode)
	}
	if got := positionOf(t, app, sku, "S01"); got != before {
		t.Fatalf("a refused return moved stock: %+v", got)
	}
	if res, _ := b.post("/returns", url.Values{"order": {fmt.Sprint(o.ID)}, "location": {"S02"}, field(domain.DispositionRestock): {"1"}}); res.StatusCode != http.StatusForbidden {
		t.Fatalf("receiving at another store: %d", res.StatusCode)
	}
	res, _ = b.post("/returns", url.Values{"order": {fmt.Sprint(o.ID)}, "location": {"S01"},
		field(domain.DispositionRestock): {"1"}, field(domain.DispositionQualityHold): {"2"}})
	if res.StatusCode != http.StatusSeeOther || !strings.HasPrefix(res.Header.Get("Location"), "/returns/") {
		t.Fatalf("return: %d %s", res.StatusCode, res.Header.Get("Location"))
	}
	_, body = b.get(res.Header.Get("Location"))
	if !strings.Contains(body, "1 restock (sellable), 2 quality hold") || !strings.Contains(body, "1 unit(s) are sellable again") {
		t.Fatalf("confirmation:\n%s", body)
	}
	after := positionOf(t, app, sku, "S01")
	if after.OnHand != before.OnHand+3 || after.QualityHold != before.QualityHold+2 {
		t.Fatalf("S01 %+v, was %+v", after, before)
	}
	// The desk lists the held units; release one to sellable, one to damaged.
	_, body = b.get("/returns")
	doc, _ = goquery.NewDocumentFromReader(strings.NewReader(body))
	form := doc.Find(`[data-testid="held-line"]`).FilterFunction(func(_ int, s *goquery.Selection) bool { return strings.Contains(s.Text(), sku) }).Find("form").First()
	action, _ := form.Attr("action")
	if action == "" {
		t.Fatalf("no release form for %s:\n%s", sku, body)
	}
	if res, body := b.post(action, url.Values{"to": {"sellable"}, "qty": {"9"}}); res.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(body, `data-testid="hold-error"`) {
		t.Fatalf("releasing more than is held: %d", res.StatusCode)
	}
	if res, _ := b.post(action, url.Values{"to": {"sellable"}, "qty": {"1"}}); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("release: %d", res.StatusCode)
	}
	if _, body = b.get("/returns"); !strings.Contains(body, "released from quality hold to sellable") {
		t.Fatal("no confirmation of the release")
	}
	if res, _ := b.post(action, url.Values{"to": {"damaged"}, "qty": {"1"}}); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("mark damaged: %d", res.StatusCode)
	}
	if got := positionOf(t, app, sku, "S01"); got.QualityHold != before.QualityHold || got.Damaged != before.Damaged+1 {
		t.Fatalf("after release %+v, was %+v", got, before)
	}
	// A pending return (a refund without restock) received at the desk.
	pend, err := app.DB.CreateReturn(ctx, domain.Actor{Kind: "connector", Name: "shopify-demo"}, domain.NewReturn{OrderID: o.ID, Pending: true,
		Source: "shopify-demo", ExternalRef: "refund-desk-1", Lines: []domain.ReturnLineInput{{SKU: sku, Qty: 1}}})
	if err != nil {
		t.Fatal(err)
	}
	if _, body = b.get("/returns"); !strings.Contains(body, fmt.Sprintf("Return %d", pend.ID)) {
		t.Fatal("the pending return is not listed")
	}
	path := fmt.Sprintf("/returns/%d", pend.ID)
	b.get(path)
	res, _ = b.post(path+"/receive", url.Values{"location": {"S01"}, field(domain.DispositionDamaged): {"1"}})
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("receive: %d", res.StatusCode)
	}
	if _, body = b.get(path); !strings.Contains(body, "received at S01") {
		t.Fatal("not received")
	}
	checkOK(t, app.DB)
}
