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
	"stockline/handlers"
	"stockline/store"
)

const connectorKey = "connector-secret-key-for-tests-0123456789"

func TestConnectorPagesHealthCredentialsPauseAndDeadLetters(t *testing.T) {
	app := newApp(t, func(o *handlers.Options) { o.ConnectorSecretKey = connectorKey })
	ctx := context.Background()
	admin := app.login(domain.RoleAdmin)
	admin.get("/connectors")

	// Add a connector with a secret token: stored sealed, never shown back.
	const token = "EAAAl-square-access-token-abcd9876"
	res, body := admin.post("/connectors", url.Values{"name": {"pos-page-test"}, "kind": {"pos"}, "adapter": {"square"},
		"base_url": {"http://127.0.0.1:1"}, "credential": {token}, "poll_interval": {"30"}, "stale_after": {"600"}})
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("add: %d\n%s", res.StatusCode, body)
	}
	page := res.Header.Get("Location")
	_, body = admin.get(page)
	if strings.Contains(body, token) || !strings.Contains(body, "••••9876") || !strings.Contains(body, "Added pos-page-test") {
		t.Fatalf("credential shown or confirmation missing:\n%s", body)
	}
	cn, err := app.DB.ConnectorByName(ctx, "pos-page-test")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(cn.CredentialSealed), token) || cn.CredentialRef != "" {
		t.Fatal("the credential is stored in clear")
	}
	sealer, _ := connectors.NewSealer(connectorKey)
	if got, err := sealer.Credential(cn, nil); err != nil || got != token {
		t.Fatalf("sealed credential does not open: %q %v", got, err)
	}
	var audit string
	app.DB.GetContext(ctx, &audit, `SELECT after::text FROM audit_log WHERE action = 'connector.create' AND entity_id = 'pos-page-test'`)
	if strings.Contains(audit, token) {
		t.Fatal("the audit row holds the credential")
	}

	// Edit: bad URL re-renders with the message by the field, input kept.
	res, body = admin.post(page, url.Values{"base_url": {"not a url"}, "poll_interval": {"15"}, "stale_after": {"600"}})
	if res.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(body, `data-testid="err-base_url"`) || !strings.Contains(body, `value="not a url"`) {
		t.Fatalf("bad edit: %d\n%s", res.StatusCode, body)
	}
	res, _ = admin.post(page, url.Values{"base_url": {"http://127.0.0.1:2"}, "poll_interval": {"15"}, "stale_after": {"600"}, "credential": {"env:SQUARE_TOKEN"}})
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("edit: %d", res.StatusCode)
	}
	cn, _ = app.DB.ConnectorByID(ctx, cn.ID)
	if cn.PollSeconds != 15 || cn.CredentialRef != "env:SQUARE_TOKEN" || cn.CredentialSealed != nil {
		t.Fatalf("after edit %+v", cn)
	}

	// Health at a glance: failing and stale feeds are red, with words.
	if _, err := app.DB.ExecContext(ctx, `UPDATE connectors SET error_count = 4, errors_total = 9, last_error = 'source answered 503'
		WHERE id = $1`, cn.ID); err != nil {
		t.Fatal(err)
	}
	lead := app.login(domain.RoleInventoryLead)
	_, body = lead.get("/connectors")
	row := rowOf(body, "connector-pos-page-test")
	if !strings.Contains(row, `class="failing"`) || !strings.Contains(row, "Failing") || !strings.Contains(row, "source answered 503") {
		t.Fatalf("failing row: %s", row)
	}
	app.DB.ExecContext(ctx, `UPDATE connectors SET error_count = 0, stale_after_seconds = 60, last_success_at = now() - interval '2 hours' WHERE id = $1`, cn.ID)
	_, body = lead.get("/connectors")
	if row := rowOf(body, "connector-pos-page-test"); !strings.Contains(row, `class="stale"`) || !strings.Contains(row, "Stale") {
		t.Fatalf("stale row: %s", row)
	}

	// Pause and resume.
	lead.get(page)
	res, _ = lead.post(page+"/pause", nil)
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("pause: %d", res.StatusCode)
	}
	_, body = lead.get(page)
	if !strings.Contains(body, "paused: nothing is pulled") || !strings.Contains(body, `data-testid="resume"`) {
		t.Fatalf("after pause:\n%s", body)
	}
	lead.post(page+"/resume", nil)
	if cn, _ = app.DB.ConnectorByID(ctx, cn.ID); !cn.Enabled {
		t.Fatal("resume did not resume")
	}

	// Dead letters: an unmapped item and a malformed change.
	now := time.Now().Add(-time.Minute)
	evs := []store.InboundEvent{
		connectors.ParseSquareChange(sim.SquareAdjustment("PG-1", "NONE", "IN_STOCK", "LOC-PG", "ITEM-PG", 3, now, now)),
		connectors.ParseSquareChange(sim.SquareMalformed("PG-2", "LOC-PG", "ITEM-PG", now)),
	}
	if _, err := app.DB.Ingest(ctx, cn, evs, ""); err != nil {
		t.Fatal(err)
	}
	_, body = lead.get(page)
	if strings.Count(body, `data-testid="dead-letter-`) != 2 || !strings.Contains(body, "Unmapped item") {
		t.Fatalf("dead letters:\n%s", body)
	}
	dls, _, _ := app.DB.DeadLetters(ctx, cn.ID, "open", 0, 10)
	var unmapped, malformed domain.DeadLetter
	for _, d := range dls {
		if strings.Contains(d.SourceEventID, "PG-1") {
			unmapped = d
		} else {
			malformed = d
		}
	}
	connectorDeadLetterActions(t, app, lead, cn, page, unmapped, malformed)
	// Other roles cannot reach the pages.
	assoc := app.login(domain.RoleAssociate)
	if res, _ := assoc.get("/connectors"); res.StatusCode != http.StatusForbidden {
		t.Fatalf("associate: %d", res.StatusCode)
	}
	connCheckOK(t, app.DB)
}

func TestConnectorCredentialNeedsAKeyOrAnEnvReference(t *testing.T) {
	app := newApp(t)
	admin := app.login(domain.RoleAdmin)
	admin.get("/connectors")
	res, body := admin.post("/connectors", url.Values{"name": {"no-key"}, "kind": {"ecommerce"}, "adapter": {"shopify"},
		"base_url": {"https://shop.example"}, "credential": {"shpat_plain_secret"}, "poll_interval": {"30"}, "stale_after": {"600"}})
	if res.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(body, `data-testid="err-credential"`) ||
		!strings.Contains(body, "CONNECTOR_SECRET_KEY") || strings.Contains(body, "shpat_plain_secret") {
		t.Fatalf("plain credential without a key: %d\n%s", res.StatusCode, body)
	}
	res, _ = admin.post("/connectors", url.Values{"name": {"with-env"}, "kind": {"ecommerce"}, "adapter": {"shopify"},
		"base_url": {"https://shop.example"}, "credential": {"env:SHOP_TOKEN"}, "poll_interval": {"30"}, "stale_after": {"600"}})
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("env credential: %d", res.StatusCode)
	}
	// Pause it again so no runner in another test pulls a fake shop.
	cn, _ := app.DB.ConnectorByName(context.Background(), "with-env")
	app.DB.SetConnectorEnabled(context.Background(), domain.SystemActor("test"), cn.ID, false)
}

// rowOf returns the table row with the data-testid.
func rowOf(body, testid string) string {
	i := strings.Index(body, `data-testid="`+testid+`"`)
	if i < 0 {
		return ""
	}
	start := strings.LastIndex(body[:i], "<tr")
	end := strings.Index(body[i:], "</tr>")
	return body[start : i+end]
}

// connectorDeadLetterActions works the connector page's dead letters as an
// inventory lead: map and retry, fix the payload, dismiss.
func connectorDeadLetterActions(t *testing.T, app *testApp, lead *browser, cn domain.Connector, page string, unmapped, malformed domain.DeadLetter) {
	t.Helper()
	ctx := context.Background()
	var res *http.Response
	var body string
	// Map location and item from the page, then retry: applied.
	res, body = lead.post(page+"/mappings", url.Values{"kind": {"location"}, "external_id": {"LOC-PG"}, "code": {"NOPE"}})
	if res.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(body, `data-testid="err-code"`) {
		t.Fatalf("bad mapping: %d", res.StatusCode)
	}
	lead.post(page+"/mappings", url.Values{"kind": {"location"}, "external_id": {"LOC-PG"}, "code": {"S04"}})
	lead.post(page+"/mappings", url.Values{"kind": {"item"}, "external_id": {"ITEM-PG"}, "code": {"FOO-11984"}})
	before := onHand(t, app.DB, "FOO-11984", "S04")
	res, _ = lead.post(fmt.Sprintf("%s/dead-letters/%d/retry", page, unmapped.ID), nil)
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("retry: %d", res.StatusCode)
	}
	if got := onHand(t, app.DB, "FOO-11984", "S04"); got != before+3 {
		t.Fatalf("after retry %d, want %d", got, before+3)
	}
	// Fix the malformed payload: invalid JSON comes back with the input.
	fixPage := fmt.Sprintf("%s/dead-letters/%d", page, malformed.ID)
	_, body = lead.get(fixPage)
	if !strings.Contains(body, `data-testid="fix-form"`) || !strings.Contains(body, "two") {
		t.Fatalf("fix page:\n%s", body)
	}
	res, body = lead.post(fixPage+"/fix", url.Values{"payload": {`{"type": "ADJUSTMENT", oops`}})
	if res.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(body, `data-testid="err-payload"`) || !strings.Contains(body, "oops") {
		t.Fatalf("bad fix: %d\n%s", res.StatusCode, body)
	}
	fixed := strings.Replace(malformed.Payload, `"two"`, `"2"`, 1)
	res, _ = lead.post(fixPage+"/fix", url.Values{"payload": {fixed}})
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("good fix: %d", res.StatusCode)
	}
	if got := onHand(t, app.DB, "FOO-11984", "S04"); got != before+1 {
		t.Fatalf("after the fixed sale %d, want %d", got, before+1)
	}
	// Dismiss: add another bad one and dismiss it.
	app.DB.Ingest(ctx, cn, []store.InboundEvent{connectors.ParseSquareChange([]byte(`{"type":"NOPE"}`))}, "")
	dls, _, _ := app.DB.DeadLetters(ctx, cn.ID, "open", 0, 10)
	if len(dls) != 1 {
		t.Fatalf("open dead letters %d", len(dls))
	}
	res, _ = lead.post(fmt.Sprintf("%s/dead-letters/%d/dismiss", page, dls[0].ID), url.Values{"note": {"test junk"}})
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("dismiss: %d", res.StatusCode)
	}
	_, body = lead.get(page)
	if !strings.Contains(body, `data-testid="dead-letters-empty"`) || !strings.Contains(body, "Dismissed dead letter") {
		t.Fatalf("after dismiss:\n%s", body)
	}
}
