package main

import (
	"context"
	"log/slog"
	"os"
	"time"

	"stockline/store"
)

// rollupTimeout bounds one round of the metric rollups (the first is a
// full rebuild, which reads every order line and ledger row; later rounds
// recompute only the days changed since).
const rollupTimeout = 10 * time.Minute

// metricsWorker keeps the metric rollups current.
func metricsWorker(m *Main) func(ctx context.Context) {
	return func(ctx context.Context) { refreshRollups(ctx, m.DB, m.Log, m.Config.RollupInterval) }
}

// refreshRollups refreshes the metric rollups at once and then every
// interval until ctx ends (incrementally: see store.RefreshRollups).
// Several instances may run it: a round takes an advisory lock and an
// instance that does not get it skips the round.
func refreshRollups(ctx context.Context, db *store.DB, log *slog.Logger, interval time.Duration) {
	host, _ := os.Hostname()
	by := host + ":" + time.Now().Format("150405.000")
	round := func(rctx context.Context) {
		r, err := db.RefreshRollups(rctx, by)
		switch {
		case err != nil && ctx.Err() == nil:
			log.Error("metric rollup refresh failed", "err", err.Error())
		case r.Done:
			log.Debug("metric rollups refreshed", "full", r.Full, "days", r.Days, "took_ms", r.Took.Milliseconds())
		}
	}
	first, cancel := context.WithTimeout(ctx, rollupTimeout)
	round(first)
	cancel()
	everyWithin(ctx, interval, rollupTimeout, round)
}
