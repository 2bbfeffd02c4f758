// Command ingestbench is `make bench-ingest`: it measures sustained ingest
// of Square-style inventory changes through the connectors' real apply
// path (adapter parsing, inbound_events with per-event dedupe and dead
// letters, count anchors, ledger, positions, outbox and audit, batched many
// events per transaction), beside a bare-SQL baseline measured in the same
// run: COPY into a staging table, INSERT … ON CONFLICT into the event
// table, then set-based ledger and position updates, with no Go domain
// logic.
//
// It starts its own throwaway PostgreSQL cluster (durable commits:
// fsync and synchronous_commit on), builds a retailer of -locations ×
// -skus positions with their opening ledger rows once as a template, and
// runs each path on a fresh copy of it. The feed holds redeliveries,
// late (out-of-order) events and a few malformed ones, as real feeds do.
//
//	ingestbench [-events 1000000] [-locations 200] [-skus 20000] [-batch 2000] [-check]
package main

import (
	"context"
	"database/sql"
	"errors"
	"flag"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"os"
	"os/signal"
	"syscall"
	"text/tabwriter"
	"time"

	_ "github.com/lib/pq"

	"stockline/connectors"
	"stockline/connectors/sim"
	"stockline/store"
	"stockline/store/pgcluster"
)

type config struct {
	events, locations, skus, batch int
	dupPct, badPerMille, latePct   int
	check                          bool
	keep                           bool
	only                           string
}

func main() {
	var cfg config
	flag.IntVar(&cfg.events, "events", 1_000_000, "changes in the feed (redeliveries included)")
	flag.IntVar(&cfg.locations, "locations", 200, "locations (one DC, the rest stores)")
	flag.IntVar(&cfg.skus, "skus", 20_000, "SKUs; positions = locations × skus")
	flag.IntVar(&cfg.batch, "batch", 2000, "events per transaction, both paths")
	flag.IntVar(&cfg.dupPct, "dup", 2, "percent of the feed that redelivers an earlier change")
	flag.IntVar(&cfg.badPerMille, "bad", 1, "malformed changes per thousand")
	flag.IntVar(&cfg.latePct, "late", 5, "percent of changes that arrive an hour or two after they happened")
	flag.BoolVar(&cfg.check, "check", false, "also run the full consistency check after the real path (slow at full size)")
	flag.StringVar(&cfg.only, "only", "baseline,real", "which paths to run")
	flag.BoolVar(&cfg.keep, "keep", false, "leave the cluster running and print its URL (to look at the data)")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, cfg, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "ingestbench:", err)
		os.Exit(1)
	}
}

type result struct {
	name     string
	events   int
	elapsed  time.Duration
	detail   string
	baseline bool
}

func (r result) rate() float64 { return float64(r.events) / r.elapsed.Seconds() }

func run(ctx context.Context, cfg config, out io.Writer) error {
	started := time.Now()
	dir, err := os.MkdirTemp("", "stockline-ingestbench-pg-")
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
			fmt.Fprintf(out, "cluster kept running: %s (stop it with pg_ctl -D %s stop)\n", cluster.DSN("ingest_real"), cluster.Dir)
			return
		}
		cluster.Stop()
		os.RemoveAll(dir)
	}()
	admin := cluster.DSN("postgres")
	fmt.Fprintf(out, "throwaway cluster on port %d (fsync on, synchronous_commit on)\n", cluster.Port)
	if err := exec(admin, `CREATE DATABASE ingest_tmpl`); err != nil {
		return err
	}
	tmpl, err := store.Open(ctx, cluster.DSN("ingest_tmpl"))
	if err != nil {
		return err
	}
	if _, err := tmpl.Migrate(ctx); err != nil {
		tmpl.Close()
		return err
	}
	t := time.Now()
	fmt.Fprintf(out, "building %d locations × %d SKUs = %d positions with their opening ledger rows...\n", cfg.locations, cfg.skus, cfg.locations*cfg.skus)
	err = tmpl.LoadIngestBenchDataset(ctx, cfg.locations, cfg.skus)
	tmpl.Close()
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "dataset built in %s\n", time.Since(t).Round(100*time.Millisecond))

	t = time.Now()
	feed, cols, stats := generate(cfg)
	fmt.Fprintf(out, "feed of %d changes generated in %s: %d redeliveries, %d malformed, %d late, %d counts, %d transfers\n\n",
		len(feed), time.Since(t).Round(100*time.Millisecond), stats.dups, stats.bad, stats.late, stats.counts, stats.transfers)

	var results []result
	for _, path := range []string{"baseline", "real"} {
		if !contains(cfg.only, path) {
			continue
		}
		name := "ingest_" + path
		if err := exec(admin, fmt.Sprintf(`CREATE DATABASE %s TEMPLATE ingest_tmpl`, name)); err != nil {
			return err
		}
		db, err := store.Open(ctx, cluster.DSN(name))
		if err != nil {
			return err
		}
		var r result
		if path == "baseline" {
			r, err = runBaseline(ctx, db, cfg, cols, out)
		} else {
			r, err = runReal(ctx, db, cfg, feed, stats, out)
		}
		db.Close()
		if err != nil {
			return err
		}
		results = append(results, r)
	}

	fmt.Fprintf(out, "\ningest of %d Square-style changes over %d locations × %d SKUs, %d events per transaction:\n\n",
		len(feed), cfg.locations, cfg.skus, cfg.batch)
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "path\tevents\tseconds\tevents/s\tvs baseline\t")
	var base float64
	for _, r := range results {
		if r.baseline {
			base = r.rate()
		}
	}
	for _, r := range results {
		ratio := ""
		if base > 0 {
			ratio = fmt.Sprintf("%.2f×", r.rate()/base)
		}
		fmt.Fprintf(tw, "%s\t%d\t%.1f\t%.0f\t%s\t\n", r.name, r.events, r.elapsed.Seconds(), r.rate(), ratio)
	}
	tw.Flush()
	for _, r := range results {
		if r.detail != "" {
			fmt.Fprintf(out, "  %s: %s\n", r.name, r.detail)
		}
	}
	fmt.Fprintf(out, "\ntotal wall time %s\n", time.Since(started).Round(time.Second))
	return nil
}

func contains(list, s string) bool {
	for len(list) > 0 {
		var item string
		item, list, _ = cut(list, ',')
		if item == s {
			return true
		}
	}
	return false
}

func cut(s string, sep byte) (string, string, bool) {
	for i := 0; i < len(s); i++ {
		if s[i] == sep {
			return s[:i], s[i+1:], true
		}
	}
	return s, "", false
}

func exec(dsn, stmt string) error {
	db, err := sql.Open("postgres", dsn)
	if err != nil {
		return err
	}
	defer db.Close()
	_, err = db.Exec(stmt)
	return err
}

type feedStats struct {
	dups, bad, late, counts, transfers int
}

// generate builds the feed: Square-style changes at random positions, in
// the order Square recorded them, some of them late, redelivered or
// malformed.
func generate(cfg config) ([][]byte, []store.BaselineChange, feedStats) {
	rng := mrand.New(mrand.NewPCG(2026, 5))
	var st feedStats
	feed := make([][]byte, 0, cfg.events)
	cols := make([]store.BaselineChange, 0, cfg.events)
	base := time.Now().Add(-3 * time.Hour)
	step := 2 * time.Hour / time.Duration(cfg.events)
	loc := func() string { return fmt.Sprintf("L%03d", 2+rng.IntN(cfg.locations-1)) }
	item := func() string { return fmt.Sprintf("I%06d", 1+rng.IntN(cfg.skus)) }
	for i := 0; len(feed) < cfg.events; i++ {
		created := base.Add(time.Duration(i) * step)
		if len(feed) > 100 && rng.IntN(100) < cfg.dupPct {
			j := len(feed) - 1 - rng.IntN(min(len(feed)-1, 5000))
			feed, cols = append(feed, feed[j]), append(cols, cols[j])
			st.dups++
			continue
		}
		occurred := created
		if rng.IntN(100) < cfg.latePct {
			occurred = created.Add(-time.Duration(60+rng.IntN(60)) * time.Minute)
			st.late++
		}
		id := fmt.Sprintf("B%08d", i)
		var raw []byte
		bc := store.BaselineChange{SourceEventID: "square:adjustment:" + id, Type: "ADJUSTMENT", OccurredAt: sim.SquareTime(occurred)}
		adj := func(from, to string, q int) []byte {
			bc.Location, bc.Item, bc.FromState, bc.ToState, bc.Quantity = loc(), item(), from, to, fmt.Sprint(q)
			return sim.SquareAdjustment(id, from, to, bc.Location, bc.Item, q, occurred, created)
		}
		switch r := rng.IntN(1000); {
		case r < cfg.badPerMille:
			bc.Location, bc.Item, bc.FromState, bc.ToState = loc(), item(), "IN_STOCK", "SOLD"
			raw = sim.SquareMalformed(id, bc.Location, bc.Item, created)
			st.bad++
		case r < 700:
			raw = adj("IN_STOCK", "SOLD", 1+rng.IntN(2))
		case r < 780:
			raw = adj("NONE", "IN_STOCK", 6+rng.IntN(18))
		case r < 840:
			raw = adj("RETURNED_BY_CUSTOMER", "IN_STOCK", 1)
		case r < 870:
			raw = adj("IN_STOCK", "WASTE", 1)
		case r < 900:
			raw = adj("IN_STOCK", "RESERVED_FOR_SALE", 1)
		case r < 930:
			from, to := loc(), loc()
			if from == to {
				to = fmt.Sprintf("L%03d", 2+(rng.IntN(cfg.locations-1)+1)%(cfg.locations-1))
			}
			q := 1 + rng.IntN(4)
			bc = store.BaselineChange{SourceEventID: "square:transfer:" + id, Type: "TRANSFER", OccurredAt: bc.OccurredAt,
				Location: from, ToLocation: to, Item: item(), Quantity: fmt.Sprint(q)}
			raw = sim.SquareTransfer(id, from, to, bc.Item, q, occurred, created)
			st.transfers++
		default:
			q := 20 + rng.IntN(80)
			bc = store.BaselineChange{SourceEventID: "square:physical_count:" + id, Type: "PHYSICAL_COUNT", OccurredAt: bc.OccurredAt,
				Location: loc(), Item: item(), Quantity: fmt.Sprint(q)}
			raw = sim.SquareCount(id, bc.Location, bc.Item, q, occurred, created)
			st.counts++
		}
		bc.Payload = raw
		feed, cols = append(feed, raw), append(cols, bc)
	}
	return feed, cols, st
}

func runBaseline(ctx context.Context, db *store.DB, cfg config, feed []store.BaselineChange, out io.Writer) (result, error) {
	c, err := db.ConnectorByName(ctx, store.IngestBenchConnector)
	if err != nil {
		return result{}, err
	}
	fmt.Fprintf(out, "bare-SQL baseline: ")
	t := time.Now()
	applied := 0
	for start := 0; start < len(feed); start += cfg.batch {
		n, err := db.IngestBaseline(ctx, c.ID, feed[start:min(start+cfg.batch, len(feed))])
		if err != nil {
			return result{}, err
		}
		applied += n
		if ctx.Err() != nil {
			return result{}, ctx.Err()
		}
	}
	r := result{name: "bare SQL baseline", events: len(feed), elapsed: time.Since(t), baseline: true,
		detail: fmt.Sprintf("%d movement rows from the new events", applied)}
	fmt.Fprintf(out, "%d events in %s, %.0f events/s\n", len(feed), r.elapsed.Round(10*time.Millisecond), r.rate())
	return r, nil
}

// runReal feeds the changes through the adapter's parser and store.Ingest
// under the connector's lease, parsing the next batch while the current
// one is applied, as the pull loop does with pages.
func runReal(ctx context.Context, db *store.DB, cfg config, feed [][]byte, st feedStats, out io.Writer) (result, error) {
	c, err := db.ConnectorByName(ctx, store.IngestBenchConnector)
	if err != nil {
		return result{}, err
	}
	const owner = "ingestbench"
	if ok, err := db.AcquireLease(ctx, c.ID, owner, 2*time.Hour); err != nil || !ok {
		return result{}, fmt.Errorf("lease: %v %v", ok, err)
	}
	fmt.Fprintf(out, "real apply path:   ")
	batches := make(chan []store.InboundEvent, 2)
	go func() {
		defer close(batches)
		for start := 0; start < len(feed); start += cfg.batch {
			raw := feed[start:min(start+cfg.batch, len(feed))]
			evs := make([]store.InboundEvent, len(raw))
			for i, r := range raw {
				evs[i] = connectors.ParseSquareChange(r)
				evs[i].Via = "bench"
			}
			select {
			case batches <- evs:
			case <-ctx.Done():
				return
			}
		}
	}()
	t := time.Now()
	var total store.IngestResult
	for evs := range batches {
		res, err := db.Ingest(ctx, c, evs, owner)
		if err != nil {
			return result{}, err
		}
		total.Applied += res.Applied
		total.Duplicates += res.Duplicates
		total.DeadLettered += res.DeadLettered
		total.Changed += res.Changed
	}
	if ctx.Err() != nil {
		return result{}, ctx.Err()
	}
	r := result{name: "real apply path", events: len(feed), elapsed: time.Since(t)}
	fmt.Fprintf(out, "%d events in %s, %.0f events/s\n", len(feed), r.elapsed.Round(10*time.Millisecond), r.rate())
	r.detail = fmt.Sprintf("%d applied (%d moved stock), %d duplicates dropped, %d dead-lettered", total.Applied, total.Changed, total.Duplicates, total.DeadLettered)
	if total.DeadLettered != st.bad {
		return r, fmt.Errorf("dead-lettered %d, but the feed had %d malformed changes", total.DeadLettered, st.bad)
	}
	if total.Applied+total.DeadLettered+total.Duplicates != len(feed) || total.Duplicates < st.dups {
		return r, fmt.Errorf("events unaccounted for: %+v", total)
	}
	pos, led, err := db.BenchOnHandTotals(ctx)
	if err != nil {
		return r, err
	}
	if pos != led {
		return r, fmt.Errorf("on hand over all positions is %d but the ledger sums to %d", pos, led)
	}
	r.detail += fmt.Sprintf("; on hand over all positions equals the ledger (%d)", pos)
	if cfg.check {
		t := time.Now()
		rep, err := db.Check(ctx)
		if err != nil {
			return r, err
		}
		if !rep.OK() {
			return r, errors.New("consistency check failed after the real path")
		}
		r.detail += fmt.Sprintf("; consistency check over %d positions OK (%d explained by exceptions) in %s", rep.Positions, rep.Explained, time.Since(t).Round(100*time.Millisecond))
	}
	return r, nil
}
