package handlers_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"stockline/domain"
	"stockline/store"
)

// SKUs the API tests change; no other test touches them.
const (
	apiAdjustSKU = "ACC-11486"
)

type apiErr struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
		Field   string `json:"field"`
	} `json:"error"`
}

func decodeAs[T any](t *testing.T, body string) T {
	t.Helper()
	var v T
	if err := json.Unmarshal([]byte(body), &v); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, body)
	}
	return v
}

// wantAPIError asserts an error answer's status, code and field.
func wantAPIError(t *testing.T, res *http.Response, body string, status int, code, field string) {
	t.Helper()
	if res.StatusCode != status {
		t.Fatalf("status %d, want %d: %s", res.StatusCode, status, body)
	}
	e := decodeAs[apiErr](t, body)
	if e.Error.Code != code || e.Error.Field != field || e.Error.Message == "" {
		t.Fatalf("error %+v, want code %q field %q with a message", e.Error, code, field)
	}
}

type availabilityBody struct {
	SKU        string `json:"sku"`
	Channel    string `json:"channel"`
	NetworkATP *int   `json:"network_atp"`
	Locations  []struct {
		Location    string `json:"location"`
		OnHand      *int   `json:"on_hand"`
		Reserved    *int   `json:"reserved"`
		Damaged     *int   `json:"damaged"`
		QualityHold *int   `json:"quality_hold"`
		TransferOut *int   `json:"transfer_out"`
		InTransitIn *int   `json:"in_transit_in"`
		SafetyStock *int   `json:"safety_stock"`
		ATP         *int   `json:"atp"`
		Eligible    bool   `json:"eligible"`
	} `json:"locations"`
}

// TestAvailabilityAPI checks every channel's answer for a seeded SKU
// against the formula and the seeded policies, computed here from the
// returned buckets.
func TestAvailabilityAPI(t *testing.T) {
	app := newApp(t)
	// Which seeded locations each channel's policy makes eligible.
	eligible := map[string][]string{
		"ecommerce_ship":  {"DC1"},
		"marketplace":     {"DC1"},
		"bopis":           {"S01", "S02", "S03", "S04", "S05", "S07", "S08", "S09", "S10", "S11"},
		"ship_from_store": {"S01", "S02", "S04", "S07", "S08", "S10"},
		"local_delivery":  {"S01", "S02", "S03", "S04", "S05", "S06", "S07", "S08", "S09", "S10", "S11", "S12"},
	}
	safety := map[string]int{"ecommerce_ship": 0, "marketplace": 3, "bopis": 1, "ship_from_store": 2, "local_delivery": 1}
	for _, ch := range append([]string{""}, "bopis", "ship_from_store", "marketplace", "local_delivery", "ecommerce_ship") {
		name := ch
		if ch == "" {
			name = "default"
		}
		t.Run(name, func(t *testing.T) {
			path := "/api/v1/availability?sku=FOO-10008"
			if ch != "" {
				path += "&channel=" + ch
			}
			res, body := app.apiDo(http.MethodGet, path, "")
			if res.StatusCode != http.StatusOK || !strings.HasPrefix(res.Header.Get("Content-Type"), "application/json") {
				t.Fatalf("status %d %s: %s", res.StatusCode, res.Header.Get("Content-Type"), body)
			}
			a := decodeAs[availabilityBody](t, body)
			want := ch
			if ch == "" {
				want = "ecommerce_ship" // the documented default
			}
			if a.SKU != "FOO-10008" || a.Channel != want || a.NetworkATP == nil || len(a.Locations) != 13 {
				t.Fatalf("answer %s", body)
			}
			sum, positive := 0, 0
			for i, l := range a.Locations {
				if i > 0 && l.Location <= a.Locations[i-1].Location {
					t.Fatalf("locations not in code order: %s", body)
				}
				for _, f := range []*int{l.OnHand, l.Reserved, l.Damaged, l.QualityHold, l.TransferOut, l.InTransitIn, l.SafetyStock, l.ATP} {
					if f == nil {
						t.Fatalf("%s lacks a field: %s", l.Location, body)
					}
				}
				if *l.SafetyStock != safety[want] {
					t.Fatalf("%s safety_stock %d, want %d", l.Location, *l.SafetyStock, safety[want])
				}
				isEligible := false
				for _, c := range eligible[want] {
					isEligible = isEligible || c == l.Location
				}
				wantATP := 0
				if isEligible {
					wantATP = max(0, *l.OnHand-*l.Reserved-*l.Damaged-*l.QualityHold-*l.TransferOut-*l.SafetyStock)
				}
				if *l.ATP != wantATP || l.Eligible != isEligible {
					t.Fatalf("%s: atp %d eligible %v, want %d %v", l.Location, *l.ATP, l.Eligible, wantATP, isEligible)
				}
				sum += wantATP
				if wantATP > 0 {
					positive++
				}
			}
			if *a.NetworkATP != sum {
				t.Fatalf("network_atp %d, want the eligible sum %d", *a.NetworkATP, sum)
			}
			if positive == 0 {
				t.Fatalf("the test SKU should have some stock to promise on %s: %s", want, body)
			}
		})
	}

	// location narrows the list; network_atp stays the network's.
	_, all := app.apiDo(http.MethodGet, "/api/v1/availability?sku=FOO-10008&channel=bopis", "")
	res, body := app.apiDo(http.MethodGet, "/api/v1/availability?sku=FOO-10008&channel=bopis&location=S02", "")
	one := decodeAs[availabilityBody](t, body)
	if res.StatusCode != http.StatusOK || len(one.Locations) != 1 || one.Locations[0].Location != "S02" ||
		*one.NetworkATP != *decodeAs[availabilityBody](t, all).NetworkATP {
		t.Fatalf("location filter: %d %s", res.StatusCode, body)
	}

	errs := []struct {
		path        string
		status      int
		code, field string
	}{
		{"/api/v1/availability?sku=NOPE-00000", 404, "not_found", ""},
		{"/api/v1/availability?sku=FOO-10008&channel=carrier_pigeon", 400, "invalid", "channel"},
		{"/api/v1/availability?sku=FOO-10008&location=S99", 404, "not_found", ""},
		{"/api/v1/availability?channel=bopis", 400, "invalid", "sku"},
		{"/api/v1/availability?sku=NOPE-00000&channel=carrier_pigeon", 400, "invalid", "channel"},
		{"/api/v1/availability?sku=%00", 400, "invalid", "sku"}, // refused at the edge (handlers/textguard.go)
		{"/api/v1/availability?sku=%ff%fe", 400, "invalid", "sku"},
	}
	for _, e := range errs {
		res, body := app.apiDo(http.MethodGet, e.path, "")
		wantAPIError(t, res, body, e.status, e.code, e.field)
	}
}

func TestInventoryAPIAuth(t *testing.T) {
	app := newApp(t)
	ctx := context.Background()
	const availOnly, resvOnly = "stk_test_inventory_avail_only_000001", "stk_test_inventory_resv_only_0000001"
	if _, err := app.DB.CreateToken(ctx, domain.SystemActor("test"), "inv-avail-only", availOnly, []string{domain.ScopeAvailability}); err != nil {
		t.Fatal(err)
	}
	if _, err := app.DB.CreateToken(ctx, domain.SystemActor("test"), "inv-resv-only", resvOnly, []string{domain.ScopeReservations}); err != nil {
		t.Fatal(err)
	}
	auth := func(tok string) []string { return []string{"Authorization", "Bearer " + tok} }
	cases := []struct {
		method, path, body string
		hdr                []string
		status             int
		code               string
	}{
		{"GET", "/api/v1/availability?sku=FOO-10008", "", []string{"Authorization", ""}, 401, "unauthorized"},
		{"GET", "/api/v1/availability?sku=FOO-10008", "", auth("stk_wrong"), 401, "unauthorized"},
		{"GET", "/api/v1/availability?sku=FOO-10008", "", auth(resvOnly), 403, "forbidden"},
		{"GET", "/api/v1/products", "", auth(resvOnly), 403, "forbidden"},
		{"GET", "/api/v1/locations", "", auth(resvOnly), 403, "forbidden"},
		{"POST", "/api/v1/adjustments", `{"sku":"` + apiAdjustSKU + `","location":"S01","reason":"received","delta":1}`, auth(availOnly), 403, "forbidden"},
		{"GET", "/api/v1/availability?sku=FOO-10008", "", auth(availOnly), 200, ""},
		{"GET", "/api/v1/products?limit=1", "", auth(availOnly), 200, ""},
		{"GET", "/api/v1/locations", "", auth(availOnly), 200, ""},
	}
	for _, tc := range cases {
		res, body := app.apiDo(tc.method, tc.path, tc.body, tc.hdr...)
		if tc.code == "" {
			if res.StatusCode != tc.status {
				t.Errorf("%s %s: %d, want %d: %s", tc.method, tc.path, res.StatusCode, tc.status, body)
			}
			continue
		}
		wantAPIError(t, res, body, tc.status, tc.code, "")
	}
}

type productsBody struct {
	Products []struct {
		SKU, Name, Barcode, Category, Price string
	} `json:"products"`
	NextCursor *string `json:"next_cursor"`
}

func TestProductsAPI(t *testing.T) {
	app := newApp(t)
	price := regexp.MustCompile(`^[0-9]+\.[0-9]{2}$`)
	// Walk three pages of five and check SKU order and the cursor.
	var seen []string
	cursor := ""
	for page := range 3 {
		path := "/api/v1/products?limit=5"
		if cursor != "" {
			path += "&cursor=" + url.QueryEscape(cursor)
		}
		res, body := app.apiDo(http.MethodGet, path, "")
		if res.StatusCode != http.StatusOK {
			t.Fatalf("page %d: %d %s", page, res.StatusCode, body)
		}
		p := decodeAs[productsBody](t, body)
		if len(p.Products) != 5 || p.NextCursor == nil || *p.NextCursor != p.Products[4].SKU {
			t.Fatalf("page %d: %s", page, body)
		}
		for _, pr := range p.Products {
			if pr.SKU == "" || pr.Name == "" || pr.Barcode == "" || pr.Category == "" || !price.MatchString(pr.Price) {
				t.Fatalf("product fields: %+v", pr)
			}
			if len(seen) > 0 && pr.SKU <= seen[len(seen)-1] {
				t.Fatalf("not in SKU order: %s after %s", pr.SKU, seen[len(seen)-1])
			}
			seen = append(seen, pr.SKU)
		}
		cursor = *p.NextCursor
	}
	if !strings.Contains(mustBody(app, "/api/v1/products?limit=5"), `"price":"`) {
		t.Fatal("price should be a decimal string")
	}

	// A search that fits on one page ends with next_cursor null.
	res, body := app.apiDo(http.MethodGet, "/api/v1/products?q=FOO-10000", "")
	p := decodeAs[productsBody](t, body)
	if res.StatusCode != 200 || len(p.Products) != 1 || p.Products[0].SKU != "FOO-10000" || p.NextCursor != nil || !strings.Contains(body, `"next_cursor":null`) {
		t.Fatalf("exact search: %s", body)
	}
	// A name search pages to its end.
	total, cursor := 0, ""
	for range 20 {
		path := "/api/v1/products?q=merino&limit=10"
		if cursor != "" {
			path += "&cursor=" + url.QueryEscape(cursor)
		}
		_, body := app.apiDo(http.MethodGet, path, "")
		p := decodeAs[productsBody](t, body)
		for _, pr := range p.Products {
			if !strings.Contains(strings.ToLower(pr.Name), "merino") {
				t.Fatalf("%q does not match merino", pr.Name)
			}
		}
		total += len(p.Products)
		if p.NextCursor == nil {
			break
		}
		cursor = *p.NextCursor
	}
	if total < 11 {
		t.Fatalf("merino should span pages, found %d", total)
	}
	res, body = app.apiDo(http.MethodGet, "/api/v1/products?q=no-such-thing-anywhere", "")
	if p := decodeAs[productsBody](t, body); res.StatusCode != 200 || p.Products == nil || len(p.Products) != 0 || p.NextCursor != nil {
		t.Fatalf("no match should be an empty list: %s", body)
	}
	for _, q := range []string{"100%25", "_", "%27%3B--", "%3Cscript%3E"} {
		res, body := app.apiDo(http.MethodGet, "/api/v1/products?limit=3&q="+q, "")
		if res.StatusCode != http.StatusOK {
			t.Fatalf("odd query %q: %d %s", q, res.StatusCode, body)
		}
	}
	for _, q := range []string{"%ff%fe", "%00"} { // text PostgreSQL cannot hold: refused at the edge
		res, body := app.apiDo(http.MethodGet, "/api/v1/products?limit=3&q="+q, "")
		wantAPIError(t, res, body, 400, "invalid", "q")
	}
	for _, bad := range []string{"0", "201", "abc", "2.5"} {
		res, body := app.apiDo(http.MethodGet, "/api/v1/products?limit="+bad, "")
		wantAPIError(t, res, body, 400, "invalid", "limit")
	}
}

func mustBody(app *testApp, path string) string {
	_, body := app.apiDo(http.MethodGet, path, "")
	return body
}

func TestLocationsAPI(t *testing.T) {
	app := newApp(t)
	res, body := app.apiDo(http.MethodGet, "/api/v1/locations", "")
	var v struct {
		Locations []map[string]any `json:"locations"`
	}
	if err := json.Unmarshal([]byte(body), &v); err != nil || res.StatusCode != 200 || len(v.Locations) != 13 {
		t.Fatalf("%d %v %s", res.StatusCode, err, body)
	}
	for _, l := range v.Locations {
		for _, k := range []string{"code", "name", "kind", "region", "pickup", "ship_from_store"} {
			if _, ok := l[k]; !ok {
				t.Fatalf("location lacks %q: %v", k, l)
			}
		}
	}
	dc, s06 := v.Locations[0], v.Locations[6]
	if dc["code"] != "DC1" || dc["kind"] != "dc" || dc["pickup"] != false ||
		s06["code"] != "S06" || s06["kind"] != "store" || s06["pickup"] != false || v.Locations[1]["ship_from_store"] != true {
		t.Fatalf("locations: %s", body)
	}
}

type positionBody struct {
	SKU          string         `json:"sku"`
	Location     string         `json:"location"`
	OnHand       int            `json:"on_hand"`
	Reserved     int            `json:"reserved"`
	Damaged      int            `json:"damaged"`
	QualityHold  int            `json:"quality_hold"`
	TransferOut  int            `json:"transfer_out"`
	InTransitIn  int            `json:"in_transit_in"`
	ATP          *int           `json:"atp"`
	ATPByChannel map[string]int `json:"atp_by_channel"`
}

func TestAdjustmentsAPI(t *testing.T) {
	app := newApp(t)
	ctx := context.Background()
	prod, err := app.DB.ProductBySKU(ctx, apiAdjustSKU)
	if err != nil {
		t.Fatal(err)
	}
	s01, _ := app.DB.LocationByCode(ctx, "S01")
	start, _ := app.DB.PositionAt(ctx, s01.ID, prod.ID)

	res, body := app.apiDo(http.MethodPost, "/api/v1/adjustments",
		`{"sku":"`+apiAdjustSKU+`","location":"S01","reason":"received","delta":7,"note":"PO 4471"}`)
	if res.StatusCode != http.StatusCreated {
		t.Fatalf("adjust: %d %s", res.StatusCode, body)
	}
	p := decodeAs[positionBody](t, body)
	wantOnHand := start.OnHand + 7
	if p.SKU != apiAdjustSKU || p.Location != "S01" || p.OnHand != wantOnHand || p.Damaged != start.Damaged || p.ATP == nil ||
		*p.ATP != wantOnHand-start.Reserved-start.Damaged-start.QualityHold-start.TransferOut {
		t.Fatalf("answer %s (start %+v)", body, start)
	}
	// S01 offers pickup and ships from store; it is no DC.
	if p.ATPByChannel["bopis"] != max(0, *p.ATP-1) || p.ATPByChannel["ship_from_store"] != max(0, *p.ATP-2) || p.ATPByChannel["ecommerce_ship"] != 0 {
		t.Fatalf("atp_by_channel %v", p.ATPByChannel)
	}
	rows, _, err := app.DB.LedgerPage(ctx, store.LedgerQuery{ProductID: prod.ID, Locations: []string{"S01"}, Limit: 1})
	if err != nil || len(rows) != 1 || rows[0].Delta != 7 || rows[0].Reason != "received" || rows[0].Actor != "token:demo" || rows[0].Note != "PO 4471" {
		t.Fatalf("ledger row %+v %v", rows, err)
	}

	res, body = app.apiDo(http.MethodPost, "/api/v1/adjustments", `{"sku":"`+apiAdjustSKU+`","location":"S01","reason":"cycle_count","counted":3}`)
	if p := decodeAs[positionBody](t, body); res.StatusCode != 201 || p.OnHand != 3 {
		t.Fatalf("count: %d %s", res.StatusCode, body)
	}

	body0 := func(extra string) string {
		return `{"sku":"` + apiAdjustSKU + `","location":"S01"` + extra + `}`
	}
	errs := []struct {
		name, body  string
		status      int
		code, field string
	}{
		{"unknown reason", body0(`,"reason":"gift","delta":1`), 400, "invalid", "reason"},
		{"reason not for people", body0(`,"reason":"reservation","delta":1`), 400, "invalid", "reason"},
		{"missing reason", body0(`,"delta":1`), 400, "invalid", "reason"},
		{"fractional delta", body0(`,"reason":"received","delta":2.5`), 400, "invalid", "delta"},
		{"string delta", body0(`,"reason":"received","delta":"3"`), 400, "invalid", "delta"},
		{"exponent delta", body0(`,"reason":"received","delta":1e2`), 400, "invalid", "delta"},
		{"fractional count", body0(`,"reason":"cycle_count","counted":1.5`), 400, "invalid", "counted"},
		{"string count", body0(`,"reason":"cycle_count","counted":"4"`), 400, "invalid", "counted"},
		{"huge delta", body0(`,"reason":"received","delta":99999999999999999999`), 400, "invalid", "delta"},
		{"absurd delta", body0(`,"reason":"received","delta":1000001`), 400, "invalid", "delta"},
		{"zero delta", body0(`,"reason":"received","delta":0`), 400, "invalid", "delta"},
		{"neither", body0(`,"reason":"received"`), 400, "invalid", "delta"},
		{"both", body0(`,"reason":"correction","delta":1,"counted":4`), 400, "invalid", "delta"},
		{"count with received", body0(`,"reason":"received","counted":4`), 400, "invalid", "counted"},
		{"below zero", body0(`,"reason":"shrinkage","delta":1000`), 400, "invalid", "delta"},
		{"count matches", body0(`,"reason":"cycle_count","counted":3`), 400, "invalid", "counted"},
		{"unknown sku", `{"sku":"NOPE-00000","location":"S01","reason":"received","delta":1}`, 404, "not_found", ""},
		{"unknown location", `{"sku":"` + apiAdjustSKU + `","location":"S99","reason":"received","delta":1}`, 404, "not_found", ""},
		{"missing sku", `{"location":"S01","reason":"received","delta":1}`, 400, "invalid", "sku"},
		{"missing location", `{"sku":"` + apiAdjustSKU + `","reason":"received","delta":1}`, 400, "invalid", "location"},
		{"sku not a string", `{"sku":12,"location":"S01","reason":"received","delta":1}`, 400, "invalid", "sku"},
		{"note with NUL", body0(`,"reason":"received","delta":1,"note":"a\u0000b"`), 400, "invalid", "note"},
		{"sku with NUL", `{"sku":"FOO\u0000","location":"S01","reason":"received","delta":1}`, 400, "invalid", "sku"},
		{"not JSON", `{"sku":`, 400, "invalid_json", ""},
		{"empty body", ``, 400, "invalid_json", ""},
	}
	for _, tc := range errs {
		t.Run(tc.name, func(t *testing.T) {
			res, body := app.apiDo(http.MethodPost, "/api/v1/adjustments", tc.body, "Content-Type", "application/json")
			wantAPIError(t, res, body, tc.status, tc.code, tc.field)
		})
	}
	if got, _ := app.DB.PositionAt(ctx, s01.ID, prod.ID); got.OnHand != 3 {
		t.Fatalf("refused adjustments must not move stock: on hand %d", got.OnHand)
	}
	rep, err := app.DB.Check(ctx)
	if err != nil || !rep.OK() {
		t.Fatalf("check: %+v %v", rep, err)
	}
}

// The admin scope opens every API route; any other scope only its own.
func TestAdminScopeOpensEveryAPIRoute(t *testing.T) {
	app := newApp(t)
	ctx := context.Background()
	if _, err := app.DB.CreateToken(ctx, domain.SystemActor("test"), "ops", "stk_test_admin_only_scope_token", []string{domain.ScopeAdmin}); err != nil {
		t.Fatal(err)
	}
	res, body := app.apiDo(http.MethodGet, "/api/v1/availability?sku=FOO-10000", "", "Authorization", "Bearer stk_test_admin_only_scope_token")
	if res.StatusCode != http.StatusOK {
		t.Fatalf("admin-scoped token on availability: %d %s", res.StatusCode, body)
	}
}
