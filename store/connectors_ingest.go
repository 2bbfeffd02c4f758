package store

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/lib/pq"

	"stockline/domain"
)

// InboundEvent is one event a feed delivered, as its adapter parsed it.
// Exactly one of Err, Changes, Order, Cancel, Refund or NoEffect says what it is.
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
	Refund   *domain.ExternalRefund
}

// forSink says whether the event goes to the OrderSink.
func (ev *InboundEvent) forSink() bool {
	return ev.Order != nil || ev.Cancel != nil || ev.Refund != nil
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

// ApplyStoredForException is ApplyStored done as a dead-letter
// exception's action (retry, or fix the payload), in one transaction with
// no per-event fallback: when every event went through, the exception's
// resolution (rec: code, note, audit, timeline) is recorded with the apply
// and the dead letters' state; when one still cannot be applied (dead-lettered
// again, or pending because the connector is paused) the transaction
// commits what became of each event, and the exception stays open. Any
// error, the record's included, rolls the whole back: nothing applied, the
// dead letters and the exception as they were.
func (db *DB) ApplyStoredForException(ctx context.Context, c Connector, events []InboundEvent, actor domain.Actor, rec ExceptionRecord) (IngestResult, error) {
	var res IngestResult
	sink := db.OrderSink()
	err := db.InTx(ctx, func(tx *Tx) error {
		if len(events) > 0 {
			var err error
			if res, err = ingestTx(ctx, tx, &db.feedRefs, c, events, "", true, actor, sink); err != nil {
				return err
			}
		}
		if res.Pending > 0 || res.DeadLettered > 0 {
			return nil
		}
		return recordExceptionActionTx(ctx, tx, actor, &rec)
	})
	return res, err
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
		res, err = ingestTx(ctx, tx, &db.feedRefs, c, events, owner, stored, actor, sink)
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
			one, err = ingestTx(ctx, tx, &db.feedRefs, c, events[i:i+1], owner, stored, actor, sink)
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
			ev.Changes, ev.Order, ev.Cancel, ev.Refund, ev.NoEffect = nil, nil, nil, nil, ""
			err = db.InTx(ctx, func(tx *Tx) error {
				var err error
				one, err = ingestTx(ctx, tx, &db.feedRefs, c, []InboundEvent{ev}, owner, stored, actor, sink)
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

func ingestTx(ctx context.Context, tx *Tx, refs *feedRefCache, c Connector, events []InboundEvent, owner string, stored bool, actor domain.Actor, sink OrderSink) (IngestResult, error) {
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
	r, err := newFeedResolver(ctx, tx, refs, c.ID, preps)
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
		if p.status == feedApplied && p.ev.forSink() {
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
	case ev.Refund != nil:
		if msg := resolveRefund(ev.Refund, r); msg != "" {
			dead(msg)
			return
		}
		ev.Refund.Source = c.Name
		p.status = feedApplied
	default:
		p.status, p.note = feedApplied, ev.NoEffect
		if p.note == "" {
			p.note = "No stock effect."
		}
	}
	if p.status == feedApplied && ev.forSink() && sink == nil {
		p.status, p.reason = feedPending, PendingNoOrderSink
	}
}

// resolveRefund maps a refund's items to SKUs and its restock locations
// to codes, or says why it cannot.
func resolveRefund(rf *domain.ExternalRefund, r *feedResolver) string {
	for i := range rf.Lines {
		l := &rf.Lines[i]
		var msg string
		if _, l.SKU, msg = r.item(l.Item); msg != "" {
			return msg
		}
		if l.Restock {
			if _, l.LocationCode, msg = r.location(l.Location); msg != "" {
				return msg
			}
		}
	}
	return ""
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
	} else if p.ev.Refund != nil {
		rf := *p.ev.Refund
		rf.SourceEventID, rf.Via = p.ev.SourceEventID, p.ev.Via
		err = sink.RefundOrder(ctx, tx, rf)
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
	if (p.ev.Cancel != nil || p.ev.Refund != nil) && code == domain.ENOTFOUND {
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
			Dedupe: true}); err != nil {
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
