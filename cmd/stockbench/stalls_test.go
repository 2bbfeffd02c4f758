package main

import (
	"os"
	"syscall"
	"testing"
	"time"
)

// TestMain lets the stall monitor's child run: watchStalls starts the
// test binary itself with stallEnv set.
func TestMain(m *testing.M) {
	if os.Getenv(stallEnv) != "" {
		monitorStalls()
	}
	os.Exit(m.Run())
}

// The child reports a pause and the watch reads it: the pause is made by
// stopping the child for 300 ms, which to the child looks like a 300 ms
// pause of its vCPU (longer than this machine's own pauses under load,
// so the test does not pass on one of those by chance often).
func TestStallWatchSeesAPause(t *testing.T) {
	w, err := watchStalls()
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	from := time.Now() // watchStalls returned: the child is up and sleeping
	if err := w.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond)
	if err := w.cmd.Process.Signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	var got machineStalls
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if got = w.during(from, time.Now()); got.longest >= 250*time.Millisecond || time.Now().After(deadline) {
			break
		}
	}
	if !got.watched || got.longest < 250*time.Millisecond {
		t.Fatalf("a 300 ms stop of the child: %+v, want a pause of 250 ms or more", got)
	}
	w.Close()
	if m := w.during(from, time.Now()); m.watched {
		t.Fatalf("a watch whose child has gone still reports: %+v", m)
	}
}

// during counts the pauses over the line that overlap the window, and
// says nothing was watched without a child.
func TestStallsDuring(t *testing.T) {
	t0 := time.Now()
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	w := &stallWatch{stalls: []stall{
		{at(0), 30 * time.Millisecond},   // 0–32 ms
		{at(100), 4 * time.Millisecond},  // under the line
		{at(200), 12 * time.Millisecond}, // 200–214 ms (the sleep, then 12 ms late)
		{at(500), 8 * time.Millisecond},  // 500–510 ms
	}}
	for _, tc := range []struct {
		name     string
		from, to int
		count    int
		longest  time.Duration
	}{
		{"every pause", -10, 1000, 3, 30 * time.Millisecond},
		{"one ending inside", 20, 150, 1, 30 * time.Millisecond},
		{"one under the line only", 90, 150, 0, 0},
		{"one starting inside", 150, 201, 1, 12 * time.Millisecond},
		{"between", 215, 499, 0, 0},
	} {
		m := w.during(at(tc.from), at(tc.to))
		if !m.watched || m.count != tc.count || m.longest != tc.longest {
			t.Errorf("%s: %+v, want %d, longest %s", tc.name, m, tc.count, tc.longest)
		}
	}
	if got := w.during(at(0), at(600)).String(); got != "a sleeping process woke > 5 ms late: 3×, longest 30.00 ms" {
		t.Errorf("String: %q", got)
	}
	if got := w.during(at(215), at(499)).String(); got != "a sleeping process woke > 5 ms late: never" {
		t.Errorf("String, none: %q", got)
	}
	w.ended = at(550)
	if m := w.during(at(0), at(600)); m.watched {
		t.Errorf("a window the child did not see to its end: %+v", m)
	}
	if m := w.during(at(0), at(540)); !m.watched {
		t.Errorf("a window the child saw whole: %+v", m)
	}
	var none *stallWatch
	if m := none.during(at(0), at(600)); m.watched || m.String() != "" {
		t.Errorf("no watch: %+v %q", m, m.String())
	}
}
