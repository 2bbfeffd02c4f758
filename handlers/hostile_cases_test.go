package handlers_test

import (
	"fmt"
	"mime/multipart"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"stockline/domain"
)

// hostileQtys go where a whole number of units is expected: each is
// negative, zero, fractional, out of int64 or past the largest quantity,
// or not a number at all.
var hostileQtys = []string{"-1", "0", "1.5", pow63, maxInt64, belowMin, pastLimit, `"2"`, "null", "1e3", "true", "[]"}

// hostileFormRoutes are the main forms that must have specific cases.
var hostileFormRoutes = []string{
	"/inventory/:sku/adjust", "/orders/:id/lines/:line/cancel", "/pickups/:id/lines/:line/cancel", "/orders/:id/notes",
	"/orders/:id/pickup-location", "/pickups/:id/pickup-location", "/login", "/counts", "/policies/:channel",
}

// q is a JSON string literal.
func q(s string) string { return fmt.Sprintf("%q", s) }

// apiReq is a specific hostile request to a JSON API route; id fills the
// route's :id ("" for a route without one).
func (h *hostileRun) apiReq(route, id, name, body string) hostileReq {
	h.specific[route]++
	path := strings.Replace(route, ":id", id, 1)
	return hostileReq{name: "POST " + path + ": " + name, method: http.MethodPost, route: route, path: path, body: []byte(body),
		ctype: "application/json", api: true, hdr: []string{"Idempotency-Key", newKey()}}
}

// vary returns one request per hostile value put where tmpl has %s.
func (h *hostileRun) vary(route, id, what, tmpl string, values []string, quote bool) []hostileReq {
	var out []hostileReq
	for _, v := range values {
		if quote {
			v = q(v)
		}
		out = append(out, h.apiReq(route, id, what+" "+v, fmt.Sprintf(tmpl, v)))
	}
	return out
}

// idCases put hostile ids into the route's :id, with a body that would
// otherwise be accepted.
func (h *hostileRun) idCases(route, body string) []hostileReq {
	var out []hostileReq
	for _, id := range hostileIDs {
		out = append(out, h.apiReq(route, id, "id "+id, body))
	}
	return out
}

func (h *hostileRun) apiCases() []hostileReq {
	w, sku := h.w, q(h.w.sku)
	id := func(n int64) string { return fmt.Sprint(n) }
	var out []hostileReq
	add := func(rs ...hostileReq) { out = append(out, rs...) }

	const adj = "/api/v1/adjustments"
	// A negative delta is a correction (or shrinkage), not a hostile value.
	add(h.vary(adj, "", "delta", `{"sku":`+sku+`,"location":"S01","reason":"received","delta":%s}`, hostileQtys[1:], false)...)
	add(h.vary(adj, "", "counted", `{"sku":`+sku+`,"location":"S01","reason":"cycle_count","counted":%s}`, []string{"-1", "1.5", pow63, pastLimit, `"3"`}, false)...)
	add(h.vary(adj, "", "sku", `{"sku":%s,"location":"S01","reason":"received","delta":1}`, hostileTexts, true)...)
	add(h.vary(adj, "", "location", `{"sku":`+sku+`,"location":%s,"reason":"received","delta":1}`, hostileTexts, true)...)
	add(h.vary(adj, "", "reason", `{"sku":`+sku+`,"location":"S01","reason":%s,"delta":1}`, hostileTexts, true)...)
	add(h.apiReq(adj, "", "a note over the limit", `{"sku":`+sku+`,"location":"S01","reason":"received","delta":1,"note":"`+strings.Repeat("n", domain.MaxNoteLength+1)+`"}`))

	const resv = "/api/v1/reservations"
	hold := `{"channel":%s,"location":%s,"checkout_ref":"hostile","lines":[{"sku":%s,"qty":%s}]}`
	add(h.vary(resv, "", "qty", fmt.Sprintf(hold, `"bopis"`, `"S01"`, sku, "%s"), hostileQtys, false)...)
	add(h.vary(resv, "", "sku", fmt.Sprintf(hold, `"bopis"`, `"S01"`, "%s", "1"), hostileTexts, true)...)
	add(h.vary(resv, "", "location", fmt.Sprintf(hold, `"bopis"`, "%s", sku, "1"), hostileTexts, true)...)
	add(h.vary(resv, "", "channel", fmt.Sprintf(hold, "%s", `"S01"`, sku, "1"), hostileTexts, true)...)
	add(h.apiReq(resv, "", "no lines", `{"channel":"bopis","location":"S01","checkout_ref":"hostile","lines":[]}`))
	add(h.apiReq(resv, "", "5,000 lines", `{"channel":"bopis","location":"S01","checkout_ref":"hostile","lines":[`+
		strings.TrimSuffix(strings.Repeat(`{"sku":`+sku+`,"qty":1},`, 5000), ",")+`]}`))
	// The key is opaque (quotes and markup in it are only ever bound as a
	// parameter); what is refused is a key too long or not printable.
	for _, key := range []string{strings.Repeat("k", 300), "a\tb", "ключ"} {
		r := h.apiReq(resv, "", "Idempotency-Key "+key[:min(len(key), 20)], fmt.Sprintf(hold, `"bopis"`, `"S01"`, sku, "1"))
		r.hdr = []string{"Idempotency-Key", key}
		add(r)
	}
	add(h.idCases("/api/v1/reservations/:id/commit", `{"order_ref":"hostile"}`)...)
	add(h.idCases("/api/v1/reservations/:id/release", `{"reason":"customer_abandoned"}`)...)
	// The release reason is free text (bound as a parameter, escaped when
	// shown): what is refused is none, or too much.
	add(h.vary("/api/v1/reservations/:id/release", id(w.resv), "reason", `{"reason":%s}`, []string{"", "   ", strings.Repeat("r", domain.MaxRefLength+1)}, true)...)

	const orders = "/api/v1/orders"
	order := `{"channel":%s,"external_ref":"hostile-x","customer":{"name":"H"},"pickup_location":%s,"payment_status":"authorized","lines":[{"sku":%s,"qty":%s}]}`
	add(h.vary(orders, "", "qty", fmt.Sprintf(order, `"bopis"`, `"S01"`, sku, "%s"), hostileQtys, false)...)
	add(h.vary(orders, "", "channel", fmt.Sprintf(order, "%s", `"S01"`, sku, "1"), hostileTexts, true)...)
	add(h.vary(orders, "", "pickup_location", fmt.Sprintf(order, `"bopis"`, "%s", sku, "1"), hostileTexts, true)...)
	add(h.vary(orders, "", "reservation_id", `{"channel":"bopis","external_ref":"hostile-r","customer":{"name":"H"},"pickup_location":"S01","reservation_id":%s,"lines":[{"sku":`+sku+`,"qty":1}]}`,
		[]string{"999999999", "-1", pow63, "1.5", `"1"`}, false)...)

	const cancel = "/api/v1/orders/:id/cancel"
	add(h.vary(cancel, id(w.order), "qty", `{"reason_code":"customer_request","lines":[{"sku":`+sku+`,"qty":%s}]}`, slices.Concat(hostileQtys, []string{"3"}), false)...)
	add(h.vary(cancel, id(w.order), "sku", `{"reason_code":"customer_request","lines":[{"sku":%s,"qty":1}]}`, hostileTexts, true)...)
	add(h.vary(cancel, id(w.order), "reason_code", `{"reason_code":%s}`, hostileTexts, true)...)
	add(h.idCases(cancel, `{"reason_code":"customer_request"}`)...)

	const xfers = "/api/v1/transfers"
	add(h.vary(xfers, "", "qty", `{"from":"DC1","to":"S03","lines":[{"sku":`+sku+`,"qty":%s}]}`, hostileQtys, false)...)
	add(h.vary(xfers, "", "from", `{"from":%s,"to":"S03","lines":[{"sku":`+sku+`,"qty":1}]}`, hostileTexts, true)...)
	add(h.vary(xfers, "", "to", `{"from":"DC1","to":%s,"lines":[{"sku":`+sku+`,"qty":1}]}`, hostileTexts, true)...)
	add(h.vary(xfers, "", "sku", `{"from":"DC1","to":"S03","lines":[{"sku":%s,"qty":1}]}`, hostileTexts, true)...)
	add(h.vary(xfers, "", "needed_by", `{"from":"DC1","to":"S03","lines":[{"sku":`+sku+`,"qty":1}],"needed_by":%s}`,
		slices.Concat([]string{"2026-02-30", "99999-01-01", "yesterday"}, hostileTexts[:3]), true)...)
	for _, act := range []string{"approve", "reject", "cancel"} {
		add(h.idCases(xfers+"/:id/"+act, `{"note":"hostile"}`)...)
	}
	ship, recv := xfers+"/:id/ship", xfers+"/:id/receive"
	add(h.vary(ship, id(w.xferApproved), "qty", `{"lines":[{"sku":`+sku+`,"qty":%s}],"tracking":"T"}`, slices.Concat(hostileQtys, []string{"3"}), false)...)
	add(h.vary(ship, id(w.xferApproved), "sku", `{"lines":[{"sku":%s,"qty":1}],"tracking":"T"}`, hostileTexts, true)...)
	add(h.idCases(ship, `{"lines":[{"sku":`+sku+`,"qty":1}]}`)...)
	// Receiving 0 (or null) of a line is a count of nothing arrived, as is
	// an empty receipt, and more than shipped is a variance: not hostile.
	recvQtys := slices.DeleteFunc(slices.Clone(hostileQtys), func(v string) bool { return v == "0" || v == "null" })
	add(h.vary(recv, id(w.xferShipped), "qty", `{"lines":[{"sku":`+sku+`,"qty":%s}]}`, recvQtys, false)...)
	add(h.vary(recv, id(w.xferShipped), "damaged", `{"lines":[{"sku":`+sku+`,"qty":1,"damaged":%s}]}`, []string{"-1", "2", "1.5", pow63}, false)...)
	add(h.vary(recv, id(w.xferShipped), "sku", `{"lines":[{"sku":%s,"qty":1}]}`, hostileTexts, true)...)
	add(h.idCases(recv, `{"lines":[{"sku":`+sku+`,"qty":1}]}`)...)

	// The same SKU on 2,200 lines of 1,000,000 each: every line is in
	// bounds, their sum is past what a quantity (and PostgreSQL's integer)
	// can hold.
	many := repeatedLines(h.w.sku, 2200, "1000000")
	add(h.apiReq(resv, "", "2,200 lines of 1,000,000", `{"channel":"bopis","location":"S01","checkout_ref":"hostile","lines":`+many+`}`))
	add(h.apiReq(orders, "", "2,200 lines of 1,000,000", `{"channel":"bopis","external_ref":"hostile-m","customer":{"name":"H"},"pickup_location":"S01","lines":`+many+`}`))
	add(h.apiReq(cancel, id(w.order), "2,200 lines of 1,000,000", `{"reason_code":"customer_request","lines":`+many+`}`))
	add(h.apiReq(xfers, "", "2,200 lines of 1,000,000", `{"from":"DC1","to":"S03","lines":`+many+`}`))
	add(h.apiReq(ship, id(w.xferApproved), "2,200 lines of 1,000,000", `{"tracking":"T","lines":`+many+`}`))
	add(h.apiReq(recv, id(w.xferShipped), "2,200 lines of 1,000,000", `{"lines":`+many+`}`))
	return out
}

// repeatedLines is a JSON list of n lines of sku, each of qty.
func repeatedLines(sku string, n int, qty string) string {
	return "[" + strings.TrimSuffix(strings.Repeat(`{"sku":`+q(sku)+`,"qty":`+qty+`},`, n), ",") + "]"
}

// formReq is a specific hostile form post by the signed-in admin (or by
// b when given); path is route with its parameters filled.
func (h *hostileRun) formReq(route, path, name string, form url.Values) hostileReq {
	h.specific[route]++
	form.Set("_csrf", h.b.csrf)
	return hostileReq{name: "POST " + path + ": " + name, method: http.MethodPost, route: route, path: path,
		body: []byte(form.Encode()), ctype: "application/x-www-form-urlencoded"}
}

// formVary posts base with field set to each value in turn.
func (h *hostileRun) formVary(route, path, field string, base url.Values, values []string) []hostileReq {
	var out []hostileReq
	for _, v := range values {
		f := url.Values{}
		for k, vs := range base {
			f[k] = vs
		}
		f.Set(field, v)
		out = append(out, h.formReq(route, path, field+"="+v[:min(len(v), 40)], f))
	}
	return out
}

// formQtys are hostile quantities typed into a page form.
var formQtys = []string{"-1", "0", "1.5", pow63, maxInt64, belowMin, pastLimit, "1e3", "two", "0x10", "+-1", "1 1"}

func (h *hostileRun) formCases() []hostileReq {
	w := h.w
	var out []hostileReq
	add := func(rs ...hostileReq) { out = append(out, rs...) }
	o, l := fmt.Sprint(w.order), fmt.Sprint(w.line)

	adjust := "/inventory/" + w.sku + "/adjust"
	base := url.Values{"location": {"S01"}, "reason": {"received"}, "mode": {"delta"}, "quantity": {"1"}}
	add(h.formVary("/inventory/:sku/adjust", adjust, "quantity", base, slices.Concat(formQtys[1:], []string{""}))...)
	add(h.formVary("/inventory/:sku/adjust", adjust, "location", base, hostileTexts)...)
	add(h.formVary("/inventory/:sku/adjust", adjust, "reason", base, hostileTexts)...)
	add(h.formVary("/inventory/:sku/adjust", adjust, "mode", base, hostileTexts)...)
	add(h.formVary("/inventory/:sku/adjust", adjust, "note", base, []string{strings.Repeat("n", domain.MaxNoteLength+1)})...)
	for _, sku := range []string{"NO-SUCH-404", "%27%20OR%20%271%27=%271", "%3Cscript%3Ealert(1)%3C%2Fscript%3E"} {
		add(h.formReq("/inventory/:sku/adjust", "/inventory/"+sku+"/adjust", "sku "+sku, url.Values{"location": {"S01"}, "reason": {"received"}, "mode": {"delta"}, "quantity": {"1"}}))
	}

	for _, prefix := range []string{"/orders", "/pickups"} {
		route := prefix + "/:id/lines/:line/cancel"
		base := url.Values{"reason_code": {"customer_request"}, "qty": {"1"}}
		add(h.formVary(route, prefix+"/"+o+"/lines/"+l+"/cancel", "qty", base, slices.Concat(formQtys, []string{"3"}))...)
		add(h.formVary(route, prefix+"/"+o+"/lines/"+l+"/cancel", "reason_code", base, hostileTexts)...)
		for _, bad := range hostileIDs {
			add(h.formReq(route, prefix+"/"+o+"/lines/"+bad+"/cancel", "line "+bad, url.Values{"reason_code": {"customer_request"}, "qty": {"1"}}))
			add(h.formReq(route, prefix+"/"+bad+"/lines/"+l+"/cancel", "order "+bad, url.Values{"reason_code": {"customer_request"}, "qty": {"1"}}))
		}
		pick := prefix + "/:id/pickup-location"
		add(h.formVary(pick, prefix+"/"+o+"/pickup-location", "location", url.Values{}, slices.Concat([]string{"", "DC1"}, hostileTexts))...)
		for _, bad := range hostileIDs {
			add(h.formReq(pick, prefix+"/"+bad+"/pickup-location", "order "+bad, url.Values{"location": {"S02"}}))
		}
	}

	notes := "/orders/" + o + "/notes"
	add(h.formVary("/orders/:id/notes", notes, "note", url.Values{}, []string{"", "   ", strings.Repeat("n", 2001)})...)
	for _, bad := range hostileIDs {
		add(h.formReq("/orders/:id/notes", "/orders/"+bad+"/notes", "order "+bad, url.Values{"note": {"hello"}}))
	}

	policy := url.Values{"eligible_kinds": {"store"}, "reserve_at": {"checkout_start"}, "require_pickup": {"true"},
		"hold_ttl": {"15"}, "safety_stock": {"0"}, "max_split": {"1"}, "pickup_window": {"72"}}
	for _, field := range []string{"hold_ttl", "safety_stock", "max_split", "pickup_window"} {
		add(h.formVary("/policies/:channel", "/policies/bopis", field, policy, []string{"-1", "1.5", pow63, maxInt64, belowMin, "1e3", "", "two"})...)
	}
	add(h.formVary("/policies/:channel", "/policies/bopis", "reserve_at", policy, hostileTexts)...)
	add(h.formVary("/policies/:channel", "/policies/bopis", "eligible_kinds", policy, hostileTexts)...)
	for _, ch := range []string{"no_such", "%27%20OR%201=1", "%3Cscript%3E"} {
		add(h.formReq("/policies/:channel", "/policies/"+ch, "channel "+ch, policy))
	}
	add(h.loginCases()...)
	add(h.countCases()...)
	return out
}

// loginCases sign in from an address of their own, so their failures
// throttle no other test.
func (h *hostileRun) loginCases() []hostileReq {
	lb := secBrowserFrom(h.app, secIP())
	lb.get("/login")
	var out []hostileReq
	try := func(name string, form url.Values) {
		h.specific["/login"]++
		form.Set("_csrf", lb.csrf)
		out = append(out, hostileReq{name: "POST /login: " + name, method: http.MethodPost, route: "/login", path: "/login",
			body: []byte(form.Encode()), ctype: "application/x-www-form-urlencoded", b: lb})
	}
	// A failed sign-in costs a full bcrypt on purpose, so a few suffice.
	for _, email := range []string{hostileTexts[1], hostileTexts[4], "", strings.Repeat("e", 5000) + "@example.com"} {
		try("email "+email[:min(len(email), 30)], url.Values{"email": {email}, "password": {"wrong-password"}})
	}
	admin := demoUser(h.t, domain.RoleAdmin)
	try("password of 73 bytes", url.Values{"email": {admin.Email}, "password": {strings.Repeat("p", 73)}})
	try("SQL in the password", url.Values{"email": {"nobody@example.com"}, "password": {`' OR '1'='1`}})
	return out
}

// countCases upload count files with hostile lines and locations: each is
// refused, or stored unapplied with its errors (422); no stock moves.
func (h *hostileRun) countCases() []hostileReq {
	var out []hostileReq
	upload := func(name, location, file string) {
		h.specific["/counts"]++
		var b strings.Builder
		mw := multipart.NewWriter(&b)
		mw.WriteField("_csrf", h.b.csrf)
		mw.WriteField("location", location)
		fw, _ := mw.CreateFormFile("file", "counts.csv")
		fw.Write([]byte(file))
		mw.Close()
		out = append(out, hostileReq{name: "POST /counts: " + name, method: http.MethodPost, route: "/counts", path: "/counts",
			body: []byte(b.String()), ctype: mw.FormDataContentType()})
	}
	for _, qty := range []string{"-1", "1.5", pow63, maxInt64, pastLimit, "1e3", "two", ""} {
		upload("quantity "+qty, "S01", "sku,quantity\n"+h.w.sku+","+qty+"\n")
	}
	for _, text := range hostileTexts {
		upload("sku "+text, "S01", "sku,quantity\n\""+strings.ReplaceAll(text, `"`, `""`)+"\",1\n")
		upload("location "+text, text, "sku,quantity\n"+h.w.sku+",1\n")
	}
	upload("NUL in the file", "S01", "sku,quantity\n"+h.w.sku+"\x00,1\n")
	upload("invalid UTF-8 in the file", "S01", "sku,quantity\n"+h.w.sku+"\xff,1\n")
	upload("a binary file", "S01", "\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
	upload("no lines", "S01", "sku,quantity\n")
	upload("unbalanced quotes", "S01", "sku,quantity\n\""+h.w.sku+",1\n")
	return out
}
