package main

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"stockline/domain"
)

// TestDriftJourney drives the real program in headless Chromium: an
// inventory lead opens the seeded open drift at S01, reads the replay,
// accepts the count, and sees the position and the dashboard change.
func TestDriftJourney(t *testing.T) {
	m, base := startProgram(t)
	bg := context.Background()
	css := func(s string) chromedp.CSS { return chromedp.CSS(s) }
	var drift struct {
		ID      int64 `db:"id"`
		Counted int   `db:"counted"`
	}
	if err := m.DB.GetContext(bg, &drift, `SELECT e.id, (e.data->>'counted')::int AS counted FROM exceptions e
		JOIN products p ON p.id = e.product_id JOIN locations l ON l.id = e.location_id
		WHERE e.kind = 'reconciliation_drift' AND e.status = 'open' AND p.sku = 'OUT-10005' AND l.code = 'S01'`); err != nil {
		t.Fatalf("the seeded open drift: %v", err)
	}
	ctx := newBrowser(t)
	signIn(t, ctx, base, demoUserFor(t, domain.RoleInventoryLead))
	step(t, ctx, "open the dashboard", chromedp.Navigate(base+"/reconciliation"), chromedp.WaitVisible(css(`[data-testid="drift-resolution"]`)))
	before := read(t, ctx, "resolution times", chromedp.Text(css(`[data-testid="drift-resolution"] table`)))
	if !strings.Contains(before, "S01") || !strings.Contains(before, "0 resolved, 1 open") {
		t.Fatalf("dashboard before: %q", before)
	}
	step(t, ctx, "open the drift", chromedp.Navigate(fmt.Sprintf("%s/exceptions/%d", base, drift.ID)), chromedp.WaitVisible(css(`[data-testid="drift-replay"]`)))
	replay := read(t, ctx, "replay", chromedp.Text(css(`[data-testid="drift-replay"]`)))
	if !strings.Contains(replay, "received") || !strings.Contains(replay, "demo-delivery-2") {
		t.Fatalf("the replay should show the delivery before the count: %q", replay)
	}
	if held := read(t, ctx, "held", chromedp.Text(css(`[data-testid="drift-held"]`))); strings.HasPrefix(held, "0 ") {
		t.Fatalf("the shortfall should be held: %q", held)
	}
	step(t, ctx, "accept the count",
		chromedp.Click(css(`[data-testid="action-accept_count"] button`)),
		chromedp.WaitVisible(css(`[data-testid="flash"]`)),
	)
	if st := read(t, ctx, "status", chromedp.Text(css(`[data-testid="exception-status"]`))); st != "resolved" {
		t.Fatalf("status after accepting: %q", st)
	}
	var pos domain.Position
	if err := m.DB.GetContext(bg, &pos, `SELECT p.on_hand, p.reserved, p.damaged, p.quality_hold, p.transfer_out, p.in_transit_in FROM positions p
		JOIN products pr ON pr.id = p.product_id JOIN locations l ON l.id = p.location_id WHERE pr.sku = 'OUT-10005' AND l.code = 'S01'`); err != nil {
		t.Fatal(err)
	}
	if pos.OnHand != drift.Counted || pos.QualityHold != 0 {
		t.Fatalf("position after accepting %+v, want on hand %d and no hold", pos, drift.Counted)
	}
	step(t, ctx, "back to the dashboard", chromedp.Navigate(base+"/reconciliation"), chromedp.WaitVisible(css(`[data-testid="drift-resolution"]`)))
	if after := read(t, ctx, "resolution times", chromedp.Text(css(`[data-testid="drift-resolution"] table`))); !strings.Contains(after, "1 resolved, 0 open") {
		t.Fatalf("dashboard after: %q", after)
	}
}
