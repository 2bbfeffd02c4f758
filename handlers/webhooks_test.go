package handlers_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"stockline/connectors"
	"stockline/connectors/sim"
	"stockline/domain"
	"stockline/handlers"
	"stockline/store"
)

const webhookSecret = "whsec-test-0123456789abcdef0123456789"

// shopifyConnector registers a Shopify-style connector on the shared demo
// database, with Shopify location 68001 = DC1 and 68002 = S02, and
// inventory item 880001 = HOM-11996.
func shopifyConnector(t *testing.T, db *store.DB, baseURL string) domain.Connector {
	t.Helper()
	ctx := context.Background()
	c, err := db.ConnectorByName(ctx, "shopify-webhook-test")
	if err != nil {
		c, err = db.CreateConnector(ctx, domain.SystemActor("test"), store.NewConnector{Name: "shopify-webhook-test", Kind: "ecommerce",
			Adapter: "shopify", BaseURL: baseURL, Enabled: true, Settings: json.RawMessage(`{"streams":["orders"]}`)})
		if err != nil {
			t.Fatal(err)
		}
		if err := db.SetMappings(ctx, domain.SystemActor("test"), c.ID, []store.Mapping{
			{Kind: "location", ExternalID: "68001", Code: "DC1"}, {Kind: "location", ExternalID: "68002", Code: "S02"},
			{Kind: "item", ExternalID: "inventory_item:880001", Code: "HOM-11996"}}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := db.ExecContext(ctx, `UPDATE connectors SET base_url = $2 WHERE id = $1`, c.ID, baseURL); err != nil {
		t.Fatal(err)
	}
	return c
}

func postWebhook(t *testing.T, app *testApp, topic, id string, body []byte, secret string) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, app.URL+"/webhooks/shopify", strings.NewReader(string(body)))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Shopify-Topic", topic)
	req.Header.Set("X-Shopify-Webhook-Id", id)
	req.Header.Set("X-Shopify-Hmac-Sha256", base64.StdEncoding.EncodeToString(connectors.ShopifyHMAC(secret, body)))
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var out map[string]any
	json.NewDecoder(res.Body).Decode(&out)
	return res.StatusCode, out
}

func onHand(t *testing.T, db *store.DB, sku, loc string) int {
	t.Helper()
	var n int
	if err := db.GetContext(context.Background(), &n, `SELECT COALESCE((SELECT p.on_hand FROM positions p
		JOIN products pr ON pr.id = p.product_id JOIN locations l ON l.id = p.location_id WHERE pr.sku = $1 AND l.code = $2), 0)`, sku, loc); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestShopifyWebhooksVerifyApplyAndDedupeWithPulls(t *testing.T) {
	app := newApp(t, func(o *handlers.Options) { o.ShopifyWebhookSecret = webhookSecret })
	shop := sim.NewShopify()
	ts := httptest.NewServer(shop)
	defer ts.Close()
	conn := shopifyConnector(t, app.DB, ts.URL)
	ctx := context.Background()
	now := time.Now().Add(-time.Minute).Truncate(time.Second)

	level := sim.ShopifyLevel(880001, 68002, 17, now)
	webhookRefusesBadSignatures(t, app, conn.ID, level)

	// inventory_levels/update: the platform's view of the mapped location,
	// stored as a snapshot for reconciliation runs and never applied.
	before := onHand(t, app.DB, "HOM-11996", "S02")
	status, body := postWebhook(t, app, "inventory_levels/update", "wh-1", level, webhookSecret)
	if status != http.StatusOK || body["applied"] != float64(1) {
		t.Fatalf("level: %d %v", status, body)
	}
	if got := onHand(t, app.DB, "HOM-11996", "S02"); got != before {
		t.Fatalf("on hand after a platform level %d, want it unchanged at %d", got, before)
	}
	var snap int
	if err := app.DB.GetContext(ctx, &snap, `SELECT s.quantity FROM platform_snapshots s JOIN products p ON p.id = s.product_id
		JOIN locations l ON l.id = s.location_id WHERE p.sku = 'HOM-11996' AND l.code = 'S02' AND s.connector_id = $1`, conn.ID); err != nil || snap != 17 {
		t.Fatalf("platform snapshot %d %v, want 17", snap, err)
	}
	// The same delivery again is recognised by its webhook id.
	status, body = postWebhook(t, app, "inventory_levels/update", "wh-1", level, webhookSecret)
	if status != http.StatusOK || body["status"] != "duplicate" {
		t.Fatalf("redelivery: %d %v", status, body)
	}

	// refunds/create with a return restock for an order Stockline does not
	// know: a refund is recorded as a return of its order, so it waits for
	// the order (pending) and moves nothing yet.
	refund := sim.ShopifyRefund(55501, 820982911946154599, 1, "HOM-11996", 2, 68002, now.Add(10*time.Second))
	if status, body = postWebhook(t, app, "refunds/create", "wh-2", refund, webhookSecret); status != http.StatusOK || body["pending"] != float64(1) {
		t.Fatalf("refund: %d %v", status, body)
	}
	if got := onHand(t, app.DB, "HOM-11996", "S02"); got != before {
		t.Fatalf("on hand after a refund of an unknown order %d, want %d", got, before)
	}

	// orders/create: the order shows in the orders API by its bare id.
	const orderID = 820982911946154508
	order := sim.ShopifyOrder(orderID, 1001, "sam@example.com", now, now,
		[]sim.ShopifyLine{{ID: 1, VariantID: 4001, SKU: "BOT-11995", Quantity: 1}}, 0, nil)
	if status, body = postWebhook(t, app, "orders/create", "wh-3", order, webhookSecret); status != http.StatusOK {
		t.Fatalf("order: %d %v", status, body)
	}
	res, out := app.apiDo(http.MethodGet, "/api/v1/orders?external_ref=820982911946154508", "")
	if res.StatusCode != http.StatusOK || strings.Count(out, `"external_ref":"820982911946154508"`) != 1 {
		t.Fatalf("orders API: %d %s", res.StatusCode, out)
	}

	// A pull of the same order (and the refund the webhook brought) adds
	// nothing: webhooks and pulls dedupe on the order and refund ids.
	refundInOrder := sim.ShopifyRefund(55501, orderID, 1, "HOM-11996", 2, 68002, now.Add(10*time.Second))
	if err := shop.PutOrder(sim.ShopifyOrder(orderID, 1001, "sam@example.com", now, now.Add(20*time.Second),
		[]sim.ShopifyLine{{ID: 1, VariantID: 4001, SKU: "BOT-11995", Quantity: 1}}, 0, nil, refundInOrder)); err != nil {
		t.Fatal(err)
	}
	r := &connectors.Runner{DB: app.DB, Owner: "webhook-test"}
	if ok, err := app.DB.AcquireLease(ctx, conn.ID, "webhook-test", 15*time.Minute); !ok || err != nil {
		t.Fatal(ok, err)
	}
	conn, _ = app.DB.ConnectorByID(ctx, conn.ID)
	if _, err := r.Round(ctx, conn); err != nil {
		t.Fatal(err)
	}
	var n int
	app.DB.GetContext(ctx, &n, `SELECT count(*) FROM inbound_events WHERE connector_id = $1 AND source_event_id LIKE 'shopify:order:820982911946154508:%'`, conn.ID)
	if n != 1 {
		t.Fatalf("order events stored %d, want 1", n)
	}
	if got := onHand(t, app.DB, "HOM-11996", "S02"); got != before {
		t.Fatalf("the pulled refund (a redelivery of the waiting one) moved stock: on hand %d", got)
	}
	_, out = app.apiDo(http.MethodGet, "/api/v1/orders?external_ref=820982911946154508", "")
	if strings.Count(out, `"external_ref":"820982911946154508"`) != 1 {
		t.Fatalf("orders after the pull: %s", out)
	}

	// orders/cancelled cancels it.
	cancelled := now.Add(30 * time.Second)
	cancel := sim.ShopifyOrder(orderID, 1001, "sam@example.com", now, cancelled,
		[]sim.ShopifyLine{{ID: 1, VariantID: 4001, SKU: "BOT-11995", Quantity: 1}}, 0, &cancelled)
	if status, body = postWebhook(t, app, "orders/cancelled", "wh-4", cancel, webhookSecret); status != http.StatusOK || body["applied"] != float64(1) {
		t.Fatalf("cancel: %d %v", status, body)
	}
	_, out = app.apiDo(http.MethodGet, "/api/v1/orders?external_ref=820982911946154508", "")
	if !strings.Contains(out, `"status":"cancelled"`) {
		t.Fatalf("order not cancelled: %s", out)
	}
	// The order's timeline names the feed events that carried it, with
	// their source ids and how they arrived.
	var found struct {
		Orders []struct {
			ID int64 `json:"id"`
		} `json:"orders"`
	}
	if err := json.Unmarshal([]byte(out), &found); err != nil || len(found.Orders) != 1 {
		t.Fatalf("search: %v %s", err, out)
	}
	_, out = app.apiDo(http.MethodGet, fmt.Sprintf("/api/v1/orders/%d", found.Orders[0].ID), "")
	for _, want := range []string{"by webhook as order #1001", "event shopify:order:820982911946154508:created", "event shopify:order:820982911946154508:cancelled"} {
		if !strings.Contains(out, want) {
			t.Errorf("timeline lacks %q: %s", want, out)
		}
	}

	// A signed but malformed body is kept as a dead letter, answered 200.
	if status, body = postWebhook(t, app, "orders/create", "wh-5", []byte(`{"id":"oops"`), webhookSecret); status != http.StatusOK || body["dead_lettered"] != float64(1) {
		t.Fatalf("malformed: %d %v", status, body)
	}
	connCheckOK(t, app.DB)
}

func TestShopifyWebhookWithoutSecretIsRefused(t *testing.T) {
	app := newApp(t)
	status, body := postWebhook(t, app, "orders/create", "x", []byte(`{}`), "")
	if status != http.StatusUnauthorized || body["error"] == nil {
		t.Fatalf("%d %v", status, body)
	}
}

func connCheckOK(t *testing.T, db *store.DB) {
	t.Helper()
	rep, err := db.Check(context.Background())
	if err != nil || !rep.OK() {
		t.Fatalf("consistency check: %+v %v", rep, err)
	}
}

// webhookRefusesBadSignatures posts level with a wrong signature and with
// none: both are 401 and nothing is stored.
func webhookRefusesBadSignatures(t *testing.T, app *testApp, connID int64, level []byte) {
	t.Helper()
	ctx := context.Background()
	// A bad signature: 401 JSON, logged, nothing stored.
	status, body := postWebhook(t, app, "inventory_levels/update", "wh-bad", level, "not-the-secret")
	if status != http.StatusUnauthorized || body["error"].(map[string]any)["code"] != "invalid_signature" {
		t.Fatalf("bad signature: %d %v", status, body)
	}
	var stored int
	app.DB.GetContext(ctx, &stored, `SELECT count(*) FROM inbound_events WHERE connector_id = $1`, connID)
	if stored != 0 {
		t.Fatal("an unsigned webhook was stored")
	}
	// A missing signature header is refused the same way.
	req, _ := http.NewRequest(http.MethodPost, app.URL+"/webhooks/shopify", strings.NewReader(string(level)))
	req.Header.Set("X-Shopify-Topic", "inventory_levels/update")
	if res, err := http.DefaultClient.Do(req); err != nil || res.StatusCode != http.StatusUnauthorized {
		t.Fatalf("no signature: %v %v", res.StatusCode, err)
	}
}
