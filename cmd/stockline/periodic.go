package main

import (
	"context"
	"time"
)

// roundTimeout bounds one round of a periodic worker.
const roundTimeout = 30 * time.Second

// every runs round once per interval until ctx ends, each round under its
// own timeout (the pkgsite poller shape). It is how the background
// workers in this package loop.
func every(ctx context.Context, interval time.Duration, round func(ctx context.Context)) {
	everyWithin(ctx, interval, roundTimeout, round)
}

// everyWithin is every with each round under timeout, for workers whose
// round may take longer than roundTimeout.
func everyWithin(ctx context.Context, interval, timeout time.Duration, round func(ctx context.Context)) {
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		rctx, cancel := context.WithTimeout(ctx, timeout)
		round(rctx)
		cancel()
	}
}

// drain calls step until it handles fewer than batch rows or fails, and
// returns the total handled and the error, if any.
func drain(batch int, step func() (int, error)) (int, error) {
	total := 0
	for {
		n, err := step()
		total += n
		if err != nil || n < batch {
			return total, err
		}
	}
}
