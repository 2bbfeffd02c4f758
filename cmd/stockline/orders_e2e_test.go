package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"stockline/domain"
	"stockline/store"
)

// placeOrder sends POST /api/v1/orders with the demo token, as a channel
// would.
func placeOrder(t *testing.T, base, body string) (id int64, number string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, base+"/api/v1/orders", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+store.DemoToken)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Idempotency-Key", fmt.Sprintf("e2e-%d", time.Now().UnixNano()))
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusCreated {
		t.Fatalf("place order: %d %s", res.StatusCode, b)
	}
	var o struct {
		ID     int64  `json:"id"`
		Number string `json:"number"`
		Status string `json:"status"`
	}
	if err := json.Unmarshal(b, &o); err != nil || o.Status != "allocated" {
		t.Fatalf("place order: %s %v", b, err)
	}
	return o.ID, o.Number
}

// setOnHand counts a position to n units.
func setOnHand(t *testing.T, db *store.DB, sku, loc string, n int) {
	t.Helper()
	if _, err := db.Adjust(context.Background(), domain.SystemActor("e2e"), sku, loc,
		domain.Adjustment{Reason: domain.ReasonCycleCount, Counted: &n}); err != nil && domain.ErrorCode(err) != domain.EINVALID {
		t.Fatal(err)
	}
}

func signIn(t *testing.T, ctx context.Context, base string, u store.DemoUser) {
	t.Helper()
	css := func(s string) chromedp.CSS { return chromedp.CSS(s) }
	step(t, ctx, "sign in as "+string(u.Role),
		chromedp.Navigate(base+"/login"),
		chromedp.WaitVisible(css(`#email`)),
		chromedp.SendKeys(css(`#email`), u.Email),
		chromedp.SendKeys(css(`#password`), u.Password),
		chromedp.Click(css(`form[action="/login"] button[type="submit"]`)),
		chromedp.WaitVisible(css(`[data-testid="whoami"]`)),
	)
}

func demoUserFor(t *testing.T, r domain.Role) store.DemoUser {
	for _, u := range store.DemoUsers {
		if u.Role == r {
			return u
		}
	}
	t.Fatalf("no demo %s", r)
	return store.DemoUser{}
}

// TestOrderJourneys drives the real program in headless Chromium through
// the two order journeys: (1) a store associate works an item-not-found
// through to reallocation; (2) support finds the order by the customer's
// email and reads a timeline that contains the associate's action, and the
// customer messages the background sender delivered.
func TestOrderJourneys(t *testing.T) {
	m, base := startProgram(t)
	bg := context.Background()
	css := func(s string) chromedp.CSS { return chromedp.CSS(s) }
	const sku = "FOO-10008"
	setOnHand(t, m.DB, sku, "S01", 5)
	setOnHand(t, m.DB, sku, "S02", 0)
	setOnHand(t, m.DB, sku, "S03", 6)
	email := fmt.Sprintf("journey.%d@example.com", time.Now().UnixNano()%1_000_000)
	id, number := placeOrder(t, base, fmt.Sprintf(`{"channel":"bopis","external_ref":"web-e2e","customer":{"name":"Jo Journey","email":%q},
		"pickup_location":"S01","payment_status":"authorized","lines":[{"sku":%q,"qty":2}]}`, email, sku))

	// (1) The associate's home is the pickup queue; the order is in it.
	ctx := newBrowser(t)
	assoc := demoUserFor(t, domain.RoleAssociate)
	signIn(t, ctx, base, assoc)
	if loc := read(t, ctx, "location", chromedp.Location()); !strings.HasSuffix(loc, "/pickups") {
		t.Fatalf("the associate landed on %s, not the pickup queue", loc)
	}
	row := read(t, ctx, "queue row", chromedp.Text(css(`[data-testid="pickup-list"]`)))
	if !strings.Contains(row, number) || !strings.Contains(row, "due in") {
		t.Fatalf("the queue does not show %s with its promise: %q", number, row)
	}
	read(t, ctx, "the cursor starts in the scan field", chromedp.Poll[bool](
		`document.activeElement !== null && document.activeElement.hasAttribute("data-autofocus-scan")`, chromedp.WithPollingTimeout(5*time.Second)))
	// Scan the order number to open it.
	step(t, ctx, "scan the order number",
		chromedp.SendKeys(css(`#scan`), number+kb.Enter),
		chromedp.WaitVisible(css(`[data-testid="line-`+sku+`"]`)),
	)
	// The shelf is empty: item not found.
	step(t, ctx, "report the item not found",
		chromedp.Click(css(`[data-testid="not-found"]`)),
		chromedp.WaitVisible(css(`[data-testid="reject-form"]`)),
		chromedp.Click(css(`input[name="reason"][value="not_found"]`)),
		chromedp.Click(css(`[data-testid="reject-submit"]`)),
		chromedp.WaitVisible(css(`[data-testid="decision"]`)),
	)
	flash := read(t, ctx, "confirmation", chromedp.Text(css(`[data-testid="flash"]`)))
	if !strings.Contains(flash, "quality_hold") || !strings.Contains(flash, "exception") {
		t.Fatalf("the confirmation should name the stock effect: %q", flash)
	}
	// The decision offers S03 (6 on hand) with its quantity, never S01.
	decision := read(t, ctx, "decision", chromedp.Text(css(`[data-testid="decision"]`)))
	if !strings.Contains(decision, "Reallocate to S03") || strings.Contains(decision, "Reallocate to S01") || !strings.Contains(decision, "Cancel line and notify customer") {
		t.Fatalf("decision panel: %q", decision)
	}
	step(t, ctx, "reallocate to S03",
		chromedp.Click(css(`[data-testid="reallocate-S03"]`)),
		chromedp.WaitNotPresent(css(`[data-testid="decision"]`)),
		chromedp.WaitVisible(css(`[data-testid="flash"]`)),
	)
	if flash = read(t, ctx, "confirmation", chromedp.Text(css(`[data-testid="flash"]`))); !strings.Contains(flash, "reallocated") || !strings.Contains(flash, "S03") {
		t.Fatalf("after reallocation: %q", flash)
	}
	o, err := m.DB.OrderByID(bg, id)
	if err != nil {
		t.Fatal(err)
	}
	if o.Status != domain.OrderAllocated || o.HoldReason != "" {
		t.Fatalf("order after reallocation: %s %q", o.Status, o.HoldReason)
	}
	var atS03 bool
	for _, l := range o.Lines {
		atS03 = atS03 || l.Location == "S03" && l.Reserved == 2
	}
	if !atS03 {
		t.Fatalf("lines after reallocation: %+v", o.Lines)
	}
	exs, _, err := m.DB.ListExceptions(bg, store.ExceptionFilter{Kind: "item_not_found", Statuses: []string{domain.ExceptionResolved}, Limit: 50})
	if err != nil {
		t.Fatal(err)
	}
	resolved := false
	for _, e := range exs {
		resolved = resolved || e.Ref == number && e.ResolutionCode == "reallocated"
	}
	if !resolved {
		t.Fatal("the item_not_found exception should be resolved as reallocated")
	}

	// (2) Support, in a browser of their own, finds the order by email.
	sctx := newBrowser(t)
	signIn(t, sctx, base, demoUserFor(t, domain.RoleSupport))
	if loc := read(t, sctx, "location", chromedp.Location()); !strings.HasSuffix(loc, "/orders") {
		t.Fatalf("support landed on %s, not the order search", loc)
	}
	step(t, sctx, "search by email",
		chromedp.SendKeys(css(`#order-q`), email+kb.Enter),
		chromedp.WaitVisible(css(`[data-testid="timeline"]`)),
	)
	if got := read(t, sctx, "order number", chromedp.Text(css(`[data-testid="order-number"]`))); got != number {
		t.Fatalf("the search opened %s, want %s", got, number)
	}
	// The timeline names the associate's action, who did it, and the
	// reallocation, the reservation records and the ledger movement.
	tl := read(t, sctx, "timeline", chromedp.Text(css(`[data-testid="timeline"]`)))
	for _, want := range []string{
		"not found at S01", "user:" + assoc.Email, "Reallocated 2 × " + sku + " to S03", "Reservation", "Ledger: quality_hold +2 at S01",
		"Order " + number + " placed via api",
	} {
		if !strings.Contains(tl, want) {
			t.Errorf("timeline lacks %q:\n%s", want, tl)
		}
	}
	waitForDelivery(t, m, id, "delayed")
	step(t, sctx, "reload the order", chromedp.Reload(), chromedp.WaitVisible(css(`[data-testid="timeline"]`)))
	tl = read(t, sctx, "timeline", chromedp.Text(css(`[data-testid="timeline"]`)))
	if !strings.Contains(tl, `Delivered the "delayed" email to `+email+` via local outbox`) {
		t.Errorf("the timeline does not show the delivery:\n%s", tl)
	}
	rep, err := m.DB.Check(bg)
	if err != nil {
		t.Fatal(err)
	}
	if !rep.OK() {
		t.Fatalf("consistency check after the journeys: %+v", rep)
	}
}

// waitForDelivery waits until the order's notification of kind went through
// the outbox and the background sender (a few seconds at most).
func waitForDelivery(t *testing.T, m *Main, orderID int64, kind string) {
	t.Helper()
	bg := context.Background()
	deadline := time.Now().Add(15 * time.Second)
	for {
		var sent int
		if err := m.DB.GetContext(bg, &sent, `SELECT count(*) FROM notifications WHERE order_id = $1 AND kind = $2 AND status = 'sent'`, orderID, kind); err != nil {
			t.Fatal(err)
		}
		if sent == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the notification sender did not deliver the %s message within 15 s", kind)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
