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
)

// reasonSelect checks the form posting to action has the reason_code select
// with the seven codes (and their labels) and a note field.
func reasonSelect(t *testing.T, body, action string) {
	t.Helper()
	doc, _ := goquery.NewDocumentFromReader(strings.NewReader(body))
	form := doc.Find(`form[action="` + action + `"]`)
	var codes []string
	form.Find(`select[name="reason_code"] option`).Each(func(_ int, o *goquery.Selection) {
		if v, _ := o.Attr("value"); v != "" {
			codes = append(codes, v)
			if o.Text() == v {
				t.Errorf("option %s has no label", v)
			}
		}
	})
	if len(codes) != len(domain.CancelReasons) || form.Find(`input[name="note"]`).Length() != 1 {
		t.Fatalf("form %s: codes %v, note fields %d", action, codes, form.Find(`input[name="note"]`).Length())
	}
	for i, c := range domain.CancelReasons {
		if codes[i] != string(c) {
			t.Errorf("form %s: option %d is %s, want %s", action, i, codes[i], c)
		}
	}
}

// unknownCodeRerenders posts an unknown code and expects the form back with
// the message beside the select, and nothing cancelled.
func unknownCodeRerenders(t *testing.T, b *browser, action string, form url.Values) {
	t.Helper()
	form.Set("reason_code", "lost_in_space")
	res, body := b.post(action, form)
	doc, _ := goquery.NewDocumentFromReader(strings.NewReader(body))
	msg := doc.Find(`[data-testid="err-reason_code"]`)
	if res.StatusCode != http.StatusUnprocessableEntity || msg.Length() != 1 || !strings.Contains(msg.Text(), "lost_in_space") {
		t.Fatalf("%s with an unknown code: %d, message %q", action, res.StatusCode, msg.Text())
	}
	if msg.Parent().Find(`select[name="reason_code"]`).Length() != 1 {
		t.Errorf("%s: the message is not beside the select", action)
	}
	reasonSelect(t, body, action)
}

func TestCancelReasonSelectsOnForms(t *testing.T) {
	app := newApp(t)
	ctx := context.Background()
	a, b2 := orderTestSKU(t, app, 60), orderTestSKU(t, app, 61)
	setBOPISReservable(t, app.DB, a, "S01", 3)
	setBOPISReservable(t, app.DB, b2, "S01", 3)
	cr, err := app.DB.CreateOrder(ctx, domain.Actor{Kind: "token", Name: "test"}, domain.NewOrder{Channel: domain.BOPIS, PickupLocation: "S01",
		Customer: domain.Customer{Name: "Rosa Reason", Email: "rosa@example.com"}, Lines: []domain.OrderLineInput{{SKU: a, Qty: 2}, {SKU: b2, Qty: 1}}})
	if err != nil {
		t.Fatal(err)
	}
	o := cr.Order
	la, lb := o.Lines[0], o.Lines[1]

	// The associate's pick screen: reject (item not found), then the
	// decision's cancel form.
	as := app.login(domain.RoleAssociate)
	pick := fmt.Sprintf("/pickups/%d", o.ID)
	_, body := as.get(pick)
	reject := fmt.Sprintf("%s/lines/%d/reject", pick, la.ID)
	reasonSelect(t, body, reject)
	unknownCodeRerenders(t, as, reject, url.Values{"reason": {domain.RejectNotFound}, "qty": {"2"}})
	if res, _ := as.post(reject, url.Values{"reason": {domain.RejectNotFound}, "qty": {"2"}, "reason_code": {"out_of_stock"}}); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("reject: %d", res.StatusCode)
	}
	_, body = as.get(pick)
	cancel := fmt.Sprintf("%s/lines/%d/cancel", pick, la.ID)
	reasonSelect(t, body, cancel)
	unknownCodeRerenders(t, as, cancel, url.Values{"qty": {"2"}})
	if res, _ := as.post(cancel, url.Values{"qty": {"2"}, "reason_code": {"item_not_found"}, "note": {"shelf empty twice"}}); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("pickup cancel: %d", res.StatusCode)
	}

	// Support's order page.
	sp := app.login(domain.RoleSupport)
	page := fmt.Sprintf("/orders/%d", o.ID)
	_, body = sp.get(page)
	cancel = fmt.Sprintf("%s/lines/%d/cancel", page, lb.ID)
	reasonSelect(t, body, cancel)
	unknownCodeRerenders(t, sp, cancel, url.Values{"qty": {"1"}})
	if res, _ := sp.post(cancel, url.Values{"qty": {"1"}, "reason_code": {"fraud"}}); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("order cancel: %d", res.StatusCode)
	}
	_, body = sp.get(page)
	for _, want := range []string{"reason code item_not_found", "reason code fraud"} {
		if !strings.Contains(body, want) {
			t.Errorf("timeline lacks %q", want)
		}
	}
}
