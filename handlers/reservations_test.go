package handlers_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"stockline/domain"
	"stockline/store"
)

// resvSKU returns the demo SKU at index i in SKU order; reservation tests
// use indexes 1900 and up so no other test's stock moves under them.
func resvSKU(t *testing.T, db *store.DB, i int) string {
	t.Helper()
	ctx := context.Background()
	after := ""
	for {
		ps, next, err := db.SearchProducts(ctx, store.ProductQuery{After: after, Limit: 200})
		if err != nil {
			t.Fatal(err)
		}
		if i < len(ps) {
			return ps[i].SKU
		}
		if next == "" {
			t.Fatalf("no SKU at index %d", i)
		}
		i -= len(ps)
		after = next
	}
}

// setBOPISReservable counts on_hand so exactly n units can be held for
// bopis at loc.
func setBOPISReservable(t *testing.T, db *store.DB, sku, loc string, n int) {
	t.Helper()
	ctx := context.Background()
	pol, _ := db.Policy(ctx, domain.BOPIS)
	l, _ := db.LocationByCode(ctx, loc)
	p, _ := db.ProductBySKU(ctx, sku)
	pos, err := db.PositionAt(ctx, l.ID, p.ID)
	if err != nil {
		t.Fatal(err)
	}
	counted := pos.OnHand + n - (pos.OnHand - pos.Reserved - pos.Damaged - pos.QualityHold - pos.TransferOut - pol.SafetyStock)
	if counted != pos.OnHand {
		if _, err := db.Adjust(ctx, domain.SystemActor("test"), sku, loc, domain.Adjustment{Reason: domain.ReasonCycleCount, Counted: &counted}); err != nil {
			t.Fatal(err)
		}
	}
}

func bopisReservable(t *testing.T, db *store.DB, sku, loc string) int {
	t.Helper()
	ctx := context.Background()
	pol, _ := db.Policy(ctx, domain.BOPIS)
	l, _ := db.LocationByCode(ctx, loc)
	p, _ := db.ProductBySKU(ctx, sku)
	pos, err := db.PositionAt(ctx, l.ID, p.ID)
	if err != nil {
		t.Fatal(err)
	}
	return domain.Reservable(pol, l, pos)
}

func checkOK(t *testing.T, db *store.DB) {
	t.Helper()
	rep, err := db.Check(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if !rep.OK() {
		t.Fatalf("consistency check: %+v", rep)
	}
}

type reservationBody struct {
	ID          int64     `json:"id"`
	Status      string    `json:"status"`
	Channel     string    `json:"channel"`
	CheckoutRef string    `json:"checkout_ref"`
	OrderRef    string    `json:"order_ref"`
	ExpiresAt   time.Time `json:"expires_at"`
	Lines       []struct {
		SKU      string `json:"sku"`
		Qty      int    `json:"qty"`
		Location string `json:"location"`
	} `json:"lines"`
	ReleaseReason string `json:"release_reason"`
}

var keyN int64
var keyMu sync.Mutex

func newKey() string {
	keyMu.Lock()
	defer keyMu.Unlock()
	keyN++
	return fmt.Sprintf("test-%d-%d", time.Now().UnixNano(), keyN)
}

func (a *testApp) reserve(body, key string) (*http.Response, string) {
	return a.apiDo(http.MethodPost, "/api/v1/reservations", body, "Idempotency-Key", key)
}

func TestReservationAPIContract(t *testing.T) {
	app := newApp(t)
	sku := resvSKU(t, app.DB, 1900)
	setBOPISReservable(t, app.DB, sku, "S01", 10)
	ok := fmt.Sprintf(`{"channel":"bopis","location":"S01","checkout_ref":"cart-1","lines":[{"sku":%q,"qty":2}]}`, sku)

	res, body := app.apiDo(http.MethodPost, "/api/v1/reservations", ok)
	wantAPIError(t, res, body, 400, "idempotency_key_required", "Idempotency-Key")
	res, body = app.reserve(ok, strings.Repeat("k", 256))
	wantAPIError(t, res, body, 400, "idempotency_key_invalid", "Idempotency-Key")

	cases := []struct {
		name, body  string
		status      int
		code, field string
	}{
		{"malformed JSON", `{"channel":`, 400, "invalid_json", ""},
		{"bad channel", fmt.Sprintf(`{"channel":"fax","lines":[{"sku":%q,"qty":1}]}`, sku), 400, "invalid", "channel"},
		{"bopis without location", fmt.Sprintf(`{"channel":"bopis","lines":[{"sku":%q,"qty":1}]}`, sku), 400, "invalid", "location"},
		{"unknown sku", `{"channel":"bopis","location":"S01","lines":[{"sku":"NOPE-1","qty":1}]}`, 404, "not_found", "lines[0].sku"},
		{"unknown location", fmt.Sprintf(`{"channel":"bopis","location":"ZZ9","lines":[{"sku":%q,"qty":1}]}`, sku), 404, "not_found", "location"},
		{"location not eligible", fmt.Sprintf(`{"channel":"bopis","location":"S06","lines":[{"sku":%q,"qty":1}]}`, sku), 400, "location_not_eligible", "location"},
		{"zero qty", fmt.Sprintf(`{"channel":"bopis","location":"S01","lines":[{"sku":%q,"qty":0}]}`, sku), 400, "invalid", "lines[0].qty"},
		{"absurd qty", fmt.Sprintf(`{"channel":"bopis","location":"S01","lines":[{"sku":%q,"qty":99999999}]}`, sku), 400, "invalid", "lines[0].qty"},
		{"fractional qty", fmt.Sprintf(`{"channel":"bopis","location":"S01","lines":[{"sku":%q,"qty":1.5}]}`, sku), 400, "invalid", "lines.qty"},
		{"no lines", `{"channel":"bopis","location":"S01","lines":[]}`, 400, "invalid", "lines"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			res, body := app.reserve(c.body, newKey())
			wantAPIError(t, res, body, c.status, c.code, c.field)
		})
	}
	res, body = app.reserve(`{"channel":"bopis","location":"S01","lines":[{"sku":"X","qty":1}],"pad":"`+strings.Repeat("x", 1<<20)+`"}`, newKey())
	wantAPIError(t, res, body, 413, "body_too_large", "")
	if got := bopisReservable(t, app.DB, sku, "S01"); got != 10 {
		t.Fatalf("a refused request must hold nothing: reservable %d", got)
	}

	key := newKey()
	res, body = app.reserve(ok, key)
	if res.StatusCode != 201 {
		t.Fatalf("hold: %d %s", res.StatusCode, body)
	}
	r := decodeAs[reservationBody](t, body)
	if r.ID == 0 || r.Status != "held" || r.ExpiresAt.IsZero() || len(r.Lines) != 1 || r.Lines[0].SKU != sku || r.Lines[0].Qty != 2 || r.Lines[0].Location != "S01" {
		t.Fatalf("hold body: %s", body)
	}
	if d := time.Until(r.ExpiresAt); d < 19*time.Minute || d > 21*time.Minute {
		t.Fatalf("bopis holds last the policy's 20 min: expires in %v", d)
	}
	// The same key and body replays byte for byte, even with other JSON
	// spacing; another body with the key is refused.
	res2, body2 := app.reserve(ok, key)
	if res2.StatusCode != 201 || body2 != body {
		t.Fatalf("replay differs: %d %s", res2.StatusCode, body2)
	}
	res2, body2 = app.reserve(strings.ReplaceAll(ok, ",", " , "), key)
	if res2.StatusCode != 201 || body2 != body {
		t.Fatalf("replay with other spacing: %d %s", res2.StatusCode, body2)
	}
	res2, body2 = app.reserve(strings.Replace(ok, `"qty":2`, `"qty":3`, 1), key)
	wantAPIError(t, res2, body2, 422, "idempotency_mismatch", "")
	if got := bopisReservable(t, app.DB, sku, "S01"); got != 8 {
		t.Fatalf("one effect: reservable %d, want 8", got)
	}

	path := fmt.Sprintf("/api/v1/reservations/%d", r.ID)
	res, body = app.apiDo(http.MethodGet, path, "")
	if g := decodeAs[reservationBody](t, body); res.StatusCode != 200 || g.ID != r.ID || !g.ExpiresAt.Equal(r.ExpiresAt) || g.CheckoutRef != "cart-1" {
		t.Fatalf("get: %d %s", res.StatusCode, body)
	}
	res, body = app.apiDo(http.MethodGet, "/api/v1/reservations/999999999", "")
	wantAPIError(t, res, body, 404, "not_found", "")
	res, body = app.apiDo(http.MethodPost, path+"/commit", `{}`)
	wantAPIError(t, res, body, 400, "invalid", "order_ref")
	res, body = app.apiDo(http.MethodPost, path+"/commit", `{"order_ref":"ORD-77"}`)
	c := decodeAs[reservationBody](t, body)
	if res.StatusCode != 200 || c.Status != "committed" || c.OrderRef != "ORD-77" || time.Until(c.ExpiresAt) < 71*time.Hour {
		t.Fatalf("commit extends to the pickup window: %d %s", res.StatusCode, body)
	}
	res, body = app.apiDo(http.MethodPost, path+"/release", `{"reason":""}`)
	wantAPIError(t, res, body, 400, "invalid", "reason")
	res, body = app.apiDo(http.MethodPost, path+"/release", `{"reason":"customer_cancelled"}`)
	if rel := decodeAs[reservationBody](t, body); res.StatusCode != 200 || rel.Status != "released" || rel.ReleaseReason != "customer_cancelled" {
		t.Fatalf("release: %d %s", res.StatusCode, body)
	}
	res, body = app.apiDo(http.MethodPost, path+"/release", `{"reason":"again"}`)
	if res.StatusCode != 200 || decodeAs[reservationBody](t, body).Status != "released" {
		t.Fatalf("release is idempotent: %d %s", res.StatusCode, body)
	}
	res, body = app.apiDo(http.MethodPost, path+"/commit", `{"order_ref":"ORD-77"}`)
	wantAPIError(t, res, body, 409, "reservation_closed", "")
	if got := bopisReservable(t, app.DB, sku, "S01"); got != 10 {
		t.Fatalf("release returns the stock: reservable %d", got)
	}

	// Too little stock: 409 with what each line could get.
	res, body = app.reserve(fmt.Sprintf(`{"channel":"bopis","location":"S01","lines":[{"sku":%q,"qty":11}]}`, sku), newKey())
	if res.StatusCode != 409 {
		t.Fatalf("insufficient: %d %s", res.StatusCode, body)
	}
	var short struct {
		Error struct {
			Code  string `json:"code"`
			Lines []struct {
				SKU                  string
				Requested, Available int
				Location             string
			} `json:"lines"`
		} `json:"error"`
	}
	json.Unmarshal([]byte(body), &short)
	if short.Error.Code != "insufficient_stock" || len(short.Error.Lines) != 1 || short.Error.Lines[0].Available != 10 ||
		short.Error.Lines[0].Requested != 11 || short.Error.Lines[0].Location != "S01" {
		t.Fatalf("insufficient body: %s", body)
	}
	checkOK(t, app.DB)
}

func TestReservationAPINeedsScope(t *testing.T) {
	app := newApp(t)
	tok := "stk_test_availability_only_0000000001"
	if _, err := app.DB.CreateToken(context.Background(), domain.SystemActor("test"), "avail-only", tok, []string{domain.ScopeAvailability}); err != nil {
		t.Fatal(err)
	}
	res, body := app.apiDo(http.MethodPost, "/api/v1/reservations", `{}`, "Authorization", "Bearer "+tok, "Idempotency-Key", "x")
	wantAPIError(t, res, body, 403, "forbidden", "")
	res, body = app.apiDo(http.MethodGet, "/api/v1/reservations/1", "", "Authorization", "")
	wantAPIError(t, res, body, 401, "unauthorized", "")
}

// 200 concurrent holds for a SKU with 5 available: exactly 5 succeed, the
// rest get 409 insufficient_stock, nothing else (no 429, no 5xx).
func TestReservationBurstNeverOversells(t *testing.T) {
	app := newApp(t)
	sku := resvSKU(t, app.DB, 1901)
	setBOPISReservable(t, app.DB, sku, "S02", 5)
	body := fmt.Sprintf(`{"channel":"bopis","location":"S02","lines":[{"sku":%q,"qty":1}]}`, sku)
	statuses := map[int]int{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	start := make(chan struct{})
	for range 200 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			res, b := app.reserve(body, newKey())
			mu.Lock()
			statuses[res.StatusCode]++
			mu.Unlock()
			if res.StatusCode == 409 && !strings.Contains(b, `"insufficient_stock"`) {
				t.Errorf("409 without insufficient_stock: %s", b)
			}
		}()
	}
	close(start)
	wg.Wait()
	if statuses[201] != 5 || statuses[409] != 195 || len(statuses) != 2 {
		t.Fatalf("statuses %v, want 5×201 and 195×409", statuses)
	}
	if got := bopisReservable(t, app.DB, sku, "S02"); got != 0 {
		t.Fatalf("reservable %d after the burst", got)
	}
	checkOK(t, app.DB)
}

// 50 concurrent requests with one Idempotency-Key: one effect, identical
// answers.
func TestReservationSameKeyConcurrently(t *testing.T) {
	app := newApp(t)
	sku := resvSKU(t, app.DB, 1902)
	setBOPISReservable(t, app.DB, sku, "S03", 20)
	body := fmt.Sprintf(`{"channel":"bopis","location":"S03","lines":[{"sku":%q,"qty":3}]}`, sku)
	key := newKey()
	out := make([]string, 50)
	codes := make([]int, 50)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range out {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			res, b := app.reserve(body, key)
			out[i], codes[i] = b, res.StatusCode
		}()
	}
	close(start)
	wg.Wait()
	for i := range out {
		if codes[i] != 201 || out[i] != out[0] {
			t.Fatalf("answer %d: %d %s, first: %s", i, codes[i], out[i], out[0])
		}
	}
	if got := bopisReservable(t, app.DB, sku, "S03"); got != 17 {
		t.Fatalf("one effect: reservable %d, want 17", got)
	}
	res, b := app.reserve(strings.Replace(body, `"qty":3`, `"qty":4`, 1), key)
	wantAPIError(t, res, b, 422, "idempotency_mismatch", "")
	checkOK(t, app.DB)
}

// Ship channels without a location are sourced by the policy, and the
// answer says where each line is held.
func TestReservationShipSourcing(t *testing.T) {
	app := newApp(t)
	sku := resvSKU(t, app.DB, 1903)
	res, body := app.reserve(fmt.Sprintf(`{"channel":"ecommerce_ship","lines":[{"sku":%q,"qty":1}]}`, sku), newKey())
	if res.StatusCode != 201 {
		t.Fatalf("ship hold: %d %s", res.StatusCode, body)
	}
	if r := decodeAs[reservationBody](t, body); len(r.Lines) != 1 || r.Lines[0].Location != "DC1" {
		t.Fatalf("ecommerce_ship is served by the DC: %s", body)
	}
	checkOK(t, app.DB)
}

func TestReservationsPageListsScopesAndReleases(t *testing.T) {
	app := newApp(t)
	ctx := context.Background()
	sku := resvSKU(t, app.DB, 1904)
	setBOPISReservable(t, app.DB, sku, "S01", 10)
	setBOPISReservable(t, app.DB, sku, "S07", 10)
	hold := func(loc string) int64 {
		res, body := app.reserve(fmt.Sprintf(`{"channel":"bopis","location":%q,"checkout_ref":"page-test","lines":[{"sku":%q,"qty":2}]}`, loc, sku), newKey())
		if res.StatusCode != 201 {
			t.Fatalf("hold: %d %s", res.StatusCode, body)
		}
		return decodeAs[reservationBody](t, body).ID
	}
	s01, s07 := hold("S01"), hold("S07")

	lead := app.login(domain.RoleInventoryLead)
	res, body := lead.get("/reservations?sku=" + url.QueryEscape(sku))
	wantStatus(t, res, body, 200)
	if !strings.Contains(body, fmt.Sprintf(`data-testid="reservation-%d-1"`, s01)) || !strings.Contains(body, fmt.Sprintf(`data-testid="reservation-%d-1"`, s07)) {
		t.Fatalf("lead sees both holds:\n%s", body)
	}
	if !strings.Contains(body, "expires in") {
		t.Fatal("each hold shows its time left")
	}
	doc := adminDoc(t, body)
	if doc.Find(fmt.Sprintf(`form[data-testid="release-%d"] input[name="_csrf"]`, s01)).Length() != 1 {
		t.Fatal("the release form must carry its CSRF token")
	}
	_, body = lead.get("/reservations?sku=NOPE-0")
	if !strings.Contains(body, `data-testid="reservations-empty"`) {
		t.Fatal("a filter that matches nothing says so")
	}

	assoc := app.login(domain.RoleAssociate) // S01 only
	_, body = assoc.get("/reservations?sku=" + url.QueryEscape(sku))
	if !strings.Contains(body, fmt.Sprintf("reservation-%d-1", s01)) || strings.Contains(body, fmt.Sprintf("reservation-%d-1", s07)) {
		t.Fatalf("associate sees only S01:\n%s", body)
	}
	res, _ = assoc.post(fmt.Sprintf("/reservations/%d/release", s07), url.Values{"reason": {"customer_cancelled"}})
	if res.StatusCode != http.StatusNotFound {
		t.Fatalf("associate releasing another store's hold: %d", res.StatusCode)
	}
	res, body = assoc.post(fmt.Sprintf("/reservations/%d/release", s01), url.Values{"reason": {"other"}, "note": {""}, "back": {"/reservations?sku=" + sku}})
	if res.StatusCode != http.StatusBadRequest || !strings.Contains(body, "Say why in the note") {
		t.Fatalf("other without a note is refused beside the field: %d\n%s", res.StatusCode, body)
	}
	res, _ = assoc.post(fmt.Sprintf("/reservations/%d/release", s01), url.Values{"reason": {"customer_cancelled"}, "note": {"called the store"}, "back": {"/reservations?sku=" + sku}})
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/reservations?sku="+sku {
		t.Fatalf("release: %d %s", res.StatusCode, res.Header.Get("Location"))
	}
	_, body = assoc.get(res.Header.Get("Location"))
	if !strings.Contains(body, fmt.Sprintf("Released reservation #%d: 2 × %s at S01 available again.", s01, sku)) {
		t.Fatalf("the confirmation names the effect:\n%s", body)
	}
	r, err := app.DB.Reservation(ctx, s01)
	if err != nil || r.Status != domain.Released || r.ReleaseReason != "customer_cancelled: called the store" {
		t.Fatalf("released: %+v %v", r, err)
	}
	audit, err := app.DB.ListAudit(ctx, store.AuditFilter{Entity: "reservation", EntityID: fmt.Sprint(s01)})
	if err != nil || len(audit) == 0 || audit[0].Action != "reservation.release" || audit[0].Actor != "user:associate@demo.stockline" {
		t.Fatalf("release is audited with the person: %+v %v", audit, err)
	}
	// The SKU page shows the SKU's remaining hold.
	_, body = lead.get("/inventory/" + url.PathEscape(sku))
	if !strings.Contains(body, `data-testid="sku-reservations"`) || !strings.Contains(body, fmt.Sprintf("#%d", s07)) {
		t.Fatalf("the SKU page lists its reservations:\n%s", body)
	}
	checkOK(t, app.DB)
}

func TestPoliciesPageEditsTakeEffectAtOnce(t *testing.T) {
	app := newApp(t)
	ctx := context.Background()
	before, err := app.DB.Policy(ctx, domain.LocalDelivery)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { app.DB.SavePolicy(ctx, domain.SystemActor("test"), before) })

	if res, _ := app.login(domain.RoleAssociate).get("/policies"); res.StatusCode != http.StatusForbidden {
		t.Fatalf("associates may not edit policies: %d", res.StatusCode)
	}
	lead := app.login(domain.RoleInventoryLead)
	res, body := lead.get("/policies")
	wantStatus(t, res, body, 200)
	for _, ch := range domain.Channels {
		if !strings.Contains(body, `data-testid="policy-form-`+string(ch)+`"`) {
			t.Fatalf("no form for %s", ch)
		}
	}
	form := url.Values{"eligible_kinds": {"store"}, "reserve_at": {"checkout_start"}, "hold_ttl": {"0"}, "safety_stock": {"4"},
		"max_split": {"1"}, "pickup_window": {"0"}}
	res, body = lead.post("/policies/local_delivery", form)
	if res.StatusCode != http.StatusBadRequest || !strings.Contains(body, `data-testid="err-hold_ttl"`) || !strings.Contains(body, `value="4"`) {
		t.Fatalf("a bad TTL re-renders with the message and keeps the input: %d\n%s", res.StatusCode, body)
	}
	form.Set("hold_ttl", "abc")
	if res, body = lead.post("/policies/local_delivery", form); res.StatusCode != http.StatusBadRequest || !strings.Contains(body, "whole number") {
		t.Fatalf("a non-number: %d", res.StatusCode)
	}
	form.Set("hold_ttl", "7")
	res, _ = lead.post("/policies/local_delivery", form)
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("save: %d", res.StatusCode)
	}
	_, body = lead.get(res.Header.Get("Location"))
	if got := adminText(adminDoc(t, body), `[data-testid="policy-summary-local_delivery"]`); !strings.Contains(got, "holds last 7 min") {
		t.Fatalf("the card summarises the rules in force: %q", got)
	}
	if !strings.Contains(body, "Saved the Local delivery policy") || !strings.Contains(body, "holds last 7 min") {
		t.Fatalf("confirmation:\n%s", body)
	}
	// Effective at once: the next hold lasts 7 minutes.
	sku := resvSKU(t, app.DB, 1905)
	res, body = app.reserve(fmt.Sprintf(`{"channel":"local_delivery","location":"S01","lines":[{"sku":%q,"qty":1}]}`, sku), newKey())
	if res.StatusCode != 201 {
		t.Fatalf("hold: %d %s", res.StatusCode, body)
	}
	if d := time.Until(decodeAs[reservationBody](t, body).ExpiresAt); d > 7*time.Minute || d < 6*time.Minute {
		t.Fatalf("the new TTL applies to the next hold: %v", d)
	}
	audit, err := app.DB.ListAudit(ctx, store.AuditFilter{Entity: "channel_policy", EntityID: "local_delivery"})
	if err != nil || len(audit) == 0 || audit[0].Actor != "user:lead@demo.stockline" {
		t.Fatalf("policy change is audited: %+v %v", audit, err)
	}
	checkOK(t, app.DB)
}
