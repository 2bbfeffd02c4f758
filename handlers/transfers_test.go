package handlers_test

import (
	"context"
	"fmt"
	"net/http"
	"testing"

	"stockline/domain"
)

type transferBody struct {
	ID     int64  `json:"id"`
	Status string `json:"status"`
	From   string `json:"from"`
	To     string `json:"to"`
	Lines  []struct {
		SKU                                             string
		Requested, Approved, Shipped, Received, Damaged int
	} `json:"lines"`
	Reason   string  `json:"reason"`
	NeededBy *string `json:"needed_by"`
	Timeline []struct {
		Kind    string `json:"kind"`
		Message string `json:"message"`
	} `json:"timeline"`
}

func TestTransfersAPI(t *testing.T) {
	app := newApp(t)
	ctx := context.Background()
	const sku = "FOO-10008"
	counted := 20
	lead := domain.Actor{Kind: "user", Name: "lead@test"}
	if _, err := app.DB.Adjust(ctx, lead, sku, "DC1", domain.Adjustment{Reason: domain.ReasonCycleCount, Counted: &counted}); err != nil && domain.ErrorCode(err) != domain.EINVALID {
		t.Fatal(err)
	}
	body := fmt.Sprintf(`{"from":"DC1","to":"S03","lines":[{"sku":%q,"qty":5}],"reason":"stockout","needed_by":"2026-12-24"}`, sku)
	res, b := app.apiDo(http.MethodPost, "/api/v1/transfers", body, "Idempotency-Key", "xfer-1")
	if res.StatusCode != http.StatusCreated {
		t.Fatalf("create %d %s", res.StatusCode, b)
	}
	tr := decodeAs[transferBody](t, b)
	if tr.Status != "requested" || tr.From != "DC1" || tr.To != "S03" || len(tr.Lines) != 1 || tr.Lines[0].Requested != 5 ||
		tr.NeededBy == nil || *tr.NeededBy != "2026-12-24" || len(tr.Timeline) != 1 {
		t.Fatalf("created %+v", tr)
	}
	res2, b2 := app.apiDo(http.MethodPost, "/api/v1/transfers", body, "Idempotency-Key", "xfer-1")
	if res2.StatusCode != http.StatusCreated || b2 != b {
		t.Fatalf("replay %d %s", res2.StatusCode, b2)
	}
	res, b = app.apiDo(http.MethodPost, "/api/v1/transfers", `{"from":"S03","to":"S03","lines":[{"sku":"`+sku+`","qty":1}]}`, "Idempotency-Key", "xfer-2")
	wantAPIError(t, res, b, http.StatusUnprocessableEntity, domain.CodeUnprocessable, "to")
	res, b = app.apiDo(http.MethodPost, "/api/v1/transfers", `{"from":"DC1","to":"S03","lines":[{"sku":"`+sku+`","qty":0}]}`, "Idempotency-Key", "xfer-3")
	wantAPIError(t, res, b, http.StatusUnprocessableEntity, domain.CodeUnprocessable, "lines[0].qty")
	res, b = app.apiDo(http.MethodPost, "/api/v1/transfers", `{"from":"ZZ9","to":"S03","lines":[{"sku":"`+sku+`","qty":1}]}`, "Idempotency-Key", "xfer-4")
	wantAPIError(t, res, b, http.StatusUnprocessableEntity, domain.CodeUnprocessable, "from")

	p := fmt.Sprintf("/api/v1/transfers/%d", tr.ID)
	res, b = app.apiDo(http.MethodPost, p+"/ship", `{"lines":[{"sku":"`+sku+`","qty":5}],"tracking":"T-1"}`)
	wantAPIError(t, res, b, http.StatusConflict, domain.CodeNotApproved, "")
	steps := []struct {
		path, body, status string
	}{
		{"/approve", `{"note":"go"}`, "approved"},
		{"/ship", `{"lines":[{"sku":"` + sku + `","qty":4}],"tracking":"T-1"}`, "shipped"},
		{"/receive", `{"lines":[{"sku":"` + sku + `","qty":2,"damaged":1}],"complete":false}`, "shipped"},
		{"/receive", `{"lines":[{"sku":"` + sku + `","qty":1}]}`, "received"},
	}
	for _, s := range steps {
		res, b = app.apiDo(http.MethodPost, p+s.path, s.body)
		if res.StatusCode != http.StatusOK || decodeAs[transferBody](t, b).Status != s.status {
			t.Fatalf("%s: %d %s", s.path, res.StatusCode, b)
		}
	}
	got := decodeAs[transferBody](t, b)
	if l := got.Lines[0]; l.Approved != 5 || l.Shipped != 4 || l.Received != 3 || l.Damaged != 1 {
		t.Fatalf("lines %+v", got.Lines)
	}
	res, b = app.apiDo(http.MethodPost, p+"/cancel", "")
	wantAPIError(t, res, b, http.StatusConflict, domain.CodeAlreadyShipped, "")
	res, b = app.apiDo(http.MethodGet, "/api/v1/transfers?status=received&to=S03", "")
	list := decodeAs[struct{ Transfers []transferBody }](t, b)
	if res.StatusCode != 200 || len(list.Transfers) == 0 || list.Transfers[0].ID != tr.ID {
		t.Fatalf("list %d %s", res.StatusCode, b)
	}
	rep, err := app.DB.Check(ctx)
	if err != nil || !rep.OK() {
		t.Fatalf("check %+v %v", rep, err)
	}
}

// Approval is a manager's act: a token with the transfers scope requests,
// ships and receives, but cannot approve or reject (403, nothing moves);
// an admin token can.
func TestTransferAPIApprovalNeedsAdmin(t *testing.T) {
	app := newApp(t)
	ctx := context.Background()
	const tool = "stk_test_transfers_only_wms_000000001"
	if _, err := app.DB.CreateToken(ctx, domain.SystemActor("test"), "wms-transfers", tool, []string{domain.ScopeTransfers}); err != nil {
		t.Fatal(err)
	}
	auth := []string{"Authorization", "Bearer " + tool}
	sku := xferSKU(t, app, 3)
	setTransferable(t, app.DB, sku, "DC1", 5)
	res, b := app.apiDo(http.MethodPost, "/api/v1/transfers", fmt.Sprintf(`{"from":"DC1","to":"S03","lines":[{"sku":%q,"qty":2}]}`, sku),
		append([]string{"Idempotency-Key", "wms-1"}, auth...)...)
	if res.StatusCode != http.StatusCreated {
		t.Fatalf("request by the tool: %d %s", res.StatusCode, b)
	}
	p := fmt.Sprintf("/api/v1/transfers/%d", decodeAs[transferBody](t, b).ID)
	before := xferPos(t, app.DB, sku, "DC1")
	for _, action := range []string{"/approve", "/reject"} {
		res, b = app.apiDo(http.MethodPost, p+action, `{"note":"self-approved"}`, auth...)
		wantAPIError(t, res, b, http.StatusForbidden, domain.EFORBIDDEN, "")
	}
	if got := xferPos(t, app.DB, sku, "DC1"); got != before {
		t.Fatalf("a refused approval moved stock: %+v", got)
	}
	if res, b = app.apiDo(http.MethodPost, p+"/approve", `{"note":"ok"}`); res.StatusCode != http.StatusOK || decodeAs[transferBody](t, b).Status != "approved" {
		t.Fatalf("approval by an admin token: %d %s", res.StatusCode, b)
	}
	if res, b = app.apiDo(http.MethodPost, p+"/ship", fmt.Sprintf(`{"lines":[{"sku":%q,"qty":2}],"tracking":"W-1"}`, sku), auth...); res.StatusCode != http.StatusOK {
		t.Fatalf("the tool ships: %d %s", res.StatusCode, b)
	}
}
