// Command stockbench is `make bench`, the one benchmark harness: it starts
// its own throwaway PostgreSQL cluster (never the one `make run` uses),
// runs its sections in sequence, each sending real HTTP to the real
// handlers on a loopback port or driving the real apply path, and ends
// with one summary table of every figure beside a baseline measured in the
// same run, the consistency checks and the wall time:
//
//   - reservations (issue 3, reservations.go): over 200 locations × 20,000
//     SKUs, hot-SKU reservations (one SKU at one store, 8 and 32 clients)
//     and spread reservations (a random SKU at a random store, 32 clients),
//     each also in the sourced form (ecommerce_ship naming no location, so
//     Stockline sources it, to the DC) beside the located form, against
//     the raw-SQL ceiling (one conditional UPDATE + INSERT
//     statement per durable commit, straight from Go at the same
//     concurrency), and the availability GET for one SKU across every
//     location at a fixed request rate against the same query from Go;
//   - orders (issue 4, orders.go): a million orders over the demo
//     retailer; order page, pickup queue, its list fragment and the order
//     search in server time, against the same store queries from Go;
//   - ingest (issue 5, ingest.go): a million Square-style changes over the
//     same 200 × 20,000 positions through the real apply path, against a
//     bare-SQL baseline (COPY, INSERT … ON CONFLICT, set-based ledger and
//     positions);
//   - feeds (issue 11, feeds.go): the full availability feed (CSV, NDJSON,
//     Google local inventory) over the same retailer, against the same
//     store read from Go.
//
// The 200 × 20,000 retailer is built once and each use gets a pristine
// copy (CREATE DATABASE … TEMPLATE). After every reservation run the
// consistency check, over the positions the run changed, must report zero
// oversold positions and zero invariant violations; after each section it
// runs over the whole database (for ingest with -ingest-check).
//
//	stockbench [-only reservations,orders,ingest,reconciliation,feeds,metrics,exceptions] [-feeds-runs 3] [-locations 200] [-skus 20000] [-duration 8s] [-warmup 1s]
//	           [-hot 8,32] [-spread 32] [-rate 2000] [-avail-rates 250,500,1000,2000,4000,8000] [-reservations-runs hot,spread,availability]
//	           [-orders 1000000] [-orders-clients 2]
//	           [-ingest-events 1000000] [-ingest-batch 2000] [-ingest-dup 2] [-ingest-bad 1] [-ingest-late 5]
//	           [-ingest-check] [-ingest-paths baseline,real] [-keep] [-cpuprofile file] [-memprofile file]
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	_ "github.com/lib/pq"

	"stockline/store/pgcluster"
)

type config struct {
	sections         []string
	locations, skus  int
	duration, warmup time.Duration
	keep             bool
	cpuprofile       string
	memprofile       string
	reservations     reservationsConfig
	orders           ordersConfig
	ingest           ingestConfig
	exceptions       exceptionsConfig
	feeds            feedsConfig
	metrics          metricsConfig
}

// sections run in this order.
var sections = []struct {
	name string
	run  func(context.Context, *harness) error
}{
	{"reservations", runReservations},
	{"orders", runOrders},
	{"ingest", runIngest},
	{"reconciliation", runRecon},
	{"feeds", runFeeds},
	{"metrics", runMetrics},
	{"exceptions", runExceptions},
}

func main() {
	if os.Getenv(stallEnv) != "" {
		monitorStalls()
	}
	cfg, err := parseFlags(os.Args[1:])
	if err != nil {
		fmt.Fprintln(os.Stderr, "stockbench:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, cfg, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "stockbench:", err)
		os.Exit(1)
	}
}

func parseFlags(args []string) (config, error) {
	var cfg config
	fs := flag.NewFlagSet("stockbench", flag.ContinueOnError)
	only := fs.String("only", "reservations,orders,ingest,reconciliation,feeds,metrics,exceptions", "sections to run, in this order")
	fs.IntVar(&cfg.locations, "locations", 200, "locations of the reservations and ingest retailer (one DC, the rest pickup stores)")
	fs.IntVar(&cfg.skus, "skus", 20000, "SKUs of that retailer; positions = locations × skus")
	fs.DurationVar(&cfg.duration, "duration", 8*time.Second, "measured time of each reservations and orders run")
	fs.DurationVar(&cfg.warmup, "warmup", time.Second, "unmeasured warm-up before each reservations and orders run")
	fs.BoolVar(&cfg.keep, "keep", false, "leave the cluster and its databases in place and print its URL (for poking at the data)")
	fs.StringVar(&cfg.cpuprofile, "cpuprofile", "", "write a CPU profile of the whole run (server and load generator) to this file")
	fs.StringVar(&cfg.memprofile, "memprofile", "", "write an allocation profile of the whole run (server and load generator) to this file")

	hot := fs.String("hot", "8,32", "reservations: client counts for the hot-SKU runs")
	fs.IntVar(&cfg.reservations.spread, "spread", 32, "reservations: clients for the spread run")
	fs.IntVar(&cfg.reservations.rate, "rate", 2000, "reservations: requests per second for the availability run")
	availRates := fs.String("avail-rates", "250,500,1000,2000,4000,8000", "reservations: the availability knee's request rates")
	runs := fs.String("reservations-runs", "hot,spread,availability", "reservations: which runs to do")

	fs.IntVar(&cfg.orders.orders, "orders", 1_000_000, "orders: orders in the generated dataset")
	fs.IntVar(&cfg.orders.clients, "orders-clients", 2, "orders: concurrent clients per run (one per core of the 2-core machine, so the figures are service time, not queueing)")

	fs.IntVar(&cfg.metrics.ledger, "metrics-ledger", 10_000_000, "metrics: ledger rows the history grows the orders dataset's ledger to")
	fs.IntVar(&cfg.metrics.orders, "metrics-round-orders", 500, "metrics: orders placed through the write path before the timed incremental round")
	fs.IntVar(&cfg.ingest.events, "ingest-events", 1_000_000, "ingest: changes in the feed (redeliveries included)")
	fs.IntVar(&cfg.ingest.batch, "ingest-batch", 2000, "ingest: events per transaction, both paths")
	fs.IntVar(&cfg.ingest.dupPct, "ingest-dup", 2, "ingest: percent of the feed that redelivers an earlier change")
	fs.IntVar(&cfg.ingest.badPerMille, "ingest-bad", 1, "ingest: malformed changes per thousand")
	fs.IntVar(&cfg.ingest.latePct, "ingest-late", 5, "ingest: percent of changes that arrive an hour or two after they happened")
	fs.BoolVar(&cfg.ingest.check, "ingest-check", true, "ingest: run the full consistency check after the real apply path")
	fs.IntVar(&cfg.exceptions.exceptions, "exceptions", 1_000_000, "exceptions: exceptions in the generated dataset")
	paths := fs.String("ingest-paths", "baseline,real", "ingest: which paths to run")
	fs.IntVar(&cfg.feeds.runs, "feeds-runs", 3, "feeds: downloads of each full feed (the median is reported)")
	if err := fs.Parse(args); err != nil {
		return cfg, err
	}
	var err error
	if cfg.sections, err = list(*only, "-only", "reservations", "orders", "ingest", "reconciliation", "feeds", "metrics", "exceptions"); err != nil {
		return cfg, err
	}
	if cfg.reservations.runs, err = list(*runs, "-reservations-runs", "hot", "spread", "availability"); err != nil {
		return cfg, err
	}
	for _, f := range strings.Split(*availRates, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			return cfg, fmt.Errorf("-avail-rates: %q is not a positive rate", f)
		}
		cfg.reservations.availRates = append(cfg.reservations.availRates, n)
	}
	if cfg.ingest.paths, err = list(*paths, "-ingest-paths", "baseline", "real"); err != nil {
		return cfg, err
	}
	for _, s := range strings.Split(*hot, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n <= 0 {
			return cfg, errors.New("-hot takes client counts such as 8,32")
		}
		cfg.reservations.hot = append(cfg.reservations.hot, n)
	}
	switch {
	case cfg.locations < 2 || cfg.skus < 3:
		return cfg, errors.New("-locations must be at least 2 and -skus at least 3")
	case cfg.exceptions.exceptions < 1000:
		return cfg, errors.New("-exceptions must be at least 1000")
	case cfg.orders.orders < 200 || cfg.orders.clients < 1:
		return cfg, errors.New("-orders must be at least 200 and -orders-clients at least 1")
	case cfg.ingest.events < 1000 || cfg.ingest.batch < 1:
		return cfg, errors.New("-ingest-events must be at least 1000 and -ingest-batch at least 1")
	case cfg.feeds.runs < 1:
		return cfg, errors.New("-feeds-runs must be at least 1")
	case cfg.reservations.rate < 1 || cfg.reservations.spread < 1 || cfg.duration <= 0 || cfg.warmup < 0:
		return cfg, errors.New("-rate, -spread and -duration must be positive")
	}
	return cfg, nil
}

// list splits a comma-separated flag, allowing only the names given.
func list(v, flagName string, allowed ...string) ([]string, error) {
	var out []string
	for _, s := range strings.Split(v, ",") {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		if !slices.Contains(allowed, s) {
			return nil, fmt.Errorf("%s: unknown %q (choose from %s)", flagName, s, strings.Join(allowed, ","))
		}
		out = append(out, s)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: name at least one of %s", flagName, strings.Join(allowed, ","))
	}
	return out, nil
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
	defer func() {
		if cfg.keep {
			fmt.Fprintf(out, "cluster kept running: %s (stop it with pg_ctl -D %s stop)\n", cluster.DSN("postgres"), cluster.Dir)
			return
		}
		cluster.Stop()
		os.RemoveAll(dir)
	}()
	fmt.Fprintf(out, "throwaway cluster on port %d (%s; fsync on, synchronous_commit on)\n", cluster.Port, dir)
	h := &harness{cfg: cfg, out: out, cluster: cluster, notes: sizeNotes(cfg)}
	if h.stalls, err = watchStalls(); err != nil {
		return err
	}
	defer h.stalls.Close()
	if slices.Contains(cfg.sections, "reservations") {
		h.pendingUses++
	}
	if slices.Contains(cfg.sections, "ingest") {
		h.pendingUses += len(cfg.ingest.paths)
	}
	if slices.Contains(cfg.sections, "reconciliation") {
		h.pendingUses++
	}
	if slices.Contains(cfg.sections, "feeds") {
		h.pendingUses++
	}
	if cfg.cpuprofile != "" {
		f, err := os.Create(cfg.cpuprofile)
		if err != nil {
			return err
		}
		defer f.Close()
		pprof.StartCPUProfile(f)
		defer pprof.StopCPUProfile()
	}
	if cfg.memprofile != "" {
		defer writeAllocs(cfg.memprofile, out)
	}
	for _, s := range sections {
		if !slices.Contains(cfg.sections, s.name) {
			continue
		}
		fmt.Fprintf(out, "\n==== %s\n", s.name)
		t := time.Now()
		err := s.run(ctx, h)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if err != nil {
			// The other sections still run; the summary names the failure.
			h.addCheck(s.name, "section ran to the end", err)
			fmt.Fprintf(out, "%s FAILED: %v\n", s.name, err)
		}
		fmt.Fprintf(out, "%s section took %s\n", s.name, time.Since(t).Round(time.Second))
	}
	if h.summary(started) {
		return errors.New("a section failed, had request errors or failed a consistency check (see the summary)")
	}
	return nil
}

// sizeNotes states the sizes of this run and says where flags made them
// smaller than the issues' sizes.
func sizeNotes(cfg config) []string {
	positions := cfg.locations * cfg.skus
	posSize := fmt.Sprintf("%d locations × %d SKUs = %d positions", cfg.locations, cfg.skus, positions)
	var notes []string
	for _, s := range cfg.sections {
		var size string
		var short []string // the sizes this run is below
		switch s {
		case "reservations":
			size = posSize
			if positions < 4_000_000 {
				short = append(short, "200 × 20000 = 4000000 positions")
			}
		case "orders":
			size = fmt.Sprintf("%d orders", cfg.orders.orders)
			if cfg.orders.orders < 1_000_000 {
				short = append(short, "1000000 orders")
			}
		case "exceptions":
			size = fmt.Sprintf("%d exceptions", cfg.exceptions.exceptions)
			if cfg.exceptions.exceptions < 1_000_000 {
				short = append(short, "1000000 exceptions")
			}
		case "reconciliation":
			size = posSize + ", a snapshot row for each"
			if positions < 1_000_000 {
				short = append(short, "1000000 positions")
			}
		case "feeds":
			size = posSize
			if positions < 4_000_000 {
				short = append(short, "200 × 20000 = 4000000 positions")
			}
		case "metrics":
			size = fmt.Sprintf("%d orders, %d ledger rows", cfg.orders.orders, cfg.metrics.ledger)
			if cfg.orders.orders < 1_000_000 {
				short = append(short, "1000000 orders")
			}
			if cfg.metrics.ledger < 10_000_000 {
				short = append(short, "10000000 ledger rows")
			}
		case "ingest":
			size = fmt.Sprintf("%d changes over %s", cfg.ingest.events, posSize)
			if cfg.ingest.events < 1_000_000 {
				short = append(short, "1000000 changes")
			}
			if positions < 4_000_000 {
				short = append(short, "4000000 positions")
			}
		}
		n := fmt.Sprintf("%-13s %s (the issue's size)", s+":", size)
		if len(short) > 0 {
			n = fmt.Sprintf("%-13s %s — SHRUNK by flags; the issue's size is %s", s+":", size, strings.Join(short, " and "))
		}
		notes = append(notes, n)
	}
	return notes
}

// writeAllocs writes the run's allocation profile (go tool pprof
// -sample_index=alloc_space shows where the bytes went).
func writeAllocs(path string, out io.Writer) {
	f, err := os.Create(path)
	if err == nil {
		err = pprof.Lookup("allocs").WriteTo(f, 0)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}
	if err != nil {
		fmt.Fprintf(out, "allocation profile: %v\n", err)
	}
}
