package handlers_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"stockline/domain"
)

// TestMetricsAPIAndDashboards: the cancellations and bopis API contract
// (exact keys, null groups, rounded rate, every reason code, 400 with
// field, the metrics scope), and each dashboard and its CSV export for
// its roles.
func TestMetricsAPIAndDashboards(t *testing.T) {
	app := newApp(t)
	ctx := context.Background()
	sku := orderTestSKU(t, app, 71)
	setBOPISReservable(t, app.DB, sku, "S01", 10)
	var ids []int64
	for range 3 {
		res, body := app.postOrder(fmt.Sprintf(`{"channel":"bopis","pickup_location":"S01","customer":{"name":"Rita Okafor"},"lines":[{"sku":%q,"qty":1}]}`, sku), newKey())
		if res.StatusCode != http.StatusCreated {
			t.Fatalf("order: %d %s", res.StatusCode, body)
		}
		var o struct{ ID int64 }
		_ = json.Unmarshal([]byte(body), &o)
		ids = append(ids, o.ID)
	}
	if res, body := app.apiDo(http.MethodPost, fmt.Sprintf("/api/v1/orders/%d/cancel", ids[0]), `{"reason_code":"fraud"}`); res.StatusCode != http.StatusOK {
		t.Fatalf("cancel: %d %s", res.StatusCode, body)
	}
	now := app.DB.Now().UTC()
	q := url.Values{"from": {now.Add(-time.Hour).Format(time.RFC3339)}, "to": {now.Add(time.Hour).Format(time.RFC3339)}}
	get := func(path string, v url.Values) (int, map[string]any) {
		res, body := app.apiDo(http.MethodGet, path+"?"+v.Encode(), "")
		var out map[string]any
		_ = json.Unmarshal([]byte(body), &out)
		return res.StatusCode, out
	}
	q.Set("group_by", "sku,location,channel")
	st, out := get("/api/v1/metrics/cancellations", q)
	if st != http.StatusOK || out["fresh_at"] == nil || out["from"] == nil || out["to"] == nil {
		t.Fatalf("cancellations: %d %v", st, out)
	}
	var row map[string]any
	for _, r := range out["rows"].([]any) {
		if m := r.(map[string]any); m["sku"] == sku {
			row = m
		}
	}
	if row == nil || row["location"] != "S01" || row["channel"] != "bopis" || row["ordered_units"] != 3.0 || row["cancelled_units"] != 1.0 || row["rate"] != 0.3333 {
		t.Fatalf("row for %s: %v", sku, row)
	}
	reasons := row["reasons"].(map[string]any)
	if len(reasons) != len(domain.CancelReasons) || reasons["fraud"] != 1.0 || len(row) != 7 {
		t.Fatalf("row keys or reasons: %v", row)
	}
	q.Set("group_by", "channel")
	if _, out = get("/api/v1/metrics/cancellations", q); len(out["rows"].([]any)) == 0 {
		t.Fatalf("by channel: %v", out)
	} else if r := out["rows"].([]any)[0].(map[string]any); r["location"] != nil || r["sku"] != nil || r["channel"] == nil {
		t.Fatalf("groups not asked for must be null: %v", r)
	}
	for _, c := range []struct{ param, value, field string }{{"from", "yesterday", "from"}, {"to", "2026-02-30", "to"}, {"group_by", "region", "group_by"}} {
		v := url.Values{"group_by": {"location"}}
		v.Set(c.param, c.value)
		st, out := get("/api/v1/metrics/cancellations", v)
		if e, _ := out["error"].(map[string]any); st != http.StatusBadRequest || e["field"] != c.field {
			t.Errorf("%s=%s: %d %v", c.param, c.value, st, out)
		}
	}
	q.Set("group_by", "location")
	st, out = get("/api/v1/metrics/bopis", q)
	if st != http.StatusOK || len(out["rows"].([]any)) == 0 {
		t.Fatalf("bopis: %d %v", st, out)
	}
	for _, k := range []string{"location", "orders", "ready_p50_minutes", "ready_p90_minutes", "within_promise_rate", "uncollected_rate"} {
		if _, ok := out["rows"].([]any)[0].(map[string]any)[k]; !ok {
			t.Errorf("bopis row lacks %s: %v", k, out["rows"])
		}
	}
	for scope, want := range map[string]int{domain.ScopeMetrics: http.StatusOK, domain.ScopeOrders: http.StatusForbidden} {
		raw := "metrics-test-" + scope + "-0123456789abcdef0123456789"
		if _, err := app.DB.CreateToken(ctx, domain.SystemActor("test"), "m-"+scope, raw, []string{scope}); err != nil {
			t.Fatal(err)
		}
		if res, body := app.apiDo(http.MethodGet, "/api/v1/metrics/bopis", "", "Authorization", "Bearer "+raw); res.StatusCode != want {
			t.Errorf("token with %s: %d %s", scope, res.StatusCode, body)
		}
	}

	for _, p := range []struct {
		role domain.Role
		path string
	}{{domain.RoleManager, "/dashboards/operations"}, {domain.RoleAssociate, "/dashboards/stores/S01"}, {domain.RoleManager, "/dashboards/stores/S02"},
		{domain.RoleInventoryLead, "/dashboards/inventory-accuracy"}, {domain.RoleSupport, "/dashboards/fulfilment"},
		{domain.RoleSupport, "/dashboards/drill?measure=cancellations"}} {
		b := app.login(p.role)
		res, body := b.get(p.path)
		if res.StatusCode != http.StatusOK || !strings.Contains(body, `data-testid="freshness"`) || !strings.Contains(body, "How it is computed") {
			t.Fatalf("%s as %s: %d", p.path, p.role, res.StatusCode)
		}
		if !strings.HasPrefix(p.path, "/dashboards/drill") && !strings.Contains(body, "<svg") {
			t.Errorf("%s has no chart", p.path)
		}
		sep := "?"
		if strings.Contains(p.path, "?") {
			sep = "&"
		}
		res, csv := b.get(p.path + sep + "format=csv")
		if res.StatusCode != http.StatusOK || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/csv") || len(strings.Split(csv, "\n")) < 2 {
			t.Errorf("%s CSV: %d %q %q", p.path, res.StatusCode, res.Header.Get("Content-Type"), csv)
		}
	}
	checkFreshnessLine(t, app)
	sup := app.login(domain.RoleSupport)
	if _, body := sup.get("/dashboards/drill?measure=cancellations"); !strings.Contains(body, "/dashboards/drill?measure=cancellations&amp;") {
		t.Errorf("the drill-down's export link must keep its measure")
	} else if res, csv := sup.get("/dashboards/drill?measure=cancellations&format=csv"); res.StatusCode != http.StatusOK || !strings.Contains(csv, "fraud") {
		t.Errorf("drill-down CSV: %d %q", res.StatusCode, csv)
	}
	b := app.login(domain.RoleAssociate)
	if res, _ := b.get("/dashboards/store"); res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/dashboards/stores/S01" {
		t.Errorf("my store: %d %s", res.StatusCode, res.Header.Get("Location"))
	}
	if res, _ := b.get("/dashboards/operations?location=S08"); res.StatusCode != http.StatusForbidden && res.StatusCode != http.StatusNotFound {
		t.Errorf("associate on operations: %d", res.StatusCode)
	}
	if res, body := b.get("/dashboards/drill?measure=cancellations&location=S08"); res.StatusCode != http.StatusNotFound {
		t.Errorf("associate drilling into S08: %d %s", res.StatusCode, body[:min(200, len(body))])
	}
}

// checkFreshnessLine: a page's freshness line names the rollups' time once
// they are built, not before (every figure is then live).
func checkFreshnessLine(t *testing.T, app *testApp) {
	t.Helper()
	mgr := app.login(domain.RoleManager)
	const daily = "Daily figures (cancellation rate, oversell, sell-through) as of"
	if _, body := mgr.get("/dashboards/fulfilment"); strings.Contains(body, daily) {
		t.Errorf("freshness names a rollup before any rebuild")
	}
	if _, err := app.DB.RefreshRollups(context.Background(), "test"); err != nil {
		t.Fatal(err)
	}
	if _, body := mgr.get("/dashboards/fulfilment"); !strings.Contains(body, daily) {
		t.Errorf("freshness does not name the rollups' time after a rebuild")
	}
}
