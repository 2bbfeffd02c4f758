// Command ordersbench is the orders part of `make bench` (make
// bench-orders): it starts its own throwaway PostgreSQL cluster, seeds the
// demo retailer, adds a million orders set-based in SQL (lines,
// reservations for the open ones, timeline events), serves the real
// handlers on a loopback port, and measures over real HTTP, signed in as
// the demo users:
//
//   - the order page (support, a random order of the million);
//   - the pickup queue page and its refreshed list fragment (the S01
//     associate);
//   - the order search by customer email (support).
//
// Each figure is the server time of the request (measured around the
// handler, so the load generator's own cost is out of it), beside the
// baseline measured in the same run: the same store queries called
// straight from Go, with no HTTP, sessions or templates. The target is
// p95 ≤ 30 ms server time for the order page and the pickup queue.
//
//	ordersbench [-orders 1000000] [-duration 8s] [-clients 2]
package main

import (
	"context"
	"database/sql"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/signal"
	"slices"
	"strings"
	"sync"
	"syscall"
	"text/tabwriter"
	"time"

	_ "github.com/lib/pq"

	"stockline/domain"
	"stockline/handlers"
	"stockline/store"
	"stockline/store/pgcluster"
)

type config struct {
	orders   int
	duration time.Duration
	warmup   time.Duration
	clients  int
	keep     bool
}

func main() {
	var cfg config
	flag.IntVar(&cfg.orders, "orders", 1_000_000, "orders in the generated dataset")
	flag.DurationVar(&cfg.duration, "duration", 8*time.Second, "measured time of each run")
	flag.DurationVar(&cfg.warmup, "warmup", time.Second, "unmeasured warm-up before each run")
	flag.IntVar(&cfg.clients, "clients", 2, "concurrent clients per run (default: one per core of the 2-core machine, so the figures are service time, not queueing)")
	flag.BoolVar(&cfg.keep, "keep", false, "leave the cluster running and print its URL")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, cfg, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "ordersbench:", err)
		os.Exit(1)
	}
}

// timings collects durations.
type timings struct {
	mu sync.Mutex
	d  []time.Duration
}

func (t *timings) add(d time.Duration) {
	t.mu.Lock()
	t.d = append(t.d, d)
	t.mu.Unlock()
}

func (t *timings) reset() {
	t.mu.Lock()
	t.d = t.d[:0]
	t.mu.Unlock()
}

type stats struct {
	n             int
	p50, p95, p99 time.Duration
	perSec        float64
}

func (t *timings) stats(over time.Duration) stats {
	t.mu.Lock()
	defer t.mu.Unlock()
	d := slices.Clone(t.d)
	slices.Sort(d)
	q := func(p float64) time.Duration {
		if len(d) == 0 {
			return 0
		}
		return d[min(len(d)-1, int(p*float64(len(d))))]
	}
	return stats{n: len(d), p50: q(0.50), p95: q(0.95), p99: q(0.99), perSec: float64(len(d)) / over.Seconds()}
}

// serverTimer measures each request's time inside the server, by route
// class, so the figures are server time.
type serverTimer struct {
	next http.Handler
	mu   sync.Mutex
	by   map[string]*timings
}

func (s *serverTimer) class(r *http.Request) string {
	p := r.URL.Path
	switch {
	case strings.HasPrefix(p, "/orders/"):
		return "order page"
	case p == "/orders":
		return "order search"
	case p == "/pickups/list":
		return "pickup list"
	case p == "/pickups":
		return "pickup queue"
	}
	return "other"
}

func (s *serverTimer) get(class string) *timings {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.by[class]
	if t == nil {
		t = &timings{}
		s.by[class] = t
	}
	return t
}

func (s *serverTimer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	s.next.ServeHTTP(w, r)
	s.get(s.class(r)).add(time.Since(start))
}

func createDatabase(adminDSN, name string) error {
	db, err := sql.Open("postgres", adminDSN)
	if err != nil {
		return err
	}
	defer db.Close()
	_, err = db.Exec(`CREATE DATABASE ` + name)
	return err
}

func run(ctx context.Context, cfg config, out io.Writer) error {
	dir, err := os.MkdirTemp("", "stockline-ordersbench-pg-")
	if err != nil {
		return err
	}
	cluster, err := pgcluster.Ensure(dir)
	if err != nil {
		os.RemoveAll(dir)
		return err
	}
	if !cfg.keep {
		defer func() { cluster.Stop(); os.RemoveAll(dir) }()
	}
	if err := createDatabase(cluster.DSN("postgres"), "ordersbench"); err != nil {
		return err
	}
	db, err := store.Open(ctx, cluster.DSN("ordersbench"))
	if err != nil {
		return err
	}
	defer db.Close()
	if _, err := db.Migrate(ctx); err != nil {
		return err
	}
	store.BcryptCost = 4
	if _, err := db.SeedDemo(ctx); err != nil {
		return err
	}
	t0 := time.Now()
	fmt.Fprintf(out, "orders bench: generating %d orders set-based in SQL...\n", cfg.orders)
	ds, err := db.LoadOrdersBenchDataset(ctx, cfg.orders, func(step string, took time.Duration) {
		fmt.Fprintf(out, "  %-30s %s\n", step, took.Round(10*time.Millisecond))
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "dataset: %d orders (%d open, %d open at S01), %d lines, %d timeline events, built in %s\n",
		ds.Orders, ds.Open, ds.OpenAtS01, ds.Lines, ds.Events, time.Since(t0).Round(100*time.Millisecond))
	if cfg.keep {
		fmt.Fprintf(out, "cluster kept running: %s\n", cluster.DSN("ordersbench"))
	}

	timer := &serverTimer{by: map[string]*timings{}}
	srv := handlers.New(db, slog.New(slog.NewTextHandler(io.Discard, nil)), handlers.Options{SessionSecret: []byte("ordersbench-session-secret-0123456789abcdef")})
	timer.next = srv
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	hs := &http.Server{Handler: timer, ReadHeaderTimeout: 10 * time.Second}
	go hs.Serve(ln)
	defer hs.Close()
	base := "http://" + ln.Addr().String()
	transport := &http.Transport{MaxIdleConns: 256, MaxIdleConnsPerHost: 256, DisableCompression: true}
	support, err := login(base, transport, domain.RoleSupport)
	if err != nil {
		return err
	}
	assoc, err := login(base, transport, domain.RoleAssociate)
	if err != nil {
		return err
	}
	s01, err := db.LocationIDs(ctx, []string{"S01"})
	if err != nil {
		return err
	}

	randomOrder := func(r *rand.Rand) int64 { return ds.MinID + r.Int64N(ds.MaxID-ds.MinID+1) }
	randomEmail := func(r *rand.Rand) string { return fmt.Sprintf("customer%d@example.com", r.IntN(250000)) }
	type runSpec struct {
		name   string
		target bool // p95 ≤ 30 ms applies
		http   func(r *rand.Rand) error
		base   func(r *rand.Rand) error
	}
	get := func(c *http.Client, path string) error {
		res, err := c.Get(base + path)
		if err != nil {
			return err
		}
		io.Copy(io.Discard, res.Body)
		res.Body.Close()
		if res.StatusCode != http.StatusOK {
			return fmt.Errorf("GET %s: %d", path, res.StatusCode)
		}
		return nil
	}
	runs := []runSpec{
		{"order page", true,
			func(r *rand.Rand) error { return get(support, fmt.Sprintf("/orders/%d", randomOrder(r))) },
			func(r *rand.Rand) error {
				o, err := db.OrderByID(ctx, randomOrder(r))
				if err != nil {
					return err
				}
				_, err = db.OrderTimeline(ctx, o)
				return err
			}},
		{"pickup queue", true,
			func(r *rand.Rand) error { return get(assoc, "/pickups") },
			func(r *rand.Rand) error {
				_, _, err := db.PickupQueue(ctx, s01, store.TabToPick, time.Now(), 50)
				return err
			}},
		{"pickup list", true,
			func(r *rand.Rand) error { return get(assoc, "/pickups/list?tab=to_pick") },
			func(r *rand.Rand) error {
				_, _, err := db.PickupQueue(ctx, s01, store.TabToPick, time.Now(), 50)
				return err
			}},
		{"order search", false,
			func(r *rand.Rand) error {
				return get(support, "/orders?list=1&q="+url.QueryEscape(randomEmail(r)))
			},
			func(r *rand.Rand) error {
				_, _, err := db.SearchOrders(ctx, store.OrderQuery{Q: randomEmail(r), Limit: 50})
				return err
			}},
	}
	type row struct {
		name           string
		target         bool
		app, base, cli stats
	}
	var rows []row
	for _, rs := range runs {
		cli := &timings{}
		if err := load(ctx, cfg, func(r *rand.Rand) error {
			start := time.Now()
			err := rs.http(r)
			cli.add(time.Since(start))
			return err
		}, func() { cli.reset(); timer.get(rs.name).reset() }); err != nil {
			return fmt.Errorf("%s: %w", rs.name, err)
		}
		app := timer.get(rs.name).stats(cfg.duration)
		bt := &timings{}
		if err := load(ctx, cfg, func(r *rand.Rand) error {
			start := time.Now()
			err := rs.base(r)
			bt.add(time.Since(start))
			return err
		}, bt.reset); err != nil {
			return fmt.Errorf("%s baseline: %w", rs.name, err)
		}
		rows = append(rows, row{rs.name, rs.target, app, bt.stats(cfg.duration), cli.stats(cfg.duration)})
		fmt.Fprintf(out, "  %-13s server p95 %-9s baseline p95 %s\n", rs.name, ms(app.p95), ms(bt.stats(cfg.duration).p95))
	}
	rep, err := db.Check(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "\nOrders at %d orders, %d clients, %s per run (server time; baseline = the same store queries from Go, no HTTP or templates):\n",
		ds.Orders, cfg.clients, cfg.duration)
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "run\treq/s\tp50\tp95\tp99\tbaseline p50\tbaseline p95\tbaseline p99\tclient p95\ttarget\t")
	failed := false
	for _, r := range rows {
		verdict := "-"
		if r.target {
			verdict = "p95 ≤ 30 ms: ok"
			if r.app.p95 > 30*time.Millisecond {
				verdict, failed = "p95 ≤ 30 ms: MISSED", true
			}
		}
		fmt.Fprintf(tw, "%s\t%.0f\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t\n", r.name, r.app.perSec, ms(r.app.p50), ms(r.app.p95), ms(r.app.p99),
			ms(r.base.p50), ms(r.base.p95), ms(r.base.p99), ms(r.cli.p95), verdict)
	}
	tw.Flush()
	if rep.OK() {
		fmt.Fprintln(out, "consistency check after the runs: OK")
	} else {
		fmt.Fprintf(out, "consistency check after the runs: FAILED %+v\n", rep)
		failed = true
	}
	if failed {
		return fmt.Errorf("orders bench missed its target or failed the check")
	}
	return nil
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2f ms", float64(d.Microseconds())/1000) }

// load runs fn from cfg.clients goroutines for the warm-up, calls reset,
// then for the measured duration.
func load(ctx context.Context, cfg config, fn func(r *rand.Rand) error, reset func()) error {
	phase := func(d time.Duration) error {
		pctx, cancel := context.WithTimeout(ctx, d)
		defer cancel()
		var wg sync.WaitGroup
		errs := make(chan error, cfg.clients)
		for i := range cfg.clients {
			wg.Add(1)
			go func() {
				defer wg.Done()
				r := rand.New(rand.NewPCG(uint64(i), uint64(time.Now().UnixNano())))
				for pctx.Err() == nil {
					if err := fn(r); err != nil && pctx.Err() == nil {
						errs <- err
						return
					}
				}
			}()
		}
		wg.Wait()
		close(errs)
		return <-errs
	}
	if err := phase(cfg.warmup); err != nil {
		return err
	}
	reset()
	return phase(cfg.duration)
}

// login signs in as the demo user for role and returns a client with the
// session cookie.
func login(base string, tr http.RoundTripper, role domain.Role) (*http.Client, error) {
	var u store.DemoUser
	for _, d := range store.DemoUsers {
		if d.Role == role {
			u = d
		}
	}
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Transport: tr, Jar: jar, Timeout: 30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := c.Get(base + "/login")
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
	res, err = c.PostForm(base+"/login", url.Values{"email": {u.Email}, "password": {u.Password}, "_csrf": {tok}})
	if err != nil {
		return nil, err
	}
	res.Body.Close()
	if res.StatusCode != http.StatusSeeOther {
		return nil, fmt.Errorf("sign in as %s: %d", role, res.StatusCode)
	}
	return c, nil
}
