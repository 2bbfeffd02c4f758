package handlers_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"

	"stockline/domain"
	"stockline/store"
)

// chartRows returns the labels of a chart's table (its first column).
func chartRows(t *testing.T, body, id string) []string {
	t.Helper()
	i := strings.Index(body, `data-testid="`+id+`"`)
	if i < 0 {
		t.Fatalf("no chart %s", id)
	}
	fig := body[i:]
	fig = fig[:strings.Index(fig, "</figure>")]
	var out []string
	for _, m := range regexp.MustCompile(`<tr><td>([^<]*)</td>`).FindAllStringSubmatch(fig, -1) {
		out = append(out, m[1])
	}
	return out
}

// The reconciliation dashboard renders its charts with their tables from
// the drifts, limited to a manager's stores (a drift at another store is
// in no chart of theirs, and they cannot start runs); an associate cannot
// open it. A run started by hand is queued, its row polls while active,
// and a missing connector re-renders with the message.
func TestReconDashboardDataScopeAndRuns(t *testing.T) {
	app := newApp(t)
	ctx := context.Background()
	sys := domain.SystemActor("test")
	// A platform drift at S08, outside the demo manager's stores.
	if err := app.DB.RaiseException(ctx, sys, "S08", "HOM-10004", store.NewException{Kind: domain.KindReconciliationDrift,
		Ref: "snapshot:recon-page-test", Title: "probe drift at S08",
		Data: map[string]any{"system": 10, "counted": 4, "price_cents": 1250, "platform": true}}); err != nil {
		t.Fatal(err)
	}
	feed, err := app.DB.CreateConnector(ctx, sys, store.NewConnector{Name: "recon-page-test", Kind: "ecommerce", Adapter: "shopify", Enabled: false})
	if err != nil {
		t.Fatal(err)
	}
	lead, manager, associate := app.login(domain.RoleInventoryLead), app.login(domain.RoleManager), app.login(domain.RoleAssociate)

	res, body := lead.get("/reconciliation")
	if res.StatusCode != http.StatusOK {
		t.Fatalf("lead dashboard: %d", res.StatusCode)
	}
	for _, id := range []string{"drift-location-units", "drift-location-value", "drift-category-units", "drift-trend", "drift-resolution", "drift-worst-skus", "record-accuracy"} {
		if !strings.Contains(body, `data-testid="`+id+`"`) {
			t.Fatalf("dashboard lacks chart %s", id)
		}
	}
	locs := chartRows(t, body, "drift-location-units")
	if !slices.Contains(locs, "S08") || !slices.Contains(locs, "S02") || !strings.Contains(body, `data-testid="start-run-recon-page-test"`) {
		t.Fatalf("lead sees drift at %v (want S02 and S08) and a Run now button for the feed", locs)
	}
	if !slices.Contains(chartRows(t, body, "drift-worst-skus"), "HOM-10004") {
		t.Fatalf("worst SKUs lack the probe's SKU: %v", chartRows(t, body, "drift-worst-skus"))
	}

	res, body = manager.get("/reconciliation")
	if res.StatusCode != http.StatusOK {
		t.Fatalf("manager dashboard: %d", res.StatusCode)
	}
	for _, id := range []string{"drift-location-units", "drift-resolution", "record-accuracy"} {
		for _, l := range chartRows(t, body, id) {
			if !slices.Contains(demoUser(t, domain.RoleManager).Locations, l) {
				t.Fatalf("manager sees %s in %s, outside their stores", l, id)
			}
		}
	}
	if strings.Contains(body, "start-run-") {
		t.Fatal("a manager is offered Run now")
	}
	if res, _ := associate.get("/reconciliation"); res.StatusCode != http.StatusForbidden {
		t.Fatalf("associate dashboard: %d, want 403", res.StatusCode)
	}
	if res, _ := manager.post("/reconciliation/runs", url.Values{"connector": {fmt.Sprint(feed.ID)}}); res.StatusCode != http.StatusForbidden {
		t.Fatalf("manager starts a run: %d, want 403", res.StatusCode)
	}

	res, body = lead.post("/reconciliation/runs", url.Values{"connector": {"x"}})
	if res.StatusCode != http.StatusBadRequest || !strings.Contains(body, "Choose a connector.") {
		t.Fatalf("run without a connector: %d", res.StatusCode)
	}
	lead.get("/reconciliation")
	res, _ = lead.post("/reconciliation/runs", url.Values{"connector": {fmt.Sprint(feed.ID)}})
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("start run: %d", res.StatusCode)
	}
	runs, err := app.DB.RecentReconRuns(ctx, 10)
	if err != nil || len(runs) == 0 || runs[0].ConnectorID != feed.ID || runs[0].Status != "queued" || runs[0].Trigger != "manual" {
		t.Fatalf("queued run: %+v %v", runs, err)
	}
	res, body = manager.get(fmt.Sprintf("/reconciliation/runs/%d", runs[0].ID))
	if res.StatusCode != http.StatusOK || !strings.Contains(body, `data-testid="run-active"`) || !strings.Contains(body, "<progress") {
		t.Fatalf("active run row: %d %s", res.StatusCode, body)
	}
	if res, _ := lead.get("/reconciliation/runs/999999999"); res.StatusCode != http.StatusNotFound {
		t.Fatalf("unknown run: %d, want 404", res.StatusCode)
	}
	// Leave no queued run for other tests' workers.
	if _, err := app.DB.ExecContext(ctx, `UPDATE recon_runs SET status = 'failed', finished_at = now() WHERE id = $1`, runs[0].ID); err != nil {
		t.Fatal(err)
	}
}

// The thresholds page: listed rules, a bad bound or an unknown location
// re-renders the form with the message and the person's values (and saves
// nothing), a good rule is saved and audited, removing it is audited, and
// only inventory leads and admins may open or post it.
func TestThresholdsPageEditValidationAndAudit(t *testing.T) {
	app := newApp(t)
	ctx := context.Background()
	lead, manager := app.login(domain.RoleInventoryLead), app.login(domain.RoleManager)
	rules := func() []domain.ThresholdRule {
		t.Helper()
		r, err := app.DB.ThresholdRules(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	before := len(rules())

	res, body := lead.get("/reconciliation/thresholds")
	if res.StatusCode != http.StatusOK || !strings.Contains(body, `data-testid="thresholds"`) || !strings.Contains(body, `data-testid="threshold-form"`) {
		t.Fatalf("thresholds page: %d", res.StatusCode)
	}
	form := func(kv ...string) url.Values {
		v := url.Values{"scope": {"location"}, "location": {"S07"}, "category": {""}, "min_units": {"4"}, "min_percent": {"7.5"}, "min_value": {"12.50"}}
		for i := 0; i+1 < len(kv); i += 2 {
			v.Set(kv[i], kv[i+1])
		}
		return v
	}
	bad := []struct {
		name, want string
		form       url.Values
	}{
		{"units not a number", "Units must be a whole number.", form("min_units", "four")},
		{"percent not a number", "Percent must be a number", form("min_percent", "NaN")},
		{"value not an amount", "Value must be an amount", form("min_value", "lots")},
		{"unknown location", "NOPE", form("location", "NOPE")},
		{"category without a name", "Name the category", form("scope", "category", "category", " ")},
		{"unknown scope", "Choose the default, a location or a category.", form("scope", "planet")},
	}
	for _, c := range bad {
		res, body := lead.post("/reconciliation/thresholds", c.form)
		if res.StatusCode != http.StatusBadRequest || !strings.Contains(body, c.want) || !strings.Contains(body, `data-testid="threshold-form"`) {
			t.Fatalf("%s: %d, want 400 with %q in the form", c.name, res.StatusCode, c.want)
		}
		if c.name == "units not a number" && !strings.Contains(body, `value="four"`) {
			t.Fatalf("%s: the form lost the person's value", c.name)
		}
	}
	if n := len(rules()); n != before {
		t.Fatalf("a refused form saved a rule: %d rules, had %d", n, before)
	}
	if res, _ := manager.get("/reconciliation/thresholds"); res.StatusCode != http.StatusForbidden {
		t.Fatalf("manager opens thresholds: %d, want 403", res.StatusCode)
	}
	if res, _ := manager.post("/reconciliation/thresholds", form()); res.StatusCode != http.StatusForbidden {
		t.Fatalf("manager saves a threshold: %d, want 403", res.StatusCode)
	}

	if res, _ := lead.post("/reconciliation/thresholds", form()); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("save: %d", res.StatusCode)
	}
	var saved domain.ThresholdRule
	for _, r := range rules() {
		if r.Scope == domain.ThresholdLocation && r.Location == "S07" {
			saved = r
		}
	}
	if saved.ID == 0 || saved.MinUnits != 4 || saved.MinPercent != 7.5 || saved.MinValueCents != 1250 {
		t.Fatalf("saved rule %+v", saved)
	}
	t.Cleanup(func() { app.DB.ExecContext(ctx, `DELETE FROM recon_thresholds WHERE id = $1`, saved.ID) })
	audited := func(action string) string {
		t.Helper()
		var who []string
		if err := app.DB.SelectContext(ctx, &who, `SELECT actor FROM audit_log WHERE action = $1 AND entity = 'recon_threshold'
			AND entity_id = 'location:S07' ORDER BY id DESC LIMIT 1`, action); err != nil || len(who) == 0 {
			t.Fatalf("no %s audit row: %v", action, err)
		}
		return who[0]
	}
	if who := audited("threshold.save"); !strings.Contains(who, demoUser(t, domain.RoleInventoryLead).Email) {
		t.Fatalf("threshold.save audited as %q", who)
	}
	if _, body := lead.get("/reconciliation/thresholds"); !strings.Contains(body, "S07") {
		t.Fatal("the saved rule is not listed")
	}
	if res, _ := manager.post(fmt.Sprintf("/reconciliation/thresholds/%d/delete", saved.ID), nil); res.StatusCode != http.StatusForbidden {
		t.Fatalf("manager removes a rule: %d, want 403", res.StatusCode)
	}
	if res, _ := lead.post(fmt.Sprintf("/reconciliation/thresholds/%d/delete", saved.ID), nil); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("remove: %d", res.StatusCode)
	}
	audited("threshold.delete")
	if n := len(rules()); n != before {
		t.Fatalf("after removal %d rules, had %d", n, before)
	}
}
