package main

// The exceptions section (issue 9): the demo retailer with a million
// exceptions added set-based in SQL (one in twenty open), measured over
// real HTTP signed in as the demo users:
//
//   - the queue page filtered to overdue exceptions of one kind (the
//     inventory lead: every location, counts per filter included);
//   - the queue's polled list filtered by severity (the S01-S06 manager).
//
// Each figure is the server time of the request, beside the same store
// queries called from Go at the same concurrency (ListExceptions, and for
// the page ExceptionCounts). The target is p95 ≤ 50 ms server time.

import (
	"context"
	"fmt"
	mrand "math/rand/v2"
	"net/http"
	"text/tabwriter"
	"time"

	"stockline/domain"
	"stockline/store"
	"stockline/store/benchdata"
)

// exceptionsConfig is the section's flags.
type exceptionsConfig struct {
	exceptions int
}

func runExceptions(ctx context.Context, h *harness) error {
	const name = "bench_exceptions"
	db, err := h.newDB(ctx, name)
	if err != nil {
		return err
	}
	defer h.dropDB(name)
	defer db.Close()
	store.BcryptCost = 4
	if _, err := db.SeedDemo(ctx); err != nil {
		return err
	}
	t0 := time.Now()
	fmt.Fprintf(h.out, "exceptions: generating %d exceptions set-based in SQL over the demo retailer...\n", h.cfg.exceptions.exceptions)
	ds, err := benchdata.LoadExceptions(ctx, db, h.cfg.exceptions.exceptions, func(step string, took time.Duration) {
		fmt.Fprintf(h.out, "  %-30s %s\n", step, took.Round(10*time.Millisecond))
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(h.out, "dataset: %d exceptions (%d open), built in %s\n", ds.Total, ds.Open, time.Since(t0).Round(100*time.Millisecond))

	timer := &serverTimer{by: map[string][]timed{}}
	srv, err := serve(db, func(next http.Handler) http.Handler { timer.next = next; return timer })
	if err != nil {
		return err
	}
	defer srv.Close()
	lead, err := srv.login(domain.RoleInventoryLead)
	if err != nil {
		return err
	}
	manager, err := srv.login(domain.RoleManager)
	if err != nil {
		return err
	}
	var scope []string
	for _, u := range store.DemoUsers {
		if u.Role == domain.RoleManager {
			scope = u.Locations
		}
	}
	kind := func(r *mrand.Rand) string { return domain.ExceptionKinds[r.IntN(len(domain.ExceptionKinds))] }
	sev := func(r *mrand.Rand) string { return domain.Severities[r.IntN(len(domain.Severities))] }
	runs := []struct {
		name string
		http func(ctx context.Context, r *mrand.Rand) error
		base func(ctx context.Context, r *mrand.Rand) error
	}{
		{"exception queue",
			func(ctx context.Context, r *mrand.Rand) error {
				return get(ctx, lead, srv.base+"/exceptions?sla=overdue&kind="+kind(r))
			},
			func(ctx context.Context, r *mrand.Rand) error {
				f := store.ExceptionFilter{SLA: domain.SLAOverdue, Kind: kind(r), Limit: 50, DueOrder: true}
				if _, _, err := db.ListExceptions(ctx, f); err != nil {
					return err
				}
				_, err := db.ExceptionCounts(ctx, f)
				return err
			}},
		{"exception list",
			func(ctx context.Context, r *mrand.Rand) error {
				return get(ctx, manager, srv.base+"/exceptions/list?severity="+sev(r))
			},
			func(ctx context.Context, r *mrand.Rand) error {
				_, _, err := db.ListExceptions(ctx, store.ExceptionFilter{Severity: sev(r), Locations: scope, Limit: 50, DueOrder: true})
				return err
			}},
	}
	ok := func(op func(context.Context, *mrand.Rand) error) func(context.Context, *mrand.Rand) (bool, error) {
		return func(ctx context.Context, r *mrand.Rand) (bool, error) { err := op(ctx, r); return err == nil, err }
	}
	tw := tabwriter.NewWriter(h.out, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "run\treq/s\tp50\tp95\tp99\tbaseline p50\tbaseline p95\tbaseline p99\tclient p95\ttarget\t")
	limit := 50 * time.Millisecond
	for _, rs := range runs {
		cli := h.closedLoop(ctx, h.cfg.orders.clients, ok(rs.http))
		if err := cli.err(); err != nil {
			return fmt.Errorf("exceptions %s: %w", rs.name, err)
		}
		app := timer.window(rs.name, cli.from, h.cfg.duration)
		base := h.closedLoop(ctx, h.cfg.orders.clients, ok(rs.base))
		if err := base.err(); err != nil {
			return fmt.Errorf("exceptions %s baseline: %w", rs.name, err)
		}
		verdict := "p95 ≤ 50 ms: ok"
		if app.pct(95) > limit {
			verdict = "p95 ≤ 50 ms: MISSED"
		}
		fmt.Fprintf(tw, "%s\t%.0f\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t\n", rs.name, app.perSec(), ms(app.pct(50)), ms(app.pct(95)), ms(app.pct(99)),
			ms(base.pct(50)), ms(base.pct(95)), ms(base.pct(99)), ms(cli.pct(95)), verdict)
		h.rows = append(h.rows, latencyRow("exceptions", rs.name+" p95 (server time)", app.pct(95), base.pct(95), limit))
		if ctx.Err() != nil {
			return ctx.Err()
		}
	}
	fmt.Fprintf(h.out, "\nExceptions at %d exceptions (%d open), %d clients, %s per run (server time; baseline = the same store queries from Go, no HTTP or templates):\n",
		ds.Total, ds.Open, h.cfg.orders.clients, h.cfg.duration)
	tw.Flush()
	return nil
}
