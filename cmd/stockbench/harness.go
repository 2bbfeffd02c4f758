package main

// What every section shares: the throwaway cluster and its databases, the
// real server on a loopback port and clients for it, the load loops, the
// latency statistics and the summary.

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"math"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"runtime"
	"slices"
	"strings"
	"sync"
	"syscall"
	"text/tabwriter"
	"time"

	"stockline/domain"
	"stockline/handlers"
	"stockline/store"
	"stockline/store/benchdata"
	"stockline/store/pgcluster"
)

// harness is one `make bench` run: the cluster every section uses and what
// the sections report.
type harness struct {
	cfg     config
	out     io.Writer
	cluster *pgcluster.Cluster
	rows    []row
	checks  []check
	notes   []string

	// The locations × skus retailer, built once in positionsTemplate and
	// handed to the sections that need it pristine (see positionsDB).
	dataset     benchdata.Dataset
	built       bool
	buildTime   time.Duration
	pendingUses int         // positionsDB calls still to come; the last one takes the template itself
	stalls      *stallWatch // the machine's pauses (stalls.go)
}

// positionsTemplate is the database the locations × skus retailer is built in.
const positionsTemplate = "bench_positions"

// admin runs one statement as the superuser on the postgres database.
func (h *harness) admin(stmt string) error {
	return pgcluster.Exec(h.cluster.DSN("postgres"), stmt)
}

// newDB creates an empty database, migrates it and opens it.
func (h *harness) newDB(ctx context.Context, name string) (*store.DB, error) {
	if err := h.admin(`CREATE DATABASE ` + name); err != nil {
		return nil, err
	}
	db, err := store.Open(ctx, h.cluster.DSN(name))
	if err != nil {
		return nil, err
	}
	if _, err := db.Migrate(ctx); err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}

// positionsDB returns database name holding the locations × skus retailer
// as benchdata.LoadRetailer built it, untouched by any other section. The
// retailer is built once; every use but the last gets a file copy of it
// (CREATE DATABASE … TEMPLATE, a few seconds where building takes
// tens), and the last use takes the template itself, renamed.
func (h *harness) positionsDB(ctx context.Context, name string) (*store.DB, benchdata.Dataset, error) {
	if !h.built {
		t := time.Now()
		fmt.Fprintf(h.out, "building %d locations × %d SKUs = %d positions (with their opening ledger rows), once for every section that uses them...\n",
			h.cfg.locations, h.cfg.skus, h.cfg.locations*h.cfg.skus)
		db, err := h.newDB(ctx, positionsTemplate)
		if err != nil {
			return nil, benchdata.Dataset{}, err
		}
		h.dataset, err = benchdata.LoadRetailer(ctx, db, h.cfg.locations, h.cfg.skus)
		db.Close()
		if err != nil {
			return nil, benchdata.Dataset{}, err
		}
		h.built, h.buildTime = true, time.Since(t)
		fmt.Fprintf(h.out, "positions built in %s\n", h.buildTime.Round(100*time.Millisecond))
	}
	t := time.Now()
	how := "copied from"
	h.pendingUses--
	stmt := fmt.Sprintf(`CREATE DATABASE %s TEMPLATE %s STRATEGY FILE_COPY`, name, positionsTemplate)
	if h.pendingUses <= 0 {
		how, stmt = "renamed from", fmt.Sprintf(`ALTER DATABASE %s RENAME TO %s`, positionsTemplate, name)
	}
	if err := h.admin(stmt); err != nil {
		return nil, benchdata.Dataset{}, err
	}
	fmt.Fprintf(h.out, "database %s %s %s in %s\n", name, how, positionsTemplate, time.Since(t).Round(100*time.Millisecond))
	db, err := store.Open(ctx, h.cluster.DSN(name))
	return db, h.dataset, err
}

// dropDB drops a database a section is done with (kept with -keep).
func (h *harness) dropDB(name string) {
	if h.cfg.keep {
		return
	}
	if err := h.admin(`DROP DATABASE IF EXISTS ` + name + ` WITH (FORCE)`); err != nil {
		fmt.Fprintln(h.out, "warning:", err)
	}
}

// server is the real handlers serving one section's database on a
// loopback port.
type server struct {
	base      string
	transport *http.Transport
	hs        *http.Server
}

// serve starts the real handlers for db, behind wrap when it is not nil.
func serve(db *store.DB, wrap func(http.Handler) http.Handler) (*server, error) {
	return serveWith(db, wrap, handlers.Options{SessionSecret: []byte(randomHex(32))})
}

// serveWith is serve with the handlers' options given.
func serveWith(db *store.DB, wrap func(http.Handler) http.Handler, opts handlers.Options) (*server, error) {
	var h http.Handler = handlers.New(db, slog.New(slog.NewTextHandler(io.Discard, nil)), opts)
	if wrap != nil {
		h = wrap(h)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s := &server{
		base:      "http://" + ln.Addr().String(),
		transport: &http.Transport{MaxIdleConns: 512, MaxIdleConnsPerHost: 512, DisableCompression: true},
		hs:        &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second},
	}
	go s.hs.Serve(ln)
	return s, nil
}

func (s *server) Close() {
	s.hs.Close()
	s.transport.CloseIdleConnections()
}

// client returns an HTTP client of the server's shared transport.
func (s *server) client() *http.Client {
	return &http.Client{Transport: s.transport, Timeout: 30 * time.Second}
}

// apiToken creates an API token with every scope.
func apiToken(ctx context.Context, db *store.DB) (string, error) {
	token := "stk_bench_" + randomHex(16)
	_, err := db.CreateToken(ctx, domain.SystemActor("bench"), "bench", token, domain.Scopes)
	return token, err
}

// login signs in as the demo user for role and returns a client holding
// the session cookie.
func (s *server) login(role domain.Role) (*http.Client, error) {
	var u store.DemoUser
	for _, d := range store.DemoUsers {
		if d.Role == role {
			u = d
		}
	}
	jar, _ := cookiejar.New(nil)
	c := s.client()
	c.Jar = jar
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	res, err := c.Get(s.base + "/login")
	if err != nil {
		return nil, err
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	tok := ""
	if i := strings.Index(string(body), `name="_csrf" value="`); i >= 0 {
		rest := string(body)[i+len(`name="_csrf" value="`):]
		tok = rest[:strings.IndexByte(rest, '"')]
	}
	res, err = c.PostForm(s.base+"/login", url.Values{"email": {u.Email}, "password": {u.Password}, "_csrf": {tok}})
	if err != nil {
		return nil, err
	}
	res.Body.Close()
	if res.StatusCode != http.StatusSeeOther {
		return nil, fmt.Errorf("sign in as %s: %d", role, res.StatusCode)
	}
	return c, nil
}

// get sends a GET and reads the answer, which must be 200.
func get(ctx context.Context, c *http.Client, rawURL string, header ...string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, rawURL, nil)
	if err != nil {
		return err
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	res, err := c.Do(req)
	if err != nil {
		return err
	}
	buf := bodyBufs.Get().(*[]byte)
	io.CopyBuffer(discard{}, res.Body, *buf)
	bodyBufs.Put(buf)
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: status %d", req.URL.Path, res.StatusCode)
	}
	return nil
}

// bodyBufs are get's read buffers: a 50-SKU availability page is about
// 2 MB, and io.Discard's own 8 KB reads would make the load generator,
// which shares the cores with the server, pay 250 reads per answer.
var bodyBufs = sync.Pool{New: func() any { b := make([]byte, 256<<10); return &b }}

// discard is io.Discard without its ReaderFrom, so io.CopyBuffer uses the
// buffer it is given.
type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }

// stats is what one side of a run measured.
type stats struct {
	ok, attempts, errors int
	firstErr             error
	from                 time.Time     // the measured window's start
	elapsed              time.Duration // and length
	lat                  []time.Duration
	// sendDelay (open loop only, sorted) is each request's wait from its
	// scheduled time to the moment a client sent it. Below saturation it
	// is the load generator's own lateness (its sleep overshooting, waking a
	// client, the process's scheduling); past saturation requests also
	// wait there for a free client. It is inside lat: printed beside lat,
	// it shows how much of a p99 the server did not cause.
	sendDelay []time.Duration
	// meanBatch (reservation runs through batched) is the requests per
	// batch the reservation pipelines ran, warm-up included.
	meanBatch float64
	// paused are the late wakes over 5 ms of a process that only sleeps,
	// in the measured window (stalls.go).
	paused machineStalls
}

// newStats sorts the latencies.
func newStats(lat []time.Duration, from time.Time, elapsed time.Duration) stats {
	slices.Sort(lat)
	return stats{ok: len(lat), attempts: len(lat), lat: lat, from: from, elapsed: elapsed}
}

func (s stats) perSec() float64 {
	if s.elapsed <= 0 {
		return 0
	}
	return float64(s.ok) / s.elapsed.Seconds()
}

// pct is the p-th percentile by nearest rank.
func (s stats) pct(p float64) time.Duration {
	if len(s.lat) == 0 {
		return 0
	}
	i := int(math.Ceil(p/100*float64(len(s.lat)))) - 1
	return s.lat[max(0, min(i, len(s.lat)-1))]
}

// err is the run's first error, with the count, or nil.
func (s stats) err() error {
	if s.errors == 0 {
		return nil
	}
	return fmt.Errorf("%d of %d requests failed, first: %w", s.errors, s.attempts, s.firstErr)
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2f ms", float64(d)/float64(time.Millisecond)) }

// collector merges what workers measured.
type collector struct {
	mu sync.Mutex
	s  stats
}

func (c *collector) add(ok, attempts int, lat, sendDelay []time.Duration, errs int, first error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.s.sendDelay = append(c.s.sendDelay, sendDelay...)
	c.s.ok += ok
	c.s.attempts += attempts
	c.s.errors += errs
	if c.s.firstErr == nil {
		c.s.firstErr = first
	}
	c.s.lat = append(c.s.lat, lat...)
}

// closedLoop runs op from n clients back to back for the warm-up, then
// measures for the duration: every request that starts in the measured
// window counts, with its latency; ok counts those that op calls good.
func (h *harness) closedLoop(ctx context.Context, n int, op func(context.Context, *mrand.Rand) (bool, error)) stats {
	var c collector
	var wg sync.WaitGroup
	start := time.Now()
	measureFrom := start.Add(h.cfg.warmup)
	end := measureFrom.Add(h.cfg.duration)
	for w := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := mrand.New(mrand.NewPCG(uint64(w), uint64(start.UnixNano())))
			var lat []time.Duration
			ok, attempts, errs := 0, 0, 0
			var first error
			for ctx.Err() == nil {
				t := time.Now()
				if !t.Before(end) {
					break
				}
				good, err := op(ctx, rng)
				if t.Before(measureFrom) {
					continue
				}
				lat = append(lat, time.Since(t))
				attempts++
				if err != nil {
					errs++
					if first == nil {
						first = err
					}
				} else if good {
					ok++
				}
			}
			c.add(ok, attempts, lat, nil, errs, first)
		}()
	}
	wg.Wait()
	c.s.from, c.s.elapsed = measureFrom, time.Since(measureFrom)
	c.s.paused = h.stalls.during(measureFrom, time.Now())
	slices.Sort(c.s.lat)
	return c.s
}

// fixedRate sends op at rate per second (an open loop) for the warm-up and
// the duration; each latency counts from the request's scheduled time, so
// queueing behind a slow request is measured too.
func (h *harness) fixedRate(ctx context.Context, rate int, op func(context.Context) error) stats {
	var c collector
	jobs := make(chan time.Time, rate)
	var wg sync.WaitGroup
	start := time.Now()
	measureFrom := start.Add(h.cfg.warmup)
	for range 64 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var lat, sendDelay []time.Duration
			ok, errs := 0, 0
			var first error
			for at := range jobs {
				sent := time.Now()
				err := op(ctx)
				if at.Before(measureFrom) {
					continue
				}
				lat, sendDelay = append(lat, time.Since(at)), append(sendDelay, sent.Sub(at))
				if err != nil {
					errs++
					if first == nil {
						first = err
					}
				} else {
					ok++
				}
			}
			c.add(ok, len(lat), lat, sendDelay, errs, first)
		}()
	}
	interval := time.Second / time.Duration(rate)
	total := int((h.cfg.warmup + h.cfg.duration) / interval)
	for sent := 0; sent < total && ctx.Err() == nil; {
		pause(time.Until(start.Add(time.Duration(sent) * interval)))
		due := min(total, int(time.Since(start)/interval)+1)
		for ; sent < due; sent++ {
			jobs <- start.Add(time.Duration(sent) * interval)
		}
		runtime.Gosched() // let the clients just given a request send it
	}
	close(jobs)
	wg.Wait()
	c.s.from, c.s.elapsed = measureFrom, h.cfg.duration
	c.s.paused = h.stalls.during(measureFrom, time.Now())
	slices.Sort(c.s.lat)
	slices.Sort(c.s.sendDelay)
	return c.s
}

// pause sleeps for d with nanosleep(2), which wakes within tens of
// microseconds. Go's own timers wake about every 1.1 ms on this machine
// (a 200 µs time.Sleep or a 250 µs ticker measured 1.09–1.11 ms at p50),
// so the open loop's old 1 ms ticker sent each request up to 1.1 ms after
// its scheduled time, and that lateness was inside every latency it
// measured.
func pause(d time.Duration) {
	if d <= 0 {
		return
	}
	ts := syscall.NsecToTimespec(int64(d))
	_ = syscall.Nanosleep(&ts, nil) // interrupted: wakes early, and the loop looks again
}

// row is one figure of the summary, beside its baseline.
type row struct {
	section, name string
	value, base   float64
	unit          string // "ms" for latency (lower is better), else a throughput (higher is better)
	goal, least   float64
	target        string // "" when the issue sets none for this figure
	// baseBelow says the baseline's true figure lies below base (it failed
	// even at the lowest step measured), so the ratio shown is a lower
	// bound: the summary prints "< base" and "> ratio".
	baseBelow bool
}

// rateRow is a throughput figure whose target is a ratio to its baseline:
// goal, or at least least (0: no minimum).
func rateRow(section, name, unit string, app, base float64, goal, least float64) row {
	r := row{section: section, name: name, value: app, base: base, unit: unit, goal: goal, least: least}
	if goal > 0 {
		r.target = fmt.Sprintf("≥ %.1f×", goal)
		if least > 0 {
			r.target += fmt.Sprintf(" (min %.1f×)", least)
		}
	}
	return r
}

// latencyRow is a latency figure whose target, when limit is not zero, is
// at most limit.
func latencyRow(section, name string, app, base, limit time.Duration) row {
	r := row{section: section, name: name, value: msOf(app), base: msOf(base), unit: "ms", goal: msOf(limit)}
	if limit > 0 {
		r.target = fmt.Sprintf("≤ %g ms", msOf(limit))
	}
	return r
}

func msOf(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func (r row) ratio() float64 {
	if r.base <= 0 {
		return 0
	}
	return r.value / r.base
}

// result is pass, "min only" (the minimum met but not the goal), MISS, or
// "-" with no target.
func (r row) result() string {
	switch {
	case r.target == "":
		return "-"
	case r.unit == "ms" && r.value <= r.goal, r.unit != "ms" && r.ratio() >= r.goal:
		return "pass"
	case r.unit != "ms" && r.least > 0 && r.ratio() >= r.least:
		return "min only"
	}
	return "MISS"
}

func (r row) format(v float64) string {
	if r.unit == "ms" {
		return fmt.Sprintf("%.2f", v)
	}
	return fmt.Sprintf("%.0f", v)
}

// check is one consistency check's outcome.
type check struct {
	section, what string
	err           error
	skipped       string // why it did not run
}

func (h *harness) addCheck(section, what string, err error) {
	h.checks = append(h.checks, check{section: section, what: what, err: err})
}

// summary prints the one table of every figure beside its baseline, the
// consistency checks and the wall time.
func (h *harness) summary(started time.Time) (failed bool) {
	out := h.out
	fmt.Fprintf(out, "\n==== Summary (sections: %s)\n\n", strings.Join(h.cfg.sections, ", "))
	for _, n := range h.notes {
		fmt.Fprintln(out, n)
	}
	if len(h.notes) > 0 {
		fmt.Fprintln(out)
	}
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', tabwriter.AlignRight|tabwriter.Debug)
	fmt.Fprintln(tw, "section\tfigure\tvalue\tunit\tbaseline\tratio\ttarget\tresult\t")
	misses := 0
	for _, r := range h.rows {
		ratio, base := "-", r.format(r.base)
		if r.base > 0 {
			ratio = fmt.Sprintf("%.2f×", r.ratio())
		}
		if r.baseBelow {
			ratio, base = "> "+ratio, "< "+base
		}
		target := r.target
		if target == "" {
			target = "-"
		}
		res := r.result()
		if res == "MISS" || res == "min only" {
			misses++
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t\n", r.section, r.name, r.format(r.value), r.unit, base, ratio, target, res)
	}
	tw.Flush()
	fmt.Fprintln(out, "\nbaselines, measured in this run: reservations, the raw-SQL ceiling (one conditional UPDATE + INSERT statement per")
	fmt.Fprintln(out, "durable commit, same concurrency); availability and orders, the same store queries called from Go at the same rate or")
	fmt.Fprintln(out, "concurrency (no HTTP, sessions or templates); ingest, the same events applied with bare SQL (COPY, INSERT … ON CONFLICT,")
	fmt.Fprintln(out, "set-based ledger and positions). Orders figures are server time; the others are measured by the load generator.")
	fmt.Fprintln(out, "\nconsistency checks:")
	for _, c := range h.checks {
		verdict := "OK"
		switch {
		case c.skipped != "":
			verdict = "not run (" + c.skipped + ")"
		case c.err != nil:
			verdict, failed = "FAILED: "+c.err.Error(), true
		}
		fmt.Fprintf(out, "  %-13s %s: %s\n", c.section, c.what, verdict)
	}
	fmt.Fprintf(out, "\n%d figures, %d short of their target; total wall time %s\n", len(h.rows), misses, time.Since(started).Round(time.Second))
	return failed
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}
