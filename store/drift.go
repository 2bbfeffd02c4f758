package store

// Reconciliation drift: a count or snapshot beyond its threshold waits in
// a reconciliation_drift exception. This file holds the drift's figures as
// of the count's own time, its ledger replay and its actions.

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"stockline/domain"
)

// driftData reads a drift exception's figures.
func driftData(e domain.ExceptionDetail) (domain.DriftData, error) {
	var d domain.DriftData
	if err := json.Unmarshal(e.Data, &d); err != nil {
		return d, fmt.Errorf("store: drift %d data: %w", e.ID, err)
	}
	return d, nil
}

// positionIDs resolves an exception's location code and SKU to ids.
func positionIDs(ctx context.Context, q queryer, e domain.ExceptionDetail) (posKey, error) {
	var k struct {
		Loc  int64 `db:"location_id"`
		Prod int64 `db:"product_id"`
	}
	err := q.GetContext(ctx, &k, `SELECT location_id, product_id FROM exceptions WHERE id = $1`, e.ID)
	return posKey{k.Loc, k.Prod}, err
}

// onHandAsOf is the ledger's on_hand of a position as of t: the current
// figure less the on-hand movements that happened after t (recorded
// whenever). curOnHand is the position's on_hand read under the same
// snapshot or lock.
func onHandAsOf(ctx context.Context, q queryer, k posKey, t time.Time, curOnHand int) (int, error) {
	// The position's rows first (OFFSET 0 keeps the time filter outside):
	// given the time range, the planner trusted statistics older than a
	// feed's recent rows and scanned ledger_on_hand_day from t, every
	// position's movements since (156 ms a call in the ingest bench).
	var after int
	err := q.GetContext(ctx, &after, `SELECT COALESCE(sum(delta), 0) FROM (SELECT delta, occurred_at FROM ledger
		WHERE product_id = $1 AND location_id = $2 AND bucket = 'on_hand' OFFSET 0) g WHERE occurred_at > $3`, k.prod, k.loc, t)
	if err != nil {
		return 0, fmt.Errorf("store: on hand as of: %w", err)
	}
	return curOnHand - after, nil
}

// driftReplayLimit caps a replay; a position moving more than this between
// two counts shows its latest movements.
const driftReplayLimit = 500

// driftReplay is the ledger between the previous agreeing count (an
// applied count snapshot before t, or the first movement) and t, every
// bucket, in the order things happened.
func driftReplay(ctx context.Context, q queryer, k posKey, t time.Time) (time.Time, []domain.ReplayRow, error) {
	var since time.Time
	var prev []time.Time
	if err := q.SelectContext(ctx, &prev, `SELECT counted_at FROM count_snapshots WHERE location_id = $1 AND product_id = $2
		AND applied AND counted_at < $3 ORDER BY counted_at DESC LIMIT 1`, k.loc, k.prod, t); err != nil {
		return since, nil, fmt.Errorf("store: previous count: %w", err)
	}
	if len(prev) > 0 {
		since = prev[0]
	}
	var rows []domain.ReplayRow
	err := q.SelectContext(ctx, &rows, `SELECT * FROM (SELECT occurred_at, recorded_at, bucket, delta, reason, source, source_ref FROM ledger
		WHERE product_id = $1 AND location_id = $2 AND occurred_at > $3 AND occurred_at <= $4
		ORDER BY occurred_at DESC, id DESC LIMIT $5) r ORDER BY occurred_at, recorded_at`, k.prod, k.loc, since, t, driftReplayLimit)
	if err != nil {
		return since, nil, fmt.Errorf("store: drift replay: %w", err)
	}
	return since, rows, nil
}

// DriftOf returns a drift exception's figures and replay. While it is open,
// system is the ledger's on_hand as of the count's time now (late events
// included); once closed, the figures are those it was closed with.
func (db *DB) DriftOf(ctx context.Context, e domain.ExceptionDetail) (domain.Drift, error) {
	var out domain.Drift
	d, err := driftData(e)
	if err != nil {
		return out, err
	}
	out.DriftData = d
	k, err := positionIDs(ctx, db, e)
	if err != nil {
		return out, fmt.Errorf("store: drift position: %w", err)
	}
	if !e.Closed() {
		var cur int
		if err := db.GetContext(ctx, &cur, `SELECT COALESCE((SELECT on_hand FROM positions WHERE location_id = $1 AND product_id = $2), 0)`, k.loc, k.prod); err != nil {
			return out, fmt.Errorf("store: drift position: %w", err)
		}
		if out.System, err = onHandAsOf(ctx, db, k, d.CountedAt, cur); err != nil {
			return out, err
		}
	}
	out.Since, out.Explanation, err = driftReplay(ctx, db, k, d.CountedAt)
	return out, err
}

// resolveDrift does a drift's actions. Accepting applies the count as a
// cycle_count movement as of its time (a platform snapshot's drift moves
// nothing: Stockline's figure stands and the platform is to be corrected);
// keeping the system figure and dismissing release the hold; a recount
// request keeps the hold and hands the exception to the store's
// associates.
func resolveDrift(ctx context.Context, tx *Tx, actor domain.Actor, e domain.ExceptionDetail, action domain.ExceptionAction, note string) (resolveOutcome, error) {
	d, err := driftData(e)
	if err != nil {
		return resolveOutcome{}, err
	}
	if action == domain.ActionRequestRecount {
		return resolveOutcome{KeepOpen: true, OwnerRole: string(domain.RoleAssociate), DueIn: 24 * time.Hour}, nil
	}
	k, err := positionIDs(ctx, tx, e)
	if err != nil {
		return resolveOutcome{}, fmt.Errorf("store: drift position: %w", err)
	}
	cur, err := lockPosition(ctx, tx, k.loc, k.prod)
	if err != nil {
		return resolveOutcome{}, err
	}
	if d.System, err = onHandAsOf(ctx, tx, k, d.CountedAt, cur.OnHand); err != nil {
		return resolveOutcome{}, err
	}
	b := stockBatch{meta: LedgerMeta{Source: "stockline", SourceRef: fmt.Sprintf("exception:%d", e.ID), Actor: actor, Note: note}, locked: true}
	b.add(stockRow{pos: k, bucket: domain.QualityHold, delta: -min(d.Held, cur.QualityHold), reason: domain.ReasonCountReview})
	code := domain.ResolutionDismissed
	switch action {
	case domain.ActionAcceptCount:
		code = domain.ResolutionAcceptedCount
		if d.Platform {
			code = domain.ResolutionPlatformToCorrect
			break
		}
		b.add(stockRow{pos: k, bucket: domain.OnHand, delta: d.Counted - d.System, reason: domain.ReasonCycleCount, at: d.CountedAt,
			note: fmt.Sprintf("count %d at %s accepted", d.Counted, d.CountedAt.UTC().Format(time.RFC3339))})
		if _, err := tx.ExecContext(ctx, `UPDATE count_snapshots SET applied = true WHERE location_id = $1 AND product_id = $2
			AND counted_at = $3 AND source_ref = $4`, k.loc, k.prod, d.CountedAt, d.SourceRef); err != nil {
			return resolveOutcome{}, fmt.Errorf("store: apply count snapshot: %w", err)
		}
	case domain.ActionKeepSystem:
		code = domain.ResolutionKeptSystem
	}
	if len(b.rows) > 0 {
		ev := stockMovedJSON{LocationID: k.loc, ProductID: k.prod, Reason: domain.ReasonCountReview, Source: "stockline", SourceRef: b.meta.SourceRef}
		for _, r := range b.rows {
			ev.Moves = append(ev.Moves, stockMoveJSON{Bucket: r.bucket, Delta: r.delta})
		}
		b.meta.Event = &StockEvent{Topic: "inventory.moved", Payload: ev}
		if _, err := applyStock(ctx, tx, nil, b); err != nil {
			return resolveOutcome{}, err
		}
	}
	d.Held = 0
	out := resolveOutcome{Code: code, Data: d}
	if code == domain.ResolutionPlatformToCorrect {
		out.Note = fmt.Sprintf("Stockline's figure (%d) stands; correct %s, which reported %d. %s", d.System, d.Source, d.Counted, note)
	}
	return out, nil
}
