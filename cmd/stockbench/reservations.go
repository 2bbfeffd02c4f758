package main

// The reservations section (issue 3): hot-SKU and spread reservations over
// real HTTP against the raw-SQL ceiling, and the availability GET at a
// fixed rate against the same query from Go.

import (
	"context"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"stockline/domain"
	"stockline/store"
	"stockline/store/benchdata"
)

// reservationsConfig is the section's flags.
type reservationsConfig struct {
	hot    []int
	spread int
	rate   int
	runs   []string // hot, spread, availability
	// availRates are the availability knee's steps (availability.go).
	availRates []int
}

// reservations is the state one section run shares between its runs.
type reservations struct {
	h       *harness
	db      *store.DB
	ds      benchdata.Dataset
	ceiling *benchdata.Ceiling // the raw-SQL ceiling
	srv     *server
	client  *http.Client
	token   string
	keySeq  atomic.Int64
	expires time.Time
	since   time.Time // the last check; the next one covers positions changed after it
	runs    int
	failed  error // the first failed check of changed positions
	reqErr  error // the first run with failed requests
}

// reservationsDB is the section's database.
const reservationsDB = "bench_reservations"

func runReservations(ctx context.Context, h *harness) error {
	const name = reservationsDB
	db, ds, err := h.positionsDB(ctx, name)
	if err != nil {
		return err
	}
	defer h.dropDB(name)
	defer db.Close()
	r := &reservations{h: h, db: db, ds: ds, ceiling: benchdata.NewCeiling(db), expires: time.Now().Add(time.Hour), since: time.Now()}
	if r.token, err = apiToken(ctx, db); err != nil {
		return err
	}
	if r.srv, err = serve(db, nil); err != nil {
		return err
	}
	defer r.srv.Close()
	defer r.ceiling.Close()
	r.client = r.srv.client()
	defer listen(db)() // the availability cache's listener, as cmd/stockline runs it
	cfg := h.cfg.reservations
	fmt.Fprintf(h.out, "reservations: server on %s; each run: %s warm-up, %s measured\n", r.srv.base, h.cfg.warmup, h.cfg.duration)
	if slices.Contains(cfg.runs, "hot") {
		for _, n := range cfg.hot {
			if err := r.settled(ctx, func(ctx context.Context) error { return r.hot(ctx, n) }); err != nil {
				return err
			}
		}
	}
	if slices.Contains(cfg.runs, "spread") {
		if err := r.settled(ctx, r.spread); err != nil {
			return err
		}
	}
	if slices.Contains(cfg.runs, "availability") {
		for _, run := range []func(context.Context) error{r.availability, r.availabilityKnee, r.availabilityBatch, r.availabilityStaleness} {
			if err := r.settled(ctx, run); err != nil {
				return err
			}
		}
	}
	h.addCheck("reservations", fmt.Sprintf("every request of %d runs answered (reservations 201 or 409)", r.runs), r.reqErr)
	h.addCheck("reservations", fmt.Sprintf("changed positions after each of %d runs (ceiling undone first)", r.runs), r.failed)
	t := time.Now()
	err = checkAfter(ctx, db, "every run", time.Time{})
	h.addCheck("reservations", fmt.Sprintf("whole database (%d positions) after every run", ds.Positions), err)
	fmt.Fprintf(h.out, "consistency check over the whole database (%d positions) after every run: %s (%s)\n\n", ds.Positions, okOr(err), time.Since(t).Round(100*time.Millisecond))
	return ctx.Err()
}

// settled runs one run after leaving the database as autovacuum and the
// checkpointer would between two busy periods. Without it the rows the
// run before wrote (tens of thousands of holds, their ledger, outbox and
// idempotency rows) were vacuumed, analysed and flushed during the next
// run, the app's and its baseline's alike: sampling ps caught an
// autovacuum worker during the 32-client hot run and during the
// availability runs. (It did not, by itself, bring the spread run's p99
// down: README, 2026-12-05 06:40–08:15.)
func (r *reservations) settled(ctx context.Context, run func(context.Context) error) error {
	t := time.Now()
	for _, q := range []string{`VACUUM (ANALYZE)`, `CHECKPOINT`} {
		if _, err := r.db.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("settle before a run: %w", err)
		}
	}
	fmt.Fprintf(r.h.out, "(settled: vacuum and checkpoint in %s)\n", time.Since(t).Round(10*time.Millisecond))
	return run(ctx)
}

func okOr(err error) string {
	if err != nil {
		return "FAILED: " + err.Error()
	}
	return "OK"
}

// reserveHTTP holds one unit of sku at loc (bopis) through the API; ok is
// false on 409 insufficient_stock.
func (r *reservations) reserveHTTP(ctx context.Context, loc, sku string) (bool, error) {
	return r.postReservation(ctx, fmt.Sprintf(`{"channel":"bopis","location":%q,"checkout_ref":"bench","lines":[{"sku":%q,"qty":1}]}`, loc, sku))
}

// reserveSourcedHTTP holds one unit of sku for ecommerce_ship with no
// location, so Stockline sources it (the DC, the dataset's one eligible
// location for that channel): the common ecommerce checkout.
func (r *reservations) reserveSourcedHTTP(ctx context.Context, sku string) (bool, error) {
	return r.postReservation(ctx, fmt.Sprintf(`{"channel":"ecommerce_ship","checkout_ref":"bench","lines":[{"sku":%q,"qty":1}]}`, sku))
}

func (r *reservations) postReservation(ctx context.Context, body string) (bool, error) {
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, r.srv.base+"/api/v1/reservations", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+r.token)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Idempotency-Key", fmt.Sprintf("bench-%d", r.keySeq.Add(1)))
	res, err := r.client.Do(req)
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
	return false, fmt.Errorf("status %d: %s", res.StatusCode, strings.TrimSpace(string(b)))
}

// record prints a run and checks the positions it changed: zero oversold,
// zero invariant violations.
func (r *reservations) record(ctx context.Context, name, clients string, app, base stats, fixedRate bool) {
	t := time.Now()
	err := checkAfter(ctx, r.db, name+" "+clients, r.since)
	r.since = time.Now()
	r.runs++
	if err != nil && r.failed == nil {
		r.failed = err
	}
	if err := app.err(); err != nil && r.reqErr == nil {
		r.reqErr = fmt.Errorf("%s %s: %w", name, clients, err)
	}
	fmt.Fprintf(r.h.out, "%-34s %-8s app %s | baseline %s | check of changed positions %s (%s)\n", name, clients,
		line(app, fixedRate), line(base, fixedRate), okOr(err), time.Since(t).Round(10*time.Millisecond))
}

func line(s stats, fixedRate bool) string {
	what := "ok/s"
	if fixedRate {
		what = "req/s"
	}
	l := fmt.Sprintf("%7.0f %s p50 %s p99 %s", s.perSec(), what, ms(s.pct(50)), ms(s.pct(99)))
	if s.meanBatch > 0 {
		l += fmt.Sprintf(" mean batch %.1f", s.meanBatch)
	}
	var notes []string
	if len(s.sendDelay) > 0 {
		notes = append(notes, "sent late p99 "+ms(stats{lat: s.sendDelay}.pct(99)))
	}
	if s.paused.watched {
		notes = append(notes, s.paused.String())
	}
	if len(notes) > 0 {
		l += " (" + strings.Join(notes, "; ") + ")"
	}
	if s.errors > 0 {
		l += fmt.Sprintf(" ERRORS %d (%v)", s.errors, s.firstErr)
	}
	return l
}

// batched runs a reservation load and notes the pipelines' mean batch
// over it: how well concurrent holds shared a commit.
func batched(run func() stats) stats {
	b0, q0 := store.BatchSizes()
	s := run()
	if b1, q1 := store.BatchSizes(); b1 > b0 {
		s.meanBatch = float64(q1-q0) / float64(b1-b0)
	}
	return s
}

// reservationRows adds a reservation run's figures to the summary.
func (r *reservations) reservationRows(name string, app, ceiling stats, goal, least float64, p99Limit time.Duration) {
	h := r.h
	h.rows = append(h.rows,
		rateRow("reservations", name, "reservations/s", app.perSec(), ceiling.perSec(), goal, least),
		latencyRow("reservations", name+" p50", app.pct(50), ceiling.pct(50), 0),
		latencyRow("reservations", name+" p99", app.pct(99), ceiling.pct(99), p99Limit))
}

// hot: one SKU from n clients, against the ceiling on its own hot
// position at the same store, in both forms: naming the store (bopis), and
// naming no location (ecommerce_ship, sourced to the DC where the SKU is
// stocked as deep).
func (r *reservations) hot(ctx context.Context, n int) error {
	ds := r.ds
	ceiling := r.h.closedLoop(ctx, n, func(ctx context.Context, _ *mrand.Rand) (bool, error) {
		return r.ceiling.Reserve(ctx, ds.HotLocation.ID, ds.CeilingSKU.ID, r.expires)
	})
	if err := r.ceiling.Reset(ctx, []int64{ds.HotLocation.ID}, []int64{ds.CeilingSKU.ID}); err != nil {
		return err
	}
	app := batched(func() stats {
		return r.h.closedLoop(ctx, n, func(ctx context.Context, _ *mrand.Rand) (bool, error) {
			return r.reserveHTTP(ctx, ds.HotLocation.Code, ds.HotSKU.SKU)
		})
	})
	r.record(ctx, "hot SKU reservations/s", fmt.Sprint(n), app, ceiling, false)
	sourced := batched(func() stats {
		return r.h.closedLoop(ctx, n, func(ctx context.Context, _ *mrand.Rand) (bool, error) {
			return r.reserveSourcedHTTP(ctx, ds.HotSKU.SKU)
		})
	})
	r.record(ctx, "hot SKU sourced reservations/s", fmt.Sprint(n), sourced, ceiling, false)
	name := fmt.Sprintf("hot SKU, %d clients", n)
	r.reservationRows(name, app, ceiling, 1.0, 0.5, 50*time.Millisecond)
	r.reservationRows(name+", sourced", sourced, ceiling, 1.0, 0.5, 50*time.Millisecond)
	r.h.rows = append(r.h.rows, rateRow("reservations", name+", sourced vs located", "reservations/s", sourced.perSec(), app.perSec(), 0.8, 0))
	return ctx.Err()
}

// spread: a random SKU at a random store, against the ceiling on random
// positions; then a random SKU with no location (ecommerce_ship, sourced
// to the DC).
func (r *reservations) spread(ctx context.Context) error {
	prodIDs, err := benchdata.ProductIDs(ctx, r.db)
	if err != nil {
		return err
	}
	locs, err := r.db.ListLocations(ctx)
	if err != nil {
		return err
	}
	var stores []domain.Location // bopis-eligible: every store has pickup
	for _, l := range locs {
		if l.Pickup {
			stores = append(stores, l)
		}
	}
	n := r.h.cfg.reservations.spread
	var touchedMu sync.Mutex
	var touchedLoc, touchedProd []int64
	ceiling := r.h.closedLoop(ctx, n, func(ctx context.Context, rng *mrand.Rand) (bool, error) {
		l, p := stores[rng.IntN(len(stores))].ID, prodIDs[rng.IntN(len(prodIDs))]
		touchedMu.Lock()
		touchedLoc, touchedProd = append(touchedLoc, l), append(touchedProd, p)
		touchedMu.Unlock()
		return r.ceiling.Reserve(ctx, l, p, r.expires)
	})
	if err := r.ceiling.Reset(ctx, touchedLoc, touchedProd); err != nil {
		return err
	}
	skus := make([]string, len(prodIDs))
	for i := range prodIDs {
		skus[i] = fmt.Sprintf("BEN-%06d", i+1)
	}
	app := batched(func() stats {
		return r.h.closedLoop(ctx, n, func(ctx context.Context, rng *mrand.Rand) (bool, error) {
			return r.reserveHTTP(ctx, stores[rng.IntN(len(stores))].Code, skus[rng.IntN(len(skus))])
		})
	})
	r.record(ctx, "spread reservations/s", fmt.Sprint(n), app, ceiling, false)
	sourced := batched(func() stats {
		return r.h.closedLoop(ctx, n, func(ctx context.Context, rng *mrand.Rand) (bool, error) {
			return r.reserveSourcedHTTP(ctx, skus[rng.IntN(len(skus))])
		})
	})
	r.record(ctx, "spread sourced reservations/s", fmt.Sprint(n), sourced, ceiling, false)
	name := fmt.Sprintf("spread, %d clients", n)
	r.reservationRows(name, app, ceiling, 0.5, 0, 50*time.Millisecond)
	r.reservationRows(name+", sourced", sourced, ceiling, 0.5, 0, 50*time.Millisecond)
	r.h.rows = append(r.h.rows, rateRow("reservations", name+", sourced vs located", "reservations/s", sourced.perSec(), app.perSec(), 0.8, 0))
	return ctx.Err()
}

// availability: GET one SKU across every location at a fixed rate, against
// the same query from Go at that rate.
func (r *reservations) availability(ctx context.Context) error {
	rate := r.h.cfg.reservations.rate
	availURL := r.srv.base + "/api/v1/availability?sku=" + r.ds.HotSKU.SKU
	base := r.h.fixedRate(ctx, rate, func(ctx context.Context) error {
		_, err := r.db.StockForSKU(ctx, r.ds.HotSKU.SKU)
		return err
	})
	app := r.h.fixedRate(ctx, rate, func(ctx context.Context) error {
		return get(ctx, r.client, availURL, "Authorization", "Bearer "+r.token)
	})
	name := fmt.Sprintf("availability GET @%d/s (%d loc)", rate, r.ds.Locations)
	r.record(ctx, name, "open", app, base, true)
	// The product page's form: network ATP and in-stock per channel, no
	// per-location buckets.
	summary := r.h.fixedRate(ctx, rate, func(ctx context.Context) error {
		return get(ctx, r.client, availURL+"&view=summary", "Authorization", "Bearer "+r.token)
	})
	sname := fmt.Sprintf("availability GET view=summary @%d/s", rate)
	r.record(ctx, sname, "open", summary, base, true)
	r.h.rows = append(r.h.rows,
		latencyRow("reservations", name+" p50", app.pct(50), base.pct(50), 0),
		latencyRow("reservations", name+" p99", app.pct(99), base.pct(99), 5*time.Millisecond),
		latencyRow("reservations", sname+" p50", summary.pct(50), base.pct(50), 0),
		latencyRow("reservations", sname+" p99", summary.pct(99), base.pct(99), 5*time.Millisecond))
	return ctx.Err()
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
	over, err := benchdata.Oversold(ctx, db)
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
