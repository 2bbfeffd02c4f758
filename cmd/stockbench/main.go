// Command stockbench is `make bench`: it starts its own throwaway
// PostgreSQL cluster (never the one `make run` uses), generates a retailer
// at scale, serves the real handlers on a loopback port, and measures the
// reservation and availability paths over real HTTP, each beside a
// baseline measured in the same run:
//
//   - hot SKU: one SKU at one store, 8 and 32 concurrent clients, against
//     the raw-SQL ceiling (one conditional UPDATE + INSERT statement per
//     durable commit, straight from Go at the same concurrency);
//   - spread: a random SKU at a random store, 32 clients, against the same
//     ceiling statement on random positions;
//   - availability GET for one SKU across every location at a fixed request
//     rate, against the same query run straight from Go at that rate.
//
// The ceiling's statement bypasses the ledger, so after each ceiling run
// its positions are reset to what their ledger says. After every run the
// consistency check, over the positions the run changed, must report zero
// oversold positions and zero invariant violations; at the end it runs
// over the whole database. It ends with a summary table.
//
//	stockbench [-locations 200] [-skus 20000] [-duration 10s] [-hot 8,32] [-spread 32] [-rate 2000]
package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
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
	locations, skus int
	duration        time.Duration
	warmup          time.Duration
	hot             []int
	spread          int
	rate            int
	keep            bool
	cpuprofile      string
	only            string
}

func main() {
	var cfg config
	var hot string
	flag.IntVar(&cfg.locations, "locations", 200, "locations in the generated dataset (one DC, the rest pickup stores)")
	flag.IntVar(&cfg.skus, "skus", 20000, "SKUs in the generated dataset; positions = locations × skus")
	flag.DurationVar(&cfg.duration, "duration", 8*time.Second, "measured time of each run")
	flag.DurationVar(&cfg.warmup, "warmup", time.Second, "unmeasured warm-up before each run")
	flag.StringVar(&hot, "hot", "8,32", "client counts for the hot-SKU runs")
	flag.IntVar(&cfg.spread, "spread", 32, "clients for the spread run")
	flag.IntVar(&cfg.rate, "rate", 2000, "requests per second for the availability run")
	flag.BoolVar(&cfg.keep, "keep", false, "leave the cluster running and print its URL (for poking at the data)")
	flag.StringVar(&cfg.cpuprofile, "cpuprofile", "", "write a CPU profile of the runs (server and load generator) to this file")
	flag.StringVar(&cfg.only, "only", "hot,spread,availability", "which runs to do")
	flag.Parse()
	for _, s := range strings.Split(hot, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n <= 0 {
			fmt.Fprintln(os.Stderr, "stockbench: -hot takes client counts such as 8,32")
			os.Exit(2)
		}
		cfg.hot = append(cfg.hot, n)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, cfg, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "stockbench:", err)
		os.Exit(1)
	}
}

// result is one line of the summary.
type result struct {
	name     string
	clients  string
	app      stats
	base     stats
	rate     bool // a fixed-rate run: compare latencies, not throughput
	check    string
	checkErr bool
}

func run(ctx context.Context, cfg config, out io.Writer) error {
	started := time.Now()
	dir, err := os.MkdirTemp("", "stockline-bench-pg-")
	if err != nil {
		return err
	}
	cluster, err := pgcluster.Ensure(dir)
	if err != nil {
		os.RemoveAll(dir)
		return err
	}
	if !cfg.keep {
		defer func() {
			cluster.Stop()
			os.RemoveAll(dir)
		}()
	}
	fmt.Fprintf(out, "throwaway cluster on port %d (%s)\n", cluster.Port, dir)
	if err := createDatabase(cluster.DSN("postgres"), "bench"); err != nil {
		return err
	}
	db, err := store.Open(ctx, cluster.DSN("bench"))
	if err != nil {
		return err
	}
	defer db.Close()
	if _, err := db.Migrate(ctx); err != nil {
		return err
	}
	t := time.Now()
	fmt.Fprintf(out, "building %d locations × %d SKUs = %d positions (with their opening ledger rows)...\n", cfg.locations, cfg.skus, cfg.locations*cfg.skus)
	ds, err := db.LoadBenchDataset(ctx, cfg.locations, cfg.skus)
	if err != nil {
		return err
	}
	loadTime := time.Since(t)
	fmt.Fprintf(out, "dataset built in %s\n", loadTime.Round(100*time.Millisecond))
	if cfg.keep {
		fmt.Fprintf(out, "cluster kept running: %s\n", cluster.DSN("bench"))
	}

	token := "stk_bench_" + randomHex(16)
	if _, err := db.CreateToken(ctx, domain.SystemActor("bench"), "bench", token, domain.Scopes); err != nil {
		return err
	}
	srv := handlers.New(db, slog.New(slog.NewTextHandler(io.Discard, nil)), handlers.Options{SessionSecret: []byte(randomHex(32))})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	hs := &http.Server{Handler: srv, ReadHeaderTimeout: 10 * time.Second}
	go hs.Serve(ln)
	defer hs.Close()
	base := "http://" + ln.Addr().String()
	client := &http.Client{Transport: &http.Transport{MaxIdleConns: 512, MaxIdleConnsPerHost: 512, DisableCompression: true}, Timeout: 30 * time.Second}
	fmt.Fprintf(out, "server on %s; each run: %s warm-up, %s measured\n\n", base, cfg.warmup, cfg.duration)
	if cfg.cpuprofile != "" {
		f, err := os.Create(cfg.cpuprofile)
		if err != nil {
			return err
		}
		defer f.Close()
		pprof.StartCPUProfile(f)
		defer pprof.StopCPUProfile()
	}

	prodIDs, err := db.BenchProductIDs(ctx)
	if err != nil {
		return err
	}
	locs, err := db.ListLocations(ctx)
	if err != nil {
		return err
	}
	var stores []domain.Location // bopis-eligible: every store has pickup
	for _, l := range locs {
		if l.Pickup {
			stores = append(stores, l)
		}
	}
	var keySeq atomic.Int64
	reserveHTTP := func(ctx context.Context, loc, sku string) (bool, error) {
		body := fmt.Sprintf(`{"channel":"bopis","location":%q,"checkout_ref":"bench","lines":[{"sku":%q,"qty":1}]}`, loc, sku)
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, base+"/api/v1/reservations", strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Idempotency-Key", fmt.Sprintf("bench-%d", keySeq.Add(1)))
		res, err := client.Do(req)
		if err != nil {
			return false, err
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		switch res.StatusCode {
		case http.StatusCreated:
			return true, nil
		case http.StatusConflict:
			return false, nil
		}
		return false, fmt.Errorf("status %d: %s", res.StatusCode, bytes.TrimSpace(b))
	}
	expires := time.Now().Add(time.Hour)
	var results []result
	since := time.Now()
	record := func(r result) error {
		t := time.Now()
		err := checkAfter(ctx, db, r.name, since)
		since = time.Now()
		r.check = "OK"
		if err != nil {
			r.check, r.checkErr = err.Error(), true
		}
		fmt.Fprintf(out, "%-34s %-8s app %s | baseline %s | check of changed positions %s (%s)\n", r.name, r.clients, r.app.line(r.rate), r.base.line(r.rate), r.check, time.Since(t).Round(10*time.Millisecond))
		results = append(results, r)
		return ctx.Err()
	}

	for _, n := range cfg.hot {
		if !strings.Contains(cfg.only, "hot") {
			break
		}
		ceiling := loop(ctx, n, cfg, func(ctx context.Context, _ *mrand.Rand) (bool, error) {
			return db.BenchCeilingReserve(ctx, ds.HotLocation.ID, ds.CeilingSKU.ID, expires)
		})
		if err := db.BenchCeilingReset(ctx, []int64{ds.HotLocation.ID}, []int64{ds.CeilingSKU.ID}); err != nil {
			return err
		}
		app := loop(ctx, n, cfg, func(ctx context.Context, _ *mrand.Rand) (bool, error) {
			return reserveHTTP(ctx, ds.HotLocation.Code, ds.HotSKU.SKU)
		})
		if err := record(result{name: "hot SKU reservations/s", clients: fmt.Sprint(n), app: app, base: ceiling}); err != nil {
			return err
		}
	}

	if strings.Contains(cfg.only, "spread") {
		if err := spreadRuns(ctx, cfg, db, stores, prodIDs, expires, reserveHTTP, record); err != nil {
			return err
		}
	}
	if strings.Contains(cfg.only, "availability") {
		if err := availabilityRun(ctx, cfg, db, ds, client, base, token, record); err != nil {
			return err
		}
	}
	t = time.Now()
	full := "OK"
	if err := checkAfter(ctx, db, "every run", time.Time{}); err != nil {
		full = err.Error()
	}
	fmt.Fprintf(out, "\nconsistency check over the whole database (%d positions) after every run: %s (%s)\n", cfg.locations*cfg.skus, full, time.Since(t).Round(100*time.Millisecond))
	return summary(out, cfg, results, loadTime, started, full == "OK")
}

type recorder func(result) error
type reserveFunc func(ctx context.Context, loc, sku string) (bool, error)

func spreadRuns(ctx context.Context, cfg config, db *store.DB, stores []domain.Location, prodIDs []int64, expires time.Time, reserveHTTP reserveFunc, record recorder) error {
	var touchedMu sync.Mutex
	var touchedLoc, touchedProd []int64
	ceiling := loop(ctx, cfg.spread, cfg, func(ctx context.Context, rng *mrand.Rand) (bool, error) {
		l, p := stores[rng.IntN(len(stores))].ID, prodIDs[rng.IntN(len(prodIDs))]
		touchedMu.Lock()
		touchedLoc, touchedProd = append(touchedLoc, l), append(touchedProd, p)
		touchedMu.Unlock()
		return db.BenchCeilingReserve(ctx, l, p, expires)
	})
	if err := db.BenchCeilingReset(ctx, touchedLoc, touchedProd); err != nil {
		return err
	}
	skus := make([]string, len(prodIDs))
	for i := range prodIDs {
		skus[i] = fmt.Sprintf("BEN-%06d", i+1)
	}
	app := loop(ctx, cfg.spread, cfg, func(ctx context.Context, rng *mrand.Rand) (bool, error) {
		return reserveHTTP(ctx, stores[rng.IntN(len(stores))].Code, skus[rng.IntN(len(skus))])
	})
	return record(result{name: "spread reservations/s", clients: fmt.Sprint(cfg.spread), app: app, base: ceiling})
}

func availabilityRun(ctx context.Context, cfg config, db *store.DB, ds store.BenchDataset, client *http.Client, base, token string, record recorder) error {
	availURL := base + "/api/v1/availability?sku=" + ds.HotSKU.SKU
	baseAvail := fixedRate(ctx, cfg.rate, cfg, func(ctx context.Context) error {
		_, err := db.StockForSKU(ctx, ds.HotSKU.SKU)
		return err
	})
	appAvail := fixedRate(ctx, cfg.rate, cfg, func(ctx context.Context) error {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, availURL, nil)
		req.Header.Set("Authorization", "Bearer "+token)
		res, err := client.Do(req)
		if err != nil {
			return err
		}
		io.Copy(io.Discard, res.Body)
		res.Body.Close()
		if res.StatusCode != http.StatusOK {
			return fmt.Errorf("status %d", res.StatusCode)
		}
		return nil
	})
	return record(result{name: fmt.Sprintf("availability GET @%d/s (%d loc)", cfg.rate, cfg.locations), clients: "open", app: appAvail, base: baseAvail, rate: true})
}

func summary(out io.Writer, cfg config, results []result, loadTime time.Duration, started time.Time, fullOK bool) error {
	fmt.Fprintf(out, "\nSummary (%d locations × %d SKUs = %d positions; dataset built in %s; total %s)\n\n",
		cfg.locations, cfg.skus, cfg.locations*cfg.skus, loadTime.Round(time.Second), time.Since(started).Round(time.Second))
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', tabwriter.AlignRight|tabwriter.Debug)
	fmt.Fprintln(tw, "run\tclients\tapp/s\tapp p50\tapp p99\tbaseline/s\tbase p50\tbase p99\tratio\terrors\tcheck\t")
	failed := false
	for _, r := range results {
		ratio := "-"
		if !r.rate && r.base.perSec() > 0 {
			ratio = fmt.Sprintf("%.2f×", r.app.perSec()/r.base.perSec())
		}
		fmt.Fprintf(tw, "%s\t%s\t%.0f\t%s\t%s\t%.0f\t%s\t%s\t%s\t%d\t%s\t\n", r.name, r.clients,
			r.app.perSec(), ms(r.app.pct(50)), ms(r.app.pct(99)), r.base.perSec(), ms(r.base.pct(50)), ms(r.base.pct(99)),
			ratio, r.app.errors, r.check)
		failed = failed || r.checkErr || r.app.errors > 0
	}
	tw.Flush()
	fmt.Fprintln(out, "\napp/s counts successful holds (201) for the reservation runs and answered requests for the GET run;")
	fmt.Fprintln(out, "baseline/s is the raw SQL ceiling (reservations) or the same query straight from Go (availability).")
	if failed || !fullOK {
		return errors.New("a run had errors or failed the consistency check")
	}
	return nil
}

// checkAfter runs the consistency check over the positions changed since
// (every position when since is zero) and counts oversold positions.
func checkAfter(ctx context.Context, db *store.DB, run string, since time.Time) error {
	var rep store.CheckReport
	var err error
	if since.IsZero() {
		rep, err = db.Check(ctx)
	} else {
		rep, err = db.CheckChangedSince(ctx, since)
	}
	if err != nil {
		return err
	}
	over, err := db.Oversold(ctx)
	if err != nil {
		return err
	}
	if !rep.OK() || over > 0 {
		return fmt.Errorf("after %s: %d oversold, %d ledger mismatches, %d unexplained violations, %d reservation leaks (first: %s)",
			run, over, len(rep.LedgerMismatch), len(rep.Unexplained), len(rep.ReservationLeak),
			firstOf(rep.LedgerMismatch, rep.Unexplained, rep.ReservationLeak))
	}
	return nil
}

func firstOf(lists ...[]string) string {
	for _, l := range lists {
		if len(l) > 0 {
			return l[0]
		}
	}
	return "-"
}

// stats is what one side of a run measured.
type stats struct {
	ok, attempts, errors int
	firstErr             error
	elapsed              time.Duration
	lat                  []time.Duration // sorted
}

func (s stats) perSec() float64 {
	if s.elapsed <= 0 {
		return 0
	}
	return float64(s.ok) / s.elapsed.Seconds()
}

func (s stats) pct(p float64) time.Duration {
	if len(s.lat) == 0 {
		return 0
	}
	i := int(math.Ceil(p/100*float64(len(s.lat)))) - 1
	return s.lat[max(0, min(i, len(s.lat)-1))]
}

func (s stats) line(rate bool) string {
	what := "ok/s"
	if rate {
		what = "req/s"
	}
	l := fmt.Sprintf("%7.0f %s p50 %s p99 %s", s.perSec(), what, ms(s.pct(50)), ms(s.pct(99)))
	if s.errors > 0 {
		l += fmt.Sprintf(" ERRORS %d (%v)", s.errors, s.firstErr)
	}
	return l
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2fms", float64(d)/float64(time.Millisecond)) }

// collector merges what workers measured.
type collector struct {
	mu sync.Mutex
	s  stats
}

func (c *collector) add(ok, attempts int, lat []time.Duration, errs int, first error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.s.ok += ok
	c.s.attempts += attempts
	c.s.errors += errs
	if c.s.firstErr == nil {
		c.s.firstErr = first
	}
	c.s.lat = append(c.s.lat, lat...)
}

// loop runs op from n clients back to back (a closed loop) for the warm-up,
// then measures for the duration.
func loop(ctx context.Context, n int, cfg config, op func(context.Context, *mrand.Rand) (bool, error)) stats {
	var c collector
	var wg sync.WaitGroup
	start := time.Now()
	measureFrom := start.Add(cfg.warmup)
	end := measureFrom.Add(cfg.duration)
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
			c.add(ok, attempts, lat, errs, first)
		}()
	}
	wg.Wait()
	c.s.elapsed = time.Since(measureFrom)
	slices.Sort(c.s.lat)
	return c.s
}

// fixedRate sends op at rate per second (an open loop) for the warm-up and
// the duration; each latency counts from the request's scheduled time, so
// queueing behind a slow request is measured too.
func fixedRate(ctx context.Context, rate int, cfg config, op func(context.Context) error) stats {
	var c collector
	jobs := make(chan time.Time, rate)
	var wg sync.WaitGroup
	start := time.Now()
	measureFrom := start.Add(cfg.warmup)
	for range 64 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var lat []time.Duration
			ok, errs := 0, 0
			var first error
			for at := range jobs {
				err := op(ctx)
				if at.Before(measureFrom) {
					continue
				}
				lat = append(lat, time.Since(at))
				if err != nil {
					errs++
					if first == nil {
						first = err
					}
				} else {
					ok++
				}
			}
			c.add(ok, len(lat), lat, errs, first)
		}()
	}
	interval := time.Second / time.Duration(rate)
	total := int((cfg.warmup + cfg.duration) / interval)
	tick := time.NewTicker(time.Millisecond)
	sent := 0
	for sent < total && ctx.Err() == nil {
		<-tick.C
		due := min(total, int(time.Since(start)/interval)+1)
		for ; sent < due; sent++ {
			jobs <- start.Add(time.Duration(sent) * interval)
		}
	}
	tick.Stop()
	close(jobs)
	wg.Wait()
	c.s.elapsed = cfg.duration
	slices.Sort(c.s.lat)
	return c.s
}

func createDatabase(adminDSN, name string) error {
	admin, err := sql.Open("postgres", adminDSN)
	if err != nil {
		return err
	}
	defer admin.Close()
	_, err = admin.Exec(`CREATE DATABASE ` + name)
	return err
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}
