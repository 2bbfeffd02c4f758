package sim

import (
	"maps"
	"net/http"
	"sync"
)

// traffic counts a simulator's requests and hands out queued faults. Both
// simulators embed it, so Fail and Requests are theirs.
type traffic struct {
	mu       sync.Mutex
	faults   []Fault
	requests int
	agents   map[string]int
}

// Fail queues faults: the next requests get them, in order.
func (t *traffic) Fail(f ...Fault) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.faults = append(t.faults, f...)
}

// Requests returns how many requests came, and how many per User-Agent.
func (t *traffic) Requests() (int, map[string]int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.requests, maps.Clone(t.agents)
}

// arrive counts r and returns the fault it gets, if one is queued, having
// set the fault's Retry-After header on w.
func (t *traffic) arrive(w http.ResponseWriter, r *http.Request) *Fault {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.requests++
	if t.agents == nil {
		t.agents = map[string]int{}
	}
	t.agents[r.UserAgent()]++
	if len(t.faults) == 0 {
		return nil
	}
	f := t.faults[0]
	t.faults = t.faults[1:]
	if f.RetryAfter != "" {
		w.Header().Set("Retry-After", f.RetryAfter)
	}
	return &f
}
