package domain_test

import (
	"testing"
	"time"

	"stockline/domain"
)

func TestParseWholeQuantity(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want int
		ok   bool
	}{
		{"0", 0, true}, {"3", 3, true}, {" 12 ", 12, true}, {"2.000", 2, true}, {"007", 7, true}, {"1000000", 1_000_000, true},
		{"1000001", 0, false}, {"1.5", 0, false}, {"-1", 0, false}, {"1e3", 0, false}, {"", 0, false}, {".5", 0, false},
		{"5.", 0, false}, {"0x10", 0, false}, {"99999999999999999999", 0, false}, {"+1", 0, false},
	} {
		got, err := domain.ParseWholeQuantity(tt.in)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("ParseWholeQuantity(%q) = %d, %v; want %d ok=%v", tt.in, got, err, tt.want, tt.ok)
		}
	}
}

func TestFeedStatus(t *testing.T) {
	now := time.Date(2026, 3, 2, 12, 0, 0, 0, time.UTC)
	ago := func(d time.Duration) time.Time { return now.Add(-d) }
	for _, tt := range []struct {
		name    string
		enabled bool
		last    time.Time
		created time.Time
		errors  int
		want    string
	}{
		{"paused wins", false, time.Time{}, ago(time.Hour), 9, domain.FeedPaused},
		{"failing", true, ago(time.Minute), ago(time.Hour), 3, domain.FeedFailing},
		{"stale", true, ago(20 * time.Minute), ago(time.Hour), 0, domain.FeedStale},
		{"never succeeded, old", true, time.Time{}, ago(time.Hour), 0, domain.FeedStale},
		{"never succeeded, new", true, time.Time{}, ago(time.Minute), 0, domain.FeedStarting},
		{"retrying", true, ago(time.Minute), ago(time.Hour), 1, domain.FeedRetrying},
		{"healthy", true, ago(time.Minute), ago(time.Hour), 0, domain.FeedHealthy},
	} {
		if got := domain.FeedStatus(tt.enabled, tt.last, tt.created, 10*time.Minute, tt.errors, now); got != tt.want {
			t.Errorf("%s: %s, want %s", tt.name, got, tt.want)
		}
	}
}

func TestCountMovementsAsOfAnchor(t *testing.T) {
	t0 := time.Date(2026, 3, 2, 12, 0, 0, 0, time.UTC)
	anchor := &domain.CountAnchor{CountedAt: t0, Quantity: 5}
	// A count older than the anchor is stale: nothing moves.
	if m, applies, err := domain.CountMovements(anchor, t0.Add(-time.Minute), 50, 3); err != nil || applies || m != nil {
		t.Fatalf("stale count: %v %v %v", m, applies, err)
	}
	// A newer count moves on hand from its as-of value to the count.
	m, applies, err := domain.CountMovements(anchor, t0.Add(time.Minute), 8, 3)
	if err != nil || !applies || len(m) != 1 || m[0] != (domain.Movement{Bucket: domain.OnHand, Delta: 5}) {
		t.Fatalf("newer count: %v %v %v", m, applies, err)
	}
	// A count that matches applies (it becomes the anchor) with no movement.
	if m, applies, err := domain.CountMovements(nil, t0, 3, 3); err != nil || !applies || len(m) != 0 {
		t.Fatalf("matching count: %v %v %v", m, applies, err)
	}
	if !anchor.SupersededBy(t0) || anchor.SupersededBy(t0.Add(time.Nanosecond)) || (*domain.CountAnchor)(nil).SupersededBy(t0) {
		t.Fatal("SupersededBy: at or before the count, and never without one")
	}
}
