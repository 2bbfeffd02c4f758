package handlers_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"testing"
	"time"

	"stockline/domain"
	"stockline/store"
)

// apiDriftSKU is the SKU the exceptions API and page tests count short;
// no other test touches it.
const apiDriftSKU = "ACC-11478"

// openTestDrift counts the SKU 10 short at loc (now) through the
// counts connector, which opens a drift, and returns its id.
func openTestDrift(t *testing.T, app *testApp, sku, loc string) int64 {
	t.Helper()
	ctx := context.Background()
	if _, err := app.DB.AdjustPosition(ctx, domain.SystemActor("test"), sku, loc,
		domain.Adjustment{Reason: domain.ReasonReceived, Delta: ptrInt(30), Note: "drift test stock"}); err != nil {
		t.Fatal(err)
	}
	var onHand int
	if err := app.DB.GetContext(ctx, &onHand, `SELECT p.on_hand FROM positions p JOIN products pr ON pr.id = p.product_id
		JOIN locations l ON l.id = p.location_id WHERE pr.sku = $1 AND l.code = $2`, sku, loc); err != nil {
		t.Fatal(err)
	}
	c, err := app.DB.CountsConnector(ctx)
	if err != nil {
		t.Fatal(err)
	}
	n := onHand - 10
	ev := store.InboundEvent{SourceEventID: fmt.Sprintf("drift-test-%s-%s-%d", sku, loc, time.Now().UnixNano()), Type: "count.row",
		OccurredAt: time.Now(), Payload: []byte(`{}`),
		Changes: []domain.StockChange{{Item: domain.Ref{Kind: domain.RefSKU, ID: sku}, Location: domain.Ref{Kind: domain.RefLocationCode, ID: loc}, Count: &n}}}
	if _, err := app.DB.IngestAs(ctx, c, []store.InboundEvent{ev}, domain.SystemActor("test")); err != nil {
		t.Fatal(err)
	}
	var id int64
	if err := app.DB.GetContext(ctx, &id, `SELECT e.id FROM exceptions e JOIN products pr ON pr.id = e.product_id JOIN locations l ON l.id = e.location_id
		WHERE e.kind = 'reconciliation_drift' AND e.status = 'open' AND pr.sku = $1 AND l.code = $2 ORDER BY e.id DESC LIMIT 1`, sku, loc); err != nil {
		t.Fatalf("no drift opened: %v", err)
	}
	return id
}

func keysOf(t *testing.T, raw json.RawMessage) []string {
	t.Helper()
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatalf("not an object: %s", raw)
	}
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

// TestExceptionsAPIContract checks the exact shapes and codes of the
// exceptions API.
func TestExceptionsAPIContract(t *testing.T) {
	app := newApp(t)
	id := openTestDrift(t, app, apiDriftSKU, "S03")
	listKeys := []string{"created_at", "due_at", "id", "kind", "location", "order", "resolution", "severity", "sku", "status"}

	res, body := app.apiDo(http.MethodGet, "/api/v1/exceptions?kind=reconciliation_drift&sku="+apiDriftSKU+"&location=S03&status=open&limit=1", "")
	if res.StatusCode != http.StatusOK {
		t.Fatalf("list: %d %s", res.StatusCode, body)
	}
	list := decodeAs[struct {
		Exceptions []json.RawMessage `json:"exceptions"`
		NextCursor *string           `json:"next_cursor"`
	}](t, body)
	if len(list.Exceptions) != 1 || list.NextCursor == nil || !slices.Equal(keysOf(t, list.Exceptions[0]), listKeys) {
		t.Fatalf("list shape: %s", body)
	}
	one := decodeAs[map[string]any](t, string(list.Exceptions[0]))
	if one["id"] != float64(id) || one["sku"] != apiDriftSKU || one["location"] != "S03" || one["order"] != nil || one["resolution"] != nil {
		t.Fatalf("list item: %v", one)
	}
	res, body = app.apiDo(http.MethodGet, "/api/v1/exceptions?kind=reconciliation_drift&sku="+apiDriftSKU+"&limit=1&cursor="+*list.NextCursor, "")
	if next := decodeAs[struct {
		Exceptions []json.RawMessage `json:"exceptions"`
	}](t, body); res.StatusCode != http.StatusOK || len(next.Exceptions) != 0 {
		t.Fatalf("page after the only one: %d %s", res.StatusCode, body)
	}
	for _, q := range []struct{ query, field string }{{"status=closed", "status"}, {"kind=drift", "kind"}, {"limit=0", "limit"}, {"order=x", "order"}} {
		res, body := app.apiDo(http.MethodGet, "/api/v1/exceptions?"+q.query, "")
		wantAPIError(t, res, body, http.StatusBadRequest, domain.EINVALID, q.field)
	}

	res, body = app.apiDo(http.MethodGet, fmt.Sprintf("/api/v1/exceptions/%d", id), "")
	if res.StatusCode != http.StatusOK {
		t.Fatalf("get: %d %s", res.StatusCode, body)
	}
	full := decodeAs[map[string]json.RawMessage](t, body)
	if !slices.Equal(keysOf(t, json.RawMessage(body)), slices.Sorted(slices.Values(append(slices.Clone(listKeys), "detail")))) {
		t.Fatalf("get shape: %s", body)
	}
	detailKeys := []string{"counted", "counted_at", "difference", "explanation", "held", "system", "value_difference"}
	if !slices.Equal(keysOf(t, full["detail"]), detailKeys) {
		t.Fatalf("detail shape: %s", full["detail"])
	}
	var detail struct {
		System, Counted, Difference, Held int
		ValueDifference                   string `json:"value_difference"`
		Explanation                       []json.RawMessage
	}
	json.Unmarshal(full["detail"], &detail)
	if detail.Difference != -10 || detail.Counted-detail.System != -10 || detail.Held != 10 || detail.ValueDifference[0] != '-' || len(detail.Explanation) == 0 {
		t.Fatalf("detail: %+v", detail)
	}
	rowKeys := []string{"bucket", "delta", "occurred_at", "reason", "recorded_at", "source", "source_ref"}
	if !slices.Equal(keysOf(t, detail.Explanation[0]), rowKeys) {
		t.Fatalf("explanation row: %s", detail.Explanation[0])
	}

	resolve := func(action string) (*http.Response, string) {
		return app.apiDo(http.MethodPost, fmt.Sprintf("/api/v1/exceptions/%d/resolve", id), fmt.Sprintf(`{"action":%q,"note":"api test"}`, action))
	}
	res, body = resolve("retry")
	wantAPIError(t, res, body, http.StatusUnprocessableEntity, domain.CodeActionNotAllowed, "action")
	res, body = resolve("accept_count")
	after := decodeAs[struct {
		Status     string
		Resolution *struct{ Code, Note, By string }
		Detail     struct{ Held, Difference int }
	}](t, body)
	if res.StatusCode != http.StatusOK || after.Status != "resolved" || after.Resolution == nil || after.Resolution.Code != "accepted_count" ||
		after.Resolution.By != "token:demo" || after.Detail.Held != 0 {
		t.Fatalf("accept: %d %s", res.StatusCode, body)
	}
	if res, body := resolve("accept_count"); res.StatusCode != http.StatusOK {
		t.Fatalf("same action again: %d %s", res.StatusCode, body)
	}
	res, body = resolve("keep_system")
	wantAPIError(t, res, body, http.StatusConflict, domain.CodeAlreadyResolved, "")
	res, body = app.apiDo(http.MethodGet, "/api/v1/exceptions/999999999", "")
	wantAPIError(t, res, body, http.StatusNotFound, domain.ENOTFOUND, "")
	rep, err := app.DB.Check(context.Background())
	if err != nil || !rep.OK() {
		t.Fatalf("check after the drift's resolution: %+v %v", rep, err)
	}
}
