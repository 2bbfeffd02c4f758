package handlers_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"stockline/domain"
	"stockline/store"
)

func TestExceptionQueueScopeAndClose(t *testing.T) {
	app := newApp(t)
	ctx := context.Background()
	sys := domain.SystemActor("test")
	title := "Count mismatch"
	if err := app.DB.RaiseException(ctx, sys, "S01", "", store.NewException{Kind: "partial_shipment", Title: title + " at S01", Detail: "<b>drift</b>"}); err != nil {
		t.Fatal(err)
	}
	if err := app.DB.RaiseException(ctx, sys, "S07", "", store.NewException{Kind: "partial_shipment", Title: title + " at S07"}); err != nil {
		t.Fatal(err)
	}
	rows, _, err := app.DB.ListExceptions(ctx, store.ExceptionFilter{Kind: "partial_shipment"})
	if err != nil {
		t.Fatal(err)
	}
	ids := map[string]int64{}
	for _, r := range rows {
		ids[r.Location] = r.ID
	}

	assoc := app.login(domain.RoleAssociate) // scoped to S01
	_, body := assoc.get("/exceptions?kind=partial_shipment")
	if !strings.Contains(body, title+" at S01") || strings.Contains(body, title+" at S07") {
		t.Fatalf("associate queue should show S01 only:\n%s", body)
	}
	if res, _ := assoc.get(fmt.Sprintf("/exceptions/%d", ids["S07"])); res.StatusCode != http.StatusNotFound {
		t.Fatalf("associate opening another store's exception: %d", res.StatusCode)
	}
	res, body := assoc.get(fmt.Sprintf("/exceptions/%d", ids["S01"]))
	if res.StatusCode != http.StatusOK || strings.Contains(body, "<b>drift</b>") {
		t.Fatalf("detail: %d, escaped=%v", res.StatusCode, !strings.Contains(body, "<b>drift</b>"))
	}

	lead := app.login(domain.RoleInventoryLead)
	lead.get(fmt.Sprintf("/exceptions/%d", ids["S07"]))
	if res, _ := lead.post(fmt.Sprintf("/exceptions/%d/take", ids["S07"]), nil); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("take: %d", res.StatusCode)
	}
	res, body = lead.post(fmt.Sprintf("/exceptions/%d/close", ids["S07"]), url.Values{"to": {"resolved"}, "note": {"kept note"}})
	if res.StatusCode != http.StatusBadRequest || !strings.Contains(body, "Choose what you did") || !strings.Contains(body, "kept note") {
		t.Fatalf("missing code should re-render with the message and keep the note: %d\n%s", res.StatusCode, body)
	}
	if res, _ := lead.post(fmt.Sprintf("/exceptions/%d/close", ids["S07"]), url.Values{"to": {"resolved"}, "code": {"recounted"}, "note": {"recounted shelf"}}); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("close: %d", res.StatusCode)
	}
	e, err := app.DB.ExceptionByID(ctx, ids["S07"])
	if err != nil || e.Status != "resolved" || e.Assignee != "lead@demo.stockline" || e.ResolutionCode != "recounted" {
		t.Fatalf("after close: %+v %v", e, err)
	}
	if res, _ := lead.post(fmt.Sprintf("/exceptions/%d/close", ids["S07"]), url.Values{"to": {"dismissed"}, "note": {"again"}}); res.StatusCode != http.StatusConflict {
		t.Fatalf("closing a resolved exception again: %d, want 409", res.StatusCode)
	}
	audit, err := app.DB.ListAudit(ctx, store.AuditFilter{Entity: "exception", EntityID: fmt.Sprint(ids["S07"])})
	if err != nil || len(audit) != 2 {
		t.Fatalf("audit rows: %d %v", len(audit), err)
	}
}
