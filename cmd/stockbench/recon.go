package main

// The reconciliation section (issue 9): a reconciliation run of a
// platform snapshot with one row per position (locations × skus, 1M at
// the size) against Stockline's positions as of the snapshot's
// time, drift exceptions written, beside the bare SQL FULL OUTER JOIN
// comparison of the same tables in the same run. Target: ≤ 2× the
// baseline.

import (
	"context"
	"fmt"
	"time"

	"stockline/domain"
	"stockline/store"
	"stockline/store/benchdata"
)

// reconDriftEvery makes one position in this many drift (the platform
// reports 10 fewer units).
const reconDriftEvery = 200

func runRecon(ctx context.Context, h *harness) error {
	name := "bench_recon"
	db, _, err := h.positionsDB(ctx, name)
	if err != nil {
		return err
	}
	defer h.dropDB(name)
	defer db.Close()
	t := time.Now()
	c, err := benchdata.AddReconSnapshot(ctx, db, reconDriftEvery)
	if err != nil {
		return err
	}
	fmt.Fprintf(h.out, "reconciliation: snapshot of every position written in %s\n", time.Since(t).Round(100*time.Millisecond))

	// Baseline, warmed once (the tables into cache), then measured.
	if _, err := benchdata.ReconBaseline(ctx, db, c.ID); err != nil {
		return err
	}
	t = time.Now()
	differ, err := benchdata.ReconBaseline(ctx, db, c.ID)
	if err != nil {
		return err
	}
	base := time.Since(t)
	fmt.Fprintf(h.out, "reconciliation: bare SQL FULL OUTER JOIN: %d positions differ, %s\n", differ, base.Round(time.Millisecond))

	done, real, err := reconRun(ctx, h, db, c.ID)
	if err != nil {
		return err
	}
	// A second run finds the same drifts already open: it opens none, and
	// must not pair the open drifts with the rows beyond one by one.
	again, real2, err := reconRun(ctx, h, db, c.ID)
	if err != nil {
		return err
	}
	h.addCheck("reconciliation", "a second run opens and closes nothing", func() error {
		if again.DriftsOpened != 0 || again.DriftsClosed != 0 {
			return fmt.Errorf("opened %d, closed %d", again.DriftsOpened, again.DriftsClosed)
		}
		return nil
	}())
	if done.DriftsOpened != differ {
		h.addCheck("reconciliation", "drifts opened = positions that differ", fmt.Errorf("opened %d, %d differ", done.DriftsOpened, differ))
	} else {
		h.addCheck("reconciliation", "drifts opened = positions that differ", nil)
	}
	rep, err := db.Check(ctx)
	if err == nil && !rep.OK() {
		err = fmt.Errorf("%+v", rep)
	}
	h.addCheck("reconciliation", "consistency check after the run", err)
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	h.rows = append(h.rows, row{section: "reconciliation", name: "run, drifts written", value: ms(real), base: ms(base), unit: "ms",
		goal: 2 * ms(base), target: "≤ 2.0× baseline"},
		row{section: "reconciliation", name: "second run, drifts open", value: ms(real2), base: ms(base), unit: "ms",
			goal: 2 * ms(base), target: "≤ 2.0× baseline"})
	return nil
}

// reconRun queues, claims and runs one reconciliation of the connector,
// timing the whole of it.
func reconRun(ctx context.Context, h *harness, db *store.DB, connectorID int64) (domain.ReconRun, time.Duration, error) {
	t := time.Now()
	if _, err := db.QueueReconRun(ctx, domain.SystemActor("bench"), connectorID, "manual"); err != nil {
		return domain.ReconRun{}, 0, err
	}
	run, ok, err := db.ClaimReconRun(ctx)
	if err != nil || !ok {
		return run, 0, fmt.Errorf("claim run: %v %v", ok, err)
	}
	done, err := db.RunReconciliation(ctx, run)
	if err != nil {
		return done, 0, err
	}
	took := time.Since(t)
	fmt.Fprintf(h.out, "reconciliation: run %d compared %d positions in %d chunks, opened %d and closed %d drift exceptions, %s\n",
		done.ID, done.Compared, done.Done, done.DriftsOpened, done.DriftsClosed, took.Round(time.Millisecond))
	return done, took, nil
}
