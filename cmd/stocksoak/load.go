package main

import (
	"context"
	"fmt"
	"math"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// openLoop calls fire at rate a second from start until end, each call at
// its intended time and in a goroutine of its own, whatever earlier calls
// are doing: a slow server does not slow the schedule, so no request that
// should have been sent goes unmeasured (no coordinated omission). Each
// call gets its intended send time and measures latency from it. At most
// maxInFlight calls run at once; a call that finds none free is dropped
// and counted in dropped (an error: the server fell too far behind).
func openLoop(ctx context.Context, rate float64, start time.Time, until func() time.Time, maxInFlight int, dropped *atomic.Int64,
	wg *sync.WaitGroup, fire func(intended time.Time)) {
	if rate <= 0 {
		return
	}
	sem := make(chan struct{}, maxInFlight)
	interval := time.Duration(float64(time.Second) / rate)
	for i := int64(0); ; i++ {
		at := start.Add(time.Duration(i) * interval)
		if !at.Before(until()) {
			return
		}
		if d := time.Until(at); d > 0 {
			select {
			case <-ctx.Done():
				return
			case <-time.After(d):
			}
		}
		select {
		case sem <- struct{}{}:
		default:
			dropped.Add(1)
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			fire(at)
		}()
	}
}

// outcome classes of one measured call.
const (
	outOK      = iota // the answer the flow expects
	outRefused        // a business refusal (409 insufficient_stock): correct, not an error
	outFault          // 503 while a fault was being injected: expected then
	outError          // anything else: counted against the zero-errors goal
	outcomeCount
)

// series collects one operation's latencies and outcomes.
type series struct {
	name string
	mu   sync.Mutex
	lat  []time.Duration // every call's latency, from its intended send time
	n    [outcomeCount]int64
	errs map[string]int // error descriptions, counted
	max  [outcomeCount]time.Duration
}

func newSeries(name string) *series { return &series{name: name, errs: map[string]int{}} }

func (s *series) record(lat time.Duration, out int, detail string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lat = append(s.lat, lat)
	s.n[out]++
	s.max[out] = max(s.max[out], lat)
	if out == outError {
		if len(s.errs) < 20 || s.errs[detail] > 0 {
			s.errs[detail]++
		}
	}
}

// summary is one series reduced to the figures the report prints.
type summary struct {
	Name                string
	Count               int64
	OK, Refused, Fault  int64
	Errors              int64
	P50, P99, P999, Max time.Duration
	MaxFault            time.Duration // slowest 503 during a fault: "fails fast"
	ErrorDetails        map[string]int
	ErrorRate           float64
}

func (s *series) summary() summary {
	s.mu.Lock()
	defer s.mu.Unlock()
	lat := slices.Clone(s.lat)
	slices.Sort(lat)
	q := func(p float64) time.Duration {
		if len(lat) == 0 {
			return 0
		}
		return lat[min(len(lat)-1, int(math.Ceil(p*float64(len(lat))))-1)]
	}
	out := summary{Name: s.name, Count: int64(len(lat)), OK: s.n[outOK], Refused: s.n[outRefused], Fault: s.n[outFault],
		Errors: s.n[outError], P50: q(0.50), P99: q(0.99), P999: q(0.999), MaxFault: s.max[outFault], ErrorDetails: s.errs}
	if len(lat) > 0 {
		out.Max = lat[len(lat)-1]
		out.ErrorRate = float64(out.Errors) / float64(len(lat))
	}
	return out
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2f ms", float64(d)/float64(time.Millisecond)) }
