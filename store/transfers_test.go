package store_test

import (
	"context"
	"strings"
	"sync"
	"testing"

	"stockline/domain"
	"stockline/store"
)

type xferFixture struct {
	db             *store.DB
	prod           domain.Product
	from, to       domain.Location
	fromAt, toAt   domain.Position
	ctx            context.Context
	lead, mgr, sys domain.Actor
}

func newXferFixture(t *testing.T, onHand int) *xferFixture {
	t.Helper()
	ctx := context.Background()
	db := seededFresh(t)
	f := &xferFixture{db: db, ctx: ctx, lead: domain.Actor{Kind: "user", Name: "lead@example.com"}, mgr: domain.Actor{Kind: "user", Name: "mgr@example.com"}}
	var err error
	if f.prod, err = db.ProductBySKU(ctx, "FOO-10000"); err != nil {
		t.Fatal(err)
	}
	f.from, _ = db.LocationByCode(ctx, "S01")
	f.to, _ = db.LocationByCode(ctx, "S02")
	if _, err := db.Adjust(ctx, f.lead, f.prod.SKU, "S01", domain.Adjustment{Reason: domain.ReasonCycleCount, Counted: ptr(onHand)}); err != nil && domain.ErrorCode(err) != domain.EINVALID {
		t.Fatal(err)
	}
	f.fromAt, f.toAt = f.pos(t, f.from), f.pos(t, f.to)
	return f
}

func (f *xferFixture) pos(t *testing.T, l domain.Location) domain.Position {
	t.Helper()
	p, err := f.db.PositionAt(f.ctx, l.ID, f.prod.ID)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func (f *xferFixture) want(t *testing.T, step string, from, to domain.Position) {
	t.Helper()
	if got := f.pos(t, f.from); got != from {
		t.Errorf("%s: origin %+v, want %+v", step, got, from)
	}
	if got := f.pos(t, f.to); got != to {
		t.Errorf("%s: destination %+v, want %+v", step, got, to)
	}
	requireCheckOK(t, f.db)
}

func (f *xferFixture) request(t *testing.T, qty int) domain.Transfer {
	t.Helper()
	tr, err := f.db.CreateTransfer(f.ctx, f.lead, domain.NewTransfer{From: "S01", To: "S02", Lines: []domain.TransferLineInput{{SKU: f.prod.SKU, Qty: qty}}, Reason: "stockout"})
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

func TestTransferLifecycleMovesBuckets(t *testing.T) {
	f := newXferFixture(t, 10)
	o, d := f.fromAt, f.toAt
	tr := f.request(t, 6)
	if tr.Status != domain.TransferRequested {
		t.Fatalf("status %s", tr.Status)
	}
	f.want(t, "request", o, d)
	if _, err := f.db.ShipTransfer(f.ctx, f.mgr, tr.ID, []domain.TransferLineInput{{SKU: f.prod.SKU, Qty: 1}}, "T1"); domain.ErrorCode(err) != domain.CodeNotApproved {
		t.Fatalf("ship before approval: %v", err)
	}
	tr, err := f.db.ApproveTransfer(f.ctx, f.mgr, tr.ID, "ok")
	if err != nil || tr.Status != domain.TransferApproved {
		t.Fatal(err, tr.Status)
	}
	o.TransferOut += 6
	f.want(t, "approve", o, d)
	if tr, err = f.db.ShipTransfer(f.ctx, f.mgr, tr.ID, []domain.TransferLineInput{{SKU: f.prod.SKU, Qty: 5}}, "TRK-1"); err != nil {
		t.Fatal(err)
	}
	o.TransferOut -= 6
	o.OnHand -= 5
	d.InTransitIn += 5
	f.want(t, "ship 5 of 6", o, d)
	if _, err := f.db.CancelTransfer(f.ctx, f.mgr, tr.ID); domain.ErrorCode(err) != domain.CodeAlreadyShipped {
		t.Fatalf("cancel shipped: %v", err)
	}
	if tr, err = f.db.ReceiveTransfer(f.ctx, f.lead, tr.ID, []domain.ReceiptLine{{SKU: f.prod.SKU, Qty: 2, Damaged: 1}}, false); err != nil || tr.Status != domain.TransferShipped {
		t.Fatal(err, tr.Status)
	}
	d.InTransitIn -= 2
	d.OnHand += 2
	d.Damaged++
	f.want(t, "partial receipt", o, d)
	if tr, err = f.db.ReceiveTransfer(f.ctx, f.lead, tr.ID, []domain.ReceiptLine{{SKU: f.prod.SKU, Qty: 1}}, true); err != nil || tr.Status != domain.TransferReceived {
		t.Fatal(err, tr.Status)
	}
	d.InTransitIn--
	d.OnHand++
	f.want(t, "final short receipt", o, d)
	ex, _, err := f.db.ListExceptions(f.ctx, store.ExceptionFilter{Kind: "transfer_variance", Locations: []string{"S02"}})
	if err != nil || len(ex) != 1 || ex[0].SKU != f.prod.SKU {
		t.Fatalf("variance exceptions %+v %v", ex, err)
	}
	if tr.Lines[0].Outstanding() != 2 {
		t.Fatalf("outstanding %d", tr.Lines[0].Outstanding())
	}
	if tr, err = f.db.SettleVariance(f.ctx, f.lead, tr.ID, f.prod.SKU, false); err != nil {
		t.Fatal(err)
	}
	d.InTransitIn -= 2
	f.want(t, "lost", o, d)
	if ex, _, _ := f.db.ListExceptions(f.ctx, store.ExceptionFilter{Kind: "transfer_variance", Locations: []string{"S02"}}); len(ex) != 0 {
		t.Fatalf("variance still open: %+v", ex)
	}
	if len(tr.Timeline) < 6 {
		t.Fatalf("timeline %+v", tr.Timeline)
	}
}

func TestTransferCancelAfterApprovalReleases(t *testing.T) {
	f := newXferFixture(t, 4)
	tr := f.request(t, 3)
	if _, err := f.db.ApproveTransfer(f.ctx, f.mgr, tr.ID, ""); err != nil {
		t.Fatal(err)
	}
	tr, err := f.db.CancelTransfer(f.ctx, f.mgr, tr.ID)
	if err != nil || tr.Status != domain.TransferCancelled {
		t.Fatal(err)
	}
	f.want(t, "cancel", f.fromAt, f.toAt)
	last := tr.Timeline[len(tr.Timeline)-1]
	if last.Kind != "cancelled" || last.Message == "" {
		t.Fatalf("timeline %+v", last)
	}
}

func TestConcurrentApprovalsDrainingSameStock(t *testing.T) {
	f := newXferFixture(t, 5)
	a, b := f.request(t, 4), f.request(t, 4)
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i, id := range []int64{a.ID, b.ID} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = f.db.ApproveTransfer(f.ctx, f.mgr, id, "")
		}()
	}
	wg.Wait()
	ok := 0
	for _, err := range errs {
		if err == nil {
			ok++
		} else if domain.ErrorCode(err) != domain.CodeInsufficientStock {
			t.Fatal(err)
		}
	}
	if ok != 1 {
		t.Fatalf("%d approvals succeeded: %v", ok, errs)
	}
	p := f.pos(t, f.from)
	if p.TransferOut != 4 || len(p.Violations()) > 0 || domain.ATP(p, 0) < 0 {
		t.Fatalf("origin %+v", p)
	}
	requireCheckOK(t, f.db)
}

func TestTransferRequestRefusesBadInput(t *testing.T) {
	f := newXferFixture(t, 1)
	cases := []struct {
		in    domain.NewTransfer
		field string
	}{
		{domain.NewTransfer{From: "NOPE", To: "S02", Lines: []domain.TransferLineInput{{SKU: f.prod.SKU, Qty: 1}}}, "from"},
		{domain.NewTransfer{From: "S01", To: "S02", Lines: []domain.TransferLineInput{{SKU: "NO-SKU", Qty: 1}}}, "lines[0].sku"},
		{domain.NewTransfer{From: "S01", To: "S01", Lines: []domain.TransferLineInput{{SKU: f.prod.SKU, Qty: 1}}}, "to"},
	}
	for _, c := range cases {
		_, err := f.db.CreateTransfer(f.ctx, f.lead, c.in)
		if e := domain.AsError(err); e == nil || e.Code != domain.CodeUnprocessable || e.Field != c.field {
			t.Errorf("%+v: %v, want 422 on %s", c.in, err, c.field)
		}
	}
}

// "Found later" receives a short receipt's missing units from
// in_transit_in; an over-receipt puts the extra units on hand at once and
// raises a variance with nothing in transit to find or lose. The check is
// clean after each step.
func TestTransferFoundLaterAndOverReceipt(t *testing.T) {
	f := newXferFixture(t, 10)
	o, d := f.fromAt, f.toAt
	ship := func(qty int) domain.Transfer {
		t.Helper()
		tr := f.request(t, qty)
		if _, err := f.db.ApproveTransfer(f.ctx, f.mgr, tr.ID, ""); err != nil {
			t.Fatal(err)
		}
		tr, err := f.db.ShipTransfer(f.ctx, f.mgr, tr.ID, []domain.TransferLineInput{{SKU: f.prod.SKU, Qty: qty}}, "T")
		if err != nil {
			t.Fatal(err)
		}
		o.OnHand -= qty
		d.InTransitIn += qty
		return tr
	}
	short := ship(4)
	f.want(t, "ship 4", o, d)
	if _, err := f.db.ReceiveTransfer(f.ctx, f.lead, short.ID, []domain.ReceiptLine{{SKU: f.prod.SKU, Qty: 3}}, true); err != nil {
		t.Fatal(err)
	}
	d.InTransitIn, d.OnHand = d.InTransitIn-3, d.OnHand+3
	f.want(t, "receive 3 of 4", o, d)
	tr, err := f.db.SettleVariance(f.ctx, f.lead, short.ID, f.prod.SKU, true)
	if err != nil || tr.Lines[0].Received != 4 || tr.Lines[0].Outstanding() != 0 {
		t.Fatalf("found later: %v %+v", err, tr.Lines)
	}
	d.InTransitIn, d.OnHand = d.InTransitIn-1, d.OnHand+1
	f.want(t, "found later", o, d)
	if tr.Timeline[len(tr.Timeline)-1].Kind != "found" {
		t.Fatalf("timeline %+v", tr.Timeline[len(tr.Timeline)-1])
	}

	over := ship(2)
	f.want(t, "ship 2", o, d)
	if tr, err = f.db.ReceiveTransfer(f.ctx, f.lead, over.ID, []domain.ReceiptLine{{SKU: f.prod.SKU, Qty: 3}}, true); err != nil || tr.Lines[0].Variance() != 1 {
		t.Fatalf("over-receipt: %v %+v", err, tr.Lines)
	}
	d.InTransitIn, d.OnHand = d.InTransitIn-2, d.OnHand+3
	f.want(t, "receive 3 of 2", o, d)
	ex, _, err := f.db.ListExceptions(f.ctx, store.ExceptionFilter{Kind: "transfer_variance", Locations: []string{"S02"}})
	if err != nil || len(ex) != 1 || !strings.Contains(ex[0].Title, "more than shipped") {
		t.Fatalf("over-receipt variance %+v %v", ex, err)
	}
	if _, err := f.db.SettleVariance(f.ctx, f.lead, over.ID, f.prod.SKU, false); domain.ErrorCode(err) != domain.ECONFLICT {
		t.Fatalf("writing off units that arrived: %v", err)
	}
	f.want(t, "refused write-off", o, d)
}
