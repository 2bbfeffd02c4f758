package main

// The machine's own stalls, measured beside every run of the load
// generator (open and closed loop). A p99 of 5 ms at 2,000 requests a
// second is 100 requests of a 5 s window: one 50 ms pause of the whole
// machine, in which nothing of this process or PostgreSQL runs, puts the
// figure over its line whatever the server does. This machine has such
// pauses (a 2-vCPU Firecracker guest): a program that only sleeps wakes
// 5–25 ms late a few times in a 5 s run while the app answers
// availability from memory with the cores mostly idle, and now and then
// much later.
// So the bench runs such a program, a child process that sleeps 2 ms at a
// time and reports each wake more than 1 ms late, and prints the late
// wakes over 5 ms that fell in each run's measured window beside its
// figures. With the cores mostly idle (the app's availability runs), a
// late wake is a pause of the machine; in a run that keeps both cores
// busy (a saturated baseline, the reservation runs) it is also the wait
// for a core. A latency over its line with no late wake beside it is the
// app's; one beside a 25 ms late wake is the machine's, or at least not
// shown to be the app's.
//
// The child is this binary run again with stallEnv set; it holds no Go
// work but its loop, so its own scheduling does not delay it.

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

const (
	stallEnv = "STOCKBENCH_STALL_MONITOR"
	// stallSleep is the child's sleep. Every wake costs CPU on this VM
	// (measured from /proc/PID/task/*/schedstat, the child alone: 168 ms a
	// second at 200 µs, 49 ms at 1 ms, 26 ms at 2 ms), which the runs it
	// watches pay; a pause is seen up to one sleep short.
	stallSleep = 2 * time.Millisecond
	stallMin   = time.Millisecond // the child reports wakes later than this
	stallLine  = 5 * time.Millisecond
	stallReady = "ready" // the child's first line
)

// monitorStalls is the child's loop: it says it is ready, then never
// returns, and dies with its parent. Lateness counts from the previous
// wake, so a pause anywhere in the loop is seen, not only one inside a
// sleep.
func monitorStalls() {
	prev := time.Now()
	if _, err := os.Stdout.Write([]byte(stallReady + "\n")); err != nil {
		os.Exit(0)
	}
	buf := make([]byte, 0, 64)
	for {
		pause(stallSleep)
		now := time.Now()
		if late := now.Sub(prev) - stallSleep; late > stallMin {
			buf = strconv.AppendInt(buf[:0], prev.UnixNano(), 10)
			buf = append(buf, ' ')
			buf = strconv.AppendInt(buf, int64(late), 10)
			buf = append(buf, '\n')
			if _, err := os.Stdout.Write(buf); err != nil {
				os.Exit(0)
			}
		}
		prev = now
	}
}

// stall is one wake of the child later than stallMin.
type stall struct {
	at   time.Time // the wake before it
	late time.Duration
}

// stallWatch runs the child and keeps what it reports.
type stallWatch struct {
	cmd    *exec.Cmd
	mu     sync.Mutex
	stalls []stall
	ended  time.Time // when the child's output ended (zero while it runs)
	done   chan struct{}
	close  sync.Once
}

// watchStalls starts the child.
func watchStalls() (*stallWatch, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(exe)
	cmd.Env = append(os.Environ(), stallEnv+"=1", "GOMAXPROCS=1")
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start the stall monitor: %w", err)
	}
	w := &stallWatch{cmd: cmd, done: make(chan struct{})}
	ready := make(chan struct{})
	go func() {
		defer close(w.done)
		sc := bufio.NewScanner(out)
		if sc.Scan() && sc.Text() == stallReady {
			close(ready)
		}
		for sc.Scan() {
			at, late, ok := strings.Cut(sc.Text(), " ")
			ns, err1 := strconv.ParseInt(at, 10, 64)
			d, err2 := strconv.ParseInt(late, 10, 64)
			if !ok || err1 != nil || err2 != nil {
				continue
			}
			w.mu.Lock()
			w.stalls = append(w.stalls, stall{at: time.Unix(0, ns), late: time.Duration(d)})
			w.mu.Unlock()
		}
		w.mu.Lock()
		w.ended = time.Now()
		w.mu.Unlock()
	}()
	// Measuring starts only once the child sleeps: starting a binary takes
	// a while on a busy machine.
	select {
	case <-ready:
		return w, nil
	case <-w.done:
	case <-time.After(30 * time.Second):
	}
	w.Close()
	return nil, errors.New("the stall monitor did not start (its child process said nothing within 30 s)")
}

// Close stops the child.
func (w *stallWatch) Close() {
	w.close.Do(func() {
		w.cmd.Process.Kill()
		<-w.done
		w.cmd.Wait()
	})
}

// machineStalls are the pauses over stallLine in one measured window.
type machineStalls struct {
	watched bool
	count   int
	longest time.Duration
}

// during returns the pauses over stallLine that overlap [from, to]. A nil
// watch, or one whose child was gone before to (it died, or was closed),
// says nothing was watched rather than that nothing paused.
func (w *stallWatch) during(from, to time.Time) machineStalls {
	if w == nil {
		return machineStalls{}
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.ended.IsZero() && w.ended.Before(to) {
		return machineStalls{}
	}
	m := machineStalls{watched: true}
	for _, s := range w.stalls {
		end := s.at.Add(stallSleep + s.late)
		if s.late > stallLine && end.After(from) && s.at.Before(to) {
			m.count++
			m.longest = max(m.longest, s.late)
		}
	}
	return m
}

func (m machineStalls) String() string {
	if !m.watched {
		return ""
	}
	if m.count == 0 {
		return "a sleeping process woke > 5 ms late: never"
	}
	return fmt.Sprintf("a sleeping process woke > 5 ms late: %d×, longest %s", m.count, ms(m.longest))
}
