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

// The stall watch reports a pause of the monitoring process in the window
// it fell in, and not in a window before it. The pause is made by stopping
// the child for 40 ms: to it, as to this process, a stopped vCPU looks
// like that.
func TestStallWatchSeesAPause(t *testing.T) {
	w, err := watchStalls()
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	time.Sleep(100 * time.Millisecond) // the child is up and sleeping
	before := time.Now()
	time.Sleep(20 * time.Millisecond)
	from := time.Now()
	if err := w.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	time.Sleep(40 * time.Millisecond)
	if err := w.cmd.Process.Signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	var got machineStalls
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if got = w.during(from, time.Now()); got.count > 0 || time.Now().After(deadline) {
			break
		}
	}
	if !got.watched || got.count == 0 || got.longest < 35*time.Millisecond {
		t.Fatalf("a 40 ms stop of the child: %+v, want at least one pause of 35 ms or more", got)
	}
	// The stop began after before's window ended, so no pause that long
	// can be placed in it (shorter ones of this machine can).
	if early := w.during(before, before.Add(10*time.Millisecond)); early.longest >= 35*time.Millisecond {
		t.Fatalf("the stop shows in a window before it: %+v", early)
	}
	var none *stallWatch
	if m := none.during(from, time.Now()); m.watched || m.String() != "" {
		t.Fatalf("no watch: %+v %q", m, m.String())
	}
}
