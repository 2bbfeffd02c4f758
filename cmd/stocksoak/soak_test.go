package main

import (
	"context"
	"io"
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"
)

// A short soak with both faults: PostgreSQL restarted mid-load, then the
// connection disturbed. Every goal holds: no errors (a 503 with
// Retry-After during a fault is the expected answer, not an error), the
// requests that failed did so fast, readiness turned false and came back
// within seconds unaided, the consistency check is clean, and goroutines
// and memory are back within their bounds.
func TestSoakSurvivesPostgresRestartAndDisturbedConnection(t *testing.T) {
	// Low rates: make test runs other packages beside this one on two cores.
	cfg := config{duration: 12 * time.Second, checkouts: 20, feed: 50, pages: 4, faults: true,
		requestTimeout: 10 * time.Second, goroutineBound: 25, heapBound: 64 << 20}
	rep, err := soak(context.Background(), cfg, testWriter{t})
	if err != nil {
		t.Fatal(err)
	}
	if fails := rep.goalsMissed(cfg); len(fails) > 0 {
		t.Fatalf("goals missed: %q", fails)
	}
	if len(rep.Faults) != 2 {
		t.Fatalf("faults injected: %d, want 2", len(rep.Faults))
	}
	restart := rep.Faults[0]
	if !restart.NotReady || restart.Fault503 == 0 || !restart.RetryAfterSeen || restart.Recovered > 5*time.Second {
		t.Fatalf("restart: %+v", restart)
	}
	// Failing fast means not waiting on a timer: the shortest that could
	// end a stuck request is the 5 s connect timeout (then the 10 s
	// request time-out). The bound leaves room for make test's load, under
	// which a 503 once took 2.001 s.
	for _, s := range rep.Series {
		if s.Fault > 0 && s.MaxFault > 3*time.Second {
			t.Fatalf("%s: a 503 took %s: requests must fail fast while the database is down", s.Name, s.MaxFault)
		}
	}
	if rep.Series[0].OK == 0 {
		t.Fatal("no checkout succeeded")
	}
}

// A disturbed connection to PostgreSQL (through the in-process proxy):
// added latency and a bandwidth cap end requests at the request time-out
// with 503 (never hanging), a reset of every connection costs at most the
// requests in flight, the pool recovers by itself once the network is
// calm, and the goroutine count returns to its baseline.
func TestDisturbedConnectionBoundedTimeoutsAndPoolRecovers(t *testing.T) {
	ctx := context.Background()
	w, err := newWorld(ctx, config{requestTimeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer w.close()
	get := func() (int, string, time.Duration) {
		t0 := time.Now()
		status, ra, _, err := w.call(ctx, "GET", "/api/v1/availability?sku="+w.skus[0], "", nil)
		if err != nil {
			t.Fatalf("transport error: %v", err)
		}
		return status, ra, time.Since(t0)
	}
	if st, _, _ := get(); st != http.StatusOK {
		t.Fatalf("calm: %d", st)
	}
	s := &soaker{w: w}
	base, _ := s.settle()

	for _, d := range []struct {
		name    string
		latency time.Duration
		bps     int64
	}{{"4 s added to each chunk", 4 * time.Second, 0}, {"a 100 bytes/s cap", 0, 100}} {
		w.proxy.Reset() // fresh connections, so the disturbance applies from the first byte
		w.proxy.Disturb(d.latency, d.bps)
		for range 3 {
			st, ra, took := get()
			if st != http.StatusServiceUnavailable || ra == "" || took > 5*time.Second {
				t.Fatalf("%s: %d (Retry-After %q) after %s; want 503 with Retry-After within the 2 s request time-out (+slack)", d.name, st, ra, took)
			}
		}
		w.proxy.Calm()
		deadline := time.Now().Add(10 * time.Second)
		for {
			st, _, _ := get()
			if st == http.StatusOK {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: the pool did not recover within 10 s of a calm network (last status %d)", d.name, st)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}

	// Reset every connection under the pool: the next requests succeed
	// (database/sql discards the broken connections and dials new ones).
	w.proxy.Reset()
	ok := 0
	for range 10 {
		if st, _, _ := get(); st == http.StatusOK {
			ok++
		}
	}
	if ok < 9 {
		t.Fatalf("after a reset of every connection only %d of 10 requests succeeded", ok)
	}
	// Connections stuck in the cancelled, slow queries drain away; the
	// goroutine count comes back to its baseline.
	deadline := time.Now().Add(15 * time.Second)
	for {
		n, _ := s.settle()
		if n <= base+5 {
			break
		}
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			t.Fatalf("goroutines %d, baseline %d:\n%s", n, base, buf[:runtime.Stack(buf, true)])
		}
	}
	chk, err := w.db.Check(ctx)
	if err != nil || !chk.OK() {
		t.Fatalf("consistency check: %v %+v", err, chk)
	}
}

// /readyz says ready while the database answers and not ready (503 with
// Retry-After) while it is down; /healthz, liveness only, stays 200.
func TestReadyzFollowsTheDatabase(t *testing.T) {
	ctx := context.Background()
	w, err := newWorld(ctx, config{requestTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer w.close()
	probe := func(path string) (int, string) {
		res, err := http.Get(w.base + path)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, res.Body)
		res.Body.Close()
		return res.StatusCode, res.Header.Get("Retry-After")
	}
	if st, _ := probe("/readyz"); st != http.StatusOK {
		t.Fatalf("readyz with the database up: %d", st)
	}
	if err := w.cluster.Stop(); err != nil {
		t.Fatal(err)
	}
	if st, ra := probe("/readyz"); st != http.StatusServiceUnavailable || ra == "" {
		t.Fatalf("readyz with the database down: %d, Retry-After %q", st, ra)
	}
	if st, _ := probe("/healthz"); st != http.StatusOK {
		t.Fatalf("healthz with the database down: %d", st)
	}
	status, ra, body, err := w.call(ctx, "POST", "/api/v1/reservations", "k-down", map[string]any{"channel": "bopis", "location": w.pickup[0],
		"lines": []map[string]any{{"sku": w.skus[0], "qty": 1}}})
	if err != nil || status != http.StatusServiceUnavailable || ra == "" || !contains(body, `"code":"unavailable"`) {
		t.Fatalf("reserve with the database down: %d, Retry-After %q, %s, %v", status, ra, body, err)
	}
	if err := w.cluster.Restart(0); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		if st, _ := probe("/readyz"); st == http.StatusOK {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("readyz not back within 5 s of the database's return")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func contains(b []byte, s string) bool { return strings.Contains(string(b), s) }

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(string(p))
	return len(p), nil
}
