package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"stockline/store"
)

// report is what one soak run measured.
type report struct {
	Duration                       time.Duration
	Series                         []summary
	Dropped                        int64
	FeedGenerated, FeedStored      int64
	FeedMaxBacklog                 int64
	FeedDrain                      time.Duration
	MaxConnsInUse, MaxConns        int
	Retries                        int64
	GoroutinesStart, GoroutinesEnd int
	HeapStart, HeapEnd             uint64
	CPU, Wall                      time.Duration // this process's CPU time (server, load and proxy) over the load's wall time
	CheckOK                        bool
	CheckDetail                    string
	Faults                         []faultResult
}

// faultResult is one injected fault and how the app took it.
type faultResult struct {
	Name           string
	Injected       time.Duration // how long the fault lasted
	NotReady       bool          // /readyz answered 503 during it
	RetryAfterSeen bool          // every 503 carried Retry-After
	Recovered      time.Duration // from the fault's end to /readyz 200 and a successful checkout
	Fault503       int64
}

// soaker holds one run's moving parts.
type soaker struct {
	cfg       config
	w         *world
	reserve   *series
	finish    *series
	page      *series
	dropped   atomic.Int64
	faultOn   atomic.Bool
	faultEnd  atomic.Int64 // unix nanos: 503s up to 2 s after this still count as the fault's
	no503RA   atomic.Int64 // 503s without Retry-After
	lastOK    atomic.Int64 // unix nanos of the newest successful reserve
	ready     atomic.Bool
	notReady  atomic.Bool // /readyz was 503 during the current fault
	seq       atomic.Int64
	started   time.Time
	generated atomic.Int64
	fault503  atomic.Int64
}

func soak(ctx context.Context, cfg config, out io.Writer) (*report, error) {
	fmt.Fprintf(out, "soak: %s at %.0f checkouts/s, %.0f feed events/s, %.0f page views/s, faults %v\n",
		cfg.duration, cfg.checkouts, cfg.feed, cfg.pages, cfg.faults)
	w, err := newWorld(ctx, cfg)
	if err != nil {
		return nil, err
	}
	defer w.close()
	s := &soaker{cfg: cfg, w: w, reserve: newSeries("reserve (POST /api/v1/reservations)"),
		finish: newSeries("commit or release"), page: newSeries("page view (4 roles)")}
	s.ready.Store(true)
	rep := &report{Duration: cfg.duration}

	// Baseline: warm every path once, settle, then count.
	s.checkout(ctx, time.Now())
	for _, p := range w.pages {
		s.view(ctx, p, time.Now())
	}
	retries0 := store.Retries()
	rep.GoroutinesStart, rep.HeapStart = s.settle()
	cpu0, wall0 := processCPU(), time.Now()

	start := time.Now().Add(200 * time.Millisecond)
	s.started = start
	end := start.Add(cfg.duration)
	lctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg, loops sync.WaitGroup
	run := func(fn func()) { loops.Add(1); go func() { defer loops.Done(); fn() }() }
	run(func() {
		openLoop(lctx, cfg.checkouts, start, end, 4000, &s.dropped, &wg, func(at time.Time) { s.checkout(lctx, at) })
	})
	run(func() {
		i := 0
		openLoop(lctx, cfg.pages, start, end, 500, &s.dropped, &wg, func(at time.Time) { i++; s.view(lctx, w.pages[i%len(w.pages)], at) })
	})
	run(func() { rep.FeedGenerated = s.feed(lctx, start, end) })
	sctx, stopSampling := context.WithCancel(lctx)
	var samplers sync.WaitGroup
	samplers.Add(2)
	go func() { defer samplers.Done(); s.sampleDB(sctx, rep) }()
	go func() { defer samplers.Done(); s.sampleReady(sctx) }()
	if cfg.faults {
		run(func() { rep.Faults = s.injectFaults(lctx, start, end) })
	}
	loops.Wait()
	wg.Wait()
	stopSampling()
	samplers.Wait()
	rep.CPU, rep.Wall = processCPU()-cpu0, time.Since(wall0)

	// Drain the feed: every generated event stored (applied or dead-lettered).
	t := time.Now()
	for time.Since(t) < time.Minute {
		if rep.FeedStored = s.stored(ctx); rep.FeedStored >= rep.FeedGenerated {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	rep.FeedDrain = time.Since(t)
	rep.Retries = store.Retries() - retries0
	rep.GoroutinesEnd, rep.HeapEnd = s.settle()
	rep.Dropped = s.dropped.Load()
	rep.Series = []summary{s.reserve.summary(), s.finish.summary(), s.page.summary()}
	chk, err := w.db.Check(ctx)
	if err != nil {
		return nil, err
	}
	rep.CheckOK = chk.OK()
	rep.CheckDetail = fmt.Sprintf("%d positions, %d ledger mismatches, %d unexplained, %d reservation leaks, %d order mismatches",
		chk.Positions, len(chk.LedgerMismatch), len(chk.Unexplained), len(chk.ReservationLeak), len(chk.OrderMismatch))
	rep.print(out, cfg)
	return rep, nil
}

// processCPU is the user and system CPU time this process has used.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// settle closes idle client connections, lets finished goroutines exit,
// collects garbage and returns the goroutine count (less the proxy's two
// per open database connection, which follow the pool's size, not a leak)
// and the heap in use.
func (s *soaker) settle() (int, uint64) {
	s.w.closeIdle()
	time.Sleep(time.Second)
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return runtime.NumGoroutine() - 2*s.w.proxy.Conns(), m.HeapInuse
}

// classify sorts an answer into the outcome classes.
func (s *soaker) classify(status int, retryAfter string, err error, want ...int) (int, string) {
	if err != nil {
		return outError, "transport: " + err.Error()
	}
	for _, w := range want {
		if status == w {
			return outOK, ""
		}
	}
	if status == http.StatusServiceUnavailable {
		if retryAfter == "" {
			s.no503RA.Add(1)
		}
		if s.faultOn.Load() || time.Since(time.Unix(0, s.faultEnd.Load())) < 2*time.Second {
			s.fault503.Add(1)
			return outFault, ""
		}
	}
	return outError, fmt.Sprintf("status %d", status)
}

// checkout is one customer: hold one unit for pickup at a store, then
// commit (3 in 5) or release.
func (s *soaker) checkout(ctx context.Context, at time.Time) {
	n := s.seq.Add(1)
	rng := rand.New(rand.NewPCG(uint64(n), 7))
	sku := s.w.skus[rng.IntN(len(s.w.skus))]
	body := map[string]any{"channel": "bopis", "location": s.w.pickup[rng.IntN(len(s.w.pickup))], "checkout_ref": fmt.Sprintf("soak-%d", n),
		"lines": []map[string]any{{"sku": sku, "qty": 1}}}
	status, ra, resp, err := s.w.call(ctx, "POST", "/api/v1/reservations", fmt.Sprintf("soak-key-%d-%d", n, at.UnixNano()), body)
	out, detail := s.classify(status, ra, err, http.StatusCreated)
	if status == http.StatusConflict {
		out, detail = outRefused, ""
	}
	s.reserve.record(time.Since(at), out, detail)
	if out != outOK {
		return
	}
	s.lastOK.Store(time.Now().UnixNano())
	var r struct {
		ID int64 `json:"id"`
	}
	json.Unmarshal(resp, &r)
	t := time.Now()
	path, req := fmt.Sprintf("/api/v1/reservations/%d/commit", r.ID), map[string]any{"order_ref": fmt.Sprintf("SOAK-%d", n)}
	if rng.IntN(5) >= 3 {
		path, req = fmt.Sprintf("/api/v1/reservations/%d/release", r.ID), map[string]any{"reason": "checkout_abandoned"}
	}
	status, ra, _, err = s.w.call(ctx, "POST", path, "", req)
	out, detail = s.classify(status, ra, err, http.StatusOK)
	s.finish.record(time.Since(t), out, detail)
}

// view is one page view by a signed-in role: its home page.
func (s *soaker) view(ctx context.Context, p rolePage, at time.Time) {
	req, _ := http.NewRequestWithContext(ctx, "GET", s.w.base+p.path, nil)
	res, err := p.client.Do(req)
	status, ra := 0, ""
	if err == nil {
		io.Copy(io.Discard, res.Body)
		res.Body.Close()
		status, ra = res.StatusCode, res.Header.Get("Retry-After")
	}
	out, detail := s.classify(status, ra, err, http.StatusOK)
	s.page.record(time.Since(at), out, detail+" "+string(p.role)+" "+p.path)
}

// feed adds rate events a second to the Square simulator, in 20 ms
// slices stamped at their intended time, and returns how many it added.
func (s *soaker) feed(ctx context.Context, start, end time.Time) int64 {
	rng := rand.New(rand.NewPCG(1, 2))
	var seq int64
	const slice = 20 * time.Millisecond
	perSlice := s.cfg.feed * slice.Seconds()
	owed := 0.0
	for at := start; at.Before(end); at = at.Add(slice) {
		if d := time.Until(at); d > 0 {
			select {
			case <-ctx.Done():
				return seq
			case <-time.After(d):
			}
		}
		owed += perSlice
		n := int(owed)
		owed -= float64(n)
		s.w.addFeedEvents(rng, &seq, at, n)
		s.generated.Store(seq)
		if at.Sub(start)%(5*time.Second) == 0 {
			s.w.square.Forget(at.Add(-75 * time.Second)) // the connector re-reads one minute (squareOverlap)
		}
	}
	return seq
}

// stored counts the soak's events in inbound_events (applied or not).
func (s *soaker) stored(ctx context.Context) int64 {
	var n int64
	qctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := s.w.db.GetContext(qctx, &n, `SELECT count(*) FROM inbound_events WHERE source_event_id LIKE 'square:adjustment:soak-%'`); err != nil {
		return -1
	}
	return n
}

// sampleDB records the pool's peak use and the feed's peak backlog each second.
func (s *soaker) sampleDB(ctx context.Context, rep *report) {
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		st := s.w.db.Stats()
		rep.MaxConnsInUse = max(rep.MaxConnsInUse, st.InUse)
		rep.MaxConns = max(rep.MaxConns, st.OpenConnections)
		if !s.faultOn.Load() {
			gen, stored := s.generated.Load(), s.stored(ctx)
			if stored < 0 {
				continue
			}
			rep.FeedMaxBacklog = max(rep.FeedMaxBacklog, gen-stored)
			if s.cfg.verbose {
				n, _ := s.w.square.Requests()
				fmt.Printf("t=%s feed generated %d stored %d, source requests %d, db in use %d, pool waits %d (%s)%s\n",
					time.Since(s.started).Round(time.Second), gen, stored, n, st.InUse, st.WaitCount, st.WaitDuration.Round(time.Millisecond), s.waits(ctx))
			}
		}
	}
}

// waits names what the soak database's sessions are doing now (-v):
// PostgreSQL's wait events, "cpu" for an active session that waits on
// nothing, counted.
func (s *soaker) waits(ctx context.Context) string {
	var rows []struct {
		What string `db:"what"`
		N    int    `db:"n"`
	}
	qctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	err := s.w.db.SelectContext(qctx, &rows, `SELECT state || '/' || coalesce(wait_event_type || ':' || wait_event, 'cpu') AS what, count(*) AS n
		FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() GROUP BY 1 ORDER BY 2 DESC LIMIT 6`)
	if err != nil {
		return ""
	}
	out := ""
	for _, r := range rows {
		out += fmt.Sprintf(", %s %d", r.What, r.N)
	}
	// And what the sessions waiting on a lock are running.
	rows = rows[:0]
	if s.w.db.SelectContext(qctx, &rows, `SELECT left(regexp_replace(query, '\s+', ' ', 'g'), 60) AS what, count(*) AS n
		FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock' GROUP BY 1 ORDER BY 2 DESC LIMIT 3`) == nil {
		for _, r := range rows {
			out += fmt.Sprintf("; lock wait ×%d: %s", r.N, r.What)
		}
	}
	return out
}

// sampleReady polls /readyz every 100 ms.
func (s *soaker) sampleReady(ctx context.Context) {
	c := s.w.client()
	c.Timeout = 3 * time.Second
	for ctx.Err() == nil {
		ok := false
		if res, err := c.Get(s.w.base + "/readyz"); err == nil {
			io.Copy(io.Discard, res.Body)
			res.Body.Close()
			ok = res.StatusCode == http.StatusOK
		}
		s.ready.Store(ok)
		if !ok && s.faultOn.Load() {
			s.notReady.Store(true)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
