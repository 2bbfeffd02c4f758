package store

// Reconciliation runs compare a connector's latest platform snapshot with
// Stockline's on_hand as of each snapshot row's time, set-based: a few big
// chunks of locations, one statement each (so a run started by hand shows
// progress and holds no long transaction), and
// open a platform drift beyond the threshold, update one still open, or
// resolve one that now agrees. Runs are queued (schedule or a person) and
// claimed by one app instance with FOR UPDATE SKIP LOCKED.

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"stockline/domain"
)

// reconLease is how long a claimed run may go without progress before
// another instance may consider it dead.
const reconLease = 2 * time.Minute

type reconRunRow struct {
	domain.ReconRun
	StartedAt  sql.NullTime `db:"started_at"`
	FinishedAt sql.NullTime `db:"finished_at"`
}

func (r reconRunRow) run() domain.ReconRun {
	out := r.ReconRun
	out.StartedAt, out.FinishedAt = r.StartedAt.Time, r.FinishedAt.Time
	return out
}

const reconRunSelect = `SELECT r.id, r.connector_id, c.name AS connector, r.status, r.trigger, r.started_by, r.queued_at, r.started_at,
	r.finished_at, r.total, r.done, r.compared, r.drifts_opened, r.drifts_closed, r.error
	FROM recon_runs r JOIN connectors c ON c.id = r.connector_id`

// QueueReconRun queues a run of the connector, or returns the one already
// queued or running. Errors: ENOTFOUND.
func (db *DB) QueueReconRun(ctx context.Context, actor domain.Actor, connectorID int64, trigger string) (domain.ReconRun, error) {
	var out domain.ReconRun
	err := db.InTx(ctx, func(tx *Tx) error {
		if _, err := tx.ExecContext(ctx, `UPDATE recon_runs SET status = 'failed', error = 'lease lapsed: the instance running it stopped',
			finished_at = now() WHERE connector_id = $1 AND status = 'running' AND lease_until < now()`, connectorID); err != nil {
			return fmt.Errorf("store: expire runs: %w", err)
		}
		var id int64
		err := tx.GetContext(ctx, &id, `INSERT INTO recon_runs (connector_id, status, trigger, started_by)
			SELECT id, 'queued', $2, $3 FROM connectors WHERE id = $1
			ON CONFLICT (connector_id) WHERE status IN ('queued', 'running') DO NOTHING RETURNING id`, connectorID, trigger, actor.String())
		if errors.Is(err, sql.ErrNoRows) {
			err = tx.GetContext(ctx, &id, `SELECT id FROM recon_runs WHERE connector_id = $1 AND status IN ('queued', 'running')`, connectorID)
			if err != nil {
				return notFound(err, "Connector %d does not exist.", connectorID)
			}
		} else if err != nil {
			return fmt.Errorf("store: queue run: %w", err)
		} else if err := insertAudit(ctx, tx, actor, "reconciliation.queue", "recon_run", fmt.Sprint(id), nil, map[string]any{"connector_id": connectorID, "trigger": trigger}); err != nil {
			return err
		}
		out, err = getAs(ctx, tx, reconRunRow.run, reconRunSelect+` WHERE r.id = $1`, id)
		return err
	})
	return out, err
}

// QueueDueReconRuns queues a scheduled run for every enabled snapshot
// connector (ecommerce, warehouse) whose last run was queued longer ago
// than its recon interval. It returns how many it queued.
func (db *DB) QueueDueReconRuns(ctx context.Context) (int, error) {
	var ids []int64
	err := db.SelectContext(ctx, &ids, `SELECT c.id FROM connectors c WHERE c.enabled AND c.kind IN ('ecommerce', 'warehouse')
		AND EXISTS (SELECT 1 FROM platform_snapshots s WHERE s.connector_id = c.id)
		AND NOT EXISTS (SELECT 1 FROM recon_runs r WHERE r.connector_id = c.id
			AND r.queued_at > now() - make_interval(secs => c.recon_interval_seconds))`)
	if err != nil {
		return 0, fmt.Errorf("store: due runs: %w", err)
	}
	for _, id := range ids {
		if _, err := db.QueueReconRun(ctx, reconActor, id, "schedule"); err != nil {
			return 0, err
		}
	}
	return len(ids), nil
}

// ClaimReconRun takes the oldest queued run no other instance holds and
// marks it running under a lease; ok is false when none is queued.
func (db *DB) ClaimReconRun(ctx context.Context) (run domain.ReconRun, ok bool, err error) {
	err = db.InTx(ctx, func(tx *Tx) error {
		var id int64
		err := tx.GetContext(ctx, &id, `SELECT id FROM recon_runs WHERE status = 'queued' ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED`)
		if errors.Is(err, sql.ErrNoRows) {
			return nil
		} else if err != nil {
			return fmt.Errorf("store: claim run: %w", err)
		}
		// total is 1 until the run counts its chunks.
		if _, err := tx.ExecContext(ctx, `UPDATE recon_runs r SET status = 'running', started_at = now(),
			lease_until = now() + make_interval(secs => $2), total = 1 WHERE id = $1`, id, reconLease.Seconds()); err != nil {
			return fmt.Errorf("store: claim run: %w", err)
		}
		run, err = getAs(ctx, tx, reconRunRow.run, reconRunSelect+` WHERE r.id = $1`, id)
		ok = err == nil
		return err
	})
	return run, ok, err
}

// RunReconciliation compares the run's connector in a few big chunks
// (ranges of its mapped locations, one statement each), recording progress
// after each, and finishes the run (failed, with the error, when a step
// fails).
func (db *DB) RunReconciliation(ctx context.Context, run domain.ReconRun) (domain.ReconRun, error) {
	var locs []reconLocation
	err := db.SelectContext(ctx, &locs, `SELECT l.id, EXISTS (SELECT 1 FROM connector_mappings m
		WHERE m.connector_id = $1 AND m.kind = 'location' AND m.location_id = l.id) AS mapped FROM locations l ORDER BY l.id`, run.ConnectorID)
	var positions float64 // the planner's estimate of the positions at mapped locations
	if err == nil {
		err = db.GetContext(ctx, &positions, `SELECT GREATEST(c.reltuples, 0) * (SELECT count(*) FROM connector_mappings m
			WHERE m.connector_id = $1 AND m.kind = 'location') / GREATEST((SELECT count(*) FROM locations), 1)
			FROM pg_class c WHERE c.oid = 'positions'::regclass`, run.ConnectorID)
	}
	chunks := chunkLocations(locs, positions)
	if err == nil {
		_, err = db.ExecContext(ctx, `UPDATE recon_runs SET total = $2 WHERE id = $1`, run.ID, len(chunks))
	}
	for _, c := range chunks {
		if err != nil {
			break
		}
		err = db.reconcileChunk(ctx, reconRunRef{ID: run.ID, ConnectorID: run.ConnectorID, Connector: run.Connector}, c)
	}
	status, msg := "finished", ""
	if err != nil {
		status, msg = "failed", "The run stopped: "+domain.ErrorMessage(err)
	}
	fctx := context.WithoutCancel(ctx)
	if _, ferr := db.ExecContext(fctx, `UPDATE recon_runs SET status = $2, error = $3, finished_at = now(), lease_until = NULL WHERE id = $1`,
		run.ID, status, msg); ferr != nil {
		return run, errors.Join(err, ferr)
	}
	out, gerr := getAs(fctx, db, reconRunRow.run, reconRunSelect+` WHERE r.id = $1`, run.ID)
	if gerr == nil {
		gerr = db.InTx(fctx, func(tx *Tx) error {
			return insertAudit(fctx, tx, reconActor, "reconciliation.run", "recon_run", fmt.Sprint(run.ID), nil, out)
		})
	}
	return out, errors.Join(err, gerr)
}

// ReconRunByID returns one run. Errors: ENOTFOUND.
func (db *DB) ReconRunByID(ctx context.Context, id int64) (domain.ReconRun, error) {
	r, err := getAs(ctx, db, reconRunRow.run, reconRunSelect+` WHERE r.id = $1`, id)
	return r, notFound(err, "Run %d does not exist.", id)
}

// RecentReconRuns lists the newest runs of every connector.
func (db *DB) RecentReconRuns(ctx context.Context, limit int) ([]domain.ReconRun, error) {
	out, err := selectAs(ctx, db, reconRunRow.run, reconRunSelect+` ORDER BY r.id DESC LIMIT $1`, limit)
	if err != nil {
		return nil, fmt.Errorf("store: runs: %w", err)
	}
	return out, nil
}
