package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"time"

	"stockline/connectors"
	"stockline/connectors/sim"
	"stockline/store"
)

// The connector runner: one goroutine per enabled connector, each under a
// lease so that of several instances exactly one pulls a given feed. With
// SIMULATORS=true (make run) it first starts the Square-style and
// Shopify-style simulators on loopback and points the two demo connectors
// at them; a plain serve starts none, and simulated connectors stay idle.
func connectorWorker(m *Main) func(ctx context.Context) {
	sealer, err := connectors.NewSealer(m.Config.ConnectorSecretKey)
	if err != nil {
		m.Log.Error("connectors: CONNECTOR_SECRET_KEY unusable; only env: credentials will work", "err", err.Error())
	}
	return func(ctx context.Context) {
		r := &connectors.Runner{DB: m.DB, Log: m.Log, Owner: instanceName(), Sealer: sealer, Simulators: m.Config.Simulators}
		if m.Config.Simulators {
			stop, err := startSimulators(ctx, m)
			if err != nil {
				m.Log.Error("simulators did not start", "err", err.Error())
				r.Simulators = false
			} else {
				defer stop()
			}
		}
		r.Run(ctx)
	}
}

// instanceName names this process on connector leases.
func instanceName() string {
	host, _ := os.Hostname()
	return fmt.Sprintf("%s-%d-%s", host, os.Getpid(), NewTokenSecret()[4:10])
}

// handlerTransport delivers requests to an http.Handler in process: the
// simulator's webhooks go through the real server stack (routing,
// signature check, handler) without needing its listen address.
type handlerTransport struct{ h http.Handler }

func (t handlerTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	rec := httptest.NewRecorder()
	t.h.ServeHTTP(rec, req)
	return rec.Result(), nil
}

// hotSKUs is how many SKUs the simulators sell; all are mapped.
const hotSKUs = 400

// simulatorPace scales the simulators' stream; the tests speed it up.
var simulatorPace = 1.0

// startSimulators serves both feeds on loopback, seeds the demo
// connectors and mappings at their addresses, and generates the stream
// until ctx ends.
func startSimulators(ctx context.Context, m *Main) (func(), error) {
	locs, err := m.DB.ListLocations(ctx)
	if err != nil {
		return nil, err
	}
	skus, err := m.DB.AllSKUs(ctx)
	if err != nil {
		return nil, err
	}
	if len(locs) == 0 || len(skus) == 0 {
		return nil, fmt.Errorf("no demo retailer in the database; run `stockline seed --demo` first")
	}
	square, shop := sim.NewSquare(), sim.NewShopify()
	squareURL, stopSquare, err := sim.Serve(square)
	if err != nil {
		return nil, err
	}
	shopURL, stopShop, err := sim.Serve(shop)
	if err != nil {
		stopSquare()
		return nil, err
	}
	var stores []sim.DemoStore
	var sqMaps, shMaps []store.Mapping
	for i, l := range locs {
		st := sim.DemoStore{Code: l.Code, Pickup: l.Pickup, ShopifyID: sim.DemoShopifyLocationID(i + 1), IsDC: l.Kind != "store"}
		if !st.IsDC {
			st.SquareID = sim.DemoSquareLocationID(l.Code)
			sqMaps = append(sqMaps, store.Mapping{Kind: "location", ExternalID: st.SquareID, Code: l.Code})
		}
		if st.IsDC || st.Pickup {
			shMaps = append(shMaps, store.Mapping{Kind: "location", ExternalID: fmt.Sprint(st.ShopifyID), Code: l.Code})
		} else {
			st.ShopifyID = 0
		}
		stores = append(stores, st)
	}
	n := min(hotSKUs, len(skus))
	// Spread the hot SKUs over the catalogue, every category included.
	hot := make([]string, 0, n)
	for i := range n {
		hot = append(hot, skus[i*len(skus)/n])
	}
	stock, err := m.DB.StockBySKU(ctx, hot)
	if err != nil {
		stopSquare()
		stopShop()
		return nil, err
	}
	var items []sim.DemoItem
	for i, sku := range skus {
		sqMaps = append(sqMaps, store.Mapping{Kind: "item", ExternalID: sim.DemoSquareItemID(sku), Code: sku})
		shMaps = append(shMaps, store.Mapping{Kind: "item", ExternalID: fmt.Sprintf("inventory_item:%d", sim.DemoShopifyInventoryItemID(i)), Code: sku})
	}
	index := map[string]int{}
	for i, s := range skus {
		index[s] = i
	}
	for _, sku := range hot {
		it := sim.DemoItem{SKU: sku, SquareID: sim.DemoSquareItemID(sku), ShopifyItemID: sim.DemoShopifyInventoryItemID(index[sku]),
			ShopifyVariant: 39_000_000_000 + int64(index[sku]), OnHand: map[string]int{}}
		for code, q := range stock[sku] {
			it.OnHand[code] = q
		}
		for _, st := range stores {
			if st.IsDC {
				it.DCAvailable = stock[sku][st.Code]
			}
		}
		items = append(items, it)
	}
	err = m.DB.SeedDemoConnectors(ctx, []store.DemoConnector{
		{Name: "square-pos", Kind: "pos", Adapter: "square", BaseURL: squareURL, PollSeconds: 5, StaleSeconds: 180,
			Settings: json.RawMessage(fmt.Sprintf(`{"start_after":%q}`, time.Now().Add(-time.Minute).UTC().Format(time.RFC3339))), Mappings: sqMaps},
		{Name: "shopify-web", Kind: "ecommerce", Adapter: "shopify", BaseURL: shopURL, PollSeconds: 10, StaleSeconds: 300,
			Settings: json.RawMessage(fmt.Sprintf(`{"start_after":%q}`, time.Now().Add(-time.Minute).UTC().Format(time.RFC3339))), Mappings: shMaps},
	})
	if err != nil {
		stopSquare()
		stopShop()
		return nil, err
	}
	demo := &sim.Demo{Square: square, Shopify: shop, Stores: stores, Items: items, Pace: simulatorPace,
		Log: func(msg string, args ...any) { m.Log.Debug(msg, args...) }}
	if secret := m.Config.ShopifyWebhookSecret; secret != "" {
		client := &http.Client{Transport: handlerTransport{m.Server}, Timeout: 10 * time.Second}
		demo.Webhook = func(ctx context.Context, topic, id string, body []byte) error {
			status, err := sim.SendWebhook(ctx, client, "http://stockline.internal/webhooks/shopify", secret, topic, id, body)
			if err == nil && status != http.StatusOK {
				err = fmt.Errorf("webhook answered %d", status)
			}
			return err
		}
	}
	dctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { demo.Run(dctx); close(done) }()
	m.Log.Info("simulators started", slog.String("square", squareURL), slog.String("shopify", shopURL),
		slog.Bool("webhooks", demo.Webhook != nil), slog.Int("hot_skus", len(items)), slog.String("stores", strings.Join(codes(stores), ",")))
	return func() {
		cancel()
		<-done
		stopSquare()
		stopShop()
	}, nil
}

func codes(stores []sim.DemoStore) []string {
	var out []string
	for _, s := range stores {
		out = append(out, s.Code)
	}
	return out
}
