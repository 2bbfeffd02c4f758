package main

import (
	"context"
	"fmt"
	"io"
	"runtime"
	"text/tabwriter"
	"time"
)

// injectFaults runs, against the running load, a PostgreSQL restart at a
// third of the run (down 3 s) and a disturbed connection at two thirds
// (every connection reset, then 300 ms added to each chunk and a 64 KiB/s
// cap for 3 s), and measures how the app takes each.
func (s *soaker) injectFaults(ctx context.Context, start, end time.Time) []faultResult {
	var out []faultResult
	span := end.Sub(start)
	wait := func(t time.Time) bool {
		select {
		case <-ctx.Done():
			return false
		case <-time.After(time.Until(t)):
			return true
		}
	}
	if !wait(start.Add(span / 3)) {
		return out
	}
	out = append(out, s.fault("PostgreSQL restart (fast shutdown, down 3 s)", func() {
		if err := s.w.cluster.Restart(3 * time.Second); err != nil {
			fmt.Println("restart failed:", err)
		}
	}))
	if !wait(start.Add(2 * span / 3)) {
		return out
	}
	out = append(out, s.fault("disturbed connection (reset all, +300 ms a chunk, 64 KiB/s, 3 s)", func() {
		s.w.proxy.Reset()
		s.w.proxy.Disturb(300*time.Millisecond, 64<<10)
		time.Sleep(3 * time.Second)
		s.w.proxy.Calm()
	}))
	return out
}

// fault runs inject as one fault window and then waits for recovery: the
// first /readyz 200 and the first successful checkout after the window.
func (s *soaker) fault(name string, inject func()) faultResult {
	r := faultResult{Name: name}
	before503, beforeNoRA := s.fault503.Load(), s.no503RA.Load()
	s.notReady.Store(false)
	s.faultOn.Store(true)
	t := time.Now()
	inject()
	r.Injected = time.Since(t)
	back := time.Now()
	s.faultOn.Store(false)
	s.faultEnd.Store(back.UnixNano())
	for time.Since(back) < 30*time.Second {
		if s.ready.Load() && s.lastOK.Load() > back.UnixNano() {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	r.Recovered = time.Since(back)
	time.Sleep(2 * time.Second) // the grace window in classify
	r.NotReady = s.notReady.Load()
	r.Fault503 = s.fault503.Load() - before503
	r.RetryAfterSeen = s.no503RA.Load() == beforeNoRA
	return r
}

func (r *report) print(out io.Writer, cfg config) {
	tw := tabwriter.NewWriter(out, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "operation\tcount\tok\trefused (409)\t503 in faults\terrors\tp50\tp99\tp99.9\tmax\tslowest 503")
	for _, s := range r.Series {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%d\t%s\t%s\t%s\t%s\t%s\n", s.Name, s.Count, s.OK, s.Refused, s.Fault, s.Errors,
			ms(s.P50), ms(s.P99), ms(s.P999), ms(s.Max), ms(s.MaxFault))
	}
	tw.Flush()
	for _, s := range r.Series {
		for d, n := range s.ErrorDetails {
			fmt.Fprintf(out, "  %s error: %s ×%d\n", s.Name, d, n)
		}
	}
	total, errs := r.Dropped, r.Dropped // a dropped request was due and never sent: in both counts
	for _, s := range r.Series {
		total += s.Count
		errs += s.Errors
	}
	rate := 0.0
	if total > 0 {
		rate = float64(errs) / float64(total)
	}
	fmt.Fprintf(out, "error rate: %d of %d requests (%.4f %%), %d dropped by the open loop\n", errs, total, 100*rate, r.Dropped)
	fmt.Fprintf(out, "feed: %d Square events generated, %d stored; largest backlog %d; drained %s after the load\n",
		r.FeedGenerated, r.FeedStored, r.FeedMaxBacklog, r.FeedDrain.Round(time.Millisecond))
	fmt.Fprintf(out, "database connections: at most %d in use, %d open (pool limit 40); transaction retries (40001/40P01): %d\n",
		r.MaxConnsInUse, r.MaxConns, r.Retries)
	if r.Wall > 0 {
		fmt.Fprintf(out, "this process (server, load and proxy): %.1f s of CPU in %.1f s of load, %.2f cores of the machine's %d\n",
			r.CPU.Seconds(), r.Wall.Seconds(), r.CPU.Seconds()/r.Wall.Seconds(), runtime.NumCPU())
	}
	fmt.Fprintf(out, "goroutines: %d at start, %d at end (bound +%d); heap in use: %.1f MiB at start, %.1f MiB at end (bound +%d MiB)\n",
		r.GoroutinesStart, r.GoroutinesEnd, cfg.goroutineBound, float64(r.HeapStart)/(1<<20), float64(r.HeapEnd)/(1<<20), cfg.heapBound>>20)
	ok := "OK"
	if !r.CheckOK {
		ok = "FAILED"
	}
	fmt.Fprintf(out, "consistency check: %s (%s)\n", ok, r.CheckDetail)
	for _, f := range r.Faults {
		fmt.Fprintf(out, "fault: %s: lasted %s, readiness false during it: %v, 503s %d (all with Retry-After: %v), recovered %s after it ended\n",
			f.Name, f.Injected.Round(time.Millisecond), f.NotReady, f.Fault503, f.RetryAfterSeen, f.Recovered.Round(time.Millisecond))
	}
}

// goalsMissed lists the goals the run did not meet.
func (r *report) goalsMissed(cfg config) []string {
	var out []string
	for _, s := range r.Series {
		if s.Errors > 0 {
			out = append(out, fmt.Sprintf("%s: %d errors", s.Name, s.Errors))
		}
	}
	if r.Dropped > 0 {
		out = append(out, fmt.Sprintf("%d requests dropped: the server fell behind the schedule", r.Dropped))
	}
	if r.FeedStored < r.FeedGenerated {
		out = append(out, fmt.Sprintf("feed: %d of %d events stored a minute after the load", r.FeedStored, r.FeedGenerated))
	}
	if !r.CheckOK {
		out = append(out, "consistency check failed: "+r.CheckDetail)
	}
	if r.GoroutinesEnd > r.GoroutinesStart+cfg.goroutineBound {
		out = append(out, fmt.Sprintf("goroutines grew from %d to %d", r.GoroutinesStart, r.GoroutinesEnd))
	}
	if int64(r.HeapEnd) > int64(r.HeapStart)+cfg.heapBound {
		out = append(out, fmt.Sprintf("heap grew from %d to %d bytes", r.HeapStart, r.HeapEnd))
	}
	for _, f := range r.Faults {
		if !f.RetryAfterSeen {
			out = append(out, f.Name+": a 503 without Retry-After")
		}
		if f.Recovered > 10*time.Second {
			out = append(out, fmt.Sprintf("%s: recovery took %s", f.Name, f.Recovered))
		}
	}
	if len(r.Faults) > 0 && !r.Faults[0].NotReady {
		out = append(out, r.Faults[0].Name+": /readyz never said not ready")
	}
	return out
}
