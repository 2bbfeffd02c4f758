package sim

import (
	"maps"
	"net/http"
	"sync"
	"time"
)

// traffic counts a simulator's requests and hands out queued faults. Both
// simulators embed it, so Fail and Requests are theirs.
type traffic struct {
	mu       sync.Mutex
	faults   []Fault
	requests int
	agents   map[string]int
	always   *Fault
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
	var f Fault
	switch {
	case len(t.faults) > 0:
		f, t.faults = t.faults[0], t.faults[1:]
	case t.always != nil:
		f = *t.always
	default:
		return nil
	}
	if f.RetryAfter != "" {
		w.Header().Set("Retry-After", f.RetryAfter)
	}
	return &f
}

// serve plays the fault: it waits out Delay (or until the client gives
// up), then answers Body as it is, or an error of Status through fail. It
// returns false when the request should get its normal answer (a fault
// that is only a delay).
func (f *Fault) serve(w http.ResponseWriter, r *http.Request, fail func(status int)) bool {
	if f.Delay > 0 {
		t := time.NewTimer(f.Delay)
		defer t.Stop()
		select {
		case <-r.Context().Done():
			return true
		case <-t.C:
		}
	}
	switch {
	case f.Body != "":
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(max(f.Status, http.StatusOK))
		w.Write([]byte(f.Body))
	case f.Status != 0:
		fail(f.Status)
	default:
		return false
	}
	return true
}

// FailAlways makes every request from now on get f (until Heal).
func (t *traffic) FailAlways(f Fault) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.always = &f
}

// Heal ends FailAlways and drops queued faults.
func (t *traffic) Heal() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.always, t.faults = nil, nil
}
