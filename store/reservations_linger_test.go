package store

import (
	"testing"
	"time"
)

// A pipeline that just answered n requests waits for n more to queue (the
// answered callers coming back), so closed-loop callers on one position
// commit as one batch, not as two alternating cohorts; it gives up after
// its wait (the batch's time), and after repeated give-ups it lingers only
// on probes.
func TestBatchLingerWaitsForAnsweredRequests(t *testing.T) {
	sh := &batchShard{running: true}
	sh.pending = make([]*batchReq, 4) // the other cohort, already queued

	done := make(chan time.Duration)
	go func() {
		t0 := time.Now()
		sh.linger(4, time.Minute) // waits for 4 more
		done <- time.Since(t0)
	}()
	for armed := false; !armed; { // until the linger is waiting
		sh.mu.Lock()
		armed = sh.waitFor > 0
		sh.mu.Unlock()
	}
	for range 4 {
		if sh.enqueue(&batchReq{}) {
			t.Fatal("enqueue on a running pipeline asked to start it")
		}
	}
	if took := <-done; took >= time.Minute {
		t.Fatalf("linger took %v although the answered requests came back", took)
	}
	if sh.lingerScore != 1 || sh.waitFor != 0 || len(sh.wake) != 0 {
		t.Fatalf("after a met linger: score %d, waitFor %d, wake %d", sh.lingerScore, sh.waitFor, len(sh.wake))
	}

	// Nobody comes back: the wait ends.
	t0 := time.Now()
	sh.linger(4, time.Millisecond)
	if took := time.Since(t0); took < time.Millisecond {
		t.Fatalf("linger with nobody coming back ended after %v, before its 1 ms", took)
	}
	if sh.lingerScore != 0 {
		t.Fatalf("score after a timeout = %d, want 0", sh.lingerScore)
	}

	// Below zero, only every lingerProbe-th batch waits.
	sh.lingerScore, sh.batches = -4, 0
	t0 = time.Now()
	for range lingerProbe - 1 {
		sh.linger(4, time.Millisecond)
	}
	if took := time.Since(t0); took >= time.Millisecond {
		t.Fatalf("%d non-probe batches waited %v in all", lingerProbe-1, took)
	}
	t0 = time.Now()
	sh.linger(4, time.Millisecond)
	if took := time.Since(t0); took < time.Millisecond {
		t.Fatalf("the probe batch did not wait (%v)", took)
	}
}

// Only a batch whose requests share a position lingers.
func TestSharesPosition(t *testing.T) {
	req := func(keys ...posKey) *batchReq { return &batchReq{keys: keys} }
	a, b, c := posKey{1, 1}, posKey{1, 2}, posKey{2, 1}
	for _, tc := range []struct {
		name  string
		batch []*batchReq
		want  bool
	}{
		{"one request", []*batchReq{req(a, b)}, false},
		{"spread", []*batchReq{req(a), req(b), req(c)}, false},
		{"hot position", []*batchReq{req(a), req(b), req(a)}, true},
		{"sourced over the same candidates", []*batchReq{req(a, c), req(c, a)}, true},
	} {
		if got := sharesPosition(tc.batch); got != tc.want {
			t.Errorf("%s: sharesPosition = %v, want %v", tc.name, got, tc.want)
		}
	}
}
