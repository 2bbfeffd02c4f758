package handlers_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"

	"stockline/domain"
	"stockline/store"
)

// The hostile-input table (issue 13): one server, one database, many
// requests. Every request is refused with a clear 4xx, never a 500 and
// never internal text, and the whole run changes nothing, as a snapshot
// of the ledger, positions, reservations, orders and transfers taken
// before and after, and the consistency check, show.
//
// The generic part is built from the route table: every GET route gets
// NUL and invalid UTF-8 in its query; every POST route gets a body over
// the limit, NUL and invalid UTF-8 (in a form field, or in a
// JSON string and as raw bytes), and the JSON routes malformed and deeply
// nested bodies. The specific part puts hostile quantities, unknown ids,
// SQL metacharacters and markup into the fields of the API routes and the
// main forms.

// hostileWorld holds one live object of each kind, so a hostile request
// reaches the handler of a route that acts on an object and only the
// hostile part can refuse it.
type hostileWorld struct {
	sku                   string
	resv, order, line     int64
	xferReq, xferApproved int64
	xferShipped           int64
}

const (
	pow63     = "9223372036854775808" // 2^63: overflows int64
	maxInt64  = "9223372036854775807"
	belowMin  = "-9223372036854775809"
	pastLimit = "1000001" // domain.MaxQuantity + 1
)

// hostileTexts go where an identifier (SKU, location, channel, code) is
// expected: none names a real one.
var hostileTexts = []string{
	`' OR '1'='1`, `x'; DROP TABLE ledger; --`, `S01' --`, `%' UNION SELECT password_hash FROM users --`,
	`<script>alert(1)</script>`, `"><img src=x onerror=alert(1)>`, `{{.}}`, `NO-SUCH-404`,
}

// hostileIDs go into an id path parameter.
var hostileIDs = []string{"999999999", "0", "-1", pow63, "abc", "1.5", "1%20OR%201=1", "%3Cscript%3E", "1'", "%00"}

// internalText would betray the server's inside in an answer.
var internalText = regexp.MustCompile(`(?i)pq: |sqlstate|sql: |runtime error|goroutine |panic|stockline/|struct \{|strconv\.|json: |\.go:\d|invalid character|unexpected end of JSON`)

func newHostileWorld(t *testing.T, app *testApp) hostileWorld {
	t.Helper()
	ctx := context.Background()
	w := hostileWorld{sku: resvSKU(t, app.DB, 1960)}
	setBOPISReservable(t, app.DB, w.sku, "S01", 20)
	dc := 50
	if _, err := app.DB.Adjust(ctx, domain.SystemActor("test"), w.sku, "DC1", domain.Adjustment{Reason: domain.ReasonCycleCount, Counted: &dc}); err != nil {
		t.Fatal(err)
	}
	res, body := app.reserve(fmt.Sprintf(`{"channel":"bopis","location":"S01","checkout_ref":"hostile","lines":[{"sku":%q,"qty":1}]}`, w.sku), newKey())
	if res.StatusCode != http.StatusCreated {
		t.Fatalf("hold: %d %s", res.StatusCode, body)
	}
	w.resv = decodeAs[reservationBody](t, body).ID
	res, body = app.postOrder(fmt.Sprintf(`{"channel":"bopis","external_ref":"hostile-1","customer":{"name":"Hostile Probe","email":"hostile@example.com"},
		"pickup_location":"S01","payment_status":"authorized","lines":[{"sku":%q,"qty":2}]}`, w.sku), newKey())
	if res.StatusCode != http.StatusCreated {
		t.Fatalf("order: %d %s", res.StatusCode, body)
	}
	w.order = decodeAs[orderCreated](t, body).ID
	o, err := app.DB.OrderByID(ctx, w.order)
	if err != nil || len(o.Lines) != 1 {
		t.Fatalf("order %d: %v %+v", w.order, err, o.Lines)
	}
	w.line = o.Lines[0].ID
	xfer := func(steps ...string) int64 {
		res, body := app.apiDo(http.MethodPost, "/api/v1/transfers", fmt.Sprintf(`{"from":"DC1","to":"S03","lines":[{"sku":%q,"qty":2}]}`, w.sku), "Idempotency-Key", newKey())
		if res.StatusCode != http.StatusCreated {
			t.Fatalf("transfer: %d %s", res.StatusCode, body)
		}
		id := decodeAs[transferBody](t, body).ID
		for _, s := range steps {
			if res, body := app.apiDo(http.MethodPost, fmt.Sprintf("/api/v1/transfers/%d/%s", id, s), fmt.Sprintf(`{"lines":[{"sku":%q,"qty":2}],"tracking":"T-1"}`, w.sku)); res.StatusCode != http.StatusOK {
				t.Fatalf("transfer %s: %d %s", s, res.StatusCode, body)
			}
		}
		return id
	}
	w.xferReq, w.xferApproved, w.xferShipped = xfer(), xfer("approve"), xfer("approve", "ship")
	return w
}

// params are the path parameter values that reach a live object for the
// route (the transfer in the state the action needs), else the demo ones.
func (w hostileWorld) params(path string) map[string]string {
	p := map[string]string{}
	for k, v := range secDemoParams {
		p[k] = v
	}
	switch {
	case strings.HasPrefix(path, "/api/v1/reservations/"), strings.HasPrefix(path, "/reservations/"):
		p["id"] = fmt.Sprint(w.resv)
	case strings.HasPrefix(path, "/api/v1/orders/"), strings.HasPrefix(path, "/orders/"), strings.HasPrefix(path, "/pickups/"):
		p["id"], p["line"] = fmt.Sprint(w.order), fmt.Sprint(w.line)
	case strings.HasSuffix(path, "/ship"):
		p["id"] = fmt.Sprint(w.xferApproved)
	case strings.HasSuffix(path, "/receive"):
		p["id"] = fmt.Sprint(w.xferShipped)
	case strings.HasPrefix(path, "/api/v1/transfers/"):
		p["id"] = fmt.Sprint(w.xferReq)
	case strings.HasPrefix(path, "/inventory/"):
		p["sku"] = w.sku
	}
	return p
}

// hostileSnapshot fingerprints what a hostile request must not change:
// the ledger, every position, reservation, order, line, transfer and
// policy, and the audit, timeline and notification rows. (A count file
// with bad lines is stored unapplied by design, so count_uploads and its
// audit rows are left out; the ledger and positions show that it moved
// nothing.)
func hostileSnapshot(t *testing.T, db *store.DB) string {
	t.Helper()
	var s string
	err := db.GetContext(context.Background(), &s, `SELECT concat_ws(' | ',
		(SELECT count(*) || ' rows, last ' || coalesce(max(id), 0) FROM ledger),
		(SELECT md5(string_agg(p::text, ';' ORDER BY p::text)) FROM positions p),
		(SELECT count(*) || ' ' || md5(coalesce(string_agg(r::text, ';' ORDER BY r::text), '')) FROM reservations r),
		(SELECT count(*) || ' ' || md5(coalesce(string_agg(o::text, ';' ORDER BY o::text), '')) FROM orders o),
		(SELECT md5(coalesce(string_agg(l::text, ';' ORDER BY l::text), '')) FROM order_lines l),
		(SELECT count(*) || ' ' || md5(coalesce(string_agg(x::text, ';' ORDER BY x::text), '')) FROM transfers x),
		(SELECT md5(coalesce(string_agg(x::text, ';' ORDER BY x::text), '')) FROM transfer_lines x),
		(SELECT md5(string_agg(p::text, ';' ORDER BY p::text)) FROM channel_policies p),
		(SELECT string_agg(action || ' ' || n, ',' ORDER BY action) FROM (SELECT action, count(*) n FROM audit_log WHERE action <> 'counts.upload' GROUP BY action) a),
		(SELECT count(*) FROM order_events), (SELECT count(*) FROM notifications),
		(SELECT count(*) FROM transfer_events), (SELECT count(*) FROM exceptions))`)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// hostileReq is one hostile request and what it must get.
type hostileReq struct {
	name, method, route, path string
	body                      []byte
	ctype                     string
	hdr                       []string // pairs
	api                       bool     // bearer token; else a browser with its CSRF token
	b                         *browser // the browser; nil for the signed-in admin
	want                      int      // the exact status, or 0 for any 4xx
}

// send sends r and checks the answer: a 4xx (or want), no internal text,
// no unescaped markup from the request, and for the API the error shape.
func (h *hostileRun) send(r hostileReq) {
	t := h.t
	t.Helper()
	req, _ := http.NewRequest(r.method, h.app.URL+r.path, strings.NewReader(string(r.body)))
	req.ContentLength = int64(len(r.body))
	if r.ctype != "" {
		req.Header.Set("Content-Type", r.ctype)
	}
	b := h.b
	if r.b != nil {
		b = r.b
	}
	client := b.c
	if r.api {
		req.Header.Set("Authorization", "Bearer "+store.DemoToken)
		client = http.DefaultClient
	} else {
		req.Header.Set("X-CSRF-Token", b.csrf)
	}
	for i := 0; i+1 < len(r.hdr); i += 2 {
		req.Header.Set(r.hdr[i], r.hdr[i+1])
	}
	res, err := client.Do(req)
	if err != nil {
		t.Errorf("%s: %v", r.name, err)
		return
	}
	raw, _ := io.ReadAll(res.Body)
	res.Body.Close()
	body := string(raw)
	h.mu.Lock()
	h.covered[r.method+" "+r.route] = true
	h.sent++
	h.mu.Unlock()
	switch {
	case r.want != 0 && res.StatusCode != r.want:
		t.Errorf("%s: %d, want %d: %.300s", r.name, res.StatusCode, r.want, body)
	case res.StatusCode < 400 || res.StatusCode >= 500:
		t.Errorf("%s: %d, want a 4xx: %.300s", r.name, res.StatusCode, body)
	}
	if m := internalText.FindString(body); m != "" {
		t.Errorf("%s: the answer shows internal text %q: %.300s", r.name, m, body)
	}
	if strings.Contains(body, "<script>alert") || strings.Contains(body, "<img src=x") {
		t.Errorf("%s: the answer carries the request's markup unescaped: %.300s", r.name, body)
	}
	if strings.HasPrefix(r.path, "/api/") {
		secAPIError(t, r.name, res, body)
	}
}

type hostileRun struct {
	t        *testing.T
	app      *testApp
	b        *browser // the signed-in admin
	w        hostileWorld
	covered  map[string]bool // "POST /route" -> sent at least one request
	specific map[string]int  // route -> specific (not generic) cases
	sent     int
	mu       sync.Mutex // guards covered and sent
}

// TestHostileInputsAreRefusedAndChangeNothing is the table.
func TestHostileInputsAreRefusedAndChangeNothing(t *testing.T) {
	app := newApp(t)
	h := &hostileRun{t: t, app: app, w: newHostileWorld(t, app), covered: map[string]bool{}, specific: map[string]int{}}
	h.b = app.login(domain.RoleAdmin)
	before := hostileSnapshot(t, app.DB)

	// Four at a time: every one is refused, so their order does not
	// matter, and a wrongly accepted one still shows in the snapshot.
	cases := slices.Concat(h.genericCases(), h.apiCases(), h.formCases())
	next := make(chan hostileReq)
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for r := range next {
				h.send(r)
			}
		})
	}
	for _, r := range cases {
		next <- r
	}
	close(next)
	wg.Wait()

	// Every POST route of the table met the generic cases; every API
	// route and main form also met its specific ones.
	must := slices.Clone(hostileFormRoutes)
	for _, rt := range app.Srv.RouteAccess() {
		if rt.Method != http.MethodPost && (rt.Method != http.MethodGet || strings.Contains(rt.Path, "*")) {
			continue
		}
		if !h.covered[rt.Method+" "+rt.Path] {
			t.Errorf("%s %s: the hostile table never reached it", rt.Method, rt.Path)
		}
		if rt.Method == http.MethodPost && len(rt.Access.Scopes) > 0 {
			must = append(must, rt.Path)
		}
	}
	for _, route := range must {
		if h.specific[route] == 0 {
			t.Errorf("POST %s has no specific hostile cases (quantities, ids, identifiers): add them to handlers/hostile_cases_test.go", route)
		}
	}
	if after := hostileSnapshot(t, app.DB); after != before {
		t.Errorf("hostile requests changed something:\nbefore %s\nafter  %s", before, after)
	}
	checkOK(t, app.DB)
	t.Logf("%d hostile requests", h.sent)
}

// genericCases are built from the route table: each POST route gets a
// body over the limit, NUL and invalid UTF-8; the JSON routes also get
// malformed, wrongly shaped and deeply nested bodies.
func (h *hostileRun) genericCases() []hostileReq {
	var out []hostileReq
	huge := strings.Repeat("a", 2<<20)
	for _, rt := range h.app.Srv.RouteAccess() {
		if rt.Method == http.MethodGet && !strings.Contains(rt.Path, "*") {
			// Every GET route: NUL and invalid UTF-8 in the query are 400.
			path := secPath(h.t, rt.Path, h.w.params(rt.Path))
			for _, q := range []string{"q=a%00b&sku=a%00b", "q=a%FFb&location=%FE"} {
				out = append(out, hostileReq{name: "GET " + rt.Path + "?" + q, method: rt.Method, route: rt.Path, path: path + "?" + q,
					api: len(rt.Access.Scopes) > 0, want: http.StatusBadRequest})
			}
			continue
		}
		if rt.Method != http.MethodPost {
			continue
		}
		path := secPath(h.t, rt.Path, h.w.params(rt.Path))
		api := len(rt.Access.Scopes) > 0
		add := func(name string, body, ctype string, want int) {
			r := hostileReq{name: "POST " + rt.Path + ": " + name, method: rt.Method, route: rt.Path, path: path,
				body: []byte(body), ctype: ctype, api: api, want: want}
			if api {
				r.hdr = []string{"Idempotency-Key", newKey()}
			}
			out = append(out, r)
		}
		if rt.Path == "/webhooks/shopify" {
			add("6 MiB body", `{"id":"`+strings.Repeat(huge, 3)+`"}`, "application/json", http.StatusRequestEntityTooLarge)
			add("unsigned NUL", "{\"id\":\"\x00\"}", "application/json", 0)
			continue
		}
		if !api {
			form := func(v string) string {
				return "_csrf=" + url.QueryEscape(h.b.csrf) + "&note=" + v + "&name=" + v + "&location=S01"
			}
			tooLarge := http.StatusRequestEntityTooLarge
			if rt.Path == "/counts" {
				tooLarge = 0 // its limit is 21 MiB: 2 MiB with no file is a form error
			}
			add("2 MiB form", form(huge), "application/x-www-form-urlencoded", tooLarge)
			add("NUL in a field", form("a%00b"), "application/x-www-form-urlencoded", http.StatusBadRequest)
			add("invalid UTF-8 in a field", form("a%FF%FEb"), "application/x-www-form-urlencoded", http.StatusBadRequest)
			add("NUL in a field name", form("x")+"&a%00=1", "application/x-www-form-urlencoded", http.StatusBadRequest)
			continue
		}
		for _, c := range []struct{ name, body string }{
			{"2 MiB body", `{"note":"` + huge + `"}`},
			{"NUL in a string", `{"note":"a\u0000b","reason":"a\u0000b","order_ref":"a\u0000b","sku":"a\u0000b"}`},
			{"raw invalid UTF-8", "{\"note\":\"a\xff\xfeb\",\"reason\":\"a\xffb\",\"order_ref\":\"a\xffb\",\"sku\":\"a\xffb\"}"},
			{"not JSON", `{"lines":[`},
			{"deep nesting", `{"lines":` + strings.Repeat("[", 100_000) + strings.Repeat("]", 100_000) + `}`},
			{"deep objects", strings.Repeat(`{"a":`, 50_000) + "1" + strings.Repeat("}", 50_000)},
			{"a list body", `[1,2,3]`},
			{"two objects", `{}{}`},
		} {
			want := 0
			if c.name == "2 MiB body" {
				want = http.StatusRequestEntityTooLarge
			}
			add(c.name, c.body, "application/json", want)
		}
	}
	return out
}
