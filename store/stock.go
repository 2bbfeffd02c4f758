package store

// The one stock primitive. Every change to a position (adjustments,
// reservations single and batched, order picks, hand-overs, shipments and
// cancellations, feed events and counts, transfers and returns) is a
// stockBatch applied by applyStock. This file holds the store's only
// UPDATE of positions (TestOnlyStockUpdatesPositions fails if another
// appears).

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/lib/pq"

	"stockline/domain"
)

// posKey names one position. comparePos is the one lock order: every
// transaction that locks several positions locks them in (location_id,
// product_id) order, so two never wait on each other in a cycle.
type posKey struct{ loc, prod int64 }

func comparePos(a, b posKey) int {
	return cmp.Or(cmp.Compare(a.loc, b.loc), cmp.Compare(a.prod, b.prod))
}

// LedgerMeta describes why a set of movements happened. In a stockBatch it
// gives the defaults for every row that does not set its own.
type LedgerMeta struct {
	Reason     domain.Reason
	Source     string // "stockline", a connector name, "api"
	SourceRef  string // event id, order, transfer, count, reservation
	Actor      domain.Actor
	Note       string
	OccurredAt time.Time // when it happened at the source; zero means now
	// Event, when set, is written to the outbox in the same statement as
	// the movements (its payload is marshalled to JSON).
	Event *StockEvent
}

// StockEvent is one outbox row a stock change publishes.
type StockEvent struct {
	Topic   string
	Payload any
}

// stockRow is one ledger row: one bucket of one position moving by delta.
// Empty fields take the batch's LedgerMeta.
type stockRow struct {
	pos    posKey
	bucket domain.Bucket
	delta  int
	reason domain.Reason
	ref    string
	actor  string
	note   string
	at     time.Time
}

// stockTake is the rule a position's reserved bucket may rise under: the
// channel's safety stock and whether it promises incoming stock.
type stockTake struct {
	safety  int
	promise bool
}

// takeOf is the take rule of a channel policy.
func takeOf(p domain.Policy) stockTake {
	return stockTake{safety: p.SafetyStock, promise: p.PromiseIncomingStock}
}

// stockBatch is a change to one or many positions.
type stockBatch struct {
	rows []stockRow
	meta LedgerMeta
	// takes gives, for every position whose reserved bucket rises, the
	// rule it is taken under; the update of that position happens only if
	// it still has the units (reservableSQL), and the whole batch fails
	// otherwise. A rise with no rule is refused.
	takes map[posKey]stockTake
	// locked says the caller already holds every position's lock in this
	// transaction (lockStock, or lockClause inside its own statement).
	// Otherwise applyStock locks them, creating missing positions.
	locked bool
	events []StockEvent
	// cause ends a negative_stock exception's detail ("after <cause>");
	// empty means "<reason> from <source> <ref>".
	cause string
	// extra are more WITH clauses that go in the same statement, so the
	// related writes of the change (holds, answers, snapshots) cost no
	// round trip of their own.
	extra []clause
	// expect, when set, holds every position the change was decided
	// against without holding its lock (the reservation batcher's known
	// state, reservations_known.go). The statement then moves a position
	// only if it is still exactly as expected, checks the ones it does not
	// move against its snapshot, and aborts as a whole (stock_unchanged,
	// SQLSTATE 40001) if any differs. Such a batch may run with no
	// transaction (tx nil): its one statement is the whole change, and
	// commits on its own.
	expect map[posKey]domain.Position
}

// add appends one ledger row; a zero delta is dropped.
func (b *stockBatch) add(r stockRow) {
	if r.delta != 0 {
		b.rows = append(b.rows, r)
	}
}

// reservableSQL is the guard on a take, generated from the domain's ATP
// formula (domain.ATPSQL) exactly as domain.Reservable composes it: the
// policy's location ATP (incoming stock counted when the channel promises
// it) capped by on_hand less reserved. It reads a positions row p and the
// batch row d (safety, promise). TestReservableSQLAgreesWithDomain checks
// it against domain.Reservable.
var reservableSQL = fmt.Sprintf(`GREATEST(0, LEAST(p.on_hand - p.reserved, %s))`,
	fmt.Sprintf(domain.ATPSQL, `(d.safety - CASE WHEN d.promise THEN p.in_transit_in ELSE 0 END)`))

type positionRow struct {
	Loc  int64 `db:"location_id"`
	Prod int64 `db:"product_id"`
	domain.Position
}

// lockClause is the WITH clause (named lp) that locks the given positions
// in the one lock order, for statements that lock as one of several steps
// (the reservation batcher claims keys in the same round trip). It is a
// semi-join on the key arrays: a JOIN on unnest measured about a third
// slower on the spread reservations benchmark.
func lockClause(keys []posKey) clause {
	keys = sortedKeys(keys)
	return func(a *stmtArgs) string {
		locs, prods := keyArrays(keys)
		return fmt.Sprintf(`lp AS (
			SELECT p.location_id, p.product_id, p.on_hand, p.reserved, p.damaged, p.quality_hold, p.transfer_out, p.in_transit_in
			FROM positions p WHERE (p.location_id, p.product_id) IN (SELECT * FROM unnest(%s::bigint[], %s::bigint[]))
			ORDER BY p.location_id, p.product_id FOR UPDATE OF p
		)`, a.p(pq.Array(locs)), a.p(pq.Array(prods)))
	}
}

func keyArrays(keys []posKey) ([]int64, []int64) {
	locs, prods := make([]int64, len(keys)), make([]int64, len(keys))
	for i, k := range keys {
		locs[i], prods[i] = k.loc, k.prod
	}
	return locs, prods
}

// sortedKeys returns the distinct keys in lock order.
func sortedKeys(keys []posKey) []posKey {
	keys = slices.Clone(keys)
	slices.SortFunc(keys, comparePos)
	return slices.Compact(keys)
}

// lockStock locks the given positions in the one lock order and returns
// them. With create, missing positions are created (zero) and locked too;
// without it a position with no row is absent from the map (nothing can
// be taken there).
func lockStock(ctx context.Context, tx *Tx, keys []posKey, create bool) (map[posKey]domain.Position, error) {
	out := make(map[posKey]domain.Position, len(keys))
	if keys = sortedKeys(keys); len(keys) == 0 {
		return out, nil
	}
	lock := func(keys []posKey) error {
		var a stmtArgs
		var rows []positionRow
		if err := tx.SelectContext(ctx, &rows, `WITH `+lockClause(keys)(&a)+` SELECT * FROM lp`, a...); err != nil {
			return fmt.Errorf("store: lock positions: %w", err)
		}
		for _, r := range rows {
			out[posKey{r.Loc, r.Prod}] = r.Position
		}
		return nil
	}
	if err := lock(keys); err != nil || !create || len(out) == len(keys) {
		return out, err
	}
	// Positions seen for the first time: create, then lock them too. The
	// inserter holds the new rows' index entries until it ends, so a
	// concurrent creator waits rather than racing.
	var missing []posKey
	for _, k := range keys {
		if _, ok := out[k]; !ok {
			missing = append(missing, k)
		}
	}
	ml, mp := keyArrays(missing)
	if _, err := tx.ExecContext(ctx, `INSERT INTO positions (location_id, product_id)
		SELECT * FROM unnest($1::bigint[], $2::bigint[]) ON CONFLICT DO NOTHING`, pq.Array(ml), pq.Array(mp)); err != nil {
		return nil, fmt.Errorf("store: create positions: %w", err)
	}
	return out, lock(missing)
}

// readStock reads the given positions as they are now, without locking
// them, for a change decided against them and checked under lock when it
// is written (stockBatch.expect). A position with no row makes it fail
// with errStockUnknown (creating one needs the locked way), beside the
// positions it did find.
func readStock(ctx context.Context, prep *stmtCache, keys []posKey) (map[posKey]domain.Position, error) {
	keys = sortedKeys(keys)
	locs, prods := keyArrays(keys)
	var rows []positionRow
	if err := prep.selectDB(ctx, &rows, `SELECT location_id, product_id, on_hand, reserved, damaged, quality_hold, transfer_out, in_transit_in
		FROM positions WHERE (location_id, product_id) IN (SELECT * FROM unnest($1::bigint[], $2::bigint[]))`,
		pq.Array(locs), pq.Array(prods)); err != nil {
		return nil, fmt.Errorf("store: read positions: %w", err)
	}
	out := make(map[posKey]domain.Position, len(rows))
	for _, r := range rows {
		out[posKey{r.Loc, r.Prod}] = r.Position
	}
	if len(out) != len(keys) {
		return out, errStockUnknown
	}
	return out, nil
}

// lockPosition returns the product's position at the location, creating a
// zero row first if there is none, and holds its row lock until tx ends.
func lockPosition(ctx context.Context, tx *Tx, locationID, productID int64) (domain.Position, error) {
	k := posKey{locationID, productID}
	m, err := lockStock(ctx, tx, []posKey{k}, true)
	return m[k], err
}

// applyMovements is the single-position form of applyStock: it locks (and
// if need be creates) the position, applies the movements with one ledger
// row each, opens negative_stock if the result is out of bounds, writes
// meta.Event (an inventory.moved event naming the movements when the
// caller gives none, so every change is published), and returns the new
// position.
func applyMovements(ctx context.Context, tx *Tx, locationID, productID int64, moves []domain.Movement, meta LedgerMeta) (domain.Position, error) {
	k := posKey{locationID, productID}
	if meta.Event == nil && len(moves) > 0 {
		ev := stockMovedJSON{LocationID: locationID, ProductID: productID, Reason: meta.Reason, Source: meta.Source, SourceRef: meta.SourceRef}
		for _, m := range moves {
			ev.Moves = append(ev.Moves, stockMoveJSON{Bucket: m.Bucket, Delta: m.Delta})
		}
		meta.Event = &StockEvent{Topic: "inventory.moved", Payload: ev}
	}
	b := stockBatch{meta: meta}
	for _, m := range moves {
		b.add(stockRow{pos: k, bucket: m.Bucket, delta: m.Delta})
	}
	if len(b.rows) == 0 {
		p, err := lockPosition(ctx, tx, locationID, productID)
		if err != nil || meta.Event == nil {
			return p, err
		}
		return p, insertOutbox(ctx, tx, meta.Event.Topic, meta.Event.Payload)
	}
	after, err := applyStock(ctx, tx, nil, b)
	return after[k], err
}

// stockMovedJSON is the inventory.moved outbox event of a single-position
// change whose caller publishes nothing more specific.
type stockMovedJSON struct {
	LocationID int64           `json:"location_id"`
	ProductID  int64           `json:"product_id"`
	Reason     domain.Reason   `json:"reason"`
	Source     string          `json:"source"`
	SourceRef  string          `json:"source_ref"`
	Moves      []stockMoveJSON `json:"moves"`
}

type stockMoveJSON struct {
	Bucket domain.Bucket `json:"bucket"`
	Delta  int           `json:"delta"`
}

// stockStatement is a batch made into arrays: one per position (net
// deltas and take rules, in lock order) and one per ledger row.
type stockStatement struct {
	keys                                  []posKey
	pLoc, pProd, pOH, pRes, pDm, pQh, pTo []int64
	pIti, pSafety                         []int64
	pTake, pPromise                       []bool
	gLoc, gProd, gDelta                   []int64
	gBucket, gReason, gRef, gActor, gNote []string
	gAt                                   []time.Time
	oTopic, oPayload                      []string
	products                              []int64
	// With stockBatch.expect: every expected position, whether the batch
	// moves it, and how many it does not.
	eLoc, eProd, eOH, eRes, eDm, eQh, eTo []int64
	eIti                                  []int64
	eMoved                                []bool
	unmoved                               int
}

func buildStockStatement(b stockBatch) (stockStatement, error) {
	var s stockStatement
	meta := b.meta
	at := meta.OccurredAt
	if at.IsZero() {
		at = time.Now()
	}
	net := map[posKey]domain.Position{}
	for _, r := range b.rows {
		if _, ok := net[r.pos]; !ok {
			s.keys = append(s.keys, r.pos)
		}
		net[r.pos] = net[r.pos].Apply(r.bucket, r.delta)
		reason, ref, actor, note, when := r.reason, r.ref, r.actor, r.note, r.at
		if reason == "" {
			reason = meta.Reason
		}
		if ref == "" {
			ref = meta.SourceRef
		}
		if actor == "" {
			actor = meta.Actor.String()
		}
		if note == "" {
			note = meta.Note
		}
		if when.IsZero() {
			when = at
		}
		s.gLoc, s.gProd, s.gDelta = append(s.gLoc, r.pos.loc), append(s.gProd, r.pos.prod), append(s.gDelta, int64(r.delta))
		s.gBucket, s.gReason, s.gRef = append(s.gBucket, string(r.bucket)), append(s.gReason, string(reason)), append(s.gRef, ref)
		s.gActor, s.gNote, s.gAt = append(s.gActor, actor), append(s.gNote, note), append(s.gAt, when)
	}
	slices.SortFunc(s.keys, comparePos)
	seen := map[int64]bool{}
	for _, k := range s.keys {
		d := net[k]
		t, take := b.takes[k]
		if d.Reserved > 0 && !take {
			return s, fmt.Errorf("store: reserved rises at position %d/%d with no take rule", k.loc, k.prod)
		}
		take = take && d.Reserved > 0
		s.pLoc, s.pProd = append(s.pLoc, k.loc), append(s.pProd, k.prod)
		s.pOH, s.pRes, s.pDm = append(s.pOH, int64(d.OnHand)), append(s.pRes, int64(d.Reserved)), append(s.pDm, int64(d.Damaged))
		s.pQh, s.pTo, s.pIti = append(s.pQh, int64(d.QualityHold)), append(s.pTo, int64(d.TransferOut)), append(s.pIti, int64(d.InTransitIn))
		s.pTake, s.pSafety, s.pPromise = append(s.pTake, take), append(s.pSafety, int64(t.safety)), append(s.pPromise, t.promise)
		if !seen[k.prod] {
			seen[k.prod] = true
			s.products = append(s.products, k.prod)
		}
	}
	events := b.events
	if meta.Event != nil {
		events = append(slices.Clip(events), *meta.Event)
	}
	for _, e := range events {
		doc, ok := e.Payload.(string)
		if !ok {
			j, err := json.Marshal(e.Payload)
			if err != nil {
				return s, fmt.Errorf("store: outbox payload: %w", err)
			}
			doc = string(j)
		}
		s.oTopic, s.oPayload = append(s.oTopic, e.Topic), append(s.oPayload, doc)
	}
	return s, nil
}

// applyStock is the one way stock moves. Inside tx it:
//   - locks the batch's positions in the one lock order, creating missing
//     ones (unless b.locked says the caller did);
//   - in one statement, writes one ledger row per bucket move (reason,
//     source, source_ref, actor, note, occurred_at; recorded_at is the
//     database's now), applies each position's net deltas, guarded for
//     takes by reservableSQL, writes the batch's outbox events and runs
//     the caller's extra clauses;
//   - fails the transaction if a guarded take no longer fits (callers
//     decide with domain.Reservable under the same locks, so this is a
//     bug, never a race);
//   - opens a negative_stock exception for every position left out of
//     bounds (openNegativeStock, the only place that opens one);
//   - calls touchStock for the products it moved.
//
// It returns the positions after the change. prep, when set, prepares the
// statement (the reservation hot path).
func applyStock(ctx context.Context, tx *Tx, prep *stmtCache, b stockBatch) (map[posKey]domain.Position, error) {
	s, err := buildStockStatement(b)
	if err != nil || (len(s.keys) == 0 && len(s.oTopic) == 0 && len(b.extra) == 0 && b.expect == nil) {
		return nil, err
	}
	switch {
	case b.expect != nil:
		if err := s.expecting(b.expect); err != nil {
			return nil, err
		}
		if tx == nil && prep == nil {
			return nil, errors.New("store: move stock: no transaction and no statement cache")
		}
	case tx == nil:
		return nil, errors.New("store: move stock: no transaction")
	case !b.locked && len(s.keys) > 0:
		if _, err := lockStock(ctx, tx, s.keys, true); err != nil {
			return nil, err
		}
	}
	var a stmtArgs
	query := fmt.Sprintf(`WITH d AS (
			SELECT * FROM unnest(%s::bigint[], %s::bigint[], %s::int[], %s::int[], %s::int[], %s::int[], %s::int[], %s::int[],
				%s::bool[], %s::int[], %s::bool[]) AS t(loc, prod, oh, res, dm, qh, tro, iti, take, safety, promise)
		), g AS (
			INSERT INTO ledger (location_id, product_id, bucket, delta, reason, source_ref, actor, note, occurred_at, source)
			SELECT *, %s FROM unnest(%s::bigint[], %s::bigint[], %s::text[], %s::int[], %s::text[], %s::text[], %s::text[], %s::text[], %s::timestamptz[])
		), o AS (
			INSERT INTO outbox (topic, payload) SELECT t, doc::jsonb FROM unnest(%s::text[], %s::text[]) AS o(t, doc)
		)`, a.p(pq.Array(s.pLoc)), a.p(pq.Array(s.pProd)), a.p(pq.Array(s.pOH)), a.p(pq.Array(s.pRes)), a.p(pq.Array(s.pDm)),
		a.p(pq.Array(s.pQh)), a.p(pq.Array(s.pTo)), a.p(pq.Array(s.pIti)), a.p(pq.BoolArray(s.pTake)), a.p(pq.Array(s.pSafety)),
		a.p(pq.BoolArray(s.pPromise)), a.p(b.meta.Source),
		a.p(pq.Array(s.gLoc)), a.p(pq.Array(s.gProd)), a.p(pq.Array(s.gBucket)), a.p(pq.Array(s.gDelta)), a.p(pq.Array(s.gReason)),
		a.p(pq.Array(s.gRef)), a.p(pq.Array(s.gActor)), a.p(pq.Array(s.gNote)), a.p(pq.Array(s.gAt)),
		a.p(pq.Array(s.oTopic)), a.p(pq.Array(s.oPayload)))
	for _, c := range b.extra {
		query += ", " + c(&a)
	}
	update := func(from, where string) string {
		return `UPDATE positions p SET on_hand = p.on_hand + d.oh, reserved = p.reserved + d.res, damaged = p.damaged + d.dm,
			quality_hold = p.quality_hold + d.qh, transfer_out = p.transfer_out + d.tro, in_transit_in = p.in_transit_in + d.iti,
			updated_at = now()
		FROM d` + from + ` WHERE p.location_id = d.loc AND p.product_id = d.prod AND (NOT d.take OR d.res <= ` + reservableSQL + `)` + where + `
		RETURNING p.location_id, p.product_id, p.on_hand, p.reserved, p.damaged, p.quality_hold, p.transfer_out, p.in_transit_in`
	}
	if b.expect == nil {
		query += update("", "")
	} else {
		query += s.expectClauses(&a, update)
	}
	var rows []positionRow
	if err := prep.selectIn(ctx, tx, &rows, query, a...); err != nil {
		return nil, fmt.Errorf("store: move stock: %w", err)
	}
	if len(rows) != len(s.keys) {
		return nil, fmt.Errorf("store: stock guard refused %d of %d positions", len(s.keys)-len(rows), len(s.keys))
	}
	after := make(map[posKey]domain.Position, len(rows))
	for _, r := range rows {
		k := posKey{r.Loc, r.Prod}
		after[k] = r.Position
		if b.expect != nil {
			continue // expecting refused any change that would leave it out of bounds
		}
		if err := openNegativeStock(ctx, tx, k, r.Position, b.causeText()); err != nil {
			return nil, err
		}
	}
	if len(s.products) > 0 {
		touchStock(ctx, s.products...)
	}
	return after, nil
}

// errStockUnknown refuses a batch decided against expected positions
// that do not cover it, or that it would leave out of bounds (opening
// negative_stock needs the locked way).
var errStockUnknown = errors.New("store: move stock: the change needs the locked way")

// expecting readies s to move stock decided against expect (stockBatch's
// expect): every moved position must be expected, and must stay in
// bounds.
func (s *stockStatement) expecting(expect map[posKey]domain.Position) error {
	moved := make(map[posKey]bool, len(s.keys))
	for i, k := range s.keys {
		e, ok := expect[k]
		if !ok {
			return errStockUnknown
		}
		after := domain.Position{OnHand: e.OnHand + int(s.pOH[i]), Reserved: e.Reserved + int(s.pRes[i]), Damaged: e.Damaged + int(s.pDm[i]),
			QualityHold: e.QualityHold + int(s.pQh[i]), TransferOut: e.TransferOut + int(s.pTo[i]), InTransitIn: e.InTransitIn + int(s.pIti[i])}
		if len(e.Violations()) > 0 || len(after.Violations()) > 0 {
			return errStockUnknown
		}
		moved[k] = true
	}
	for _, k := range sortedKeys(slices.Collect(maps.Keys(expect))) {
		e := expect[k]
		s.eLoc, s.eProd = append(s.eLoc, k.loc), append(s.eProd, k.prod)
		s.eOH, s.eRes, s.eDm = append(s.eOH, int64(e.OnHand)), append(s.eRes, int64(e.Reserved)), append(s.eDm, int64(e.Damaged))
		s.eQh, s.eTo, s.eIti = append(s.eQh, int64(e.QualityHold)), append(s.eTo, int64(e.TransferOut)), append(s.eIti, int64(e.InTransitIn))
		s.eMoved = append(s.eMoved, moved[k])
		if !moved[k] {
			s.unmoved++
		}
	}
	return nil
}

// expectClauses ends an expecting statement: the expected positions (xe),
// the row locks of the ones it moves, taken in the one lock order (xl), the
// update guarded by them (xu), and the check that aborts the statement
// (stock_unchanged) unless every moved position was still as expected and
// every other expected one reads as expected in the statement's snapshot.
// The check is a branch of the UNION ALL after xu's rows, so it runs once,
// after the update, whatever the update returned. xe also bounds, as the
// locked way does, how long the statement waits for a row lock.
func (s *stockStatement) expectClauses(a *stmtArgs, update func(from, where string) string) string {
	return fmt.Sprintf(`, xe AS (
			SELECT * FROM unnest(%s::bigint[], %s::bigint[], %s::int[], %s::int[], %s::int[], %s::int[], %s::int[], %s::int[], %s::bool[])
				AS t(loc, prod, oh, res, dm, qh, tro, iti, moved)
			WHERE set_config('lock_timeout', %s, true) <> ''
		), xl AS MATERIALIZED (
			SELECT q.location_id, q.product_id FROM positions q
			WHERE (q.location_id, q.product_id) IN (SELECT loc, prod FROM xe WHERE moved)
			ORDER BY q.location_id, q.product_id FOR UPDATE OF q
		), xu AS (
			%s
		)
		SELECT * FROM xu
		UNION ALL
		SELECT 0::bigint, 0::bigint, 0, 0, 0, 0, 0, 0 WHERE NOT stock_unchanged((SELECT count(*) FROM xu) = %s AND
			(SELECT count(*) FROM positions q WHERE (q.location_id, q.product_id, q.on_hand, q.reserved, q.damaged, q.quality_hold, q.transfer_out, q.in_transit_in)
				IN (SELECT loc, prod, oh, res, dm, qh, tro, iti FROM xe WHERE NOT moved)) = %s)`,
		a.p(pq.Array(s.eLoc)), a.p(pq.Array(s.eProd)), a.p(pq.Array(s.eOH)), a.p(pq.Array(s.eRes)), a.p(pq.Array(s.eDm)),
		a.p(pq.Array(s.eQh)), a.p(pq.Array(s.eTo)), a.p(pq.Array(s.eIti)), a.p(pq.BoolArray(s.eMoved)),
		a.p(strconv.FormatInt(idempotencyWait.Milliseconds(), 10)),
		update(", xl", ` AND xl.location_id = p.location_id AND xl.product_id = p.product_id
			AND (p.location_id, p.product_id, p.on_hand, p.reserved, p.damaged, p.quality_hold, p.transfer_out, p.in_transit_in)
				IN (SELECT loc, prod, oh, res, dm, qh, tro, iti FROM xe WHERE moved)`),
		a.p(len(s.keys)), a.p(s.unmoved))
}

func (b stockBatch) causeText() string {
	if b.cause != "" {
		return b.cause
	}
	m := b.meta
	return strings.TrimSpace(fmt.Sprintf("%s from %s %s", m.Reason, m.Source, m.SourceRef))
}

// openNegativeStock opens (once: deduplicated while open) the
// negative_stock exception for a position a change left out of bounds, so
// the consistency check knows it was seen.
func openNegativeStock(ctx context.Context, tx *Tx, k posKey, p domain.Position, cause string) error {
	v := p.Violations()
	if len(v) == 0 {
		return nil
	}
	return openException(ctx, tx, NewException{
		Kind: "negative_stock", Severity: "high", LocationID: k.loc, ProductID: k.prod,
		Title:  "Stock position out of bounds",
		Detail: strings.Join(v, "; ") + " after " + cause,
		Dedupe: true,
	})
}
