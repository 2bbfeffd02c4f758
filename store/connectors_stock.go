package store

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/lib/pq"

	"stockline/domain"
)

// feedAppliedJSON is the inventory.feed_applied outbox event: what one
// inbound event did.
type feedAppliedJSON struct {
	Connector  string           `json:"connector"`
	Event      string           `json:"event"`
	Type       string           `json:"type"`
	OccurredAt time.Time        `json:"occurred_at"`
	Changes    []feedChangeJSON `json:"changes"`
}

type feedChangeJSON struct {
	SKU         string        `json:"sku"`
	Location    string        `json:"location"`
	Reason      domain.Reason `json:"reason,omitempty"`
	OnHandDelta *int          `json:"on_hand_delta,omitempty"`
	Counted     *int          `json:"counted,omitempty"`
	Applied     *bool         `json:"applied,omitempty"`
}

type feedMove struct {
	at    time.Time
	delta int
}

// applyFeedStock applies the stock changes of a batch of events through the
// batch form of the stock primitive: it locks every touched position in the
// one lock order (creating new ones), reads their count anchors, works out
// each change's ledger rows in delivery order with the same rules as one
// event at a time (planFeedStock), then applies them, the count snapshots
// and one outbox row per event in one statement (applyStock). It says how
// many events moved stock.
func applyFeedStock(ctx context.Context, tx *Tx, c Connector, events []*feedEvent, actor domain.Actor) (int, error) {
	if len(events) == 0 {
		return 0, nil
	}
	snapshotOnly := isSnapshotFeed(c)
	var keys []posKey
	for _, p := range events {
		for _, ch := range p.changes {
			if !(snapshotOnly && ch.Count != nil) {
				keys = append(keys, posKey{ch.locID, ch.prodID})
			}
		}
	}
	keys = sortedKeys(keys)
	cur, err := lockStock(ctx, tx, keys, true)
	if err != nil {
		return 0, err
	}
	anchors, err := countAnchors(ctx, tx, keys)
	if err != nil {
		return 0, err
	}
	ledgerAfter, err := ledgerAfterCounts(ctx, tx, events)
	if err != nil {
		return 0, err
	}
	plan := feedPlan{batch: stockBatch{meta: LedgerMeta{Source: c.Name, Actor: actor}, locked: true, cause: "events from " + c.Name},
		cur: cur, anchors: anchors, ledgerAfter: ledgerAfter, inBatch: map[posKey][]feedMove{}}
	plan.snapshotOnly = snapshotOnly
	if err := plan.loadDriftRules(ctx, tx, keys, events); err != nil {
		return 0, err
	}
	for _, p := range events {
		if err := plan.event(c, p); err != nil {
			return 0, err
		}
	}
	if len(plan.sLoc) > 0 {
		plan.batch.extra = append(plan.batch.extra, plan.snapshotClause(c.Name))
	}
	if len(plan.platform) > 0 {
		plan.batch.extra = append(plan.batch.extra, plan.platformClause(c.ID))
	}
	if _, err := applyStock(ctx, tx, nil, plan.batch); err != nil {
		return 0, err
	}
	if err := plan.finishDrifts(ctx, tx, c); err != nil {
		return 0, err
	}
	// Notes (superseded, stale counts) go on the event rows.
	changed := 0
	var noted []int64
	var notes []string
	for _, p := range events {
		if p.moved {
			changed++
		}
		if p.note != "" {
			noted, notes = append(noted, p.id), append(notes, p.note)
		}
	}
	if len(noted) > 0 {
		if _, err := tx.ExecContext(ctx, `UPDATE inbound_events e SET note = u.note FROM unnest($1::bigint[], $2::text[]) AS u(id, note)
			WHERE e.id = u.id`, pq.Array(noted), pq.Array(notes)); err != nil {
			return 0, fmt.Errorf("store: event notes: %w", err)
		}
	}
	return changed, nil
}

// countAnchors reads the newest applied count of each position.
func countAnchors(ctx context.Context, tx *Tx, keys []posKey) (map[posKey]*domain.CountAnchor, error) {
	kl, kp := keyArrays(keys)
	var rows []struct {
		Loc       int64     `db:"l"`
		Prod      int64     `db:"pr"`
		CountedAt time.Time `db:"counted_at"`
		Quantity  int       `db:"quantity"`
		Ref       string    `db:"source_ref"`
	}
	if err := tx.SelectContext(ctx, &rows, `SELECT k.l, k.pr, s.counted_at, s.quantity, s.source_ref
		FROM unnest($1::bigint[], $2::bigint[]) AS k(l, pr)
		CROSS JOIN LATERAL (SELECT counted_at, quantity, source_ref FROM count_snapshots s
			WHERE s.location_id = k.l AND s.product_id = k.pr AND s.applied ORDER BY s.counted_at DESC LIMIT 1) s`,
		pq.Array(kl), pq.Array(kp)); err != nil {
		return nil, fmt.Errorf("store: count anchors: %w", err)
	}
	anchors := make(map[posKey]*domain.CountAnchor, len(rows))
	for _, a := range rows {
		anchors[posKey{a.Loc, a.Prod}] = &domain.CountAnchor{CountedAt: a.CountedAt, Quantity: a.Quantity, Ref: a.Ref}
	}
	return anchors, nil
}

// ledgerAfterCounts returns, for each count among the events' changes in
// order, the on-hand movements already in the ledger after the count's time.
func ledgerAfterCounts(ctx context.Context, tx *Tx, events []*feedEvent) ([]int, error) {
	var ql, qp []int64
	var qt []time.Time
	for _, p := range events {
		for _, ch := range p.changes {
			if ch.Count != nil {
				ql, qp, qt = append(ql, ch.locID), append(qp, ch.prodID), append(qt, p.ev.OccurredAt)
			}
		}
	}
	out := make([]int, len(ql))
	if len(ql) == 0 {
		return out, nil
	}
	var sums []struct {
		I   int `db:"i"`
		Sum int `db:"s"`
	}
	if err := tx.SelectContext(ctx, &sums, `SELECT k.i, COALESCE((SELECT sum(g.delta) FROM ledger g
			WHERE g.product_id = k.pr AND g.location_id = k.l AND g.bucket = 'on_hand' AND g.occurred_at > k.t), 0) AS s
		FROM unnest($1::bigint[], $2::bigint[], $3::timestamptz[]) WITH ORDINALITY AS k(l, pr, t, i)`,
		pq.Array(ql), pq.Array(qp), pq.Array(qt)); err != nil {
		return nil, fmt.Errorf("store: ledger as of count: %w", err)
	}
	for _, s := range sums {
		out[s.I-1] = s.Sum
	}
	return out, nil
}

// feedPlan works out a batch's ledger rows, count snapshots and events in
// delivery order, tracking each position as the rows move it.
type feedPlan struct {
	batch       stockBatch
	cur         map[posKey]domain.Position
	anchors     map[posKey]*domain.CountAnchor
	ledgerAfter []int
	countIdx    int
	inBatch     map[posKey][]feedMove // on-hand moves planned so far, per position

	sLoc, sProd, sQty []int64
	sAt               []time.Time
	sRef              []string
	sApplied          []bool

	driftPlan
}

// row plans one ledger row of event p at key.
func (f *feedPlan) row(p *feedEvent, key posKey, m domain.Movement, reason domain.Reason, at time.Time, note string) {
	f.batch.add(stockRow{pos: key, bucket: m.Bucket, delta: m.Delta, reason: reason, ref: p.ev.SourceEventID, note: note, at: at})
	f.cur[key] = f.cur[key].Apply(m.Bucket, m.Delta)
	p.moved = true
	if m.Bucket == domain.OnHand {
		f.inBatch[key] = append(f.inBatch[key], feedMove{at, m.Delta})
	}
}

// event plans one event's changes and its feed_applied outbox row.
func (f *feedPlan) event(c Connector, p *feedEvent) error {
	ev := p.ev
	var out []feedChangeJSON
	for _, ch := range p.changes {
		key := posKey{ch.locID, ch.prodID}
		if ch.Count != nil && f.snapshotOnly {
			out = append(out, f.platformSnapshot(p, ch, key))
			continue
		}
		if ch.Count != nil {
			j, err := f.count(p, ch, key)
			if err != nil {
				return err
			}
			out = append(out, j)
			continue
		}
		for _, m := range ch.Moves {
			if m.Delta != 0 {
				f.row(p, key, m, ch.Reason, ev.OccurredAt, "")
			}
		}
		if anchor := f.anchors[key]; anchor.SupersededBy(ev.OccurredAt) {
			if d := ch.OnHandDelta(); d != 0 {
				f.row(p, key, domain.Movement{Bucket: domain.OnHand, Delta: -d}, domain.ReasonCycleCount, anchor.CountedAt,
					fmt.Sprintf("%s at %s is already in count %s at %s", ch.Reason, ev.OccurredAt.UTC().Format(time.RFC3339),
						anchor.Ref, anchor.CountedAt.UTC().Format(time.RFC3339)))
				p.note = "Happened before a newer count, which already includes it."
			}
		}
		d := ch.OnHandDelta()
		if d != 0 {
			f.late[key] = append(f.late[key], lateMove{at: ev.OccurredAt, ref: ev.SourceEventID})
		}
		out = append(out, feedChangeJSON{SKU: ch.sku, Location: ch.loc, Reason: ch.Reason, OnHandDelta: &d})
	}
	payload, err := json.Marshal(feedAppliedJSON{Connector: c.Name, Event: ev.SourceEventID, Type: ev.Type,
		OccurredAt: ev.OccurredAt, Changes: out})
	if err != nil {
		return err
	}
	f.batch.events = append(f.batch.events, StockEvent{Topic: "inventory.feed_applied", Payload: string(payload)})
	return nil
}

// snapshotClause writes the planned count snapshots in the stock statement.
func (f *feedPlan) snapshotClause(source string) clause {
	return func(a *stmtArgs) string {
		return fmt.Sprintf(`cs AS (
			INSERT INTO count_snapshots (location_id, product_id, quantity, counted_at, source, source_ref, applied)
			SELECT l, p, q, t, %s, r, a FROM unnest(%s::bigint[], %s::bigint[], %s::int[], %s::timestamptz[], %s::text[], %s::bool[]) AS s(l, p, q, t, r, a)
		)`, a.p(source), a.p(pq.Array(f.sLoc)), a.p(pq.Array(f.sProd)), a.p(pq.Array(f.sQty)), a.p(pq.Array(f.sAt)),
			a.p(pq.Array(f.sRef)), a.p(pq.BoolArray(f.sApplied)))
	}
}
