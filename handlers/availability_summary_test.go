package handlers_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"stockline/domain"
	"stockline/store"
)

// view=summary: network ATP and in_stock per channel, equal to the full
// view's network_atp for each channel, no per-location rows; single and
// batch forms; before and after a change; the errors.
func TestAvailabilitySummaryView(t *testing.T) {
	app := liveApp(t)
	// ACC-113… SKUs, which no other test touches.
	ps, _, err := app.DB.SearchProducts(context.Background(), store.ProductQuery{Q: "ACC-113", Limit: 3})
	if err != nil || len(ps) < 3 {
		t.Fatalf("products: %v", err)
	}
	type summary struct {
		SKU      string `json:"sku"`
		Channels []struct {
			Channel    domain.Channel `json:"channel"`
			NetworkATP int            `json:"network_atp"`
			InStock    bool           `json:"in_stock"`
		} `json:"channels"`
		Locations any `json:"locations"`
	}
	check := func(sku, body string, chans []domain.Channel) {
		t.Helper()
		s := decodeAs[summary](t, body)
		if s.SKU != sku || s.Locations != nil || len(s.Channels) != len(chans) {
			t.Fatalf("summary of %s: %s", sku, body)
		}
		for i, c := range s.Channels {
			_, full := app.apiDo(http.MethodGet, "/api/v1/availability?sku="+sku+"&channel="+string(chans[i]), "")
			f := decodeAs[availabilityBody](t, full)
			if c.Channel != chans[i] || c.NetworkATP != *f.NetworkATP || c.InStock != (*f.NetworkATP > 0) {
				t.Fatalf("%s %s: summary %+v, full view network_atp %d", sku, chans[i], c, *f.NetworkATP)
			}
		}
	}
	sku := ps[0].SKU
	for range 2 { // the second answer comes from the memo
		res, body := app.apiDo(http.MethodGet, "/api/v1/availability?sku="+sku+"&view=summary", "")
		if res.StatusCode != 200 || res.Header.Get("Content-Type") != "application/json" {
			t.Fatalf("summary: %d %s", res.StatusCode, body)
		}
		check(sku, body, domain.Channels)
	}
	// A change shows at once.
	if res, body := app.apiDo(http.MethodPost, "/api/v1/adjustments", `{"sku":"`+sku+`","location":"DC1","reason":"received","delta":7}`); res.StatusCode != 201 {
		t.Fatalf("adjust: %d %s", res.StatusCode, body)
	}
	_, body := app.apiDo(http.MethodGet, "/api/v1/availability?sku="+sku+"&view=summary", "")
	check(sku, body, domain.Channels)
	// One channel; the batch form, items in the order asked.
	_, body = app.apiDo(http.MethodGet, "/api/v1/availability?skus="+ps[2].SKU+","+ps[1].SKU+"&view=summary&channel=bopis", "")
	var batch struct {
		Items []json.RawMessage `json:"items"`
	}
	if err := json.Unmarshal([]byte(body), &batch); err != nil || len(batch.Items) != 2 {
		t.Fatalf("batch: %v %s", err, body)
	}
	for i, it := range batch.Items {
		check([]string{ps[2].SKU, ps[1].SKU}[i], string(it), []domain.Channel{domain.BOPIS})
	}
	for _, c := range []struct {
		path, code, field string
		status            int
	}{
		{"/api/v1/availability?sku=" + sku + "&view=everything", "invalid", "view", 400},
		{"/api/v1/availability?sku=" + sku + "&view=summary&location=S01", "invalid", "location", 400},
		{"/api/v1/availability?sku=NOPE-00000&view=summary", "not_found", "", 404},
		{"/api/v1/availability?skus=" + strings.Repeat(sku+",", 100) + sku + "&view=summary", "invalid", "skus", 400},
	} {
		res, body := app.apiDo(http.MethodGet, c.path, "")
		wantAPIError(t, res, body, c.status, c.code, c.field)
	}
}
