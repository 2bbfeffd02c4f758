package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/lib/pq"

	"stockline/domain"
)

// Returns bring units of an order's fulfilled lines back at a location
// (DESIGN §6). One transaction records the return and its lines, moves the
// order lines' units into returned, moves each disposition's buckets
// through the stock primitive (reasons return_restock, return_damaged, …;
// source_ref "return:<id>"), and writes the order's timeline event, the
// audit rows and the outbox events.

const returnSelect = `SELECT r.id, r.order_id, o.number AS order_number, r.location_id, l.code AS location, r.status, r.source,
	r.external_ref, r.exchange_order_id, x.number AS exchange_number, r.created_by, r.created_at, r.received_at
	FROM returns r JOIN orders o ON o.id = r.order_id LEFT JOIN locations l ON l.id = r.location_id
	LEFT JOIN orders x ON x.id = r.exchange_order_id`

func returnRef(id int64) string { return fmt.Sprintf("return:%d", id) }

func loadReturn(ctx context.Context, q queryer, id int64, lock bool) (domain.Return, error) {
	var r domain.Return
	sql := returnSelect + ` WHERE r.id = $1`
	if lock {
		sql += ` FOR UPDATE OF r`
	}
	if err := q.GetContext(ctx, &r, sql, id); err != nil {
		return r, notFound(err, "Return %d does not exist.", id)
	}
	if err := q.SelectContext(ctx, &r.Lines, `SELECT rl.line_no, rl.order_line_id, rl.product_id, p.sku, p.name, rl.qty, rl.disposition,
			rl.released_sellable, rl.released_damaged, rl.reason
		FROM return_lines rl JOIN products p ON p.id = rl.product_id WHERE rl.return_id = $1 ORDER BY rl.line_no`, id); err != nil {
		return r, fmt.Errorf("store: return lines: %w", err)
	}
	return r, nil
}

// ReturnByID returns one return with its lines, or ENOTFOUND.
func (db *DB) ReturnByID(ctx context.Context, id int64) (domain.Return, error) {
	return loadReturn(ctx, db, id, false)
}

// returnEffect moves the receiving location's buckets for every line of a
// received return, in the one lock order; extra positions (an exchange's
// replacement at the same store) are locked with them, so one lock round
// covers the whole return and the engine never locks out of order.
func returnEffect(ctx context.Context, tx *Tx, actor domain.Actor, source string, locID int64, r domain.Return, extra ...posKey) error {
	keys := make([]posKey, 0, len(r.Lines)+len(extra))
	keys = append(keys, extra...)
	for _, l := range r.Lines {
		keys = append(keys, posKey{locID, l.ProductID})
	}
	if _, err := lockStock(ctx, tx, keys, true); err != nil {
		return err
	}
	for _, l := range r.Lines {
		for _, s := range domain.DispositionSteps(l.Disposition, l.Qty) {
			meta := LedgerMeta{Reason: s.Reason, Source: source, SourceRef: returnRef(r.ID), Actor: actor,
				Note: fmt.Sprintf("Return %d of %s: %s", r.ID, r.OrderNumber, domain.DispositionLabel(l.Disposition))}
			if l.Reason != "" {
				meta.Note += " (" + l.Reason + ")"
			} else if domain.NeedsReason(l.Disposition) {
				meta.Note += " (no reason given)"
			}
			if _, err := applyMovements(ctx, tx, locID, l.ProductID, s.Moves, meta); err != nil {
				return err
			}
		}
	}
	return nil
}

// insertReturnLines writes the parts as the return's lines from line_no
// next on.
func insertReturnLines(ctx context.Context, tx *Tx, id int64, o *Order, parts []domain.ReturnPart, next int) error {
	for i, p := range parts {
		l := o.Lines[p.Line]
		if _, err := tx.ExecContext(ctx, `INSERT INTO return_lines (return_id, line_no, order_line_id, product_id, qty, disposition, reason)
			VALUES ($1, $2, $3, $4, $5, $6, $7)`, id, next+i, l.ID, l.ProductID, p.Qty, p.Disposition, p.Reason); err != nil {
			return fmt.Errorf("store: return line: %w", err)
		}
	}
	return nil
}

// returnMessage is the order timeline's words for a return.
func returnMessage(r domain.Return) string {
	if r.Status == domain.ReturnPending {
		return fmt.Sprintf("Return %d recorded from %s, not yet received by a store: %s.", r.ID, r.Source, domain.ReturnSummary(r.Lines))
	}
	return fmt.Sprintf("Return %d received at %s: %s.", r.ID, locOf(r), domain.ReturnSummary(r.Lines))
}

// locOf is the receiving location's code, or "" while pending.
func locOf(r domain.Return) string {
	if r.Location == nil {
		return ""
	}
	return *r.Location
}

func returnLink(id int64) string { return fmt.Sprintf("/returns/%d", id) }

// CreateReturnTx records a return inside tx. A received return moves the
// units' buckets at its location now; a pending one (in.Pending, from a
// connector's refund without restock) moves no stock until a store
// receives it (ReceiveReturn). Either way the order lines' units become
// returned at once, so they cannot be returned twice. A return whose
// (source, external_ref) is already recorded is answered as it is.
//
// An exchange links the return to another order: an existing one
// (in.ExchangeOrder), or a new one for replacement units (in.Exchange)
// created and reserved at the receiving store in this transaction, after
// the returned units are in its buckets (createExchangeOrder).
// Errors: 422 with field (unknown order, location or SKU, bad quantity or
// disposition), 422 exceeds_fulfilled naming the line, 409
// insufficient_stock on exchange when the replacement cannot be reserved
// (the caller's transaction must then roll back: nothing is recorded).
func (db *DB) CreateReturnTx(ctx context.Context, tx *Tx, actor domain.Actor, in domain.NewReturn) (domain.Return, error) {
	if in.Source == "" {
		in.Source = sourceOf(actor)
	}
	if err := in.Validate(); err != nil {
		return domain.Return{}, err
	}
	if in.ExternalRef != "" {
		var id int64
		err := tx.GetContext(ctx, &id, `SELECT id FROM returns WHERE source = $1 AND external_ref = $2`, in.Source, in.ExternalRef)
		if err == nil {
			return loadReturn(ctx, tx, id, false)
		} else if !errors.Is(err, sql.ErrNoRows) {
			return domain.Return{}, fmt.Errorf("store: return by external ref: %w", err)
		}
	}
	var loc domain.Location
	if !in.Pending {
		var err error
		if loc, err = locationByCodeIn(ctx, tx, in.Location); err != nil {
			return domain.Return{}, domain.Unprocessable("location", "Location %q does not exist.", in.Location)
		}
	}
	o, err := loadOrder(ctx, tx, `o.id = $1`, in.OrderID, true)
	if err != nil {
		if domain.ErrorCode(err) == domain.ENOTFOUND {
			return domain.Return{}, domain.Unprocessable("order", "There is no order %d.", in.OrderID)
		}
		return domain.Return{}, err
	}
	exchange, err := existingExchange(ctx, tx, in, o)
	if err != nil {
		return domain.Return{}, err
	}
	var xrq *resolvedRequest
	if in.Exchange != nil {
		if xrq, err = db.resolveExchange(ctx, in); err != nil {
			return domain.Return{}, err
		}
	}
	r, err := insertReturn(ctx, tx, actor, in, &o, loc)
	if err != nil {
		return r, err
	}
	if !in.Pending {
		var extra []posKey
		if xrq != nil {
			extra = xrq.candidateKeys()
		}
		if err := returnEffect(ctx, tx, actor, in.Source, loc.ID, r, extra...); err != nil {
			return r, err
		}
	}
	if xrq != nil {
		x, err := db.createExchangeOrder(ctx, tx, actor, in, o, *xrq, r.ID)
		if err != nil {
			return r, err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE returns SET exchange_order_id = $2 WHERE id = $1`, r.ID, x.ID); err != nil {
			return r, fmt.Errorf("store: link exchange: %w", err)
		}
		r.ExchangeID, r.ExchangeNumber, exchange = &x.ID, &x.Number, &x
	}
	now := db.stamp()
	ch := &orderChange{audit: "order.return", details: map[string]any{"return": r.ID, "lines": domain.ReturnSummary(r.Lines)}}
	ch.event("return", returnMessage(r), returnLink(r.ID))
	if exchange != nil {
		ch.event("exchange", fmt.Sprintf("Exchanged for order %s.", exchange.Number), fmt.Sprintf("/orders/%d", exchange.ID))
		if err := insertOrderEvents(ctx, tx, exchange.ID, actor, in.Source, []orderEvent{{"exchange",
			fmt.Sprintf("Exchange for return %d of order %s.", r.ID, o.Number), returnLink(r.ID)}}, now); err != nil {
			return r, err
		}
	}
	if err := finishOrder(ctx, tx, actor, in.Source, &o, o.Status, ch, now); err != nil {
		return r, err
	}
	return r, recordReturn(ctx, tx, actor, "return.create", nil, r)
}

// existingExchange loads the order in.ExchangeOrder names, if any: another
// existing order.
func existingExchange(ctx context.Context, tx *Tx, in domain.NewReturn, o Order) (*Order, error) {
	if in.ExchangeOrder == nil {
		return nil, nil
	}
	x, err := loadOrder(ctx, tx, `o.id = $1`, *in.ExchangeOrder, false)
	if err != nil || x.ID == o.ID {
		return nil, domain.Unprocessable("exchange_order", "The exchange order must be another existing order; %d is not.", *in.ExchangeOrder)
	}
	return &x, nil
}

// insertReturn writes the return row and its lines and moves the order
// lines' units into returned; it returns the return as loaded.
func insertReturn(ctx context.Context, tx *Tx, actor domain.Actor, in domain.NewReturn, o *Order, loc domain.Location) (domain.Return, error) {
	parts, err := domain.PlanReturn(o.Lines, in.Lines, in.Pending)
	if err != nil {
		return domain.Return{}, err
	}
	status, received := domain.ReturnReceived, any(time.Now())
	if in.Pending {
		status, received = domain.ReturnPending, nil
	}
	var id int64
	if err := tx.GetContext(ctx, &id, `INSERT INTO returns (order_id, location_id, status, source, external_ref, exchange_order_id, created_by, received_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id`, o.ID, nullID(loc.ID), status, in.Source, in.ExternalRef,
		in.ExchangeOrder, actor.String(), received); err != nil {
		return domain.Return{}, fmt.Errorf("store: create return: %w", err)
	}
	for _, p := range parts {
		l := &o.Lines[p.Line]
		c, err := l.LineQty.Apply(domain.LineReturn, p.Qty)
		if err != nil {
			return domain.Return{}, err
		}
		l.LineQty = c.After
		if err := saveLine(ctx, tx, l); err != nil {
			return domain.Return{}, err
		}
	}
	if err := insertReturnLines(ctx, tx, id, o, parts, 1); err != nil {
		return domain.Return{}, err
	}
	return loadReturn(ctx, tx, id, false)
}

// recordReturn writes a return's audit row and its outbox event.
func recordReturn(ctx context.Context, tx *Tx, actor domain.Actor, action string, before any, r domain.Return) error {
	after := map[string]any{"status": r.Status, "order": r.OrderNumber, "location": r.Location, "lines": domain.ReturnSummary(r.Lines),
		"exchange_order": r.ExchangeNumber}
	if err := insertAudit(ctx, tx, actor, action, "return", fmt.Sprint(r.ID), before, after); err != nil {
		return err
	}
	return insertOutbox(ctx, tx, "return.updated", map[string]any{"id": r.ID, "order_id": r.OrderID, "status": r.Status,
		"location": r.Location, "action": action})
}

// CreateReturn is CreateReturnTx in its own transaction.
func (db *DB) CreateReturn(ctx context.Context, actor domain.Actor, in domain.NewReturn) (domain.Return, error) {
	var out domain.Return
	err := db.InTx(ctx, func(tx *Tx) error {
		var err error
		out, err = db.CreateReturnTx(ctx, tx, actor, in)
		return err
	})
	return out, err
}

// ReceiveReturn receives a pending return at a location: the lines give a
// disposition per unit and must account for every pending unit of each
// SKU. The buckets move as for any return. Errors: ENOTFOUND, ECONFLICT
// (already received), 422 with field.
func (db *DB) ReceiveReturn(ctx context.Context, actor domain.Actor, id int64, location string, lines []domain.ReturnLineInput) (domain.Return, error) {
	var out domain.Return
	err := db.InTx(ctx, func(tx *Tx) error {
		r, err := loadReturn(ctx, tx, id, true)
		if err != nil {
			return err
		}
		if r.Status != domain.ReturnPending {
			return domain.Errorf(domain.ECONFLICT, "Return %d was already received at %s.", id, locOf(r))
		}
		in := domain.NewReturn{OrderID: r.OrderID, Location: location, Lines: lines}
		if err := in.Validate(); err != nil {
			return err
		}
		loc, err := locationByCodeIn(ctx, tx, location)
		if err != nil {
			return domain.Unprocessable("location", "Location %q does not exist.", location)
		}
		o, err := loadOrder(ctx, tx, `o.id = $1`, r.OrderID, true)
		if err != nil {
			return err
		}
		// The pending lines are what may be received: plan against them as
		// if they were the order's deliverable units.
		pend := make([]OrderLine, 0, len(r.Lines))
		for _, l := range r.Lines {
			ol := *o.Line(l.OrderLineID)
			ol.LineQty = domain.LineQty{Qty: l.Qty, Shipped: l.Qty}
			pend = append(pend, ol)
		}
		parts, err := domain.PlanReturn(pend, lines, false)
		if err != nil {
			return err
		}
		if got, want := partUnits(parts), r.Units(); got != want {
			return domain.FieldError("lines", "Return %d has %d unit(s) waiting; give a disposition for each (got %d).", id, want, got)
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM return_lines WHERE return_id = $1`, id); err != nil {
			return fmt.Errorf("store: receive return: %w", err)
		}
		po := Order{Lines: pend}
		if err := insertReturnLines(ctx, tx, id, &po, parts, 1); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE returns SET status = 'received', location_id = $2, received_at = now() WHERE id = $1`, id, loc.ID); err != nil {
			return fmt.Errorf("store: receive return: %w", err)
		}
		if out, err = loadReturn(ctx, tx, id, false); err != nil {
			return err
		}
		if err := returnEffect(ctx, tx, actor, sourceOf(actor), loc.ID, out); err != nil {
			return err
		}
		ch := &orderChange{audit: "order.return_receive", details: map[string]any{"return": id, "lines": domain.ReturnSummary(out.Lines)}}
		ch.event("return", returnMessage(out), returnLink(id))
		if err := finishOrder(ctx, tx, actor, "", &o, o.Status, ch, db.stamp()); err != nil {
			return err
		}
		return recordReturn(ctx, tx, actor, "return.receive", map[string]any{"status": r.Status}, out)
	})
	return out, err
}

func partUnits(ps []domain.ReturnPart) int {
	n := 0
	for _, p := range ps {
		n += p.Qty
	}
	return n
}

// ReleaseHold releases n units of a return line on quality hold: to
// sellable (ATP rises) or to damaged. Errors: ENOTFOUND, EINVALID (more
// than is on hold).
func (db *DB) ReleaseHold(ctx context.Context, actor domain.Actor, id int64, lineNo, n int, toDamaged bool) (domain.Return, error) {
	var out domain.Return
	err := db.InTx(ctx, func(tx *Tx) error {
		r, err := loadReturn(ctx, tx, id, true)
		if err != nil {
			return err
		}
		var line *domain.ReturnLine
		for i := range r.Lines {
			if r.Lines[i].LineNo == lineNo {
				line = &r.Lines[i]
			}
		}
		if line == nil || r.LocationID == nil {
			return domain.Errorf(domain.ENOTFOUND, "Return %d has no received line %d.", id, lineNo)
		}
		if n <= 0 || n > line.OnHold() {
			return domain.FieldError("qty", "%d unit(s) of %s are on quality hold; release between 1 and %d.", line.OnHold(), line.SKU, line.OnHold())
		}
		if _, err := lockPosition(ctx, tx, *r.LocationID, line.ProductID); err != nil {
			return err
		}
		to, col := "sellable", "released_sellable"
		if toDamaged {
			to, col = "damaged", "released_damaged"
		}
		for _, s := range domain.ReleaseSteps(toDamaged, n) {
			meta := LedgerMeta{Reason: s.Reason, Source: "stockline", SourceRef: returnRef(id), Actor: actor,
				Note: fmt.Sprintf("Return %d of %s: released from quality hold to %s", id, r.OrderNumber, to)}
			if _, err := applyMovements(ctx, tx, *r.LocationID, line.ProductID, s.Moves, meta); err != nil {
				return err
			}
		}
		if _, err := tx.ExecContext(ctx, `UPDATE return_lines SET `+col+` = `+col+` + $3 WHERE return_id = $1 AND line_no = $2`, id, lineNo, n); err != nil {
			return fmt.Errorf("store: release hold: %w", err)
		}
		if err := insertOrderEvents(ctx, tx, r.OrderID, actor, "", []orderEvent{{"return",
			fmt.Sprintf("Return %d: %d × %s released from quality hold to %s at %s.", id, n, line.SKU, to, locOf(r)), returnLink(id)}}, db.stamp()); err != nil {
			return err
		}
		if out, err = loadReturn(ctx, tx, id, false); err != nil {
			return err
		}
		return recordReturn(ctx, tx, actor, "return.release_"+to, map[string]any{"line": lineNo, "on_hold": line.OnHold()}, out)
	})
	return out, err
}

// ReturnFilter narrows ListReturns.
type ReturnFilter struct {
	Status    domain.ReturnStatus // "" for any
	Held      bool                // only returns with units still on quality hold
	OrderID   int64               // 0 for any
	Locations []string            // received at one of these; nil for any (pending returns have none and always match)
	Limit     int
}

// ListReturns returns returns newest first, with their lines.
func (db *DB) ListReturns(ctx context.Context, f ReturnFilter) ([]domain.Return, error) {
	if f.Limit <= 0 || f.Limit > 200 {
		f.Limit = 50
	}
	var locs any
	if f.Locations != nil {
		locs = pq.Array(f.Locations)
	}
	var ids []int64
	err := db.SelectContext(ctx, &ids, `SELECT r.id FROM returns r LEFT JOIN locations l ON l.id = r.location_id
		WHERE ($1 = '' OR r.status = $1) AND ($2 = 0 OR r.order_id = $2)
			AND ($3::text[] IS NULL OR r.location_id IS NULL OR l.code = ANY($3::text[]))
			AND (NOT $4 OR EXISTS (SELECT 1 FROM return_lines rl WHERE rl.return_id = r.id AND rl.disposition = 'quality_hold'
				AND rl.qty > rl.released_sellable + rl.released_damaged))
		ORDER BY r.id DESC LIMIT $5`, string(f.Status), f.OrderID, locs, f.Held, f.Limit)
	if err != nil {
		return nil, fmt.Errorf("store: list returns: %w", err)
	}
	out := make([]domain.Return, 0, len(ids))
	for _, id := range ids {
		r, err := loadReturn(ctx, db, id, false)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, nil
}

// FindOrderForReturn finds the order a returns desk scan or typed text
// names: its number (SL-100001) or its external reference.
// Errors: ENOTFOUND.
func (db *DB) FindOrderForReturn(ctx context.Context, q string) (Order, error) {
	q = strings.TrimSpace(q)
	if !storable(q) || q == "" {
		return Order{}, domain.Errorf(domain.ENOTFOUND, "Scan or type an order number or external reference.")
	}
	var id int64
	err := db.GetContext(ctx, &id, `SELECT id FROM (
			SELECT id, 1 AS k FROM orders WHERE number = upper($1)
			UNION ALL SELECT id, 2 FROM orders WHERE external_ref = $1 AND external_ref <> ''
		) t ORDER BY k, id DESC LIMIT 1`, q)
	if err != nil {
		return Order{}, notFound(err, "No order has the number or reference %q.", q)
	}
	return loadOrder(ctx, db, `o.id = $1`, id, false)
}
