package store

import (
	"cmp"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/lib/pq"

	"stockline/domain"
)

// InboundEvent is one event a feed delivered, as its adapter parsed it.
// Exactly one of Err, Changes, Order, Cancel or NoEffect says what it is.
type InboundEvent struct {
	ID            int64  // set when re-applying a stored (pending or dead) event
	SourceEventID string // unique per connector; redeliveries carry the same id
	Type          string // e.g. square.adjustment, shopify.order
	OccurredAt    time.Time
	Payload       []byte // the raw event as received
	Via           string // pull, webhook, upload, bench
	DeliveryID    string // the webhook delivery id, when there is one

	Err      string // the adapter could not read it: it is dead-lettered with this error
	NoEffect string // read fine but moves no stock (e.g. an untracked state); applied with this note
	Changes  []domain.StockChange
	Order    *domain.ExternalOrder
	Cancel   *domain.ExternalOrderCancel
}

// SyntheticEventID names an event that carries no id of its own (it could
// not be parsed) by its content, so a redelivery of the same bytes is
// still recognised.
func SyntheticEventID(payload []byte) string {
	h := sha256.Sum256(payload)
	return "sha256:" + hex.EncodeToString(h[:16])
}

// IngestResult counts what a batch did.
type IngestResult struct {
	Received     int
	Duplicates   int // already stored: delivered before, nothing done
	Applied      int
	Pending      int
	DeadLettered int
	Changed      int       // applied events that moved stock (wrote ledger rows)
	Newest       time.Time // the newest occurred_at among the batch's events
}

func (r *IngestResult) add(o IngestResult) {
	r.Received += o.Received
	r.Duplicates += o.Duplicates
	r.Applied += o.Applied
	r.Pending += o.Pending
	r.DeadLettered += o.DeadLettered
	r.Changed += o.Changed
	if o.Newest.After(r.Newest) {
		r.Newest = o.Newest
	}
}

// Ingest stores and applies a batch of new events for connector c in one
// transaction: each event is inserted into inbound_events (a redelivery of
// an id already stored is a duplicate and does nothing) and, in the same
// transaction, applied: its stock changes go to the ledger and positions,
// orders go to the OrderSink. An event that cannot be read or mapped is
// dead-lettered with its error; the others go on. If the batch as a whole
// fails, Ingest falls back to one transaction per event, so one bad event
// cannot hold back the rest.
//
// When leaseOwner is set, the batch applies only while that owner holds
// the connector's lease (ErrLeaseLost otherwise).
func (db *DB) Ingest(ctx context.Context, c Connector, events []InboundEvent, leaseOwner string) (IngestResult, error) {
	return db.ingest(ctx, c, events, leaseOwner, false, domain.Actor{})
}

// IngestAs is Ingest for events a person brought (a count upload): the
// ledger and audit rows name actor rather than the connector.
func (db *DB) IngestAs(ctx context.Context, c Connector, events []InboundEvent, actor domain.Actor) (IngestResult, error) {
	return db.ingest(ctx, c, events, "", false, actor)
}

// ApplyStored applies events already stored as pending or dead-lettered
// (their ID set, payload possibly fixed by an operator), with the same
// rules as Ingest. Events no longer pending or dead are skipped.
func (db *DB) ApplyStored(ctx context.Context, c Connector, events []InboundEvent, actor domain.Actor) (IngestResult, error) {
	return db.ingest(ctx, c, events, "", true, actor)
}

func (db *DB) ingest(ctx context.Context, c Connector, events []InboundEvent, owner string, stored bool, actor domain.Actor) (IngestResult, error) {
	var res IngestResult
	if len(events) == 0 {
		return res, nil
	}
	if actor.Kind == "" {
		actor = domain.Actor{Kind: "connector", Name: c.Name}
	}
	sink := db.OrderSink()
	err := db.InTx(ctx, func(tx *Tx) error {
		var err error
		res, err = ingestTx(ctx, tx, c, events, owner, stored, actor, sink)
		return err
	})
	if err == nil || len(events) == 1 || ctx.Err() != nil || errors.Is(err, ErrLeaseLost) {
		return res, err
	}
	// The batch failed as a whole: apply one event per transaction and
	// dead-letter the ones that fail on their own.
	res = IngestResult{}
	for i := range events {
		var one IngestResult
		err := db.InTx(ctx, func(tx *Tx) error {
			var err error
			one, err = ingestTx(ctx, tx, c, events[i:i+1], owner, stored, actor, sink)
			return err
		})
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, ErrLeaseLost) {
				return res, err
			}
			ev := events[i]
			ev.Err = "Could not be applied: " + domain.ErrorMessage(err)
			if domain.ErrorCode(err) == domain.EINTERNAL {
				ev.Err += " (" + feedTruncate(err.Error(), 300) + ")"
			}
			ev.Changes, ev.Order, ev.Cancel, ev.NoEffect = nil, nil, nil, ""
			err = db.InTx(ctx, func(tx *Tx) error {
				var err error
				one, err = ingestTx(ctx, tx, c, []InboundEvent{ev}, owner, stored, actor, sink)
				return err
			})
			if err != nil {
				return res, err
			}
		}
		res.add(one)
	}
	return res, nil
}

// Event dispositions inside a batch.
const (
	feedApplied = "applied"
	feedPending = "pending"
	feedDead    = "dead"
)

type feedEvent struct {
	ev      *InboundEvent
	status  string
	reason  string // pending reason
	errText string // dead-letter error
	note    string
	id      int64 // inbound_events.id once stored
	moved   bool  // it wrote ledger rows
	changes []feedChange
}

type feedChange struct {
	domain.StockChange
	locID, prodID int64
	sku, loc      string
}

func ingestTx(ctx context.Context, tx *Tx, c Connector, events []InboundEvent, owner string, stored bool, actor domain.Actor, sink OrderSink) (IngestResult, error) {
	var res IngestResult
	if owner != "" {
		if err := checkLease(ctx, tx, c.ID, owner); err != nil {
			return res, err
		}
	}
	res.Received = len(events)
	// Dedupe within the batch: the first delivery of an id wins.
	seen := make(map[string]bool, len(events))
	preps := make([]*feedEvent, 0, len(events))
	for i := range events {
		ev := &events[i]
		if ev.SourceEventID == "" {
			ev.SourceEventID = SyntheticEventID(ev.Payload)
		}
		if seen[ev.SourceEventID] {
			res.Duplicates++
			continue
		}
		seen[ev.SourceEventID] = true
		preps = append(preps, &feedEvent{ev: ev})
	}
	// Everything below is keyed lookups of a batch's rows: keep the planner
	// on index nested loops. With a few thousand keys in an array it would
	// otherwise hash-join whole tables (positions, mappings) per batch.
	if err := keyedPlans(ctx, tx, true); err != nil {
		return res, err
	}
	r, err := newFeedResolver(ctx, tx, c.ID, preps)
	if err != nil {
		return res, err
	}
	for _, p := range preps {
		disposeFeedEvent(p, c, r, sink)
	}
	// Store (or, for stored events, claim) the rows; only the ones that are
	// new to us go on.
	fresh, err := storeFeedEvents(ctx, tx, c, preps, stored)
	if err != nil {
		return res, err
	}
	res.Duplicates += len(preps) - len(fresh)
	// Stock changes, in delivery order, set-based.
	var stock []*feedEvent
	for _, p := range fresh {
		if p.status == feedApplied && len(p.changes) > 0 {
			stock = append(stock, p)
		}
	}
	changed, err := applyFeedStock(ctx, tx, c, stock, actor)
	if err != nil {
		return res, err
	}
	res.Changed = changed
	// Orders, one savepoint each, through the sink, with the planner as the
	// orders code expects it.
	if err := keyedPlans(ctx, tx, false); err != nil {
		return res, err
	}
	for _, p := range fresh {
		if p.status == feedApplied && (p.ev.Order != nil || p.ev.Cancel != nil) {
			if err := applyFeedOrder(ctx, tx, sink, p); err != nil {
				return res, err
			}
		}
	}
	if err := finishFeedEvents(ctx, tx, c, fresh, stored, actor); err != nil {
		return res, err
	}
	for _, p := range fresh {
		switch p.status {
		case feedApplied:
			res.Applied++
		case feedPending:
			res.Pending++
		case feedDead:
			res.DeadLettered++
		}
		if p.ev.OccurredAt.After(res.Newest) {
			res.Newest = p.ev.OccurredAt
		}
	}
	return res, nil
}

// keyedPlans turns hash and merge joins off (or back to the default) for
// the rest of the transaction.
func keyedPlans(ctx context.Context, tx *Tx, on bool) error {
	q := `SET LOCAL enable_hashjoin = off; SET LOCAL enable_mergejoin = off`
	if !on {
		q = `SET LOCAL enable_hashjoin TO DEFAULT; SET LOCAL enable_mergejoin TO DEFAULT`
	}
	if _, err := tx.ExecContext(ctx, q); err != nil {
		return fmt.Errorf("store: planner settings: %w", err)
	}
	return nil
}

// disposeFeedEvent decides what happens to an event before anything is written.
func disposeFeedEvent(p *feedEvent, c Connector, r *feedResolver, sink OrderSink) {
	ev := p.ev
	dead := func(msg string) { p.status, p.errText = feedDead, msg }
	switch {
	case ev.Err != "":
		dead(ev.Err)
		return
	case ev.OccurredAt.IsZero():
		dead("The event has no time it occurred.")
		return
	}
	if !c.Enabled {
		p.status, p.reason = feedPending, PendingPaused
		return
	}
	switch {
	case len(ev.Changes) > 0:
		for _, ch := range ev.Changes {
			if err := ch.Validate(); err != nil {
				dead(domain.ErrorMessage(err))
				return
			}
			rc := feedChange{StockChange: ch}
			var msg string
			if rc.prodID, rc.sku, msg = r.item(ch.Item); msg != "" {
				dead(msg)
				return
			}
			if rc.locID, rc.loc, msg = r.location(ch.Location); msg != "" {
				dead(msg)
				return
			}
			p.changes = append(p.changes, rc)
		}
		p.status = feedApplied
	case ev.Order != nil:
		o := ev.Order
		if err := o.Validate(); err != nil {
			dead(domain.ErrorMessage(err))
			return
		}
		for i := range o.Lines {
			id, sku, msg := r.item(o.Lines[i].Item)
			if msg != "" {
				dead(msg)
				return
			}
			o.Lines[i].ProductID, o.Lines[i].SKU = id, sku
		}
		if o.PickupLocation.ID != "" {
			_, code, msg := r.location(o.PickupLocation)
			if msg != "" {
				dead(msg)
				return
			}
			o.PickupCode = code
		}
		o.Source = c.Name
		p.status = feedApplied
	case ev.Cancel != nil:
		ev.Cancel.Source = c.Name
		p.status = feedApplied
	default:
		p.status, p.note = feedApplied, ev.NoEffect
		if p.note == "" {
			p.note = "No stock effect."
		}
	}
	if p.status == feedApplied && (ev.Order != nil || ev.Cancel != nil) && sink == nil {
		p.status, p.reason = feedPending, PendingNoOrderSink
	}
}

// feedResolver maps a batch's item and location references to ours, with one
// query per reference kind.
type feedResolver struct {
	ids   map[domain.Ref]int64
	codes map[domain.Ref]string
}

func newFeedResolver(ctx context.Context, tx *Tx, connectorID int64, preps []*feedEvent) (*feedResolver, error) {
	r := &feedResolver{ids: map[domain.Ref]int64{}, codes: map[domain.Ref]string{}}
	want := map[domain.Ref]bool{}
	for _, p := range preps {
		for _, ch := range p.ev.Changes {
			want[ch.Item], want[ch.Location] = true, true
		}
		if o := p.ev.Order; o != nil {
			for _, l := range o.Lines {
				want[l.Item] = true
			}
			if o.PickupLocation.ID != "" {
				want[o.PickupLocation] = true
			}
		}
	}
	var mk, mid, skus, codes []string
	for ref := range want {
		switch ref.Kind {
		case domain.RefItem, domain.RefLocation:
			mk, mid = append(mk, ref.Kind), append(mid, ref.ID)
		case domain.RefSKU:
			skus = append(skus, ref.ID)
		case domain.RefLocationCode:
			codes = append(codes, ref.ID)
		}
	}
	type row struct {
		Kind string `db:"kind"`
		Ext  string `db:"ext"`
		ID   int64  `db:"id"`
		Code string `db:"code"`
	}
	var rows []row
	if len(mk) > 0 {
		var got []row
		// One primary-key lookup per reference (LATERAL), whatever the
		// table statistics say.
		err := tx.SelectContext(ctx, &got, `SELECT k.kind, k.ext, COALESCE(m.product_id, m.location_id) AS id,
				COALESCE((SELECT sku FROM products p WHERE p.id = m.product_id), (SELECT code FROM locations l WHERE l.id = m.location_id)) AS code
			FROM unnest($2::text[], $3::text[]) AS k(kind, ext)
			CROSS JOIN LATERAL (SELECT product_id, location_id FROM connector_mappings m
				WHERE m.connector_id = $1 AND m.kind = k.kind AND m.external_id = k.ext) m`, connectorID, pq.Array(mk), pq.Array(mid))
		if err != nil {
			return nil, fmt.Errorf("store: resolve mappings: %w", err)
		}
		rows = append(rows, got...)
	}
	if len(skus) > 0 {
		var got []row
		err := tx.SelectContext(ctx, &got, `SELECT 'sku' AS kind, sku AS ext, id, sku AS code FROM products WHERE sku = ANY($1::text[])`, pq.Array(skus))
		if err != nil {
			return nil, fmt.Errorf("store: resolve skus: %w", err)
		}
		rows = append(rows, got...)
	}
	if len(codes) > 0 {
		var got []row
		err := tx.SelectContext(ctx, &got, `SELECT 'location_code' AS kind, code AS ext, id, code FROM locations WHERE code = ANY($1::text[])`, pq.Array(codes))
		if err != nil {
			return nil, fmt.Errorf("store: resolve locations: %w", err)
		}
		rows = append(rows, got...)
	}
	for _, x := range rows {
		ref := domain.Ref{Kind: x.Kind, ID: x.Ext}
		r.ids[ref], r.codes[ref] = x.ID, x.Code
	}
	return r, nil
}

func (r *feedResolver) item(ref domain.Ref) (int64, string, string) {
	if id, ok := r.ids[ref]; ok && (ref.Kind == domain.RefItem || ref.Kind == domain.RefSKU) {
		return id, r.codes[ref], ""
	}
	if ref.Kind == domain.RefSKU {
		return 0, "", fmt.Sprintf("Unknown SKU %q.", ref.ID)
	}
	return 0, "", fmt.Sprintf("Unmapped item: the feed's item %q has no SKU mapping. Map it on the connector page, then retry.", ref.ID)
}

func (r *feedResolver) location(ref domain.Ref) (int64, string, string) {
	if id, ok := r.ids[ref]; ok && (ref.Kind == domain.RefLocation || ref.Kind == domain.RefLocationCode) {
		return id, r.codes[ref], ""
	}
	if ref.Kind == domain.RefLocationCode {
		return 0, "", fmt.Sprintf("Unknown location %q.", ref.ID)
	}
	return 0, "", fmt.Sprintf("Unmapped location: the feed's location %q has no mapping. Map it on the connector page, then retry.", ref.ID)
}

// storeFeedEvents inserts new events (ON CONFLICT DO NOTHING: a known id is a
// duplicate) or claims stored ones still pending or dead, and returns the
// events this transaction owns, in order.
func storeFeedEvents(ctx context.Context, tx *Tx, c Connector, preps []*feedEvent, stored bool) ([]*feedEvent, error) {
	if stored {
		var out []*feedEvent
		for _, p := range preps {
			var id int64
			err := tx.GetContext(ctx, &id, `UPDATE inbound_events SET payload = $2, status = $3, pending_reason = $4, note = $5,
					applied_at = CASE WHEN $3 = 'applied' THEN now() END, occurred_at = COALESCE($6, occurred_at)
				WHERE id = $1 AND connector_id = $7 AND status IN ('pending', 'dead') RETURNING id`,
				p.ev.ID, feedPayloadText(p.ev.Payload), p.status, p.reason, p.note, feedNullTime(p.ev.OccurredAt), c.ID)
			if err != nil {
				if feedNoRows(err) {
					continue
				}
				return nil, fmt.Errorf("store: claim event: %w", err)
			}
			p.id = id
			out = append(out, p)
		}
		return out, nil
	}
	n := len(preps)
	ids, types, occ, vias, deliv, stat, reasons, notes, payloads := make([]string, n), make([]string, n), make([]*string, n),
		make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	for i, p := range preps {
		ids[i], types[i], vias[i], deliv[i] = p.ev.SourceEventID, p.ev.Type, p.ev.Via, p.ev.DeliveryID
		if types[i] == "" {
			types[i] = "unknown"
		}
		if vias[i] == "" {
			vias[i] = "pull"
		}
		if !p.ev.OccurredAt.IsZero() {
			s := p.ev.OccurredAt.UTC().Format(time.RFC3339Nano)
			occ[i] = &s
		}
		stat[i], reasons[i], notes[i], payloads[i] = p.status, p.reason, p.note, feedPayloadText(p.ev.Payload)
	}
	rows, err := tx.QueryContext(ctx, `INSERT INTO inbound_events (connector_id, source_event_id, type, occurred_at, via, delivery_id,
			status, pending_reason, note, payload, applied_at)
		SELECT $1, e.id, e.type, e.occ, e.via, e.deliv, e.stat, e.reason, e.note, e.payload, CASE WHEN e.stat = 'applied' THEN now() END
		FROM unnest($2::text[], $3::text[], $4::timestamptz[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[], $10::text[])
			AS e(id, type, occ, via, deliv, stat, reason, note, payload)
		ON CONFLICT (connector_id, source_event_id) DO NOTHING
		RETURNING id, source_event_id`,
		c.ID, pq.Array(ids), pq.Array(types), pq.Array(occ), pq.Array(vias), pq.Array(deliv), pq.Array(stat),
		pq.Array(reasons), pq.Array(notes), pq.Array(payloads))
	if err != nil {
		return nil, fmt.Errorf("store: insert events: %w", err)
	}
	defer rows.Close()
	got := make(map[string]int64, n)
	for rows.Next() {
		var id int64
		var sid string
		if err := rows.Scan(&id, &sid); err != nil {
			return nil, err
		}
		got[sid] = id
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: insert events: %w", err)
	}
	out := make([]*feedEvent, 0, len(got))
	for _, p := range preps {
		if id, ok := got[p.ev.SourceEventID]; ok {
			p.id = id
			out = append(out, p)
		}
	}
	return out, nil
}

// feedPayloadText keeps the raw payload as text; bytes that are not UTF-8 (or
// NUL, which PostgreSQL text cannot hold) are replaced, and the event will
// have been dead-lettered as malformed anyway.
func feedPayloadText(b []byte) string {
	s := string(b)
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "\uFFFD")
	}
	if strings.IndexByte(s, 0) >= 0 {
		s = strings.ReplaceAll(s, "\x00", "\uFFFD")
	}
	return s
}

func feedNoRows(err error) bool { return errors.Is(err, sql.ErrNoRows) }

func feedTruncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

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

type feedPosKey struct{ loc, prod int64 }

type feedMove struct {
	at    time.Time
	delta int
}

// applyFeedStock applies the stock changes of a batch of events set-based: it
// locks every touched position in key order, reads their count anchors,
// works out each change's ledger rows in delivery order with the same
// rules as one event at a time, then writes the ledger, the positions, the
// count snapshots and one outbox row per event in a few statements. It is
// the batch form of applyMovements and keeps its contract: position and
// ledger move together, and a broken invariant opens a negative_stock
// exception.
func applyFeedStock(ctx context.Context, tx *Tx, c Connector, events []*feedEvent, actor domain.Actor) (int, error) {
	if len(events) == 0 {
		return 0, nil
	}
	keySet := map[feedPosKey]bool{}
	for _, p := range events {
		for _, ch := range p.changes {
			keySet[feedPosKey{ch.locID, ch.prodID}] = true
		}
	}
	keys := make([]feedPosKey, 0, len(keySet))
	for k := range keySet {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b feedPosKey) int {
		if a.loc != b.loc {
			return cmp.Compare(a.loc, b.loc)
		}
		return cmp.Compare(a.prod, b.prod)
	})
	kl, kp := make([]int64, len(keys)), make([]int64, len(keys))
	for i, k := range keys {
		kl[i], kp[i] = k.loc, k.prod
	}
	touchStock(ctx, kp...)
	type posRow struct {
		Loc  int64 `db:"location_id"`
		Prod int64 `db:"product_id"`
		domain.Position
	}
	lockRows := func(l, p []int64) ([]posRow, error) {
		var rows []posRow
		err := tx.SelectContext(ctx, &rows, `SELECT p.location_id, p.product_id, p.on_hand, p.reserved, p.damaged, p.quality_hold,
				p.transfer_out, p.in_transit_in
			FROM positions p JOIN unnest($1::bigint[], $2::bigint[]) AS k(l, pr) ON p.location_id = k.l AND p.product_id = k.pr
			ORDER BY p.location_id, p.product_id FOR UPDATE OF p`, pq.Array(l), pq.Array(p))
		if err != nil {
			return nil, fmt.Errorf("store: lock positions: %w", err)
		}
		return rows, nil
	}
	locked, err := lockRows(kl, kp)
	if err != nil {
		return 0, err
	}
	if len(locked) < len(keys) {
		// Positions seen for the first time: create, then lock them too.
		have := make(map[feedPosKey]bool, len(locked))
		for _, r := range locked {
			have[feedPosKey{r.Loc, r.Prod}] = true
		}
		var ml, mp []int64
		for _, k := range keys {
			if !have[k] {
				ml, mp = append(ml, k.loc), append(mp, k.prod)
			}
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO positions (location_id, product_id)
			SELECT * FROM unnest($1::bigint[], $2::bigint[]) ON CONFLICT DO NOTHING`, pq.Array(ml), pq.Array(mp)); err != nil {
			return 0, fmt.Errorf("store: create positions: %w", err)
		}
		more, err := lockRows(ml, mp)
		if err != nil {
			return 0, err
		}
		locked = append(locked, more...)
	}
	cur := make(map[feedPosKey]domain.Position, len(locked))
	for _, r := range locked {
		cur[feedPosKey{r.Loc, r.Prod}] = r.Position
	}
	var anchorRows []struct {
		Loc       int64     `db:"l"`
		Prod      int64     `db:"pr"`
		CountedAt time.Time `db:"counted_at"`
		Quantity  int       `db:"quantity"`
		Ref       string    `db:"source_ref"`
	}
	if err := tx.SelectContext(ctx, &anchorRows, `SELECT k.l, k.pr, s.counted_at, s.quantity, s.source_ref
		FROM unnest($1::bigint[], $2::bigint[]) AS k(l, pr)
		CROSS JOIN LATERAL (SELECT counted_at, quantity, source_ref FROM count_snapshots s
			WHERE s.location_id = k.l AND s.product_id = k.pr AND s.applied ORDER BY s.counted_at DESC LIMIT 1) s`,
		pq.Array(kl), pq.Array(kp)); err != nil {
		return 0, fmt.Errorf("store: count anchors: %w", err)
	}
	anchors := make(map[feedPosKey]*domain.CountAnchor, len(anchorRows))
	for _, a := range anchorRows {
		anchors[feedPosKey{a.Loc, a.Prod}] = &domain.CountAnchor{CountedAt: a.CountedAt, Quantity: a.Quantity, Ref: a.Ref}
	}
	// On-hand movements already in the ledger after each count's time.
	type countQ struct {
		key feedPosKey
		at  time.Time
	}
	var cqs []countQ
	for _, p := range events {
		for _, ch := range p.changes {
			if ch.Count != nil {
				cqs = append(cqs, countQ{feedPosKey{ch.locID, ch.prodID}, p.ev.OccurredAt})
			}
		}
	}
	ledgerAfter := make([]int, len(cqs))
	if len(cqs) > 0 {
		ql, qp, qt := make([]int64, len(cqs)), make([]int64, len(cqs)), make([]string, len(cqs))
		for i, q := range cqs {
			ql[i], qp[i], qt[i] = q.key.loc, q.key.prod, q.at.UTC().Format(time.RFC3339Nano)
		}
		var sums []struct {
			I   int `db:"i"`
			Sum int `db:"s"`
		}
		if err := tx.SelectContext(ctx, &sums, `SELECT k.i, COALESCE((SELECT sum(g.delta) FROM ledger g
				WHERE g.product_id = k.pr AND g.location_id = k.l AND g.bucket = 'on_hand' AND g.occurred_at > k.t), 0) AS s
			FROM unnest($1::bigint[], $2::bigint[], $3::timestamptz[]) WITH ORDINALITY AS k(l, pr, t, i)`,
			pq.Array(ql), pq.Array(qp), pq.Array(qt)); err != nil {
			return 0, fmt.Errorf("store: ledger as of count: %w", err)
		}
		for _, s := range sums {
			ledgerAfter[s.I-1] = s.Sum
		}
	}

	// Work out every ledger row in delivery order.
	var (
		lLoc, lProd, lDelta                    []int64
		lBucket, lReason, lRef, lNote, lOccurs []string
		sLoc, sProd, sQty                      []int64
		sAt, sRef                              []string
		sApplied                               []bool
		outTopic, outPayload                   []string
	)
	inBatch := map[feedPosKey][]feedMove{}
	countIdx := 0
	for _, p := range events {
		ev := p.ev
		var outChanges []feedChangeJSON
		for _, ch := range p.changes {
			key := feedPosKey{ch.locID, ch.prodID}
			pos := cur[key]
			addRow := func(m domain.Movement, reason domain.Reason, at time.Time, note string) {
				lLoc, lProd, lDelta = append(lLoc, key.loc), append(lProd, key.prod), append(lDelta, int64(m.Delta))
				lBucket, lReason = append(lBucket, string(m.Bucket)), append(lReason, string(reason))
				lRef, lNote, lOccurs = append(lRef, ev.SourceEventID), append(lNote, note), append(lOccurs, at.UTC().Format(time.RFC3339Nano))
				pos = pos.Apply(m.Bucket, m.Delta)
				p.moved = true
				if m.Bucket == domain.OnHand {
					inBatch[key] = append(inBatch[key], feedMove{at, m.Delta})
				}
			}
			anchor := anchors[key]
			if ch.Count != nil {
				after := ledgerAfter[countIdx]
				countIdx++
				for _, bm := range inBatch[key] {
					if bm.at.After(ev.OccurredAt) {
						after += bm.delta
					}
				}
				moves, applies, err := domain.CountMovements(anchor, ev.OccurredAt, *ch.Count, pos.OnHand-after)
				if err != nil {
					return 0, err
				}
				note := fmt.Sprintf("count %d at %s", *ch.Count, ev.OccurredAt.UTC().Format(time.RFC3339))
				for _, m := range moves {
					addRow(m, domain.ReasonCycleCount, ev.OccurredAt, note)
				}
				sLoc, sProd, sQty = append(sLoc, key.loc), append(sProd, key.prod), append(sQty, int64(*ch.Count))
				sAt, sRef, sApplied = append(sAt, ev.OccurredAt.UTC().Format(time.RFC3339Nano)), append(sRef, ev.SourceEventID), append(sApplied, applies)
				if applies {
					anchors[key] = &domain.CountAnchor{CountedAt: ev.OccurredAt, Quantity: *ch.Count, Ref: ev.SourceEventID}
				} else if p.note == "" {
					p.note = fmt.Sprintf("Count superseded: a newer count (%s) already holds.", anchor.CountedAt.UTC().Format(time.RFC3339))
				}
				counted := *ch.Count
				outChanges = append(outChanges, feedChangeJSON{SKU: ch.sku, Location: ch.loc, Counted: &counted, Applied: &applies})
			} else {
				for _, m := range ch.Moves {
					if m.Delta != 0 {
						addRow(m, ch.Reason, ev.OccurredAt, "")
					}
				}
				if anchor.SupersededBy(ev.OccurredAt) {
					if d := ch.OnHandDelta(); d != 0 {
						addRow(domain.Movement{Bucket: domain.OnHand, Delta: -d}, domain.ReasonCycleCount, anchor.CountedAt,
							fmt.Sprintf("%s at %s is already in count %s at %s", ch.Reason, ev.OccurredAt.UTC().Format(time.RFC3339),
								anchor.Ref, anchor.CountedAt.UTC().Format(time.RFC3339)))
						p.note = "Happened before a newer count, which already includes it."
					}
				}
				d := ch.OnHandDelta()
				outChanges = append(outChanges, feedChangeJSON{SKU: ch.sku, Location: ch.loc, Reason: ch.Reason, OnHandDelta: &d})
			}
			cur[key] = pos
		}
		payload, err := json.Marshal(feedAppliedJSON{Connector: c.Name, Event: ev.SourceEventID, Type: ev.Type,
			OccurredAt: ev.OccurredAt, Changes: outChanges})
		if err != nil {
			return 0, err
		}
		outTopic, outPayload = append(outTopic, "inventory.feed_applied"), append(outPayload, string(payload))
	}

	changed := 0
	for _, p := range events {
		if p.moved {
			changed++
		}
	}
	if len(lLoc) > 0 {
		if _, err := tx.ExecContext(ctx, `INSERT INTO ledger (location_id, product_id, bucket, delta, reason, source, source_ref, actor, note, occurred_at)
			SELECT l, p, b, d, r, $9, ref, $10, n, o
			FROM unnest($1::bigint[], $2::bigint[], $3::text[], $4::int[], $5::text[], $6::text[], $7::text[], $8::timestamptz[])
				AS m(l, p, b, d, r, ref, n, o)`,
			pq.Array(lLoc), pq.Array(lProd), pq.Array(lBucket), pq.Array(lDelta), pq.Array(lReason), pq.Array(lRef),
			pq.Array(lNote), pq.Array(lOccurs), c.Name, actor.String()); err != nil {
			return 0, fmt.Errorf("store: insert ledger: %w", err)
		}
		// Net delta per position and bucket, from the rows just written.
		net := map[feedPosKey]domain.Position{}
		for i := range lLoc {
			k := feedPosKey{lLoc[i], lProd[i]}
			net[k] = net[k].Apply(domain.Bucket(lBucket[i]), int(lDelta[i]))
		}
		var ul, up, uoh, ures, udm, uqh, uto, uit []int64
		for _, k := range keys {
			d, ok := net[k]
			if !ok || d == (domain.Position{}) {
				continue
			}
			ul, up = append(ul, k.loc), append(up, k.prod)
			uoh, ures, udm = append(uoh, int64(d.OnHand)), append(ures, int64(d.Reserved)), append(udm, int64(d.Damaged))
			uqh, uto, uit = append(uqh, int64(d.QualityHold)), append(uto, int64(d.TransferOut)), append(uit, int64(d.InTransitIn))
		}
		if len(ul) > 0 {
			var after []posRow
			if err := tx.SelectContext(ctx, &after, `UPDATE positions p SET on_hand = p.on_hand + d.oh, reserved = p.reserved + d.res,
					damaged = p.damaged + d.dm, quality_hold = p.quality_hold + d.qh, transfer_out = p.transfer_out + d.tro,
					in_transit_in = p.in_transit_in + d.iti, updated_at = now()
				FROM unnest($1::bigint[], $2::bigint[], $3::int[], $4::int[], $5::int[], $6::int[], $7::int[], $8::int[])
					AS d(l, pr, oh, res, dm, qh, tro, iti)
				WHERE p.location_id = d.l AND p.product_id = d.pr
				RETURNING p.location_id, p.product_id, p.on_hand, p.reserved, p.damaged, p.quality_hold, p.transfer_out, p.in_transit_in`,
				pq.Array(ul), pq.Array(up), pq.Array(uoh), pq.Array(ures), pq.Array(udm), pq.Array(uqh), pq.Array(uto), pq.Array(uit)); err != nil {
				return 0, fmt.Errorf("store: update positions: %w", err)
			}
			for _, a := range after {
				if v := a.Position.Violations(); len(v) > 0 {
					if err := openException(ctx, tx, NewException{
						Kind: "negative_stock", Severity: "high", LocationID: a.Loc, ProductID: a.Prod,
						Title:  "Stock position out of bounds",
						Detail: strings.Join(v, "; ") + " after events from " + c.Name,
						Dedupe: true,
					}); err != nil {
						return 0, err
					}
				}
			}
		}
	}
	if len(sLoc) > 0 {
		if _, err := tx.ExecContext(ctx, `INSERT INTO count_snapshots (location_id, product_id, quantity, counted_at, source, source_ref, applied)
			SELECT l, p, q, t, $7, r, a FROM unnest($1::bigint[], $2::bigint[], $3::int[], $4::timestamptz[], $5::text[], $6::bool[]) AS s(l, p, q, t, r, a)`,
			pq.Array(sLoc), pq.Array(sProd), pq.Array(sQty), pq.Array(sAt), pq.Array(sRef), pq.Array(sApplied), c.Name); err != nil {
			return 0, fmt.Errorf("store: insert count snapshots: %w", err)
		}
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO outbox (topic, payload) SELECT t, p::jsonb FROM unnest($1::text[], $2::text[]) AS o(t, p)`,
		pq.Array(outTopic), pq.Array(outPayload)); err != nil {
		return 0, fmt.Errorf("store: outbox: %w", err)
	}
	// Notes (superseded, stale counts) go on the event rows.
	for _, p := range events {
		if p.note != "" {
			if _, err := tx.ExecContext(ctx, `UPDATE inbound_events SET note = $2 WHERE id = $1`, p.id, p.note); err != nil {
				return 0, fmt.Errorf("store: event note: %w", err)
			}
		}
	}
	return changed, nil
}

// applyFeedOrder hands an order event to the sink under a savepoint, so a
// refusal dead-letters (or, for a cancel ahead of its order, parks) that
// event alone.
func applyFeedOrder(ctx context.Context, tx *Tx, sink OrderSink, p *feedEvent) error {
	if _, err := tx.ExecContext(ctx, `SAVEPOINT order_event`); err != nil {
		return fmt.Errorf("store: savepoint: %w", err)
	}
	var err error
	// The sink records which feed event carried the order on its timeline.
	if p.ev.Order != nil {
		o := *p.ev.Order
		o.SourceEventID, o.Via = p.ev.SourceEventID, p.ev.Via
		err = sink.CreateOrder(ctx, tx, o)
	} else {
		c := *p.ev.Cancel
		c.SourceEventID, c.Via = p.ev.SourceEventID, p.ev.Via
		err = sink.CancelOrder(ctx, tx, c)
	}
	if err == nil {
		_, err = tx.ExecContext(ctx, `RELEASE SAVEPOINT order_event`)
		return err
	}
	code := domain.ErrorCode(err)
	if code == domain.EINTERNAL {
		return err
	}
	if _, rerr := tx.ExecContext(ctx, `ROLLBACK TO SAVEPOINT order_event`); rerr != nil {
		return fmt.Errorf("store: rollback to savepoint: %w", rerr)
	}
	if p.ev.Cancel != nil && code == domain.ENOTFOUND {
		p.status, p.reason = feedPending, PendingOrderNotFound
	} else {
		p.status, p.errText = feedDead, "The orders module refused it: "+domain.ErrorMessage(err)
	}
	_, uerr := tx.ExecContext(ctx, `UPDATE inbound_events SET status = $2, pending_reason = $3, applied_at = NULL WHERE id = $1`,
		p.id, p.status, p.reason)
	return uerr
}

// finishFeedEvents writes the dead letters, resolves retried ones, raises the
// dead_letter exception, counts the events and audits the batch.
func finishFeedEvents(ctx context.Context, tx *Tx, c Connector, fresh []*feedEvent, stored bool, actor domain.Actor) error {
	var deadIDs, appliedIDs []int64
	var deadErrs []string
	counts := map[string]int{}
	for _, p := range fresh {
		counts[p.status]++
		switch p.status {
		case feedDead:
			deadIDs, deadErrs = append(deadIDs, p.id), append(deadErrs, feedTruncate(p.errText, 2000))
		case feedApplied:
			appliedIDs = append(appliedIDs, p.id)
		}
	}
	if len(deadIDs) > 0 {
		if _, err := tx.ExecContext(ctx, `INSERT INTO dead_letters (connector_id, inbound_event_id, error)
			SELECT $1, i, e FROM unnest($2::bigint[], $3::text[]) AS d(i, e)
			ON CONFLICT (inbound_event_id) WHERE status = 'open'
			DO UPDATE SET error = EXCLUDED.error, attempts = dead_letters.attempts + 1, updated_at = now()`,
			c.ID, pq.Array(deadIDs), pq.Array(deadErrs)); err != nil {
			return fmt.Errorf("store: dead letters: %w", err)
		}
		if err := openException(ctx, tx, NewException{Kind: "dead_letter", Severity: "medium", Ref: feedRef(c.Name),
			Title:  "Events dead-lettered on " + c.Name,
			Detail: fmt.Sprintf("%d event(s) could not be applied, e.g.: %s Retry or dismiss them on the connector page.", len(deadIDs), deadErrs[0]),
			DueIn:  4 * time.Hour, Dedupe: true}); err != nil {
			return err
		}
	}
	if stored && len(appliedIDs) > 0 {
		if _, err := tx.ExecContext(ctx, `UPDATE dead_letters SET status = 'retried', resolved_at = now(), resolved_by = $2, updated_at = now()
			WHERE inbound_event_id = ANY($1::bigint[]) AND status = 'open'`, pq.Array(appliedIDs), actor.String()); err != nil {
			return fmt.Errorf("store: resolve dead letters: %w", err)
		}
	}
	if !stored && len(fresh) > 0 {
		if _, err := tx.ExecContext(ctx, `UPDATE connectors SET events_total = events_total + $2 WHERE id = $1`, c.ID, len(fresh)); err != nil {
			return fmt.Errorf("store: count events: %w", err)
		}
	}
	if len(fresh) == 0 {
		return nil
	}
	action := "connector.ingest"
	if stored {
		action = "connector.apply_stored"
	}
	return insertAudit(ctx, tx, actor, action, "connector", c.Name, nil, map[string]any{
		"events": len(fresh), "applied": counts[feedApplied], "pending": counts[feedPending], "dead_lettered": counts[feedDead],
		"first": fresh[0].ev.SourceEventID, "last": fresh[len(fresh)-1].ev.SourceEventID,
	})
}
