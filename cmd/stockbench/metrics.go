package main

// The metrics section (issue 11): the orders dataset with its
// cancellations' reason codes and a ledger grown to the size, the
// rollups rebuilt once (timed), each rollup checked against the raw query,
// then each dashboard page and the cancellations API measured over real
// HTTP as server time, beside the same figure computed by the raw query
// from Go in the same run (target: p95 ≤ 200 ms); last, one incremental
// round after new orders, timed beside a full rebuild.

import (
	"context"
	"fmt"
	mrand "math/rand/v2"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"text/tabwriter"
	"time"

	"stockline/domain"
	"stockline/store"
	"stockline/store/benchdata"
)

// metricsConfig is the section's flags.
type metricsConfig struct {
	ledger int
	orders int // placed before the timed incremental round
}

// metricsTarget is the p95 server time for each page and the API.
const metricsTarget = 200 * time.Millisecond

// pathTimer is serverTimer keyed by the path's first two segments.
func metricsClass(r *http.Request) string {
	p := strings.TrimPrefix(r.URL.Path, "/")
	if i := strings.Index(p, "/"); i >= 0 {
		if j := strings.Index(p[i+1:], "/"); j >= 0 {
			p = p[:i+1+j]
		}
	}
	return "/" + p
}

func runMetrics(ctx context.Context, h *harness) error {
	const name = "bench_metrics"
	db, err := h.newDB(ctx, name)
	if err != nil {
		return err
	}
	defer h.dropDB(name)
	defer db.Close()
	ds, err := loadOrderDataset(ctx, h, db)
	if err != nil {
		return err
	}
	t0 := time.Now()
	md, err := benchdata.LoadMetricsHistory(ctx, db, h.cfg.metrics.ledger, func(step string, took time.Duration) {
		fmt.Fprintf(h.out, "  %-30s %s\n", step, took.Round(10*time.Millisecond))
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(h.out, "dataset: %d orders, %d cancellation records, %d ledger rows (history built in %s)\n",
		ds.Orders, md.Cancellations, md.Ledger, time.Since(t0).Round(100*time.Millisecond))
	t0 = time.Now()
	if _, err := db.RebuildRollups(ctx, "bench"); err != nil {
		return err
	}
	rebuild := time.Since(t0)
	fmt.Fprintf(h.out, "rollup full rebuild (every order line and on-hand ledger row): %s\n", rebuild.Round(10*time.Millisecond))
	today := time.Now().UTC().Truncate(24 * time.Hour)
	f := store.MetricFilter{Window: domain.MetricWindow{From: today.Add(-29 * 24 * time.Hour), To: today.Add(24 * time.Hour)}}
	h.addCheck("metrics", "rollups equal the raw queries (cancellations by location, channel, both, by SKU at S01; oversell by channel; sell-through by location, category)", rollupsAgree(ctx, db, f))

	timer := &serverTimer{by: map[string][]timed{}, classify: metricsClass}
	srv, err := serve(db, func(next http.Handler) http.Handler { timer.next = next; return timer })
	if err != nil {
		return err
	}
	defer srv.Close()
	clients := map[domain.Role]*http.Client{}
	for _, r := range []domain.Role{domain.RoleManager, domain.RoleAssociate, domain.RoleInventoryLead, domain.RoleSupport} {
		if clients[r], err = srv.login(r); err != nil {
			return err
		}
	}
	token, err := apiToken(ctx, db)
	if err != nil {
		return err
	}
	api := srv.client()
	q := url.Values{"from": {f.Window.From.Format(time.RFC3339)}, "to": {f.Window.To.Format(time.RFC3339)}, "group_by": {"location,channel"}}
	raw := func(g domain.MetricGroup, loc string) func(context.Context, *mrand.Rand) error {
		return func(ctx context.Context, _ *mrand.Rand) error {
			ff := f
			ff.Location = loc
			_, err := db.CancellationRateRaw(ctx, ff, g)
			return err
		}
	}
	page := func(role domain.Role, path string) func(context.Context, *mrand.Rand) error {
		return func(ctx context.Context, _ *mrand.Rand) error { return get(ctx, clients[role], srv.base+path) }
	}
	runs := []struct {
		name, class string
		http, base  func(ctx context.Context, r *mrand.Rand) error
	}{
		{"operations page", "/dashboards/operations", page(domain.RoleManager, "/dashboards/operations"), raw(domain.MetricGroup{Location: true}, "")},
		{"store page (S01)", "/dashboards/stores", page(domain.RoleAssociate, "/dashboards/stores/S01"), raw(domain.MetricGroup{SKU: true}, "S01")},
		{"accuracy page", "/dashboards/inventory-accuracy", page(domain.RoleInventoryLead, "/dashboards/inventory-accuracy"),
			func(ctx context.Context, _ *mrand.Rand) error { _, err := db.SellThroughRaw(ctx, f, true); return err }},
		{"fulfilment page", "/dashboards/fulfilment", page(domain.RoleSupport, "/dashboards/fulfilment"), raw(domain.MetricGroup{Location: true, Channel: true}, "")},
		{"cancellations API", "/api/v1", func(ctx context.Context, _ *mrand.Rand) error {
			return get(ctx, api, srv.base+"/api/v1/metrics/cancellations?"+q.Encode(), "Authorization", "Bearer "+token)
		}, raw(domain.MetricGroup{Location: true, Channel: true}, "")},
	}
	ok := func(op func(context.Context, *mrand.Rand) error) func(context.Context, *mrand.Rand) (bool, error) {
		return func(ctx context.Context, r *mrand.Rand) (bool, error) { err := op(ctx, r); return err == nil, err }
	}
	tw := tabwriter.NewWriter(h.out, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "run\treq/s\tp50\tp95\tp99\traw p50\traw p95\traw p99\ttarget\t")
	for _, rs := range runs {
		cli := h.closedLoop(ctx, h.cfg.orders.clients, ok(rs.http))
		if err := cli.err(); err != nil {
			return fmt.Errorf("metrics %s: %w", rs.name, err)
		}
		app := timer.window(rs.class, cli.from, h.cfg.duration)
		base := h.closedLoop(ctx, h.cfg.orders.clients, ok(rs.base))
		if err := base.err(); err != nil {
			return fmt.Errorf("metrics %s raw: %w", rs.name, err)
		}
		if len(base.lat) == 0 { // each raw call outlasted the warm-up and the run: time one alone
			t := time.Now()
			if err := rs.base(ctx, nil); err != nil {
				return fmt.Errorf("metrics %s raw: %w", rs.name, err)
			}
			base.lat = []time.Duration{time.Since(t)}
		}
		verdict := "p95 ≤ 200 ms: ok"
		if app.pct(95) > metricsTarget {
			verdict = "p95 ≤ 200 ms: MISSED"
		}
		fmt.Fprintf(tw, "%s\t%.1f\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t\n", rs.name, app.perSec(), ms(app.pct(50)), ms(app.pct(95)), ms(app.pct(99)),
			ms(base.pct(50)), ms(base.pct(95)), ms(base.pct(99)), verdict)
		h.rows = append(h.rows, latencyRow("metrics", rs.name+" p95 (server time)", app.pct(95), base.pct(95), metricsTarget))
		if ctx.Err() != nil {
			return ctx.Err()
		}
	}
	fmt.Fprintf(h.out, "\nMetrics at %d orders and %d ledger rows, 30-day window, %d clients, %s per run (server time; raw = the page's headline figure by the raw query from Go):\n",
		ds.Orders, md.Ledger, h.cfg.orders.clients, h.cfg.duration)
	tw.Flush()
	h.rows = append(h.rows, latencyRow("metrics", "rollup full rebuild (first round only)", rebuild, 0, 0))
	if err := metricsRound(ctx, h, db, f, h.cfg.metrics.orders); err != nil {
		return err
	}
	t := time.Now()
	err = checkAfter(ctx, db, "the metrics runs", time.Time{})
	h.addCheck("metrics", fmt.Sprintf("whole database (%d ledger rows) after the runs", md.Ledger), err)
	fmt.Fprintf(h.out, "consistency check after the runs: %s (%s)\n\n", okOr(err), time.Since(t).Round(100*time.Millisecond))
	return nil
}

// rollupsAgree compares each rollup-served figure with its raw query.
func rollupsAgree(ctx context.Context, db *store.DB, f store.MetricFilter) error {
	s01 := f
	s01.Location = "S01"
	rawO, err := db.OversellRaw(ctx, f)
	if err != nil {
		return err
	}
	rollO, _, ok, err := db.OversellRollup(ctx, f)
	if err != nil {
		return err
	}
	if !ok || !reflect.DeepEqual(rawO, rollO) {
		return fmt.Errorf("oversell: the rollup's %+v differ from the raw query's %+v", rollO, rawO)
	}
	for _, c := range []struct {
		f store.MetricFilter
		g domain.MetricGroup
	}{{f, domain.MetricGroup{Location: true}}, {f, domain.MetricGroup{Channel: true}}, {f, domain.MetricGroup{Location: true, Channel: true}}, {s01, domain.MetricGroup{SKU: true}}} {
		f, g := c.f, c.g
		raw, err := db.CancellationRateRaw(ctx, f, g)
		if err != nil {
			return err
		}
		roll, _, ok, err := db.CancellationRateRollup(ctx, f, g)
		if err != nil {
			return err
		}
		if !ok || !reflect.DeepEqual(raw, roll) {
			return fmt.Errorf("cancellations %+v: the rollup's %d rows differ from the raw query's %d", g, len(roll), len(raw))
		}
	}
	for _, byCat := range []bool{false, true} {
		raw, err := db.SellThroughRaw(ctx, f, byCat)
		if err != nil {
			return err
		}
		roll, _, ok, err := db.SellThroughRollup(ctx, f, byCat)
		if err != nil {
			return err
		}
		if !ok || !reflect.DeepEqual(raw, roll) {
			return fmt.Errorf("sell-through (by category %v): the rollup's %d rows differ from the raw query's %d", byCat, len(roll), len(raw))
		}
	}
	return nil
}
