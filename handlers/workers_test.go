package handlers

import (
	"sync"
	"testing"
	"time"
)

// TestRunnersNeverQueue: every function handed to the runners starts at
// once, even when more are blocked than goroutines are kept idle, and the
// goroutines are reused once they are free.
func TestRunnersNeverQueue(t *testing.T) {
	rs := newRunners()
	const n = 2*maxIdleRunners + 5
	release := make(chan struct{})
	var started, finished sync.WaitGroup
	started.Add(n)
	finished.Add(n)
	for range n {
		rs.run(func() { started.Done(); <-release; finished.Done() })
	}
	waitOr(t, &started, "every blocked function started")
	close(release)
	waitOr(t, &finished, "every function finished")
	deadline := time.Now().Add(5 * time.Second)
	for len(rs.idle) < maxIdleRunners && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if len(rs.idle) != maxIdleRunners {
		t.Fatalf("%d goroutines idle after the burst, want %d", len(rs.idle), maxIdleRunners)
	}
	var again sync.WaitGroup
	again.Add(1)
	rs.run(again.Done)
	waitOr(t, &again, "a function ran on an idle goroutine")
	if len(rs.idle) > maxIdleRunners {
		t.Fatalf("%d idle goroutines, more than %d", len(rs.idle), maxIdleRunners)
	}
}

func waitOr(t *testing.T, wg *sync.WaitGroup, what string) {
	t.Helper()
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatalf("timed out waiting: %s", what)
	}
}
