package main

import (
	"context"
	"log/slog"
	"time"

	"stockline/store"
)

// reconWorker queues the reconciliation runs that are due (each snapshot
// connector's recon interval) and runs queued ones, including those a
// person started from the reconciliation page.
func reconWorker(m *Main) func(ctx context.Context) {
	return func(ctx context.Context) { reconcileLoop(ctx, m.DB, m.Log, m.Config.ReconInterval) }
}

// reconRunTimeout bounds one run; a run of a million positions takes a
// few seconds.
const reconRunTimeout = 10 * time.Minute

// reconcileLoop runs until ctx ends. Several app instances may run it:
// a connector has at most one queued or running run (a unique index), and
// each instance claims queued runs with FOR UPDATE SKIP LOCKED.
func reconcileLoop(ctx context.Context, db *store.DB, log *slog.Logger, interval time.Duration) {
	every(ctx, interval, func(rctx context.Context) {
		if _, err := db.QueueDueReconRuns(rctx); err != nil && ctx.Err() == nil {
			log.Error("queueing reconciliation runs failed", "err", err.Error())
		}
		for ctx.Err() == nil {
			run, ok, err := db.ClaimReconRun(rctx)
			if err != nil && ctx.Err() == nil {
				log.Error("claiming a reconciliation run failed", "err", err.Error())
			}
			if !ok {
				return
			}
			runCtx, cancel := context.WithTimeout(ctx, reconRunTimeout)
			done, err := db.RunReconciliation(runCtx, run)
			cancel()
			if err != nil && ctx.Err() == nil {
				log.Error("reconciliation run failed", "run", run.ID, "err", err.Error())
				continue
			}
			log.Info("reconciliation run finished", "run", done.ID, "connector", done.Connector, "compared", done.Compared,
				"opened", done.DriftsOpened, "closed", done.DriftsClosed)
		}
	})
}
