package main

import (
	"context"
	"log/slog"
	"time"

	"stockline/store"
)

func init() {
	workerFactories = append(workerFactories, func(m *Main) func(ctx context.Context) {
		return func(ctx context.Context) { sweepReservations(ctx, m.DB, m.Log, m.Config.SweepInterval) }
	})
}

// sweepBatch is how many overdue holds one sweep transaction expires.
const sweepBatch = 500

// sweepReservations runs until ctx ends. Every interval it releases holds
// past their expiry, with reason "expired", in batches until none are due;
// once an hour it deletes idempotency keys older than their retention.
// Several app instances may run it at once: each takes holds the others
// have not locked (FOR UPDATE SKIP LOCKED).
func sweepReservations(ctx context.Context, db *store.DB, log *slog.Logger, every time.Duration) {
	tick := time.NewTicker(every)
	defer tick.Stop()
	var keysSwept time.Time
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		rctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		for {
			n, err := db.ExpireHolds(rctx, db.Now(), sweepBatch)
			if err != nil {
				if ctx.Err() == nil {
					log.Error("reservation sweep failed", "err", err.Error())
				}
				break
			}
			if n > 0 {
				log.Info("expired reservation holds", "count", n)
			}
			if n < sweepBatch {
				break
			}
		}
		if time.Since(keysSwept) > time.Hour {
			n, err := db.DeleteIdempotencyKeys(rctx, db.Now().Add(-store.IdempotencyRetention))
			if err != nil {
				if ctx.Err() == nil {
					log.Error("idempotency key cleanup failed", "err", err.Error())
				}
			} else {
				keysSwept = time.Now()
				if n > 0 {
					log.Info("deleted old idempotency keys", "count", n)
				}
			}
		}
		cancel()
	}
}
