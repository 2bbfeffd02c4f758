package main

import (
	"context"
	"log/slog"
	"time"

	"stockline/store"
)

// sweeperWorker expires overdue reservation holds and old idempotency keys.
func sweeperWorker(m *Main) func(ctx context.Context) {
	return func(ctx context.Context) { sweepReservations(ctx, m.DB, m.Log, m.Config.SweepInterval) }
}

// sweepBatch is how many overdue holds one sweep transaction expires.
const sweepBatch = 500

// sweepReservations runs until ctx ends. Every interval it releases holds
// past their expiry, with reason "expired", in batches until none are due;
// once an hour it deletes idempotency keys older than their retention.
// Several app instances may run it at once: each takes holds the others
// have not locked (FOR UPDATE SKIP LOCKED).
func sweepReservations(ctx context.Context, db *store.DB, log *slog.Logger, interval time.Duration) {
	var keysSwept time.Time
	every(ctx, interval, func(rctx context.Context) {
		n, err := drain(sweepBatch, func() (int, error) { return db.ExpireHolds(rctx, db.Now(), sweepBatch) })
		if n > 0 {
			log.Info("expired reservation holds", "count", n)
		}
		if err != nil && ctx.Err() == nil {
			log.Error("reservation sweep failed", "err", err.Error())
		}
		if time.Since(keysSwept) <= time.Hour {
			return
		}
		deleted, err := db.DeleteIdempotencyKeys(rctx, db.Now().Add(-store.IdempotencyRetention))
		if err != nil {
			if ctx.Err() == nil {
				log.Error("idempotency key cleanup failed", "err", err.Error())
			}
			return
		}
		keysSwept = time.Now()
		if deleted > 0 {
			log.Info("deleted old idempotency keys", "count", deleted)
		}
	})
}
