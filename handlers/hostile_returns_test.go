package handlers_test

import (
	"fmt"
	"slices"
	"strings"
)

// returnCases are the specific hostile requests to the returns and
// fulfilments API: quantities, dispositions, identifiers and ids. The
// world's order has nothing fulfilled, so even a well-formed body is
// refused (422 exceeds_fulfilled) and nothing moves.
func (h *hostileRun) returnCases() []hostileReq {
	w, sku := h.w, q(h.w.sku)
	order := fmt.Sprint(w.order)
	var out []hostileReq
	add := func(rs ...hostileReq) { out = append(out, rs...) }

	const returns = "/api/v1/returns"
	ret := `{"order":%s,"location":%s,"lines":[{"sku":%s,"qty":%s,"disposition":%s}]}`
	add(h.vary(returns, "", "qty", fmt.Sprintf(ret, order, `"S01"`, sku, "%s", `"restock"`), slices.Concat(hostileQtys, []string{"3"}), false)...)
	add(h.vary(returns, "", "sku", fmt.Sprintf(ret, order, `"S01"`, "%s", "1", `"restock"`), hostileTexts, true)...)
	add(h.vary(returns, "", "location", fmt.Sprintf(ret, order, "%s", sku, "1", `"restock"`), hostileTexts, true)...)
	add(h.vary(returns, "", "disposition", fmt.Sprintf(ret, order, `"S01"`, sku, "1", "%s"), hostileTexts, true)...)
	add(h.vary(returns, "", "order", fmt.Sprintf(ret, "%s", `"S01"`, sku, "1", `"restock"`), []string{"999999999", "-1", pow63, "1.5", `"1"`, "null"}, false)...)
	add(h.vary(returns, "", "exchange_order", `{"order":`+order+`,"location":"S01","lines":[{"sku":`+sku+`,"qty":1,"disposition":"restock"}],"exchange_order":%s}`,
		[]string{"999999999", "-1", pow63, "1.5", `"x"`}, false)...)
	// The optional reason on a line (the desk requires one for destroy).
	add(h.vary(returns, "", "reason", `{"order":`+order+`,"location":"S01","lines":[{"sku":`+sku+`,"qty":1,"disposition":"destroy","reason":%s}]}`,
		slices.Concat(quoted(hostileTexts), []string{q(strings.Repeat("r", 501)), "1", "[]", "{}", "null"}), false)...)
	// The optional exchange (replacement units reserved at the location).
	xch := `{"order":` + order + `,"location":"S01","lines":[{"sku":` + sku + `,"qty":1,"disposition":"restock"}],"exchange":{"lines":[{"sku":%s,"qty":%s}]}}`
	add(h.vary(returns, "", "exchange qty", fmt.Sprintf(xch, sku, "%s"), slices.Concat(hostileQtys, []string{"3"}), false)...)
	add(h.vary(returns, "", "exchange sku", fmt.Sprintf(xch, "%s", "1"), hostileTexts, true)...)
	add(h.vary(returns, "", "exchange", `{"order":`+order+`,"location":"S01","lines":[{"sku":`+sku+`,"qty":1,"disposition":"restock"}],"exchange":%s}`,
		[]string{`[]`, `"x"`, `1`, `{"lines":null}`, `{"lines":[]}`, `{"lines":[{"sku":` + sku + `,"qty":1},{"sku":` + sku + `,"qty":1}]}`}, false)...)
	add(h.apiReq(returns, "", "exchange of 2,200 lines of 1,000,000", `{"order":`+order+`,"location":"S01","lines":[{"sku":`+sku+`,"qty":1,"disposition":"restock"}],"exchange":{"lines":`+repeatedLines(h.w.sku, 2200, "1000000")+`}}`))
	add(h.apiReq(returns, "", "2,200 lines of 1,000,000", `{"order":`+order+`,"location":"S01","lines":`+repeatedLines(h.w.sku, 2200, "1000000")+`}`))

	const ful = "/api/v1/orders/:id/fulfilments"
	ship := `{"location":%s,"lines":[{"sku":%s,"qty":%s}],"tracking":"T"}`
	add(h.vary(ful, order, "qty", fmt.Sprintf(ship, `"S01"`, sku, "%s"), slices.Concat(hostileQtys, []string{"3"}), false)...)
	add(h.vary(ful, order, "sku", fmt.Sprintf(ship, `"S01"`, "%s", "1"), hostileTexts, true)...)
	add(h.vary(ful, order, "location", fmt.Sprintf(ship, "%s", sku, "1"), hostileTexts, true)...)
	add(h.idCases(ful, fmt.Sprintf(ship, `"S01"`, sku, "1"))...)
	add(h.apiReq(ful, order, "2,200 lines of 1,000,000", `{"location":"S01","tracking":"T","lines":`+repeatedLines(h.w.sku, 2200, "1000000")+`}`))
	return out
}

// quoted is each value as a JSON string.
func quoted(vs []string) []string {
	out := make([]string, len(vs))
	for i, v := range vs {
		out[i] = q(v)
	}
	return out
}
