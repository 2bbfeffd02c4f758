package main

// The feeds section (issue 11): the availability feed over the whole
// locations × skus retailer, downloaded over real HTTP from the real
// handler (CSV for ecommerce_ship, NDJSON for bopis, and Google's local
// inventory file, one line per store × SKU), beside the baseline: the same
// store read (store.StreamAvailabilityFeed, every SKU's positions from one
// snapshot) called from Go with rows discarded, in the same run. Each
// figure is the median of -feeds-runs downloads, app and baseline
// interleaved.

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"slices"
	"time"

	"stockline/domain"
	"stockline/handlers"
	"stockline/store"
)

const feedsDB = "bench_feeds"

type feedsConfig struct {
	runs int
}

func runFeeds(ctx context.Context, h *harness) error {
	db, ds, err := h.positionsDB(ctx, feedsDB)
	if err != nil {
		return err
	}
	defer h.dropDB(feedsDB)
	defer db.Close()
	token, err := apiToken(ctx, db)
	if err != nil {
		return err
	}
	// The full Google feed is millions of lines: longer than the default
	// one-minute request time-out on a busy machine.
	srv, err := serveWith(db, nil, handlers.Options{SessionSecret: []byte(randomHex(32)), RequestTimeout: 10 * time.Minute})
	if err != nil {
		return err
	}
	defer srv.Close()
	client := &http.Client{Transport: srv.transport, Timeout: 10 * time.Minute}
	stores := 0
	if err := db.GetContext(ctx, &stores, `SELECT count(*) FROM locations WHERE kind = 'store'`); err != nil {
		return err
	}
	for _, f := range []struct {
		name, query, accept string
		ch                  domain.Channel
		lines               int // a whole answer's lines (a feed cut short by the request time-out is an error)
	}{
		{"CSV, ecommerce_ship", "channel=ecommerce_ship", "text/csv", domain.EcommerceShip, ds.SKUs + 1},
		{"NDJSON, bopis", "channel=bopis", "application/x-ndjson", domain.BOPIS, ds.SKUs},
		{"google_local, bopis", "channel=bopis&format=google_local", "", domain.BOPIS, ds.SKUs*stores + 1},
	} {
		var app, base []time.Duration
		var size int64
		for range h.cfg.feeds.runs {
			t := time.Now()
			err := db.StreamAvailabilityFeed(ctx, store.FeedQuery{Channel: f.ch, Stores: f.accept == ""}, func(store.FeedStart) (bool, error) { return true, nil },
				func(store.FeedItem) error { return nil })
			if err != nil {
				return err
			}
			base = append(base, time.Since(t))
			t = time.Now()
			n, lines, err := download(ctx, client, srv.base+"/api/v1/availability/feed?"+f.query, token, f.accept)
			if err == nil && lines != f.lines {
				err = fmt.Errorf("%d lines, want %d", lines, f.lines)
			}
			if err != nil {
				return fmt.Errorf("feed %s: %w", f.name, err)
			}
			app, size = append(app, time.Since(t)), n
		}
		a, b := median(app), median(base)
		fmt.Fprintf(h.out, "feed %-20s %d SKUs × %d loc: app %s (%.1f MB), store read from Go %s (medians of %d)\n",
			f.name, ds.SKUs, ds.Locations, ms(a), float64(size)/1e6, ms(b), len(app))
		h.rows = append(h.rows, latencyRow("feeds", fmt.Sprintf("full feed %s, %d SKUs × %d loc", f.name, ds.SKUs, ds.Locations), a, b, 0))
	}
	return nil
}

// download GETs a feed and reads it to the end, answering its size in
// bytes and lines.
func download(ctx context.Context, c *http.Client, url, token, accept string) (int64, int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, 0, err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	res, err := c.Do(req)
	if err != nil {
		return 0, 0, err
	}
	defer res.Body.Close()
	var lc lineCounter
	n, err := io.Copy(&lc, res.Body)
	if err == nil && res.StatusCode != http.StatusOK {
		err = fmt.Errorf("status %d", res.StatusCode)
	}
	return n, lc.n, err
}

type lineCounter struct{ n int }

func (l *lineCounter) Write(p []byte) (int, error) {
	l.n += bytes.Count(p, []byte{'\n'})
	return len(p), nil
}

func median(d []time.Duration) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	return s[len(s)/2]
}
