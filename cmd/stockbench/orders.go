package main

// The orders section (issue 4): the demo retailer with a million orders
// added set-based in SQL (lines, reservations for the open ones, timeline
// events), measured over real HTTP signed in as the demo users:
//
//   - the order page (support, a random order of the million);
//   - the pickup queue page and its refreshed list fragment (the S01
//     associate);
//   - the order search by customer email (support).
//
// Each figure is the server time of the request (measured around the
// handler, so the load generator's own cost is out of it), beside the same
// store queries called straight from Go at the same concurrency, with no
// HTTP, sessions or templates. The target is p95 ≤ 30 ms server time for
// the order page and the pickup queue.

import (
	"context"
	"fmt"
	mrand "math/rand/v2"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"stockline/domain"
	"stockline/store"
	"stockline/store/benchdata"
)

// ordersConfig is the section's flags.
type ordersConfig struct {
	orders  int
	clients int
}

// serverTimer measures each request's time inside the server, by route
// class, with the time it started, so the figures are server time over the
// load generator's measured window.
type serverTimer struct {
	next     http.Handler
	mu       sync.Mutex
	by       map[string][]timed
	classify func(r *http.Request) string // nil: the orders section's classes
}

type timed struct {
	at   time.Time
	took time.Duration
}

func (s *serverTimer) class(r *http.Request) string {
	if s.classify != nil {
		return s.classify(r)
	}
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
	case p == "/exceptions":
		return "exception queue"
	case p == "/exceptions/list":
		return "exception list"
	}
	return "other"
}

func (s *serverTimer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	s.next.ServeHTTP(w, r)
	took := time.Since(start)
	class := s.class(r)
	s.mu.Lock()
	s.by[class] = append(s.by[class], timed{start, took})
	s.mu.Unlock()
}

// window returns the server times of the class's requests that started in
// [from, from+d).
func (s *serverTimer) window(class string, from time.Time, d time.Duration) stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	var lat []time.Duration
	for _, t := range s.by[class] {
		if !t.at.Before(from) && t.at.Before(from.Add(d)) {
			lat = append(lat, t.took)
		}
	}
	return newStats(lat, from, d)
}

func runOrders(ctx context.Context, h *harness) error {
	const name = "bench_orders"
	db, err := h.newDB(ctx, name)
	if err != nil {
		return err
	}
	defer h.dropDB(name)
	defer db.Close()
	cfg := h.cfg.orders
	ds, err := loadOrderDataset(ctx, h, db)
	if err != nil {
		return err
	}

	timer := &serverTimer{by: map[string][]timed{}}
	srv, err := serve(db, func(next http.Handler) http.Handler { timer.next = next; return timer })
	if err != nil {
		return err
	}
	defer srv.Close()
	support, err := srv.login(domain.RoleSupport)
	if err != nil {
		return err
	}
	assoc, err := srv.login(domain.RoleAssociate)
	if err != nil {
		return err
	}
	s01, err := db.LocationIDs(ctx, []string{"S01"})
	if err != nil {
		return err
	}

	randomOrder := func(r *mrand.Rand) int64 { return ds.MinID + r.Int64N(ds.MaxID-ds.MinID+1) }
	randomEmail := func(r *mrand.Rand) string { return fmt.Sprintf("customer%d@example.com", r.IntN(250000)) }
	pickupQueue := func(ctx context.Context, _ *mrand.Rand) error {
		_, _, err := db.PickupQueue(ctx, s01, domain.TabToPick, time.Now(), 50)
		return err
	}
	runs := []struct {
		name   string
		target bool // p95 ≤ 30 ms applies
		http   func(ctx context.Context, r *mrand.Rand) error
		base   func(ctx context.Context, r *mrand.Rand) error
	}{
		{"order page", true,
			func(ctx context.Context, r *mrand.Rand) error {
				return get(ctx, support, fmt.Sprintf("%s/orders/%d", srv.base, randomOrder(r)))
			},
			func(ctx context.Context, r *mrand.Rand) error {
				o, err := db.OrderByID(ctx, randomOrder(r))
				if err != nil {
					return err
				}
				if _, err = db.OrderTimeline(ctx, o); err != nil {
					return err
				}
				_, err = db.OrderFulfilments(ctx, o.ID)
				return err
			}},
		{"pickup queue", true,
			func(ctx context.Context, r *mrand.Rand) error { return get(ctx, assoc, srv.base+"/pickups") },
			pickupQueue},
		{"pickup list", true,
			func(ctx context.Context, r *mrand.Rand) error {
				return get(ctx, assoc, srv.base+"/pickups/list?tab=to_pick")
			},
			pickupQueue},
		{"order search", false,
			func(ctx context.Context, r *mrand.Rand) error {
				return get(ctx, support, srv.base+"/orders?list=1&q="+url.QueryEscape(randomEmail(r)))
			},
			func(ctx context.Context, r *mrand.Rand) error {
				_, _, err := db.SearchOrders(ctx, store.OrderQuery{Q: randomEmail(r), Limit: 50})
				return err
			}},
	}
	ok := func(op func(context.Context, *mrand.Rand) error) func(context.Context, *mrand.Rand) (bool, error) {
		return func(ctx context.Context, r *mrand.Rand) (bool, error) { err := op(ctx, r); return err == nil, err }
	}
	tw := tabwriter.NewWriter(h.out, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "run\treq/s\tp50\tp95\tp99\tbaseline p50\tbaseline p95\tbaseline p99\tclient p95\ttarget\t")
	for _, rs := range runs {
		cli := h.closedLoop(ctx, cfg.clients, ok(rs.http))
		if err := cli.err(); err != nil {
			return fmt.Errorf("orders %s: %w", rs.name, err)
		}
		app := timer.window(rs.name, cli.from, h.cfg.duration)
		base := h.closedLoop(ctx, cfg.clients, ok(rs.base))
		if err := base.err(); err != nil {
			return fmt.Errorf("orders %s baseline: %w", rs.name, err)
		}
		fmt.Fprintf(h.out, "  %-13s server p95 %-9s baseline p95 %s\n", rs.name, ms(app.pct(95)), ms(base.pct(95)))
		var limit time.Duration
		verdict := "-"
		if rs.target {
			limit, verdict = 30*time.Millisecond, "p95 ≤ 30 ms: ok"
			if app.pct(95) > limit {
				verdict = "p95 ≤ 30 ms: MISSED"
			}
		}
		fmt.Fprintf(tw, "%s\t%.0f\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t\n", rs.name, app.perSec(), ms(app.pct(50)), ms(app.pct(95)), ms(app.pct(99)),
			ms(base.pct(50)), ms(base.pct(95)), ms(base.pct(99)), ms(cli.pct(95)), verdict)
		h.rows = append(h.rows, latencyRow("orders", rs.name+" p95 (server time)", app.pct(95), base.pct(95), limit))
		if ctx.Err() != nil {
			return ctx.Err()
		}
	}
	fmt.Fprintf(h.out, "\nOrders at %d orders, %d clients, %s per run (server time; baseline = the same store queries from Go, no HTTP or templates):\n",
		ds.Orders, cfg.clients, h.cfg.duration)
	tw.Flush()
	t := time.Now()
	err = checkAfter(ctx, db, "the orders runs", time.Time{})
	h.addCheck("orders", fmt.Sprintf("whole database (%d orders) after the runs", ds.Orders), err)
	fmt.Fprintf(h.out, "consistency check after the runs: %s (%s)\n\n", okOr(err), time.Since(t).Round(100*time.Millisecond))
	return nil
}

// loadOrderDataset seeds the demo retailer and generates the orders the
// runs read, printing each step's time.
func loadOrderDataset(ctx context.Context, h *harness, db *store.DB) (benchdata.OrdersDataset, error) {
	store.BcryptCost = 4
	if _, err := db.SeedDemo(ctx); err != nil {
		return benchdata.OrdersDataset{}, err
	}
	cfg := h.cfg.orders
	t0 := time.Now()
	fmt.Fprintf(h.out, "orders: generating %d orders set-based in SQL over the demo retailer...\n", cfg.orders)
	ds, err := benchdata.LoadOrders(ctx, db, cfg.orders, func(step string, took time.Duration) {
		fmt.Fprintf(h.out, "  %-30s %s\n", step, took.Round(10*time.Millisecond))
	})
	if err != nil {
		return ds, err
	}
	fmt.Fprintf(h.out, "dataset: %d orders (%d open, %d open at S01), %d lines, %d timeline events, built in %s\n",
		ds.Orders, ds.Open, ds.OpenAtS01, ds.Lines, ds.Events, time.Since(t0).Round(100*time.Millisecond))
	return ds, nil
}
