package handlers_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/PuerkitoBio/goquery"

	"stockline/domain"
	"stockline/handlers"
)

// A variance exception offers "found later" and "lost" only while units
// are still in transit: an over-receipt's extra units are on hand already,
// so its exception offers neither (they could only fail). A transfer in
// transit longer than the configured days is flagged on the list, a newer
// one is not.
func TestTransferVarianceActionsAndOverdueFlag(t *testing.T) {
	app := newApp(t, func(o *handlers.Options) { o.TransferOverdueDays = 5 })
	ctx := context.Background()
	sku := xferSKU(t, app, 2)
	setTransferable(t, app.DB, sku, "S02", 10)
	tok := domain.Actor{Kind: "token", Name: "test"}
	shipped := func(qty int) int64 {
		t.Helper()
		tr, err := app.DB.CreateTransfer(ctx, tok, domain.NewTransfer{From: "S02", To: "S01", Lines: []domain.TransferLineInput{{SKU: sku, Qty: qty}}})
		if err == nil {
			_, err = app.DB.ApproveTransfer(ctx, tok, tr.ID, "")
		}
		if err == nil {
			_, err = app.DB.ShipTransfer(ctx, tok, tr.ID, []domain.TransferLineInput{{SKU: sku, Qty: qty}}, "T")
		}
		if err != nil {
			t.Fatal(err)
		}
		return tr.ID
	}
	receive := func(id int64, qty int) int64 {
		t.Helper()
		if _, err := app.DB.ReceiveTransfer(ctx, tok, id, []domain.ReceiptLine{{SKU: sku, Qty: qty}}, true); err != nil {
			t.Fatal(err)
		}
		var ex int64
		if err := app.DB.GetContext(ctx, &ex, `SELECT id FROM exceptions WHERE kind = 'transfer_variance' AND ref = $1`, fmt.Sprintf("transfer:%d", id)); err != nil {
			t.Fatal(err)
		}
		return ex
	}
	over, short := receive(shipped(2), 3), receive(shipped(2), 1)
	mgr := app.login(domain.RoleManager)
	for _, c := range []struct {
		ex        int64
		foundLost bool
		what      string
	}{{over, false, "over-receipt"}, {short, true, "short receipt"}} {
		_, body := mgr.get(fmt.Sprintf("/exceptions/%d", c.ex))
		doc, _ := goquery.NewDocumentFromReader(strings.NewReader(body))
		found, lost := doc.Find(`[data-testid="action-found"]`).Length() > 0, doc.Find(`[data-testid="action-lost"]`).Length() > 0
		if found != c.foundLost || lost != c.foundLost || doc.Find(`[data-testid="action-dismiss"]`).Length() == 0 {
			t.Errorf("%s: found %v, lost %v, want %v (and dismiss)", c.what, found, lost, c.foundLost)
		}
	}

	late, fresh := shipped(1), shipped(1)
	if _, err := app.DB.ExecContext(ctx, `UPDATE transfers SET shipped_at = now() - interval '6 days' WHERE id = $1`, late); err != nil {
		t.Fatal(err)
	}
	_, body := mgr.get("/transfers?status=shipped")
	doc, _ := goquery.NewDocumentFromReader(strings.NewReader(body))
	if flag := doc.Find(fmt.Sprintf(`[data-testid="transfer-%d"] [data-testid="overdue"]`, late)).Text(); !strings.Contains(flag, "over 5 days") {
		t.Fatalf("a transfer 6 days in transit is not flagged (limit 5): %q", flag)
	}
	if doc.Find(fmt.Sprintf(`[data-testid="transfer-%d"] [data-testid="overdue"]`, fresh)).Length() != 0 {
		t.Fatal("a transfer shipped today is flagged")
	}
}
