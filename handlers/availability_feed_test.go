package handlers_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"stockline/domain"
	"stockline/handlers"
	"stockline/store"
)

const feedPath = "/api/v1/availability/feed"

// networkATP is the reference: the domain's rule over the store's positions.
func networkATP(t *testing.T, db *store.DB, sku string, ch domain.Channel) (int, domain.Availability) {
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
	return a.NetworkATP, a
}

func feedLines(body string) []string { return strings.Split(strings.TrimSuffix(body, "\n"), "\n") }

func TestAvailabilityFeedShapesAndCaching(t *testing.T) {
	app := newApp(t)
	// CSV by default, the whole catalogue in one answer.
	res, body := app.apiDo(http.MethodGet, feedPath+"?channel=ecommerce_ship", "")
	if res.StatusCode != http.StatusOK || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/csv") {
		t.Fatalf("csv: %d %s\n%.300s", res.StatusCode, res.Header.Get("Content-Type"), body)
	}
	lines := feedLines(body)
	if lines[0] != "sku,network_atp,in_stock" || len(lines) != store.DemoSKUCount+1 {
		t.Fatalf("csv: header %q, %d lines", lines[0], len(lines))
	}
	for _, l := range []string{lines[1], lines[700], lines[len(lines)-1]} {
		f := strings.Split(l, ",")
		want, _ := networkATP(t, app.DB, f[0], domain.EcommerceShip)
		if f[1] != strconv.Itoa(want) || f[2] != strconv.FormatBool(want >= 1) {
			t.Errorf("csv line %q, want network_atp %d", l, want)
		}
	}
	if res.Header.Get("Stockline-Next-Since") == "" || !strings.Contains(res.Header.Get("Vary"), "Accept") {
		t.Errorf("headers: %v", res.Header)
	}
	etag := res.Header.Get("ETag")

	// NDJSON by Accept, also when it is preferred by quality.
	for _, accept := range []string{"application/x-ndjson", "text/csv;q=0.4, application/x-ndjson;q=0.9", "application/json, application/x-ndjson"} {
		res, body = app.apiDo(http.MethodGet, feedPath+"?channel=ecommerce_ship", "", "Accept", accept)
		if res.StatusCode != http.StatusOK || res.Header.Get("Content-Type") != "application/x-ndjson" {
			t.Fatalf("ndjson (%s): %d %s", accept, res.StatusCode, res.Header.Get("Content-Type"))
		}
		lines = feedLines(body)
		var row struct {
			SKU        string `json:"sku"`
			Channel    string `json:"channel"`
			NetworkATP *int   `json:"network_atp"`
			InStock    *bool  `json:"in_stock"`
		}
		if err := json.Unmarshal([]byte(lines[3]), &row); err != nil || row.NetworkATP == nil || row.InStock == nil || row.Channel != "ecommerce_ship" {
			t.Fatalf("ndjson line %q: %v", lines[3], err)
		}
		if want, _ := networkATP(t, app.DB, row.SKU, domain.EcommerceShip); *row.NetworkATP != want || len(lines) != store.DemoSKUCount {
			t.Errorf("ndjson: %s atp %d want %d; %d lines", row.SKU, *row.NetworkATP, want, len(lines))
		}
		if res.Header.Get("ETag") == etag {
			t.Error("the NDJSON answer has the CSV answer's ETag")
		}
	}
	if res, _ = app.apiDo(http.MethodGet, feedPath+"?channel=ecommerce_ship", "", "Accept", "text/csv;q=0.9, application/x-ndjson;q=0.1"); !strings.HasPrefix(res.Header.Get("Content-Type"), "text/csv") {
		t.Errorf("csv preferred by quality: got %s", res.Header.Get("Content-Type"))
	}

	// 304 on a matching If-None-Match, until the stock changes. The ETag
	// also names this database's ledger writers in flight at the snapshot,
	// and any transaction (cluster-wide: under make test other packages
	// write to the same cluster) that ends in the instant around the read;
	// each form is tried against a fresh ETag until one pair meets a quiet
	// moment (store's TestFeedVersionIsStableAndExact checks that unrelated
	// transactions leave it alone).
	for _, form := range []string{"%s", "W/%s", `"other", %s`} {
		got := 0
		for try := 0; try < 40 && got != http.StatusNotModified; try++ {
			res, _ := app.apiDo(http.MethodGet, feedPath+"?channel=ecommerce_ship", "")
			inm := fmt.Sprintf(form, res.Header.Get("ETag"))
			if res, body = app.apiDo(http.MethodGet, feedPath+"?channel=ecommerce_ship", "", "If-None-Match", inm); res.StatusCode == http.StatusNotModified && body != "" {
				t.Fatalf("If-None-Match %s: 304 with a body %q", inm, body)
			}
			got = res.StatusCode
		}
		if got != http.StatusNotModified {
			t.Fatalf("If-None-Match %s: never 304 in 40 tries (last %d)", form, got)
		}
	}
	since := app.DB.Now().Add(-time.Millisecond).UTC()
	time.Sleep(5 * time.Millisecond)
	sku := lines[len(lines)-2] // a SKU near the end of the catalogue, which no other test moves
	sku = sku[strings.Index(sku, `"sku":"`)+7:]
	sku = sku[:strings.IndexByte(sku, '"')]
	adjust := func(loc string, d int) {
		t.Helper()
		if _, err := app.DB.Adjust(context.Background(), domain.Actor{Kind: "system", Name: "feed-test"}, sku, loc,
			domain.Adjustment{Reason: domain.ReasonCorrection, Delta: &d}); err != nil {
			t.Fatal(err)
		}
	}
	adjust("DC1", 5)
	if res, _ = app.apiDo(http.MethodGet, feedPath+"?channel=ecommerce_ship", "", "If-None-Match", etag); res.StatusCode != http.StatusOK || res.Header.Get("ETag") == etag {
		t.Fatalf("after a change: %d, ETag %s (was %s)", res.StatusCode, res.Header.Get("ETag"), etag)
	}

	// since: only SKUs whose network ATP changed after it, exclusive.
	sinceQ := "&since=" + url.QueryEscape(since.Format(time.RFC3339Nano))
	res, body = app.apiDo(http.MethodGet, feedPath+"?channel=ecommerce_ship"+sinceQ, "")
	want, _ := networkATP(t, app.DB, sku, domain.EcommerceShip)
	if lines = feedLines(body); res.StatusCode != http.StatusOK || len(lines) != 2 || lines[1] != sku+","+strconv.Itoa(want)+",true" {
		t.Fatalf("since: %d %q, want only %s at %d", res.StatusCode, lines, sku, want)
	}
	// A change at a location the channel does not use (a store, for
	// ecommerce_ship) and a change that nets out leave the SKU's ATP as it
	// was: not in the feed.
	since2 := app.DB.Now().UTC()
	time.Sleep(5 * time.Millisecond)
	adjust("S01", 2)
	adjust("DC1", 3)
	adjust("DC1", -3)
	if _, body = app.apiDo(http.MethodGet, feedPath+"?channel=ecommerce_ship&since="+url.QueryEscape(since2.Format(time.RFC3339Nano)), ""); body != "sku,network_atp,in_stock\n" {
		t.Errorf("since after no ATP change: %q", body)
	}
	if _, body = app.apiDo(http.MethodGet, feedPath+"?channel=bopis&since="+url.QueryEscape(since2.Format(time.RFC3339Nano)), ""); !strings.Contains(body, "\n"+sku+",") {
		t.Errorf("bopis since: S01 serves bopis, so %s changed: %q", sku, body)
	}
	if _, body = app.apiDo(http.MethodGet, feedPath+"?channel=ecommerce_ship&since="+url.QueryEscape(app.DB.Now().Add(time.Hour).UTC().Format(time.RFC3339)), ""); body != "sku,network_atp,in_stock\n" {
		t.Errorf("since in the future: %q", body)
	}
}

func TestAvailabilityFeedErrorsAndPages(t *testing.T) {
	app := newApp(t)
	for q, field := range map[string]string{
		"?channel=carrier_pigeon":                     "channel",
		"":                                            "channel",
		"?channel=bopis&since=yesterday":              "since",
		"?channel=bopis&since=2026-12-04":             "since",
		"?channel=bopis&limit=50":                     "limit",
		"?channel=bopis&cursor=%25%25":                "cursor",
		"?channel=bopis&region=Atlantis":              "region",
		"?channel=ecommerce_ship&format=google_local": "format",
		"?channel=bopis&format=xml":                   "format",
		"?channel=bopis&format=google_local&since=" + url.QueryEscape(time.Now().UTC().Format(time.RFC3339)): "since",
	} {
		res, body := app.apiDo(http.MethodGet, feedPath+q, "")
		var e struct {
			Error struct{ Code, Field string }
		}
		json.Unmarshal([]byte(body), &e)
		if res.StatusCode != http.StatusBadRequest || e.Error.Field != field {
			t.Errorf("%s: %d %s, want 400 on field %s", q, res.StatusCode, body, field)
		}
	}
	// Pages: at least 100 SKUs each, the next one named by Link; together
	// they are the whole catalogue in order.
	var all []string
	next := feedPath + "?channel=marketplace&limit=100"
	for pages := 0; next != ""; pages++ {
		res, body := app.apiDo(http.MethodGet, next, "")
		lines := feedLines(body)[1:]
		if res.StatusCode != http.StatusOK || (pages == 0 && len(lines) != 100) || pages > store.DemoSKUCount/100 {
			t.Fatalf("page %d: %d, %d lines", pages, res.StatusCode, len(lines))
		}
		all = append(all, lines...)
		next = ""
		if l := res.Header.Get("Link"); l != "" {
			next = l[1:strings.Index(l, ">")]
		}
	}
	_, body := app.apiDo(http.MethodGet, feedPath+"?channel=marketplace", "")
	if whole := feedLines(body)[1:]; strings.Join(whole, "\n") != strings.Join(all, "\n") {
		t.Errorf("pages: %d lines, whole feed %d", len(all), len(whole))
	}
	// A region narrows the network: North's ATP for bopis is at most the whole's.
	_, body = app.apiDo(http.MethodGet, feedPath+"?channel=bopis&region=North&limit=100", "")
	if lines := feedLines(body); len(lines) != 101 {
		t.Errorf("region page: %d lines", len(lines))
	}
}

func TestGoogleLocalInventoryFeed(t *testing.T) {
	app := newApp(t, func(o *handlers.Options) { o.FeedLowStock = 4 })
	res, body := app.apiDo(http.MethodGet, feedPath+"?channel=bopis&format=google_local", "")
	if res.StatusCode != http.StatusOK || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/tab-separated-values") {
		t.Fatalf("google: %d %s", res.StatusCode, res.Header.Get("Content-Type"))
	}
	lines := feedLines(body)
	if lines[0] != "store_code\tid\tquantity\tavailability\tpickup_method\tpickup_sla" {
		t.Fatalf("header %q", lines[0])
	}
	locs, err := app.DB.ListLocations(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	stores := map[string]domain.Location{}
	for _, l := range locs {
		if l.Kind == domain.Store {
			stores[l.Code] = l
		}
	}
	if len(lines)-1 != len(stores)*store.DemoSKUCount {
		t.Fatalf("%d lines, want %d stores × %d SKUs", len(lines)-1, len(stores), store.DemoSKUCount)
	}
	seen := map[string]bool{}
	checked := map[string]domain.Availability{}
	for i, l := range lines[1:] {
		f := strings.Split(l, "\t")
		loc, ok := stores[f[0]]
		if len(f) != 6 || !ok {
			t.Fatalf("line %q", l)
		}
		q, err := strconv.Atoi(f[2])
		wantAvail := map[bool]string{true: "out_of_stock"}[q == 0]
		if q > 0 {
			wantAvail = map[bool]string{true: "limited_availability", false: "in_stock"}[q < 4]
		}
		wantMethod := map[bool]string{true: "buy", false: "not_supported"}[loc.Pickup]
		if err != nil || q < 0 || f[3] != wantAvail || f[4] != wantMethod || f[5] != "next_day" {
			t.Fatalf("line %q: want availability %s, pickup_method %s, pickup_sla next_day (72 h window)", l, wantAvail, wantMethod)
		}
		seen[f[3]], seen[f[4]] = true, true
		if i%997 == 0 { // a sample against the domain's per-store ATP
			a, ok := checked[f[1]]
			if !ok {
				_, a = networkATP(t, app.DB, f[1], domain.BOPIS)
				checked[f[1]] = a
			}
			for _, la := range a.Locations {
				if la.Code == f[0] && la.ATP != q {
					t.Errorf("%s at %s: quantity %d, ATP %d", f[1], f[0], q, la.ATP)
				}
			}
		}
	}
	for _, v := range []string{"in_stock", "limited_availability", "out_of_stock", "buy"} {
		if !seen[v] {
			t.Errorf("no line with %s in the demo feed", v)
		}
	}
}
