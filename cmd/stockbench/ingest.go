package main

// The ingest section (issue 5): sustained ingest of Square-style inventory
// changes through the connectors' real apply path (adapter parsing,
// inbound_events with per-event dedupe and dead letters, count anchors,
// ledger, positions, outbox and audit, batched many events per
// transaction), beside a bare-SQL baseline measured in the same run: COPY
// into a staging table, INSERT … ON CONFLICT into the event table, then
// set-based ledger and position updates, with no Go domain logic. Each
// path runs on its own pristine copy of the locations × skus retailer, with
// durable commits (fsync and synchronous_commit on). The feed holds
// redeliveries, late (out-of-order) events and a few malformed ones, as
// real feeds do.

import (
	"context"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"slices"
	"text/tabwriter"
	"time"

	"stockline/connectors"
	"stockline/connectors/sim"
	"stockline/store"
	"stockline/store/benchdata"
)

// ingestConfig is the section's flags.
type ingestConfig struct {
	events, batch                int
	dupPct, badPerMille, latePct int
	check                        bool
	paths                        []string // baseline, real
}

type ingestResult struct {
	name     string
	events   int
	elapsed  time.Duration
	detail   string
	baseline bool
}

func (r ingestResult) rate() float64 { return float64(r.events) / r.elapsed.Seconds() }

func runIngest(ctx context.Context, h *harness) error {
	cfg := h.cfg.ingest
	t := time.Now()
	feed, cols, st := generateFeed(cfg, h.cfg.locations, h.cfg.skus)
	fmt.Fprintf(h.out, "ingest: feed of %d changes generated in %s: %d redeliveries, %d malformed, %d late, %d counts, %d transfers\n",
		len(feed), time.Since(t).Round(100*time.Millisecond), st.dups, st.bad, st.late, st.counts, st.transfers)

	var results []ingestResult
	for _, path := range []string{"baseline", "real"} {
		if !slices.Contains(cfg.paths, path) {
			continue
		}
		name := "bench_ingest_" + path
		db, _, err := h.positionsDB(ctx, name)
		if err != nil {
			return err
		}
		if err := benchdata.AddIngestConnector(ctx, db); err != nil {
			db.Close()
			return err
		}
		var r ingestResult
		if path == "baseline" {
			r, err = runIngestBaseline(ctx, db, cfg, cols, h.out)
		} else {
			r, err = runIngestReal(ctx, h, db, feed, st)
		}
		db.Close()
		h.dropDB(name)
		if err != nil {
			return err
		}
		results = append(results, r)
	}

	fmt.Fprintf(h.out, "\ningest of %d Square-style changes over %d locations × %d SKUs, %d events per transaction:\n\n",
		len(feed), h.cfg.locations, h.cfg.skus, cfg.batch)
	tw := tabwriter.NewWriter(h.out, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "path\tevents\tseconds\tevents/s\tvs baseline\t")
	var base, real float64
	for _, r := range results {
		if r.baseline {
			base = r.rate()
		} else {
			real = r.rate()
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
			fmt.Fprintf(h.out, "  %s: %s\n", r.name, r.detail)
		}
	}
	fmt.Fprintln(h.out)
	h.rows = append(h.rows, rateRow("ingest", fmt.Sprintf("%d Square changes", len(feed)), "events/s", real, base, 0.5, 0))
	return nil
}

type feedStats struct {
	dups, bad, late, counts, transfers int
}

// generateFeed builds the feed: Square-style changes at random store
// positions, in the order Square recorded them, some of them late,
// redelivered or malformed.
func generateFeed(cfg ingestConfig, locations, skus int) ([][]byte, []benchdata.BaselineChange, feedStats) {
	rng := mrand.New(mrand.NewPCG(2026, 5))
	var st feedStats
	feed := make([][]byte, 0, cfg.events)
	cols := make([]benchdata.BaselineChange, 0, cfg.events)
	base := time.Now().Add(-3 * time.Hour)
	step := 2 * time.Hour / time.Duration(cfg.events)
	loc := func() string { return fmt.Sprintf("L%03d", 2+rng.IntN(locations-1)) }
	item := func() string { return fmt.Sprintf("I%06d", 1+rng.IntN(skus)) }
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
		bc := benchdata.BaselineChange{SourceEventID: "square:adjustment:" + id, Type: "ADJUSTMENT", OccurredAt: sim.SquareTime(occurred)}
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
				to = fmt.Sprintf("L%03d", 2+(rng.IntN(locations-1)+1)%(locations-1))
			}
			q := 1 + rng.IntN(4)
			bc = benchdata.BaselineChange{SourceEventID: "square:transfer:" + id, Type: "TRANSFER", OccurredAt: bc.OccurredAt,
				Location: from, ToLocation: to, Item: item(), Quantity: fmt.Sprint(q)}
			raw = sim.SquareTransfer(id, from, to, bc.Item, q, occurred, created)
			st.transfers++
		default:
			q := 20 + rng.IntN(80)
			bc = benchdata.BaselineChange{SourceEventID: "square:physical_count:" + id, Type: "PHYSICAL_COUNT", OccurredAt: bc.OccurredAt,
				Location: loc(), Item: item(), Quantity: fmt.Sprint(q)}
			raw = sim.SquareCount(id, bc.Location, bc.Item, q, occurred, created)
			st.counts++
		}
		bc.Payload = raw
		feed, cols = append(feed, raw), append(cols, bc)
	}
	return feed, cols, st
}

func runIngestBaseline(ctx context.Context, db *store.DB, cfg ingestConfig, feed []benchdata.BaselineChange, out io.Writer) (ingestResult, error) {
	c, err := db.ConnectorByName(ctx, benchdata.IngestConnector)
	if err != nil {
		return ingestResult{}, err
	}
	fmt.Fprintf(out, "bare-SQL baseline: ")
	t := time.Now()
	applied := 0
	for start := 0; start < len(feed); start += cfg.batch {
		n, err := benchdata.IngestBaseline(ctx, db, c.ID, feed[start:min(start+cfg.batch, len(feed))])
		if err != nil {
			return ingestResult{}, err
		}
		applied += n
		if ctx.Err() != nil {
			return ingestResult{}, ctx.Err()
		}
	}
	r := ingestResult{name: "bare SQL baseline", events: len(feed), elapsed: time.Since(t), baseline: true,
		detail: fmt.Sprintf("%d movement rows from the new events", applied)}
	fmt.Fprintf(out, "%d events in %s, %.0f events/s\n", len(feed), r.elapsed.Round(10*time.Millisecond), r.rate())
	return r, nil
}

// runIngestReal feeds the changes through the adapter's parser and
// store.Ingest under the connector's lease, parsing the next batch while
// the current one is applied, as the pull loop does with pages. Then it
// checks that every event is accounted for and that on hand over all
// positions equals the ledger, and with -ingest-check runs the full
// consistency check.
func runIngestReal(ctx context.Context, h *harness, db *store.DB, feed [][]byte, st feedStats) (ingestResult, error) {
	cfg, out := h.cfg.ingest, h.out
	c, err := db.ConnectorByName(ctx, benchdata.IngestConnector)
	if err != nil {
		return ingestResult{}, err
	}
	const owner = "stockbench"
	if ok, err := db.AcquireLease(ctx, c.ID, owner, 2*time.Hour); err != nil || !ok {
		return ingestResult{}, fmt.Errorf("lease: %v %v", ok, err)
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
			return ingestResult{}, err
		}
		total.Applied += res.Applied
		total.Duplicates += res.Duplicates
		total.DeadLettered += res.DeadLettered
		total.Changed += res.Changed
	}
	if ctx.Err() != nil {
		return ingestResult{}, ctx.Err()
	}
	r := ingestResult{name: "real apply path", events: len(feed), elapsed: time.Since(t)}
	fmt.Fprintf(out, "%d events in %s, %.0f events/s\n", len(feed), r.elapsed.Round(10*time.Millisecond), r.rate())
	r.detail = fmt.Sprintf("%d applied (%d moved stock), %d duplicates dropped, %d dead-lettered", total.Applied, total.Changed, total.Duplicates, total.DeadLettered)

	var accounted error
	switch {
	case total.DeadLettered != st.bad:
		accounted = fmt.Errorf("dead-lettered %d, but the feed had %d malformed changes", total.DeadLettered, st.bad)
	case total.Applied+total.DeadLettered+total.Duplicates != len(feed) || total.Duplicates < st.dups:
		accounted = fmt.Errorf("events unaccounted for: %+v", total)
	}
	h.addCheck("ingest", fmt.Sprintf("every event of %d applied once, dropped as a redelivery or dead-lettered", len(feed)), accounted)
	pos, led, err := benchdata.OnHandTotals(ctx, db)
	if err == nil && pos != led {
		err = fmt.Errorf("on hand over all positions is %d but the ledger sums to %d", pos, led)
	}
	h.addCheck("ingest", "on hand over all positions equals the ledger's on-hand sum", err)
	if err == nil {
		r.detail += fmt.Sprintf("; on hand over all positions equals the ledger (%d)", pos)
	}
	if cfg.check {
		t := time.Now()
		err := checkAfter(ctx, db, "the real apply path", time.Time{})
		h.addCheck("ingest", "whole database after the real apply path", err)
		r.detail += fmt.Sprintf("; consistency check over the whole database %s in %s", okOr(err), time.Since(t).Round(100*time.Millisecond))
	} else {
		h.checks = append(h.checks, check{section: "ingest", what: "whole database after the real apply path", skipped: "-ingest-check=false"})
	}
	return r, ctx.Err()
}
