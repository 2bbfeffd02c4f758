package handlers_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"stockline/domain"
	"stockline/store"
)

// The availability answer exactly as the handler built it before the read
// model (frozen here): the single form must stay byte for byte the same.
type refPosition struct {
	Location           string `json:"location"`
	OnHand             int    `json:"on_hand"`
	Reserved           int    `json:"reserved"`
	Damaged            int    `json:"damaged"`
	QualityHold        int    `json:"quality_hold"`
	TransferOut        int    `json:"transfer_out"`
	InTransitIn        int    `json:"in_transit_in"`
	SafetyStock        int    `json:"safety_stock"`
	ATP                int    `json:"atp"`
	Eligible           bool   `json:"eligible"`
	NotEligibleBecause string `json:"not_eligible_because,omitempty"`
}

type refAvailability struct {
	SKU        string         `json:"sku"`
	Channel    domain.Channel `json:"channel"`
	NetworkATP int            `json:"network_atp"`
	Locations  []refPosition  `json:"locations"`
}

func referenceAvailability(t *testing.T, db *store.DB, sku string, ch domain.Channel) string {
	t.Helper()
	ctx := context.Background()
	pol, err := db.Policy(ctx, ch)
	if err != nil {
		t.Fatal(err)
	}
	stock, err := db.StockForSKU(ctx, sku)
	if err != nil {
		t.Fatal(err)
	}
	a := domain.ChannelAvailability(pol, stock)
	out := refAvailability{SKU: sku, Channel: ch, NetworkATP: a.NetworkATP, Locations: make([]refPosition, 0, len(a.Locations))}
	for _, la := range a.Locations {
		out.Locations = append(out.Locations, refPosition{
			Location: la.Code, OnHand: la.OnHand, Reserved: la.Reserved, Damaged: la.Damaged, QualityHold: la.QualityHold,
			TransferOut: la.TransferOut, InTransitIn: la.InTransitIn, SafetyStock: la.SafetyStock, ATP: la.ATP,
			Eligible: la.Eligible, NotEligibleBecause: la.WhyNot,
		})
	}
	var b bytes.Buffer
	if err := json.NewEncoder(&b).Encode(out); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// liveApp is newApp with the availability cache's listener running.
func liveApp(t *testing.T) *testApp {
	t.Helper()
	app := newApp(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); app.DB.ListenStock(ctx, slog.New(slog.DiscardHandler)) }()
	t.Cleanup(func() { cancel(); <-done })
	for deadline := time.Now().Add(5 * time.Second); !app.DB.AvailabilityLive(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("availability cache never went live")
		}
	}
	return app
}

func TestAvailabilitySingleFormIsByteIdenticalFromTheCache(t *testing.T) {
	live, cold := liveApp(t), newApp(t)
	// The adjusted SKU: the last ACC-114… SKU, which no other test touches.
	ps, _, err := live.DB.SearchProducts(context.Background(), store.ProductQuery{Q: "ACC-114", Limit: 200})
	if err != nil || len(ps) < 3 || ps[len(ps)-1].SKU == apiAdjustSKU {
		t.Fatalf("products: %v %v", ps, err)
	}
	availAdjustSKU := ps[len(ps)-1].SKU
	for _, sku := range []string{"FOO-10008", availAdjustSKU, ps[0].SKU} {
		for _, ch := range []domain.Channel{domain.EcommerceShip, domain.BOPIS} {
			want := referenceAvailability(t, live.DB, sku, ch)
			for _, app := range []*testApp{live, live, cold} { // the second live call is a cache hit
				res, body := app.apiDo(http.MethodGet, "/api/v1/availability?sku="+sku+"&channel="+string(ch), "")
				if res.StatusCode != 200 || body != want || res.Header.Get("Content-Type") != "application/json" {
					t.Fatalf("%s %s: status %d type %q\n got %s\nwant %s", sku, ch, res.StatusCode, res.Header.Get("Content-Type"), body, want)
				}
			}
		}
	}
	// A change through the API shows at once on the same instance.
	res, body := live.apiDo(http.MethodPost, "/api/v1/adjustments", `{"sku":"`+availAdjustSKU+`","location":"S01","reason":"received","delta":4}`)
	if res.StatusCode != 201 {
		t.Fatalf("adjust: %d %s", res.StatusCode, body)
	}
	want := referenceAvailability(t, live.DB, availAdjustSKU, domain.EcommerceShip)
	if _, body := live.apiDo(http.MethodGet, "/api/v1/availability?sku="+availAdjustSKU, ""); body != want {
		t.Fatalf("after adjustment:\n got %s\nwant %s", body, want)
	}
	if n := store.TouchMisses(); n != 0 {
		t.Fatalf("%d stock changes escaped their transaction's collector", n)
	}
}

func TestAvailabilityBatchContract(t *testing.T) {
	app := liveApp(t)
	ps, _, err := app.DB.SearchProducts(context.Background(), store.ProductQuery{Limit: 101})
	if err != nil || len(ps) < 101 {
		t.Fatalf("products: %v", err)
	}
	skus := make([]string, len(ps))
	for i, p := range ps {
		skus[i] = p.SKU
	}
	type batch struct {
		Items []json.RawMessage `json:"items"`
	}
	// Items come in the order asked (duplicates too), each byte for byte the
	// single form's object.
	ask := []string{skus[5], skus[0], skus[5], skus[42]}
	res, body := app.apiDo(http.MethodGet, "/api/v1/availability?skus="+strings.Join(ask, ",")+"&channel=bopis", "")
	if res.StatusCode != 200 || res.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("batch: %d %s", res.StatusCode, body)
	}
	got := decodeAs[batch](t, body)
	if len(got.Items) != len(ask) {
		t.Fatalf("%d items for %d SKUs", len(got.Items), len(ask))
	}
	for i, sku := range ask {
		_, one := app.apiDo(http.MethodGet, "/api/v1/availability?sku="+sku+"&channel=bopis", "")
		if string(got.Items[i]) != strings.TrimSuffix(one, "\n") {
			t.Fatalf("item %d (%s) differs from the single form:\n%s\n%s", i, sku, got.Items[i], one)
		}
	}
	// location narrows every item, as in the single form.
	res, body = app.apiDo(http.MethodGet, "/api/v1/availability?skus="+skus[1]+","+skus[2]+"&location=S02", "")
	if res.StatusCode != 200 {
		t.Fatalf("batch with location: %d %s", res.StatusCode, body)
	}
	for _, it := range decodeAs[batch](t, body).Items {
		a := decodeAs[availabilityBody](t, string(it))
		if len(a.Locations) != 1 || a.NetworkATP == nil {
			t.Fatalf("narrowed item: %s", it)
		}
	}
	// 100 SKUs is the limit.
	if res, body := app.apiDo(http.MethodGet, "/api/v1/availability?skus="+strings.Join(skus[:100], ","), ""); res.StatusCode != 200 ||
		len(decodeAs[batch](t, body).Items) != 100 {
		t.Fatalf("100 SKUs: %d", res.StatusCode)
	}
	for _, c := range []struct {
		path, code, field string
		status            int
	}{
		{"/api/v1/availability?skus=" + strings.Join(skus[:101], ","), "invalid", "skus", 400},
		{"/api/v1/availability?skus=" + skus[0] + ",NOPE-00000", "not_found", "", 404},
		{"/api/v1/availability?skus=" + skus[0] + ",,", "invalid", "skus", 400},
		{"/api/v1/availability?skus=", "invalid", "skus", 400},
		{"/api/v1/availability?skus=" + skus[0] + "&sku=" + skus[1], "invalid", "sku", 400},
		{"/api/v1/availability?skus=" + skus[0] + "&channel=carrier_pigeon", "invalid", "channel", 400},
		{"/api/v1/availability?skus=" + skus[0] + "&location=S99", "not_found", "", 404},
	} {
		res, body := app.apiDo(http.MethodGet, c.path, "")
		wantAPIError(t, res, body, c.status, c.code, c.field)
	}
}
