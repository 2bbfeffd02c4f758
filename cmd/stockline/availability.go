package main

import (
	"context"
	"time"
)

// availabilityWorker runs the availability cache's listener: other
// instances' stock changes reach this one through PostgreSQL LISTEN/NOTIFY
// (store.DB.ListenStock). Without it the cache stays off and every
// availability answer reads the database.
func availabilityWorker(m *Main) func(ctx context.Context) {
	return func(ctx context.Context) {
		for ctx.Err() == nil {
			if err := m.DB.ListenStock(ctx, m.Log); err != nil {
				m.Log.Warn("availability listener stopped; retrying", "err", err.Error())
			}
			select {
			case <-ctx.Done():
			case <-time.After(time.Second):
			}
		}
	}
}
