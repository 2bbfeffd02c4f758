package main

// The crash test's process handling: build the real binary, run its
// subcommands, serve with it, and kill it with SIGKILL.

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// crashBuild compiles cmd/stockline into the test's temporary directory:
// the crash test runs the real program, not the one linked into the test.
func crashBuild(t *testing.T) string {
	t.Helper()
	goBin, err := exec.LookPath("go")
	if err != nil {
		goBin = filepath.Join(runtime.GOROOT(), "bin", "go")
	}
	bin := filepath.Join(t.TempDir(), "stockline")
	if out, err := exec.Command(goBin, "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// crashEnv is the environment the binary runs with: this test's database
// on a loopback port of the kernel's choosing, no simulators.
func crashEnv(dsn string) []string {
	return append(os.Environ(), "DATABASE_URL="+dsn, "HTTP_ADDR=127.0.0.1:0", "LOG_FORMAT=text", "LOG_LEVEL=warn",
		"SIMULATORS=false", "SESSION_SECRET=crash-session-secret-crash-session-secret-01")
}

// crashCmd runs one subcommand of the binary to its end and returns its
// standard output; err carries its standard error.
func crashCmd(bin, dsn string, args ...string) (string, error) {
	cmd := exec.Command(bin, args...)
	cmd.Env = crashEnv(dsn)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return string(out), fmt.Errorf("stockline %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return string(out), nil
}

// crashProc is one `stockline serve` process.
type crashProc struct {
	t    *testing.T
	cmd  *exec.Cmd
	out  *crashOutput
	base string // http://127.0.0.1:port
	done chan struct{}
	err  error // Wait's result, once done is closed
}

// crashOutput collects the process's output and spots the listen address
// in it.
type crashOutput struct {
	lockedWriter
	once sync.Once
	addr chan string
}

var crashRunningAt = regexp.MustCompile(`running at https?://localhost:(\d+)`)

func (w *crashOutput) Write(p []byte) (int, error) {
	n, err := w.lockedWriter.Write(p)
	if m := crashRunningAt.FindStringSubmatch(w.String()); m != nil {
		w.once.Do(func() { w.addr <- "http://127.0.0.1:" + m[1] })
	}
	return n, err
}

// startCrashProc starts `stockline serve` on dsn and waits until it listens.
// The process is killed when the test ends if it still runs.
func startCrashProc(t *testing.T, bin, dsn string) *crashProc {
	t.Helper()
	s := &crashProc{t: t, out: &crashOutput{addr: make(chan string, 1)}, done: make(chan struct{})}
	s.cmd = exec.Command(bin, "serve")
	s.cmd.Env = crashEnv(dsn)
	s.cmd.Stdout, s.cmd.Stderr = s.out, s.out
	if err := s.cmd.Start(); err != nil {
		t.Fatalf("start stockline: %v", err)
	}
	go func() { s.err = s.cmd.Wait(); close(s.done) }()
	t.Cleanup(func() {
		s.kill()
		if t.Failed() {
			t.Logf("stockline (pid %d) output:\n%s", s.cmd.Process.Pid, s.out.String())
		}
	})
	select {
	case s.base = <-s.out.addr:
	case <-s.done:
		t.Fatalf("stockline exited before listening: %v\n%s", s.err, s.out.String())
	case <-time.After(30 * time.Second):
		t.Fatalf("stockline did not listen within 30 s\n%s", s.out.String())
	}
	return s
}

// kill sends SIGKILL and waits for the process to be gone: no deferred
// function, shutdown hook or lease release runs.
func (s *crashProc) kill() {
	select {
	case <-s.done:
		return
	default:
	}
	s.cmd.Process.Signal(syscall.SIGKILL)
	<-s.done
}

// killed reports whether the process died of SIGKILL.
func (s *crashProc) killed() bool {
	<-s.done
	var ee *exec.ExitError
	if !errors.As(s.err, &ee) {
		return false
	}
	ws, ok := ee.Sys().(syscall.WaitStatus)
	return ok && ws.Signaled() && ws.Signal() == syscall.SIGKILL
}

// stop asks for a graceful shutdown (SIGTERM) and waits for it.
func (s *crashProc) stop() {
	s.t.Helper()
	s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
		if s.err != nil {
			s.t.Errorf("stockline exited with %v after SIGTERM", s.err)
		}
	case <-time.After(20 * time.Second):
		s.t.Errorf("stockline did not stop within 20 s of SIGTERM")
		s.kill()
	}
}

// crashWaitFor polls cond until it holds (true) or the timeout passes.
func crashWaitFor(timeout time.Duration, cond func() bool) bool {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	for !cond() {
		select {
		case <-ctx.Done():
			return false
		case <-time.After(20 * time.Millisecond):
		}
	}
	return true
}
