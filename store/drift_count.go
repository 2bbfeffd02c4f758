package store

// Counts compared as of their own time (DESIGN §7). A count from a feed
// (a POS physical count, a CSV cycle count) is compared with the ledger's
// on_hand as of the count's time. Within the position's threshold it
// applies as a cycle_count movement, as it always did; beyond it the
// count waits in a reconciliation_drift exception and a shortfall moves
// into quality_hold (count_review). A newer count replaces one under
// review; a late event that happened before an open drift's count time
// re-evaluates it, and when the drift is now within the threshold the
// count applies as of its time, the hold is released and the exception
// resolves itself (explained_by_late_events). A platform's view of stock
// (an ecommerce or warehouse connector's levels) is only stored as a
// snapshot, for reconciliation runs to compare.

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/lib/pq"

	"stockline/domain"
)

// isSnapshotFeed reports whether a connector's counts are a platform's
// view of stock, compared and never applied.
func isSnapshotFeed(c Connector) bool { return c.Kind == "ecommerce" || c.Kind == "warehouse" }

// reconActor is the system actor of drifts closed without a person.
var reconActor = domain.SystemActor("reconciliation")

// lateMove is an on-hand change of a batch, which may explain an open
// drift whose count came after it.
type lateMove struct {
	at  time.Time
	ref string
}

type productInfo struct {
	ID         int64  `db:"id"`
	Category   string `db:"category"`
	PriceCents int64  `db:"price_cents"`
}

// openDrift is a drift under review for a position: in the database
// (id set) or opened earlier in the same batch (pending).
type openDrift struct {
	e       domain.ExceptionDetail
	d       domain.DriftData
	pending *pendingDrift
	note    string // why it closes, when superseded
}

type pendingDrift struct {
	key       posKey
	sku, loc  string
	d         domain.DriftData
	cancelled bool
}

type platformRow struct {
	qty int
	at  time.Time
	ref string
}

// driftPlan is the drift side of a feedPlan.
type driftPlan struct {
	snapshotOnly bool
	th           domain.Thresholds
	info         map[int64]productInfo
	open         map[posKey]*openDrift
	late         map[posKey][]lateMove
	pending      []*pendingDrift
	superseded   []*openDrift
	platform     map[posKey]platformRow
}

// loadDriftRules reads what the batch's counts are judged by: the
// thresholds, the counted products' category and price, and the open
// drifts (from counts) of the counted positions, locked.
func (f *feedPlan) loadDriftRules(ctx context.Context, tx *Tx, keys []posKey, events []*feedEvent) error {
	f.open, f.late, f.platform, f.info = map[posKey]*openDrift{}, map[posKey][]lateMove{}, map[posKey]platformRow{}, map[int64]productInfo{}
	var counted []posKey
	var prods []int64
	for _, p := range events {
		for _, ch := range p.changes {
			if ch.Count != nil && !f.snapshotOnly {
				counted = append(counted, posKey{ch.locID, ch.prodID})
				prods = append(prods, ch.prodID)
			}
		}
	}
	if len(counted) == 0 {
		return nil
	}
	var err error
	if f.th, err = loadThresholds(ctx, tx); err != nil {
		return err
	}
	var infos []productInfo
	if err := tx.SelectContext(ctx, &infos, `SELECT id, category, price_cents FROM products WHERE id = ANY($1)`, pq.Array(prods)); err != nil {
		return fmt.Errorf("store: counted products: %w", err)
	}
	for _, in := range infos {
		f.info[in.ID] = in
	}
	drifts, err := lockOpenDrifts(ctx, tx, sortedKeys(counted), false)
	if err != nil {
		return err
	}
	for k, od := range drifts {
		f.open[k] = od
	}
	return nil
}

// lockOpenDrifts reads and locks the open drift exceptions of the given
// positions; platform says whether platform snapshot drifts are included.
func lockOpenDrifts(ctx context.Context, tx *Tx, keys []posKey, platform bool) (map[posKey]*openDrift, error) {
	out := map[posKey]*openDrift{}
	l, p := keyArrays(keys)
	// First the candidates, one probe of exceptions_position per key
	// (OFFSET 0 keeps the planner from flattening the LATERAL subquery),
	// then the lock by primary key in id order, and the kind, status and
	// platform checked on the locked rows. Each step has one possible
	// plan: written as one join, the planner trusted statistics taken
	// before a feed opened hundreds of drifts and scanned every drift for
	// every key (0.4–7 s a batch in the ingest bench).
	var cand []int64
	if err := tx.SelectContext(ctx, &cand, `SELECT x.id FROM unnest($1::bigint[], $2::bigint[]) AS k(l, p),
		LATERAL (SELECT id, kind, status FROM exceptions e WHERE e.location_id = k.l AND e.product_id = k.p OFFSET 0) AS x
		WHERE x.kind = 'reconciliation_drift' AND x.status IN ('open', 'in_progress')`, pq.Array(l), pq.Array(p)); err != nil {
		return nil, fmt.Errorf("store: open drifts: %w", err)
	}
	if len(cand) == 0 {
		return out, nil
	}
	var ids []struct {
		ID   int64 `db:"id"`
		Loc  int64 `db:"location_id"`
		Prod int64 `db:"product_id"`
	}
	if err := tx.SelectContext(ctx, &ids, `SELECT id, location_id, product_id FROM exceptions WHERE id = ANY ($1::bigint[])
		ORDER BY id FOR UPDATE`, pq.Array(cand)); err != nil {
		return nil, fmt.Errorf("store: lock open drifts: %w", err)
	}
	// The locked rows' details in one read (one round trip, not one per
	// drift: a feed batch may re-judge thousands).
	locked, err := selectAs(ctx, tx, exceptionDetailRow.detail, exceptionSelect+` WHERE e.id = ANY ($1::bigint[])`, pq.Array(cand))
	if err != nil {
		return nil, fmt.Errorf("store: read open drifts: %w", err)
	}
	byID := make(map[int64]domain.ExceptionDetail, len(locked))
	for _, e := range locked {
		byID[e.ID] = e
	}
	for _, r := range ids {
		e := byID[r.ID]
		if e.Kind != domain.KindReconciliationDrift || (e.Status != "open" && e.Status != "in_progress") {
			continue // closed before the lock was granted
		}
		d, err := driftData(e)
		if err != nil {
			return nil, err
		}
		if d.Platform && !platform {
			continue
		}
		out[posKey{r.Loc, r.Prod}] = &openDrift{e: e, d: d}
	}
	return out, nil
}

// count plans a count as of its own time: against a drift under review,
// the anchor (newest applied count) and the position's threshold.
func (f *feedPlan) count(p *feedEvent, ch feedChange, key posKey) (feedChangeJSON, error) {
	ev := p.ev
	t := ev.OccurredAt
	counted := *ch.Count
	anchor := f.anchors[key]
	after := f.ledgerAfter[f.countIdx]
	f.countIdx++
	for _, bm := range f.inBatch[key] {
		if bm.at.After(t) {
			after += bm.delta
		}
	}
	system := f.cur[key].OnHand - after
	out := feedChangeJSON{SKU: ch.sku, Location: ch.loc, Counted: &counted}
	snap := func(applied bool) {
		f.sLoc, f.sProd, f.sQty = append(f.sLoc, key.loc), append(f.sProd, key.prod), append(f.sQty, int64(counted))
		f.sAt, f.sRef, f.sApplied = append(f.sAt, t), append(f.sRef, ev.SourceEventID), append(f.sApplied, applied)
		out.Applied = &applied
	}
	if od := f.open[key]; od != nil {
		if !t.After(od.d.CountedAt) {
			snap(false)
			p.note = fmt.Sprintf("Count superseded: a newer count (%s) is under review.", od.d.CountedAt.UTC().Format(time.RFC3339))
			return out, nil
		}
		f.supersede(p, key, od)
	}
	fresh := anchor == nil || t.After(anchor.CountedAt)
	info := f.info[key.prod]
	if fresh && f.th.For(ch.loc, info.Category).Beyond(system, counted, info.PriceCents) {
		d := domain.DriftData{System: system, Counted: counted, CountedAt: t, RecordedAt: time.Now(), PriceCents: info.PriceCents,
			Held: domain.ShortfallToHold(system, counted, f.cur[key]), Source: f.batch.meta.Source, SourceRef: ev.SourceEventID}
		f.row(p, key, domain.Movement{Bucket: domain.QualityHold, Delta: d.Held}, domain.ReasonCountReview, time.Now(),
			fmt.Sprintf("count %d at %s under review (ledger %d)", counted, t.UTC().Format(time.RFC3339), system))
		snap(false)
		pd := &pendingDrift{key: key, sku: ch.sku, loc: ch.loc, d: d}
		f.pending = append(f.pending, pd)
		f.open[key] = &openDrift{d: d, pending: pd}
		p.note = fmt.Sprintf("Count %d is beyond the threshold (ledger %d as of the count): it waits in a drift exception.", counted, system)
		return out, nil
	}
	moves, applies, err := domain.CountMovements(anchor, t, counted, system)
	if err != nil {
		return feedChangeJSON{}, err
	}
	note := fmt.Sprintf("count %d at %s", counted, t.UTC().Format(time.RFC3339))
	for _, m := range moves {
		f.row(p, key, m, domain.ReasonCycleCount, t, note)
	}
	snap(applies)
	if applies {
		f.anchors[key] = &domain.CountAnchor{CountedAt: t, Quantity: counted, Ref: ev.SourceEventID}
	} else if p.note == "" {
		p.note = fmt.Sprintf("Count superseded: a newer count (%s) already holds.", anchor.CountedAt.UTC().Format(time.RFC3339))
	}
	return out, nil
}

// supersede ends the review of an older count of the position: its hold
// is released and (after the batch) it resolves as recounted.
func (f *feedPlan) supersede(p *feedEvent, key posKey, od *openDrift) {
	if rel := min(od.d.Held, f.cur[key].QualityHold); rel > 0 {
		f.row(p, key, domain.Movement{Bucket: domain.QualityHold, Delta: -rel}, domain.ReasonCountReview, time.Now(),
			"review ended: a newer count arrived")
	}
	od.note = fmt.Sprintf("A newer count (%s at %s) replaced this one.", p.ev.SourceEventID, p.ev.OccurredAt.UTC().Format(time.RFC3339))
	if od.pending != nil {
		od.pending.cancelled = true
	} else {
		f.superseded = append(f.superseded, od)
	}
	delete(f.open, key)
}

// platformSnapshot keeps a platform's figure (the newest per position)
// for the snapshot table; it never moves stock.
func (f *feedPlan) platformSnapshot(p *feedEvent, ch feedChange, key posKey) feedChangeJSON {
	if prev, ok := f.platform[key]; !ok || !p.ev.OccurredAt.Before(prev.at) {
		f.platform[key] = platformRow{qty: *ch.Count, at: p.ev.OccurredAt, ref: p.ev.SourceEventID}
	}
	n, applied := *ch.Count, false
	if p.note == "" {
		p.note = "Stored as the platform's snapshot; reconciliation runs compare it with Stockline."
	}
	return feedChangeJSON{SKU: ch.sku, Location: ch.loc, Counted: &n, Applied: &applied}
}

// platformClause upserts the batch's platform snapshots in the stock
// statement, keeping the newest figure per position.
func (f *feedPlan) platformClause(connectorID int64) clause {
	var l, pr, q []int64
	var at []time.Time
	var ref []string
	for k, r := range f.platform {
		l, pr, q, at, ref = append(l, k.loc), append(pr, k.prod), append(q, int64(r.qty)), append(at, r.at), append(ref, r.ref)
	}
	return func(a *stmtArgs) string {
		return fmt.Sprintf(`ps AS (
			INSERT INTO platform_snapshots (connector_id, location_id, product_id, quantity, as_of, source_ref)
			SELECT %s, l, p, q, t, r FROM unnest(%s::bigint[], %s::bigint[], %s::int[], %s::timestamptz[], %s::text[]) AS s(l, p, q, t, r)
			ON CONFLICT (connector_id, location_id, product_id) DO UPDATE SET quantity = EXCLUDED.quantity, as_of = EXCLUDED.as_of,
				source_ref = EXCLUDED.source_ref, received_at = now() WHERE platform_snapshots.as_of <= EXCLUDED.as_of
		)`, a.p(connectorID), a.p(pq.Array(l)), a.p(pq.Array(pr)), a.p(pq.Array(q)), a.p(pq.Array(at)), a.p(pq.Array(ref)))
	}
}

// finishDrifts, after the batch's stock statement: closes the drifts a
// newer count replaced, opens the batch's new drifts, then re-evaluates
// the open drifts that the batch's events happened before.
func (f *feedPlan) finishDrifts(ctx context.Context, tx *Tx, c Connector) error {
	for _, od := range f.superseded {
		od.d.Held = 0
		if _, err := recordResolution(ctx, tx, reconActor, od.e, "", "", resolveOutcome{Code: domain.ResolutionRecounted, Note: od.note, Data: od.d}); err != nil {
			return err
		}
	}
	var opened []NewException
	for _, pd := range f.pending {
		if !pd.cancelled {
			opened = append(opened, driftException(pd.key, pd.sku, pd.loc, pd.d))
		}
	}
	if _, err := openExceptions(ctx, tx, false, opened); err != nil {
		return err
	}
	if len(f.late) == 0 {
		return nil
	}
	return reevaluateDrifts(ctx, tx, f.late)
}

// driftException is the exception a drift opens.
func driftException(k posKey, sku, loc string, d domain.DriftData) NewException {
	sev := "medium"
	if abs64(int64(d.Difference())*d.PriceCents) >= 50000 {
		sev = "high"
	}
	what := "counted"
	if d.Platform {
		what = "reports"
	}
	return NewException{Kind: domain.KindReconciliationDrift, Severity: sev, LocationID: k.loc, ProductID: k.prod,
		Ref:   "count:" + d.SourceRef,
		Title: fmt.Sprintf("%s at %s: %s %s %d, the ledger had %d", sku, loc, d.Source, what, d.Counted, d.System),
		Detail: fmt.Sprintf("Difference %+d units (%s) as of %s. Review the replay, then accept the count, keep the system figure or ask for a recount.",
			d.Difference(), d.ValueDifference(), d.CountedAt.UTC().Format(time.RFC3339)),
		DueIn: 24 * time.Hour, Data: d}
}

func abs64(n int64) int64 {
	if n < 0 {
		return -n
	}
	return n
}

// reevaluateDrifts judges again every open drift of the given positions
// whose count came at or after one of the late moves.
func reevaluateDrifts(ctx context.Context, tx *Tx, late map[posKey][]lateMove) error {
	keys := make([]posKey, 0, len(late))
	for k := range late {
		keys = append(keys, k)
	}
	drifts, err := lockOpenDrifts(ctx, tx, sortedKeys(keys), true)
	if err != nil || len(drifts) == 0 {
		return err
	}
	th, err := loadThresholds(ctx, tx)
	if err != nil {
		return err
	}
	for k, od := range drifts {
		var refs []string
		for _, m := range late[k] {
			if !m.at.After(od.d.CountedAt) {
				refs = append(refs, m.ref)
			}
		}
		if len(refs) > 0 {
			if err := reevaluateDrift(ctx, tx, th, k, od, refs); err != nil {
				return err
			}
		}
	}
	return nil
}

// reevaluateDrift recomputes one drift's system figure as of its count.
// Within the threshold now, the count applies as of its time (not for a
// platform's snapshot, where Stockline's figure stands), the hold is
// released and the exception resolves as explained_by_late_events;
// otherwise the figure is updated and the hold shrinks to the shortfall.
func reevaluateDrift(ctx context.Context, tx *Tx, th domain.Thresholds, k posKey, od *openDrift, refs []string) error {
	d := od.d
	var cat string
	if err := tx.GetContext(ctx, &cat, `SELECT category FROM products WHERE id = $1`, k.prod); err != nil {
		return fmt.Errorf("store: drift product: %w", err)
	}
	cur, err := lockPosition(ctx, tx, k.loc, k.prod)
	if err != nil {
		return err
	}
	if d.System, err = onHandAsOf(ctx, tx, k, d.CountedAt, cur.OnHand); err != nil {
		return err
	}
	within := !th.For(od.e.Location, cat).Beyond(d.System, d.Counted, d.PriceCents)
	keep := 0
	if !within {
		keep = min(d.Held, max(0, d.System-d.Counted))
	}
	ref := fmt.Sprintf("exception:%d", od.e.ID)
	b := stockBatch{meta: LedgerMeta{Source: "stockline", SourceRef: ref, Actor: reconActor, Note: "late events: " + strings.Join(refs, ", ")}, locked: true}
	b.add(stockRow{pos: k, bucket: domain.QualityHold, delta: -min(d.Held-keep, cur.QualityHold), reason: domain.ReasonCountReview})
	if within && !d.Platform {
		b.add(stockRow{pos: k, bucket: domain.OnHand, delta: d.Counted - d.System, reason: domain.ReasonCycleCount, at: d.CountedAt,
			note: fmt.Sprintf("count %d at %s, explained by late events", d.Counted, d.CountedAt.UTC().Format(time.RFC3339))})
		if _, err := tx.ExecContext(ctx, `UPDATE count_snapshots SET applied = true WHERE location_id = $1 AND product_id = $2
			AND counted_at = $3 AND source_ref = $4`, k.loc, k.prod, d.CountedAt, d.SourceRef); err != nil {
			return fmt.Errorf("store: apply count snapshot: %w", err)
		}
	}
	if len(b.rows) > 0 {
		if _, err := applyStock(ctx, tx, nil, b); err != nil {
			return err
		}
	}
	d.Held = keep
	if !within {
		data, err := json.Marshal(d)
		if err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `UPDATE exceptions SET data = $2, updated_at = now() WHERE id = $1`, od.e.ID, data)
		return err
	}
	d.ExplainedBy = refs
	note := fmt.Sprintf("Explained by late events %s: the ledger as of the count is now %d, counted %d.", strings.Join(refs, ", "), d.System, d.Counted)
	_, err = recordResolution(ctx, tx, reconActor, od.e, "", "", resolveOutcome{Code: domain.ResolutionExplainedByLateEvents, Note: note, Data: d})
	return err
}

// loadThresholds reads every threshold rule.
func loadThresholds(ctx context.Context, q queryer) (domain.Thresholds, error) {
	rules, err := thresholdRules(ctx, q)
	return domain.NewThresholds(rules), err
}

func thresholdRules(ctx context.Context, q queryer) ([]domain.ThresholdRule, error) {
	var rules []domain.ThresholdRule
	err := q.SelectContext(ctx, &rules, `SELECT t.id, t.scope, COALESCE(l.code, '') AS location, t.category, t.min_units,
		t.min_percent::float8 AS min_percent, t.min_value_cents, t.updated_at, t.updated_by
		FROM recon_thresholds t LEFT JOIN locations l ON l.id = t.location_id
		ORDER BY t.scope = 'default' DESC, t.scope, l.code, t.category`)
	if err != nil {
		return nil, fmt.Errorf("store: thresholds: %w", err)
	}
	return rules, nil
}
