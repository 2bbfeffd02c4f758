package main

import (
	"context"
	"log/slog"
	"os"
	"time"

	"stockline/store"
)

// rollupTimeout bounds one rebuild of the metric rollups (a full rebuild
// reads every order line and ledger row).
const rollupTimeout = 10 * time.Minute

// metricsWorker keeps the metric rollups current.
func metricsWorker(m *Main) func(ctx context.Context) {
	return func(ctx context.Context) { refreshRollups(ctx, m.DB, m.Log, m.Config.RollupInterval) }
}

// refreshRollups rebuilds the metric rollups at once and then every
// interval until ctx ends. Several instances may run it: the rebuild takes
// an advisory lock and an instance that does not get it skips the round.
func refreshRollups(ctx context.Context, db *store.DB, log *slog.Logger, interval time.Duration) {
	host, _ := os.Hostname()
	by := host + ":" + time.Now().Format("150405.000")
	round := func(rctx context.Context) {
		done, took, err := db.RefreshRollups(rctx, by)
		switch {
		case err != nil && ctx.Err() == nil:
			log.Error("metric rollup rebuild failed", "err", err.Error())
		case done:
			log.Debug("metric rollups rebuilt", "took_ms", took.Milliseconds())
		}
	}
	first, cancel := context.WithTimeout(ctx, rollupTimeout)
	round(first)
	cancel()
	everyWithin(ctx, interval, rollupTimeout, round)
}
