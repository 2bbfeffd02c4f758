package main

import (
	"bytes"
	"context"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestRowResult is the summary's verdict on each kind of figure.
func TestRowResult(t *testing.T) {
	knee := func(app, base float64, below bool) row {
		r := rateRow("reservations", "knee", "/s", app, base, 2, 0)
		r.baseBelow = below
		return r
	}
	for _, tc := range []struct {
		name string
		r    row
		want string
	}{
		{"rate at its goal", rateRow("s", "f", "/s", 200, 100, 2, 0), "pass"},
		{"rate under its goal, over its minimum", rateRow("s", "f", "/s", 90, 100, 1, 0.5), "min only"},
		{"rate under its minimum", rateRow("s", "f", "/s", 40, 100, 1, 0.5), "MISS"},
		{"rate with no baseline", rateRow("s", "f", "/s", 40, 0, 1, 0), "MISS"},
		{"figure with no target", rateRow("s", "f", "/s", 40, 100, 0, 0), "-"},
		{"latency within its limit", latencyRow("s", "f", 4*time.Millisecond, time.Millisecond, 5*time.Millisecond), "pass"},
		{"latency over its limit", latencyRow("s", "f", 6*time.Millisecond, time.Millisecond, 5*time.Millisecond), "MISS"},
		// The baseline failed at the lowest step (250/s): its knee is below
		// it, so an app knee of 500/s is at least 2× whatever it was.
		{"knee over a baseline below the lowest step", knee(500, 250, true), "pass"},
		{"knee under twice the lowest step", knee(250, 250, true), "MISS"},
		{"knee over a measured baseline", knee(1000, 500, false), "pass"},
		{"knee under a measured baseline", knee(500, 500, false), "MISS"},
	} {
		if got := tc.r.result(); got != tc.want {
			t.Errorf("%s: result %q, want %q", tc.name, got, tc.want)
		}
	}
}

// TestSummaryMarksABound: a baseline known only to lie below a step is
// printed as a bound, and so is the ratio to it.
func TestSummaryMarksABound(t *testing.T) {
	var out bytes.Buffer
	r := rateRow("reservations", "availability knee", "/s", 1000, 250, 2, 0)
	r.baseBelow = true
	h := &harness{out: &out, rows: []row{r}}
	h.summary(time.Now())
	line := ""
	for l := range strings.Lines(out.String()) {
		if strings.Contains(l, "availability knee") {
			line = l
		}
	}
	for _, want := range []string{"< 250", "> 4.00×", "pass"} {
		if !strings.Contains(line, want) {
			t.Errorf("summary line %q lacks %q", line, want)
		}
	}
}

// The open loop sends every request of its schedule, none before its
// scheduled time, and counts only the measured window's.
func TestFixedRateKeepsItsSchedule(t *testing.T) {
	h := &harness{cfg: config{warmup: 100 * time.Millisecond, duration: 200 * time.Millisecond}}
	var mu sync.Mutex
	calls := 0
	s := h.fixedRate(context.Background(), 500, func(context.Context) error {
		mu.Lock()
		calls++
		mu.Unlock()
		return nil
	})
	if calls != 150 { // 500/s over 300 ms
		t.Fatalf("sent %d requests, want 150", calls)
	}
	if s.ok != 100 || len(s.lat) != 100 || len(s.sendDelay) != 100 { // the 200 ms measured
		t.Fatalf("measured ok %d, latencies %d, send delays %d; want 100 each", s.ok, len(s.lat), len(s.sendDelay))
	}
	if early := s.sendDelay[0]; early < 0 {
		t.Fatalf("a request went %v before its scheduled time", -early)
	}
}
