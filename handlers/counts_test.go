package handlers_test

import (
	"bytes"
	"context"
	"io"
	"mime/multipart"
	"net/http"
	"strings"
	"testing"
	"time"

	"stockline/domain"
)

// upload posts a count file as a multipart form with the browser's CSRF
// token.
func (b *browser) upload(path, location, filename, csv string, hdr ...string) (*http.Response, string) {
	b.t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	mw.WriteField("_csrf", b.csrf)
	mw.WriteField("location", location)
	fw, _ := mw.CreateFormFile("file", filename)
	io.WriteString(fw, csv)
	mw.Close()
	req, _ := http.NewRequest(http.MethodPost, b.app.URL+path, &buf)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	res, err := b.c.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if m := csrfInput.FindSubmatch(body); m != nil {
		b.csrf = string(m[1])
	}
	return res, string(body)
}

func TestCountUploadAppliesAWhollyValidFile(t *testing.T) {
	app := newApp(t)
	ctx := context.Background()
	var barcode string
	app.DB.GetContext(ctx, &barcode, `SELECT barcode FROM products WHERE sku = 'KIT-11991'`)
	b := app.login(domain.RoleAssociate) // S01 only
	res, body := b.get("/counts")
	if res.StatusCode != http.StatusOK || !strings.Contains(body, `data-testid="count-form"`) || !strings.Contains(body, `value="S01"`) ||
		strings.Contains(body, `value="S02"`) {
		t.Fatalf("counts page: %d\n%s", res.StatusCode, body)
	}
	// Not their store: refused next to the field, nothing stored.
	res, body = b.upload("/counts", "S02", "count.csv", "sku,quantity\nHOM-11988,3\n")
	if res.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(body, `data-testid="err-location"`) {
		t.Fatalf("other store: %d\n%s", res.StatusCode, body)
	}
	csv := "sku,barcode,quantity,counted_at\r\nHOM-11988,,7,\r\n," + barcode + ",0," + time.Now().Add(-time.Hour).Format(time.RFC3339) + "\r\n\r\n"
	res, _ = b.upload("/counts", "S01", "s01-count.csv", csv)
	if res.StatusCode != http.StatusSeeOther || !strings.HasPrefix(res.Header.Get("Location"), "/counts/") {
		t.Fatalf("valid file: %d %s", res.StatusCode, res.Header.Get("Location"))
	}
	_, body = b.get(res.Header.Get("Location"))
	if !strings.Contains(body, "Applied 2 counts at S01") || !strings.Contains(body, "Applied") {
		t.Fatalf("confirmation missing:\n%s", body)
	}
	if got := onHand(t, app.DB, "HOM-11988", "S01"); got != 7 {
		t.Fatalf("HOM-11988@S01 on hand %d, want 7", got)
	}
	// Counted 0 of 3: beyond the threshold, so the count waits in a drift
	// exception with the shortfall held, and on_hand stays.
	if got := onHand(t, app.DB, "KIT-11991", "S01"); got != 3 || !hasOpenDrift(t, app, "KIT-11991", "S01") {
		t.Fatalf("KIT-11991@S01 on hand %d, want 3 with an open drift", got)
	}
	var actor, reason string
	app.DB.QueryRowContext(ctx, `SELECT g.actor, g.reason FROM ledger g JOIN products p ON p.id = g.product_id
		WHERE p.sku = 'HOM-11988' ORDER BY g.id DESC LIMIT 1`).Scan(&actor, &reason)
	if actor != "user:associate@demo.stockline" || reason != "cycle_count" {
		t.Fatalf("ledger actor %q reason %q", actor, reason)
	}
	// The same file via htmx answers with HX-Redirect.
	res, _ = b.upload("/counts", "S01", "again.csv", "sku,quantity\nHOM-11988,8\n", "HX-Request", "true")
	if res.StatusCode != http.StatusOK || !strings.HasPrefix(res.Header.Get("HX-Redirect"), "/counts/") {
		t.Fatalf("htmx upload: %d %v", res.StatusCode, res.Header)
	}
	connCheckOK(t, app.DB)
}

func TestCountUploadWithErrorsAppliesNothingUntilAskedForValidRows(t *testing.T) {
	app := newApp(t)
	before := onHand(t, app.DB, "OUT-11993", "S03")
	b := app.login(domain.RoleInventoryLead)
	b.get("/counts")
	csv := strings.Join([]string{
		"SKU,Quantity,Counted_At",
		"OUT-11993,11,",
		"NOPE-1,4,",
		"TOP-11994,two,",
		"OUT-11993,12,",
		"TOP-11994,3,2099-01-01T00:00:00Z",
		"TOP-11994,5,",
	}, "\n")
	res, body := b.upload("/counts", "S03", "errors.csv", csv)
	if res.StatusCode != http.StatusUnprocessableEntity {
		t.Fatalf("file with errors: %d\n%s", res.StatusCode, body)
	}
	for _, want := range []string{`<td class="num">3</td><td>Unknown SKU &#34;NOPE-1&#34;.`, `<td class="num">4</td><td>Quantity:`,
		`<td class="num">5</td><td>sku OUT-11993 is already counted on line 2.`, `<td class="num">6</td><td>counted_at`, `data-testid="apply-valid"`} {
		if !strings.Contains(body, want) {
			t.Errorf("missing %q in\n%s", want, body)
		}
	}
	if got := onHand(t, app.DB, "OUT-11993", "S03"); got != before {
		t.Fatalf("a file with errors moved stock: %d -> %d", before, got)
	}
	id := strings.SplitN(strings.SplitN(body, `action="/counts/`, 2)[1], "/", 2)[0]
	// Apply without the explicit choice: refused.
	res, _ = b.post("/counts/"+id+"/apply", nil)
	if res.StatusCode != http.StatusBadRequest {
		t.Fatalf("apply without valid_only: %d", res.StatusCode)
	}
	res, _ = b.post("/counts/"+id+"/apply", map[string][]string{"valid_only": {"1"}})
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("apply valid rows: %d", res.StatusCode)
	}
	_, body = b.get(res.Header.Get("Location"))
	if !strings.Contains(body, "Applied 2 valid counts at S03 (skipped 4 lines with errors)") {
		t.Fatalf("confirmation:\n%s", body)
	}
	if got := onHand(t, app.DB, "OUT-11993", "S03"); got != before || !hasOpenDrift(t, app, "OUT-11993", "S03") {
		t.Fatalf("OUT-11993@S03 %d, want %d with an open drift (counted 11, beyond the threshold)", got, before)
	}
	if got := onHand(t, app.DB, "TOP-11994", "S03"); got == 5 || !hasOpenDrift(t, app, "TOP-11994", "S03") {
		t.Fatalf("TOP-11994@S03 %d: counted 5, beyond the threshold, it should wait in an open drift", got)
	}
	// Applying twice is refused; nothing moves twice.
	res, _ = b.post("/counts/"+id+"/apply", map[string][]string{"valid_only": {"1"}})
	if res.StatusCode != http.StatusConflict {
		t.Fatalf("second apply: %d", res.StatusCode)
	}
	// A file whose header is wrong is refused as a whole.
	res, body = b.upload("/counts", "S03", "bad.csv", "item;qty\nOUT-11993;1\n")
	if res.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(body, `data-testid="err-file"`) {
		t.Fatalf("bad header: %d\n%s", res.StatusCode, body)
	}
	// Another role cannot use the page at all.
	sb := app.login(domain.RoleSupport)
	if res, _ := sb.get("/counts"); res.StatusCode != http.StatusForbidden {
		t.Fatalf("support on /counts: %d", res.StatusCode)
	}
	connCheckOK(t, app.DB)
}

// hasOpenDrift reports whether the position has an open drift exception.
func hasOpenDrift(t *testing.T, app *testApp, sku, loc string) bool {
	t.Helper()
	var n int
	if err := app.DB.GetContext(context.Background(), &n, `SELECT count(*) FROM exceptions e JOIN products p ON p.id = e.product_id
		JOIN locations l ON l.id = e.location_id WHERE e.kind = 'reconciliation_drift' AND e.status = 'open' AND p.sku = $1 AND l.code = $2`, sku, loc); err != nil {
		t.Fatal(err)
	}
	return n > 0
}
