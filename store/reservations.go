package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/lib/pq"

	"stockline/domain"
)

// ReserveCall is one request to hold stock, as the API makes it.
type ReserveCall struct {
	Actor   domain.Actor
	Key     IdempotencyKey
	Request domain.ReservationRequest
	// Render turns the outcome into the bytes the client gets: the held
	// reservation, or the 409 insufficient_stock error. Its Response is
	// stored with the key and replayed for duplicates, so it must not
	// depend on anything but its arguments.
	Render func(r *domain.Reservation, short *domain.Error) Response
}

// Reserve holds the stock a checkout asks for, all lines or none, at most
// once per idempotency key, and returns the rendered answer: 201 with the
// reservation or 409 insufficient_stock (both stored with the key). It
// returns an error, storing nothing, for an invalid request (EINVALID,
// location_not_eligible), an unknown SKU or location (ENOTFOUND), and a
// reused key (422 idempotency_mismatch, 409 idempotency_in_progress).
//
// Every request whose candidate positions (lines × the named location or
// the policy's eligible locations) number at most maxBatchedPositions goes
// through the batcher, which sources and answers concurrent requests, on
// the same or different positions, from one transaction; a larger one, or
// one whose batch failed as a whole, runs in a transaction of its own.
// Both lock positions in the one lock order (comparePos), source with
// domain.Source (all lines or none) against the locked positions, and take
// stock through the stock primitive's guarded update, so nothing is ever
// oversold.
func (db *DB) Reserve(ctx context.Context, call ReserveCall) (Response, error) {
	if err := call.Request.Validate(); err != nil {
		return Response{}, err
	}
	return db.resv.flights.do(ctx, call.Key, func() (Response, error) {
		rq, err := db.resolveReservation(ctx, call.Request)
		if err != nil {
			return Response{}, err
		}
		if keys, ok := batchable(rq); ok {
			return db.reserveBatched(ctx, call, rq, keys)
		}
		return db.reserveAlone(ctx, call, rq)
	})
}

// reserveAlone answers a request in a transaction of its own: requests
// too large for the batcher, and every request of a batch that failed as
// a whole.
func (db *DB) reserveAlone(ctx context.Context, call ReserveCall, rq resolvedRequest) (Response, error) {
	var res Response
	err := db.runLimited(ctx, func() error {
		return db.InTx(ctx, func(tx *Tx) error {
			stored, claimed, err := claimKey(ctx, tx, call.Key)
			if err != nil || !claimed {
				res = stored
				return err
			}
			r, err := reserveInTx(ctx, tx, call.Actor, rq, db.stamp())
			if short := domain.AsError(err); short != nil && short.Code == domain.CodeInsufficientStock {
				res = call.Render(nil, short)
			} else if err != nil {
				return err
			} else {
				res = call.Render(&r, nil)
			}
			return saveResponses(ctx, tx, []IdempotencyKey{call.Key}, []Response{res})
		})
	})
	return res, err
}

// stamp is the store clock in UTC at the database's precision, so a time
// sent to a client equals the one read back later.
func (db *DB) stamp() time.Time { return db.Now().UTC().Truncate(time.Microsecond) }

// resolvedRequest is a validated request with its SKUs, location and
// policy looked up.
type resolvedRequest struct {
	req      domain.ReservationRequest
	policy   domain.Policy
	fixed    *domain.Location  // the location the request named, if any
	eligible []domain.Location // otherwise, every location the policy allows
	lines    []domain.ReservationLineRequest
	products []domain.Product // per line
}

// candidates are the locations that may serve the request: the one it
// named, or every location its policy allows.
func (rq resolvedRequest) candidates() []domain.Location {
	if rq.fixed != nil {
		return []domain.Location{*rq.fixed}
	}
	return rq.eligible
}

// candidateKeys are the positions sourcing may take from: every line's
// product at every candidate location.
func (rq resolvedRequest) candidateKeys() []posKey {
	cands := rq.candidates()
	keys := make([]posKey, 0, len(rq.products)*len(cands))
	for _, p := range rq.products {
		for _, l := range cands {
			keys = append(keys, posKey{l.ID, p.ID})
		}
	}
	return keys
}

// resolveReservation looks up what a validated request names.
func (db *DB) resolveReservation(ctx context.Context, req domain.ReservationRequest) (resolvedRequest, error) {
	rq := resolvedRequest{req: req, lines: req.Lines}
	var err error
	if rq.policy, err = db.CachedPolicy(ctx, req.Channel); err != nil {
		return rq, err
	}
	locs, err := db.resv.refs.locations(ctx, db)
	if err != nil {
		return rq, err
	}
	if code := strings.TrimSpace(req.Location); code != "" {
		i := slices.IndexFunc(locs, func(l domain.Location) bool { return l.Code == code })
		if i < 0 {
			return rq, &domain.Error{Code: domain.ENOTFOUND, Field: "location", Message: fmt.Sprintf("Location %q does not exist.", code)}
		}
		loc := locs[i]
		if why := rq.policy.WhyNotEligible(loc); why != "" {
			return rq, &domain.Error{Code: domain.CodeLocationNotEligible, Field: "location", Message: why}
		}
		rq.fixed = &loc
	} else {
		for _, l := range locs {
			if rq.policy.Eligible(l) {
				rq.eligible = append(rq.eligible, l)
			}
		}
	}
	rq.products = make([]domain.Product, len(req.Lines))
	for i, l := range req.Lines {
		p, err := db.resv.refs.product(ctx, db, strings.TrimSpace(l.SKU))
		if err != nil {
			if e := domain.AsError(err); e != nil && e.Code == domain.ENOTFOUND {
				e = &domain.Error{Code: e.Code, Message: e.Message, Field: fmt.Sprintf("lines[%d].sku", i)}
				return rq, e
			}
			return rq, err
		}
		rq.products[i] = p
		rq.lines[i].SKU = p.SKU
	}
	return rq, nil
}

// reserveInTx holds a resolved request inside tx: it locks every candidate
// position, sources the lines (domain.Source), and writes the reservation.
// Too little stock is the domain's 409 insufficient_stock error, with
// nothing written. Orders reuse it to reserve in their own transaction.
func reserveInTx(ctx context.Context, tx *Tx, actor domain.Actor, rq resolvedRequest, now time.Time) (domain.Reservation, error) {
	pos, err := lockStock(ctx, tx, rq.candidateKeys(), false)
	if err != nil {
		return domain.Reservation{}, err
	}
	r, short, err := decideHold(rq, pos, actor, now)
	if err != nil || short != nil {
		if short != nil {
			err = short
		}
		return domain.Reservation{}, err
	}
	ids, err := nextReservationIDs(ctx, tx, 1)
	if err != nil {
		return r, err
	}
	r.ID = ids[0]
	return r, writeHolds(ctx, tx, nil, []heldRes{{r, actor, rq.policy}}, nil)
}

func newReservation(id int64, actor domain.Actor, req domain.ReservationRequest, p domain.Policy, now time.Time) domain.Reservation {
	return domain.Reservation{ID: id, Channel: req.Channel, Status: domain.Held, CheckoutRef: req.CheckoutRef,
		ExpiresAt: domain.HoldExpiry(p, now), CreatedAt: now, CreatedBy: actor.String()}
}

func nextReservationIDs(ctx context.Context, tx *Tx, n int) ([]int64, error) {
	var ids []int64
	if err := tx.SelectContext(ctx, &ids, `SELECT nextval('reservations_id_seq') FROM generate_series(1, $1)`, n); err != nil {
		return nil, fmt.Errorf("store: reservation ids: %w", err)
	}
	return ids, nil
}

// heldRes is a new hold to write, with who took it and the policy it was
// taken under.
type heldRes struct {
	r      domain.Reservation
	actor  domain.Actor
	policy domain.Policy
}

// writeHolds writes new holds inside tx, whose positions the caller has
// locked and checked, in one statement: the reservation and line rows, one
// audit and one outbox row each, the stock moves (moveStock, guarded), and
// any extra clauses (the batcher adds the idempotent answers). With
// expect, the holds were decided against those positions unlocked, and
// the statement itself checks them (stockBatch.expect); tx may then be
// nil.
func writeHolds(ctx context.Context, tx *Tx, prep *stmtCache, holds []heldRes, expect map[posKey]domain.Position, extra ...clause) error {
	if len(holds) == 0 && expect == nil {
		return nil
	}
	var (
		ids                                   []int64
		channels, checkoutRefs, audits, event []string
		actors, requestIDs                    []string
		expires, created                      []time.Time
		lRes, lLoc, lProd                     []int64
		lNo, lQty                             []int64
		moves                                 []stockMove
	)
	for _, h := range holds {
		r := h.r
		ids = append(ids, r.ID)
		channels = append(channels, string(r.Channel))
		checkoutRefs = append(checkoutRefs, r.CheckoutRef)
		actors, requestIDs = append(actors, h.actor.String()), append(requestIDs, h.actor.RequestID)
		expires, created = append(expires, r.ExpiresAt), append(created, r.CreatedAt)
		a, _ := json.Marshal(auditView(r))
		audits = append(audits, string(a))
		e, _ := json.Marshal(eventView(r))
		event = append(event, string(e))
		for _, l := range r.Lines {
			lRes, lNo, lLoc, lProd, lQty = append(lRes, r.ID), append(lNo, int64(l.LineNo)), append(lLoc, l.LocationID), append(lProd, l.ProductID), append(lQty, int64(l.Qty))
			moves = append(moves, stockMove{Pos: posKey{l.LocationID, l.ProductID}, Qty: l.Qty, Ref: r.ID, Actor: h.actor.String(),
				Safety: h.policy.SafetyStock, Promise: h.policy.PromiseIncomingStock})
		}
	}
	rows := func(a *stmtArgs) string {
		id, who := a.p(pq.Array(ids)), a.p(pq.Array(actors))
		return fmt.Sprintf(`hr AS (
			INSERT INTO reservations (id, channel, status, checkout_ref, expires_at, created_at, created_by)
			SELECT id, ch, 'held', ref, exp, cr, who FROM unnest(%s::bigint[], %s::text[], %s::text[], %s::timestamptz[], %s::timestamptz[], %s::text[])
				AS t(id, ch, ref, exp, cr, who)
		), hl AS (
			INSERT INTO reservation_lines (reservation_id, line_no, location_id, product_id, qty)
			SELECT * FROM unnest(%s::bigint[], %s::int[], %s::bigint[], %s::bigint[], %s::int[])
		), ha AS (
			INSERT INTO audit_log (actor, action, entity, entity_id, after, request_id)
			SELECT who, 'reservation.hold', 'reservation', id::text, doc::jsonb, rid FROM unnest(%s::bigint[], %s::text[], %s::text[], %s::text[]) AS t(id, doc, who, rid)
		), ho AS (
			INSERT INTO outbox (topic, payload) SELECT 'reservation.held', doc::jsonb FROM unnest(%s::text[]) AS t(doc)
		)`, id, a.p(pq.Array(channels)), a.p(pq.Array(checkoutRefs)), a.p(pq.Array(expires)), a.p(pq.Array(created)), who,
			a.p(pq.Array(lRes)), a.p(pq.Array(lNo)), a.p(pq.Array(lLoc)), a.p(pq.Array(lProd)), a.p(pq.Array(lQty)),
			id, a.p(pq.Array(audits)), who, a.p(pq.Array(requestIDs)), a.p(pq.Array(event)))
	}
	meta := LedgerMeta{Source: "stockline"}
	if len(holds) > 0 {
		meta = LedgerMeta{Source: sourceOf(holds[0].actor), Actor: holds[0].actor, OccurredAt: holds[0].r.CreatedAt}
		extra = append([]clause{rows}, extra...)
	}
	return moveStock(ctx, tx, prep, domain.Held, moves, meta, expect, extra...)
}

// sourceOf is the ledger source for an actor: API clients are "api".
func sourceOf(a domain.Actor) string {
	if a.Kind == "token" {
		return "api"
	}
	return "stockline"
}

// reservationDoc is what audit rows and outbox events record of a
// reservation. A struct, not a map: the hold path encodes two per hold
// inside its batch's one-at-a-time section, and a map of this shape
// costs about three times the time and eight times the allocations.
type reservationDoc struct {
	ID          int64                    `json:"id,omitempty"` // events only
	Status      domain.ReservationStatus `json:"status"`
	Channel     domain.Channel           `json:"channel"`
	ExpiresAt   time.Time                `json:"expires_at"`
	Lines       []reservationDocLine     `json:"lines"`
	CheckoutRef string                   `json:"checkout_ref,omitempty"`
	OrderRef    string                   `json:"order_ref,omitempty"`
	Reason      string                   `json:"reason,omitempty"`
}

type reservationDocLine struct {
	SKU      string `json:"sku"`
	Location string `json:"location"`
	Qty      int    `json:"qty"`
}

// auditView is what audit rows record of a reservation.
func auditView(r domain.Reservation) reservationDoc {
	lines := make([]reservationDocLine, len(r.Lines))
	for i, l := range r.Lines {
		lines[i] = reservationDocLine{SKU: l.SKU, Location: l.Location, Qty: l.Qty}
	}
	return reservationDoc{Status: r.Status, Channel: r.Channel, ExpiresAt: r.ExpiresAt, Lines: lines,
		CheckoutRef: r.CheckoutRef, OrderRef: r.OrderRef, Reason: r.ReleaseReason}
}

// eventView is the outbox payload of a reservation event.
func eventView(r domain.Reservation) reservationDoc {
	d := auditView(r)
	d.ID = r.ID
	return d
}

// stockMove is one reservation line's stock effect.
type stockMove struct {
	Pos     posKey
	Qty     int    // the line's quantity, positive
	Ref     int64  // the reservation id, the ledger rows' source_ref
	Actor   string // who moved it, when not meta.Actor
	Safety  int    // holds only: the channel's safety stock
	Promise bool   // holds only: the channel promises incoming stock
}

// stmtArgs numbers a statement's parameters as the statement is built.
type stmtArgs []any

// p adds v and returns its placeholder.
func (a *stmtArgs) p(v any) string {
	*a = append(*a, v)
	return "$" + strconv.Itoa(len(*a))
}

// clause is an extra WITH clause for moveStock's statement, so related
// writes go in the same round trip.
type clause func(a *stmtArgs) string

// moveStock applies the stock effect of reservation lines moving to status
// to (domain.ReservationMovements) through the stock primitive: one ledger
// row per line and bucket, each position's buckets, and any extra clauses,
// in one statement. The caller holds the positions' locks. A hold is a
// take under its channel's rule, so the primitive's guard refuses it (and
// fails the transaction) if the position no longer has the units.
func moveStock(ctx context.Context, tx *Tx, prep *stmtCache, to domain.ReservationStatus, moves []stockMove, meta LedgerMeta, expect map[posKey]domain.Position, extra ...clause) error {
	if len(moves) == 0 && expect == nil {
		return nil
	}
	b := stockBatch{meta: meta, locked: true, extra: extra, expect: expect}
	for _, m := range moves {
		mv, why := domain.ReservationMovements(to, m.Qty)
		b.meta.Reason = why
		if to == domain.Held {
			t, ok := b.takes[m.Pos]
			if b.takes == nil {
				b.takes = map[posKey]stockTake{}
			}
			if !ok {
				t = stockTake{safety: m.Safety}
			}
			// Several holds on one position (the batcher): each was admitted
			// in arrival order under its own rule, so the guard checks the
			// sum against the loosest of them.
			t.safety, t.promise = min(t.safety, m.Safety), t.promise || m.Promise
			b.takes[m.Pos] = t
		}
		for _, x := range mv {
			b.add(stockRow{pos: m.Pos, bucket: x.Bucket, delta: x.Delta, ref: "reservation:" + strconv.FormatInt(m.Ref, 10), actor: m.Actor})
		}
	}
	b.cause = fmt.Sprintf("%s from %s", b.meta.Reason, meta.Source)
	_, err := applyStock(ctx, tx, prep, b)
	return err
}

const reservationColumns = `id, channel, status, checkout_ref, order_ref, expires_at, created_at, created_by, committed_at, closed_at, release_reason`

type reservationRow struct {
	ID            int64        `db:"id"`
	Channel       string       `db:"channel"`
	Status        string       `db:"status"`
	CheckoutRef   string       `db:"checkout_ref"`
	OrderRef      string       `db:"order_ref"`
	ExpiresAt     time.Time    `db:"expires_at"`
	CreatedAt     time.Time    `db:"created_at"`
	CreatedBy     string       `db:"created_by"`
	CommittedAt   sql.NullTime `db:"committed_at"`
	ClosedAt      sql.NullTime `db:"closed_at"`
	ReleaseReason string       `db:"release_reason"`
}

func (r reservationRow) reservation() domain.Reservation {
	out := domain.Reservation{ID: r.ID, Channel: domain.Channel(r.Channel), Status: domain.ReservationStatus(r.Status),
		CheckoutRef: r.CheckoutRef, OrderRef: r.OrderRef, ExpiresAt: r.ExpiresAt.UTC(), CreatedAt: r.CreatedAt.UTC(),
		CreatedBy: r.CreatedBy, ReleaseReason: r.ReleaseReason}
	if r.CommittedAt.Valid {
		t := r.CommittedAt.Time.UTC()
		out.CommittedAt = &t
	}
	if r.ClosedAt.Valid {
		t := r.ClosedAt.Time.UTC()
		out.ClosedAt = &t
	}
	return out
}

// loadReservations reads reservations by id with their lines, in id order.
// With lock set (q must then be a transaction) the reservation rows are
// locked FOR UPDATE.
func loadReservations(ctx context.Context, q queryer, ids []int64, lock bool) ([]domain.Reservation, error) {
	var rows []reservationRow
	query := `SELECT ` + reservationColumns + ` FROM reservations WHERE id = ANY($1) ORDER BY id`
	if lock {
		query += ` FOR UPDATE`
	}
	if err := q.SelectContext(ctx, &rows, query, pq.Array(ids)); err != nil {
		return nil, fmt.Errorf("store: reservations: %w", err)
	}
	var lines []struct {
		ResID int64 `db:"reservation_id"`
		domain.ReservationLine
	}
	if err := q.SelectContext(ctx, &lines, `SELECT rl.reservation_id, rl.line_no AS lineno, p.sku, l.code AS location, rl.qty,
			rl.location_id AS locationid, rl.product_id AS productid
		FROM reservation_lines rl JOIN products p ON p.id = rl.product_id JOIN locations l ON l.id = rl.location_id
		WHERE rl.reservation_id = ANY($1) ORDER BY rl.reservation_id, rl.line_no`, pq.Array(ids)); err != nil {
		return nil, fmt.Errorf("store: reservation lines: %w", err)
	}
	out := make([]domain.Reservation, len(rows))
	idx := make(map[int64]int, len(rows))
	for i, r := range rows {
		out[i] = r.reservation()
		idx[r.ID] = i
	}
	for _, l := range lines {
		if i, ok := idx[l.ResID]; ok {
			out[i].Lines = append(out[i].Lines, l.ReservationLine)
		}
	}
	return out, nil
}

// Reservation returns one reservation with its lines, or ENOTFOUND.
func (db *DB) Reservation(ctx context.Context, id int64) (domain.Reservation, error) {
	rs, err := loadReservations(ctx, db, []int64{id}, false)
	if err != nil {
		return domain.Reservation{}, err
	}
	if len(rs) == 0 {
		return domain.Reservation{}, notFoundReservation(id)
	}
	return rs[0], nil
}

func notFoundReservation(id int64) error {
	return domain.Errorf(domain.ENOTFOUND, "Reservation %d does not exist.", id)
}

// lockReservation reads and locks one reservation inside tx.
func lockReservation(ctx context.Context, tx *Tx, id int64) (domain.Reservation, error) {
	rs, err := loadReservations(ctx, tx, []int64{id}, true)
	if err != nil {
		return domain.Reservation{}, err
	}
	if len(rs) == 0 {
		return domain.Reservation{}, notFoundReservation(id)
	}
	return rs[0], nil
}

// CommitReservation moves a hold to committed for an order, extending it
// per the channel's policy (domain.CommitExpiry). Committing again with the
// same order_ref returns the reservation unchanged. Errors: EINVALID
// (order_ref), ENOTFOUND, 409 reservation_expired, reservation_closed or
// order_ref_conflict.
func (db *DB) CommitReservation(ctx context.Context, actor domain.Actor, id int64, orderRef string) (domain.Reservation, error) {
	orderRef = strings.TrimSpace(orderRef)
	switch {
	case orderRef == "":
		return domain.Reservation{}, domain.FieldError("order_ref", "Give the order_ref of the order this reservation belongs to.")
	case len(orderRef) > domain.MaxRefLength:
		return domain.Reservation{}, domain.FieldError("order_ref", "order_ref is longer than %d characters.", domain.MaxRefLength)
	}
	var r domain.Reservation
	err := db.runLimited(ctx, func() error {
		return db.InTx(ctx, func(tx *Tx) error {
			var err error
			r, err = commitInTx(ctx, tx, db, actor, id, orderRef, db.stamp())
			return err
		})
	})
	return r, err
}

func commitInTx(ctx context.Context, tx *Tx, db *DB, actor domain.Actor, id int64, orderRef string, now time.Time) (domain.Reservation, error) {
	r, err := lockReservation(ctx, tx, id)
	if err != nil {
		return r, err
	}
	switch {
	case r.Status == domain.Committed && r.OrderRef == orderRef:
		return r, nil
	case r.Status == domain.Committed:
		return r, &domain.Error{Code: domain.CodeOrderRefConflict,
			Message: fmt.Sprintf("Reservation %d is already committed to order %q.", r.ID, r.OrderRef)}
	case r.Status == domain.Held && !now.Before(r.ExpiresAt):
		return r, &domain.Error{Code: domain.CodeReservationExpired,
			Message: fmt.Sprintf("Reservation %d expired at %s; take a new hold.", r.ID, r.ExpiresAt.Format(time.RFC3339))}
	case !domain.CanTransition(r.Status, domain.Committed):
		return r, domain.TransitionError(r.ID, r.Status, domain.Committed)
	}
	p, err := db.CachedPolicy(ctx, r.Channel)
	if err != nil {
		return r, err
	}
	before := auditView(r)
	r.Status, r.OrderRef, r.CommittedAt = domain.Committed, orderRef, &now
	r.ExpiresAt = domain.CommitExpiry(p, now, r.ExpiresAt)
	if _, err := tx.ExecContext(ctx, `UPDATE reservations SET status = 'committed', order_ref = $2, committed_at = $3, expires_at = $4 WHERE id = $1`,
		r.ID, orderRef, now, r.ExpiresAt); err != nil {
		return r, fmt.Errorf("store: commit reservation: %w", err)
	}
	if err := insertAudit(ctx, tx, actor, "reservation.commit", "reservation", fmt.Sprint(r.ID), before, auditView(r)); err != nil {
		return r, err
	}
	return r, insertOutbox(ctx, tx, "reservation.committed", eventView(r))
}
