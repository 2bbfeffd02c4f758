package store

import (
	"cmp"
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
// A single-line request for a named location goes through the position's
// batcher, which answers concurrent requests for the same stock from one
// transaction; anything else runs in a transaction of its own. Both lock
// positions in (location_id, product_id) order and take stock with a
// conditional UPDATE, so nothing is ever oversold.
func (db *DB) Reserve(ctx context.Context, call ReserveCall) (Response, error) {
	if err := call.Request.Validate(); err != nil {
		return Response{}, err
	}
	return db.resv.flights.do(ctx, call.Key, func() (Response, error) {
		rq, err := db.resolveReservation(ctx, call.Request)
		if err != nil {
			return Response{}, err
		}
		if rq.fixed != nil && len(rq.lines) == 1 {
			return db.reserveBatched(ctx, call, rq)
		}
		var res Response
		err = db.runLimited(ctx, func() error {
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
	})
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

// posKey names one position.
type posKey struct{ loc, prod int64 }

func comparePos(a, b posKey) int {
	return cmp.Or(cmp.Compare(a.loc, b.loc), cmp.Compare(a.prod, b.prod))
}

// lockPositions locks the given positions in (location_id, product_id)
// order, the one order every multi-position transaction uses, and returns
// them. A position with no row is absent from the map: nothing can be held
// there.
func lockPositions(ctx context.Context, tx *Tx, keys []posKey) (map[posKey]domain.Position, error) {
	keys = slices.Clone(keys)
	slices.SortFunc(keys, comparePos)
	keys = slices.Compact(keys)
	locs, prods := make([]int64, len(keys)), make([]int64, len(keys))
	for i, k := range keys {
		locs[i], prods[i] = k.loc, k.prod
	}
	var rows []struct {
		Loc  int64 `db:"location_id"`
		Prod int64 `db:"product_id"`
		domain.Position
	}
	err := tx.SelectContext(ctx, &rows, `SELECT location_id, product_id, on_hand, reserved, damaged, quality_hold, transfer_out, in_transit_in
		FROM positions WHERE (location_id, product_id) IN (SELECT * FROM unnest($1::bigint[], $2::bigint[]))
		ORDER BY location_id, product_id FOR UPDATE`, pq.Array(locs), pq.Array(prods))
	if err != nil {
		return nil, fmt.Errorf("store: lock positions: %w", err)
	}
	out := make(map[posKey]domain.Position, len(rows))
	for _, r := range rows {
		out[posKey{r.Loc, r.Prod}] = r.Position
	}
	return out, nil
}

// reserveInTx holds a resolved request inside tx: it locks every candidate
// position, sources the lines (domain.Source), and writes the reservation.
// Too little stock is the domain's 409 insufficient_stock error, with
// nothing written. Orders reuse it to reserve in their own transaction.
func reserveInTx(ctx context.Context, tx *Tx, actor domain.Actor, rq resolvedRequest, now time.Time) (domain.Reservation, error) {
	var r domain.Reservation
	cands := rq.eligible
	if rq.fixed != nil {
		cands = []domain.Location{*rq.fixed}
	}
	var keys []posKey
	for _, p := range rq.products {
		for _, l := range cands {
			keys = append(keys, posKey{l.ID, p.ID})
		}
	}
	pos, err := lockPositions(ctx, tx, keys)
	if err != nil {
		return r, err
	}
	stock := make([][]domain.SourceStock, len(rq.lines))
	for i, p := range rq.products {
		for _, l := range cands {
			stock[i] = append(stock[i], domain.SourceStock{Location: l, Reservable: domain.Reservable(rq.policy, l, pos[posKey{l.ID, p.ID}])})
		}
	}
	allocs, err := domain.Source(rq.policy, rq.lines, stock)
	if err != nil {
		return r, err
	}
	ids, err := nextReservationIDs(ctx, tx, 1)
	if err != nil {
		return r, err
	}
	r = newReservation(ids[0], actor, rq.req, rq.policy, now)
	for i, a := range allocs {
		r.Lines = append(r.Lines, domain.ReservationLine{LineNo: i + 1, SKU: a.SKU, Location: a.Location.Code, Qty: a.Qty,
			LocationID: a.Location.ID, ProductID: rq.products[a.Line].ID})
	}
	return r, writeHolds(ctx, tx, nil, []heldRes{{r, actor, rq.policy}})
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
// any extra clauses (the batcher adds the idempotent answers).
func writeHolds(ctx context.Context, tx *Tx, prep *stmtCache, holds []heldRes, extra ...clause) error {
	if len(holds) == 0 {
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
	return moveStock(ctx, tx, prep, domain.Held, moves, LedgerMeta{Source: sourceOf(holds[0].actor), Actor: holds[0].actor, OccurredAt: holds[0].r.CreatedAt},
		append([]clause{rows}, extra...)...)
}

// sourceOf is the ledger source for an actor: API clients are "api".
func sourceOf(a domain.Actor) string {
	if a.Kind == "token" {
		return "api"
	}
	return "stockline"
}

// auditView is what audit rows record of a reservation.
func auditView(r domain.Reservation) map[string]any {
	lines := make([]map[string]any, len(r.Lines))
	for i, l := range r.Lines {
		lines[i] = map[string]any{"sku": l.SKU, "location": l.Location, "qty": l.Qty}
	}
	m := map[string]any{"status": r.Status, "channel": r.Channel, "expires_at": r.ExpiresAt, "lines": lines}
	if r.CheckoutRef != "" {
		m["checkout_ref"] = r.CheckoutRef
	}
	if r.OrderRef != "" {
		m["order_ref"] = r.OrderRef
	}
	if r.ReleaseReason != "" {
		m["reason"] = r.ReleaseReason
	}
	return m
}

// eventView is the outbox payload of a reservation event.
func eventView(r domain.Reservation) map[string]any {
	m := auditView(r)
	m["id"] = r.ID
	return m
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
// to (domain.ReservationMovements): each position's buckets and one ledger
// row per line and bucket, in one statement with any extra clauses. It is
// applyMovements for many positions at once; the caller holds the
// positions' locks. A hold's update is conditional on the position still
// having the units for the channel, and fails the transaction if it does
// not. A release or fulfilment that leaves a position out of bounds opens a
// negative_stock exception, as applyMovements does.
func moveStock(ctx context.Context, tx *Tx, prep *stmtCache, to domain.ReservationStatus, moves []stockMove, meta LedgerMeta, extra ...clause) error {
	if len(moves) == 0 {
		return nil
	}
	for _, m := range moves {
		touchStock(ctx, m.Pos.prod)
	}
	type agg struct {
		reserved, onHand int
		safety           int
		promise          bool
	}
	byPos := map[posKey]*agg{}
	var order []posKey
	var gLoc, gProd, gDelta []int64
	var gBucket, gRef, gActor []string
	var reason domain.Reason
	for _, m := range moves {
		mv, why := domain.ReservationMovements(to, m.Qty)
		reason = why
		a := byPos[m.Pos]
		if a == nil {
			a = &agg{safety: m.Safety}
			byPos[m.Pos] = a
			order = append(order, m.Pos)
		}
		a.safety, a.promise = min(a.safety, m.Safety), a.promise || m.Promise
		for _, x := range mv {
			switch x.Bucket {
			case domain.Reserved:
				a.reserved += x.Delta
			case domain.OnHand:
				a.onHand += x.Delta
			}
			who := m.Actor
			if who == "" {
				who = meta.Actor.String()
			}
			gLoc, gProd, gDelta = append(gLoc, m.Pos.loc), append(gProd, m.Pos.prod), append(gDelta, int64(x.Delta))
			gBucket, gRef, gActor = append(gBucket, string(x.Bucket)), append(gRef, "reservation:"+strconv.FormatInt(m.Ref, 10)), append(gActor, who)
		}
	}
	slices.SortFunc(order, comparePos)
	pLoc, pProd, pRes, pOn, pSafety := make([]int64, len(order)), make([]int64, len(order)), make([]int64, len(order)), make([]int64, len(order)), make([]int64, len(order))
	pPromise := make([]bool, len(order))
	for i, k := range order {
		a := byPos[k]
		pLoc[i], pProd[i], pRes[i], pOn[i], pSafety[i], pPromise[i] = k.loc, k.prod, int64(a.reserved), int64(a.onHand), int64(a.safety), a.promise
	}
	occurred := meta.OccurredAt
	if occurred.IsZero() {
		occurred = time.Now()
	}
	var a stmtArgs
	query := fmt.Sprintf(`WITH d AS (
			SELECT * FROM unnest(%s::bigint[], %s::bigint[], %s::int[], %s::int[], %s::int[], %s::bool[]) AS t(loc, prod, res, onh, safety, promise)
		), g AS (
			INSERT INTO ledger (location_id, product_id, bucket, delta, source_ref, actor, reason, source, note, occurred_at)
			SELECT *, %s, %s, %s, %s::timestamptz FROM unnest(%s::bigint[], %s::bigint[], %s::text[], %s::int[], %s::text[], %s::text[])
		)`, a.p(pq.Array(pLoc)), a.p(pq.Array(pProd)), a.p(pq.Array(pRes)), a.p(pq.Array(pOn)), a.p(pq.Array(pSafety)), a.p(pq.BoolArray(pPromise)),
		a.p(string(reason)), a.p(meta.Source), a.p(meta.Note), a.p(occurred),
		a.p(pq.Array(gLoc)), a.p(pq.Array(gProd)), a.p(pq.Array(gBucket)), a.p(pq.Array(gDelta)), a.p(pq.Array(gRef)), a.p(pq.Array(gActor)))
	for _, c := range extra {
		query += ", " + c(&a)
	}
	query += `
		UPDATE positions p SET reserved = p.reserved + d.res, on_hand = p.on_hand + d.onh, updated_at = now()
		FROM d WHERE p.location_id = d.loc AND p.product_id = d.prod
			AND (d.res <= 0 OR d.res <= LEAST(p.on_hand - p.reserved,
				p.on_hand - p.reserved - p.damaged - p.quality_hold - p.transfer_out + CASE WHEN d.promise THEN p.in_transit_in ELSE 0 END - d.safety))
		RETURNING p.location_id, p.product_id, p.on_hand, p.reserved, p.damaged, p.quality_hold, p.transfer_out, p.in_transit_in`
	var after []struct {
		Loc  int64 `db:"location_id"`
		Prod int64 `db:"product_id"`
		domain.Position
	}
	if err := prep.selectIn(ctx, tx, &after, query, a...); err != nil {
		return fmt.Errorf("store: move reserved stock: %w", err)
	}
	if len(after) != len(order) {
		// Callers check availability under the positions' locks, so this is
		// a bug, never a race; refuse rather than oversell.
		return fmt.Errorf("store: reservation stock guard refused %d of %d positions", len(order)-len(after), len(order))
	}
	for _, p := range after {
		if v := p.Violations(); len(v) > 0 {
			if err := openException(ctx, tx, NewException{
				Kind: "negative_stock", Severity: "high", LocationID: p.Loc, ProductID: p.Prod,
				Title:  "Stock position out of bounds",
				Detail: strings.Join(v, "; ") + fmt.Sprintf(" after %s from %s", reason, meta.Source),
				Dedupe: true,
			}); err != nil {
				return err
			}
		}
	}
	return nil
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

type querier interface {
	SelectContext(ctx context.Context, dest any, query string, args ...any) error
	GetContext(ctx context.Context, dest any, query string, args ...any) error
}

// loadReservations reads reservations by id with their lines, in id order.
// With lock set (q must then be a transaction) the reservation rows are
// locked FOR UPDATE.
func loadReservations(ctx context.Context, q querier, ids []int64, lock bool) ([]domain.Reservation, error) {
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

// ReleaseReservation gives a held or committed reservation's stock back,
// recording why. Releasing one already released or expired returns it
// unchanged. Errors: EINVALID (reason), ENOTFOUND, 409 reservation_closed
// for a fulfilled one.
func (db *DB) ReleaseReservation(ctx context.Context, actor domain.Actor, id int64, reason string) (domain.Reservation, error) {
	if err := domain.ValidateReleaseReason(reason); err != nil {
		return domain.Reservation{}, err
	}
	var r domain.Reservation
	err := db.runLimited(ctx, func() error {
		return db.InTx(ctx, func(tx *Tx) error {
			var err error
			r, err = lockReservation(ctx, tx, id)
			if err != nil {
				return err
			}
			if r.Status == domain.Released || r.Status == domain.Expired {
				return nil
			}
			if !domain.CanTransition(r.Status, domain.Released) {
				return domain.TransitionError(r.ID, r.Status, domain.Released)
			}
			rs, err := closeReservations(ctx, tx, actor, []domain.Reservation{r}, domain.Released, strings.TrimSpace(reason), db.stamp())
			if err != nil {
				return err
			}
			r = rs[0]
			return nil
		})
	})
	return r, err
}

// FulfilReservation records that a committed reservation's units left the
// building (picked up or shipped): reserved and on_hand both drop, with
// ledger reason fulfilled. Fulfilling again returns it unchanged. Errors:
// ENOTFOUND, 409 reservation_closed or reservation_expired.
func (db *DB) FulfilReservation(ctx context.Context, actor domain.Actor, id int64) (domain.Reservation, error) {
	var r domain.Reservation
	err := db.runLimited(ctx, func() error {
		return db.InTx(ctx, func(tx *Tx) error {
			var err error
			r, err = lockReservation(ctx, tx, id)
			if err != nil || r.Status == domain.Fulfilled {
				return err
			}
			if !domain.CanTransition(r.Status, domain.Fulfilled) {
				return domain.TransitionError(r.ID, r.Status, domain.Fulfilled)
			}
			rs, err := closeReservations(ctx, tx, actor, []domain.Reservation{r}, domain.Fulfilled, "", db.stamp())
			if err != nil {
				return err
			}
			r = rs[0]
			return nil
		})
	})
	return r, err
}

// closeReservations moves locked, active reservations to a final status
// (released, expired or fulfilled) inside tx: status rows, stock moves with
// ledger rows, one audit and one outbox row each. The caller checked the
// transitions.
func closeReservations(ctx context.Context, tx *Tx, actor domain.Actor, rs []domain.Reservation, to domain.ReservationStatus, reason string, now time.Time) ([]domain.Reservation, error) {
	var keys []posKey
	var moves []stockMove
	ids := make([]int64, len(rs))
	befores, afters, events := make([]string, len(rs)), make([]string, len(rs)), make([]string, len(rs))
	for i := range rs {
		r := &rs[i]
		b, _ := json.Marshal(auditView(*r))
		befores[i] = string(b)
		r.Status, r.ClosedAt, r.ReleaseReason = to, &now, reason
		a, _ := json.Marshal(auditView(*r))
		e, _ := json.Marshal(eventView(*r))
		afters[i], events[i], ids[i] = string(a), string(e), r.ID
		for _, l := range r.Lines {
			k := posKey{l.LocationID, l.ProductID}
			keys = append(keys, k)
			moves = append(moves, stockMove{Pos: k, Qty: l.Qty, Ref: r.ID})
		}
	}
	if _, err := lockPositions(ctx, tx, keys); err != nil {
		return nil, err
	}
	if _, err := tx.ExecContext(ctx, `WITH u AS (
			UPDATE reservations SET status = $2, closed_at = $3, release_reason = $4 WHERE id = ANY($1)
		), a AS (
			INSERT INTO audit_log (actor, action, entity, entity_id, before, after, request_id)
			SELECT $5, $6, 'reservation', id::text, b::jsonb, a::jsonb, $7 FROM unnest($1::bigint[], $8::text[], $9::text[]) AS t(id, b, a)
		)
		INSERT INTO outbox (topic, payload) SELECT $10, doc::jsonb FROM unnest($11::text[]) AS t(doc)`,
		pq.Array(ids), string(to), now, reason, actor.String(), "reservation."+closeVerb(to), actor.RequestID,
		pq.Array(befores), pq.Array(afters), "reservation."+string(to), pq.Array(events)); err != nil {
		return nil, fmt.Errorf("store: close reservations: %w", err)
	}
	return rs, moveStock(ctx, tx, nil, to, moves, LedgerMeta{Source: sourceOf(actor), Actor: actor, Note: reason, OccurredAt: now})
}

func closeVerb(to domain.ReservationStatus) string {
	switch to {
	case domain.Released:
		return "release"
	case domain.Expired:
		return "expire"
	case domain.Fulfilled:
		return "fulfil"
	}
	return string(to)
}

// SweeperActor is the actor the expiry sweeper records.
var SweeperActor = domain.SystemActor("reservation-sweeper")

// ExpireHolds releases, with reason "expired", up to limit holds whose
// expiry is at or before now, and says how many. Holds another instance's
// sweeper (or a request) has locked are skipped, so several instances may
// sweep at once.
func (db *DB) ExpireHolds(ctx context.Context, now time.Time, limit int) (int, error) {
	n := 0
	err := db.InTx(ctx, func(tx *Tx) error {
		var ids []int64
		if err := tx.SelectContext(ctx, &ids, `SELECT id FROM reservations WHERE status = 'held' AND expires_at <= $1
			ORDER BY expires_at LIMIT $2 FOR UPDATE SKIP LOCKED`, now, limit); err != nil {
			return fmt.Errorf("store: due holds: %w", err)
		}
		n = len(ids)
		if n == 0 {
			return nil
		}
		rs, err := loadReservations(ctx, tx, ids, false) // already locked above
		if err != nil {
			return err
		}
		_, err = closeReservations(ctx, tx, SweeperActor, rs, domain.Expired, "expired", now.UTC().Truncate(time.Microsecond))
		return err
	})
	if err != nil {
		return 0, err
	}
	return n, nil
}
