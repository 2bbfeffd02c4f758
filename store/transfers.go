package store

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/lib/pq"

	"stockline/domain"
)

// Transfers move stock between locations (DESIGN §6). Every bucket change
// goes through lockPosition and applyMovements; positions are locked in
// (location_id, product_id) order.

const transferSelect = `SELECT t.id, t.status, t.from_location_id, t.to_location_id, f.code AS from_code, d.code AS to_code,
	f.name AS from_name, d.name AS to_name, f.region AS from_region, d.region AS to_region, t.reason, t.needed_by, t.tracking,
	t.requested_by, t.decided_by, t.decision_note, t.created_at, t.updated_at, t.approved_at, t.shipped_at, t.received_at
	FROM transfers t JOIN locations f ON f.id = t.from_location_id JOIN locations d ON d.id = t.to_location_id`

// loadTransfers loads the transfers ids names, in that order.
func loadTransfers(ctx context.Context, q queryer, ids []int64) ([]domain.Transfer, error) {
	out := make([]domain.Transfer, 0, len(ids))
	for _, id := range ids {
		t, err := loadTransfer(ctx, q, id, false)
		if err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, nil
}

func loadTransfer(ctx context.Context, q queryer, id int64, lock bool) (domain.Transfer, error) {
	var t domain.Transfer
	sql := transferSelect + ` WHERE t.id = $1`
	if lock {
		sql += ` FOR UPDATE OF t`
	}
	if err := q.GetContext(ctx, &t, sql, id); err != nil {
		return t, notFound(err, "Transfer %d does not exist.", id)
	}
	if err := q.SelectContext(ctx, &t.Lines, `SELECT l.line_no, l.product_id, p.sku, p.name, p.price_cents, l.requested, l.approved,
			l.shipped, l.received, l.damaged, l.lost
		FROM transfer_lines l JOIN products p ON p.id = l.product_id WHERE l.transfer_id = $1 ORDER BY l.line_no`, id); err != nil {
		return t, fmt.Errorf("store: transfer lines: %w", err)
	}
	if err := q.SelectContext(ctx, &t.Timeline, `SELECT at, kind, actor, message FROM transfer_events WHERE transfer_id = $1 ORDER BY id`, id); err != nil {
		return t, fmt.Errorf("store: transfer events: %w", err)
	}
	return t, nil
}

// TransferByID returns one transfer with its lines and timeline.
func (db *DB) TransferByID(ctx context.Context, id int64) (domain.Transfer, error) {
	return loadTransfer(ctx, db, id, false)
}

func transferEvent(ctx context.Context, tx *Tx, id int64, actor domain.Actor, kind, msg string) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO transfer_events (transfer_id, kind, actor, message) VALUES ($1, $2, $3, $4)`, id, kind, actor.String(), msg)
	if err != nil {
		return fmt.Errorf("store: transfer event: %w", err)
	}
	return nil
}

// applySteps writes each step at one position (the caller holds its lock).
func applySteps(ctx context.Context, tx *Tx, loc, prod int64, steps []domain.Step, ref string, actor domain.Actor) error {
	for _, s := range steps {
		if _, err := applyMovements(ctx, tx, loc, prod, s.Moves, LedgerMeta{Reason: s.Reason, Source: "stockline", SourceRef: ref, Actor: actor}); err != nil {
			return err
		}
	}
	return nil
}

func transferRef(id int64) string { return fmt.Sprintf("transfer:%d", id) }

// lockTransferPositions locks the positions of every line at the given
// locations in (location_id, product_id) order and returns them.
func lockTransferPositions(ctx context.Context, tx *Tx, t domain.Transfer, locs ...int64) (map[posKey]domain.Position, error) {
	var keys []posKey
	for _, l := range locs {
		for _, line := range t.Lines {
			keys = append(keys, posKey{l, line.ProductID})
		}
	}
	slices.SortFunc(keys, comparePos)
	keys = slices.Compact(keys)
	out := make(map[posKey]domain.Position, len(keys))
	for _, k := range keys {
		p, err := lockPosition(ctx, tx, k.loc, k.prod)
		if err != nil {
			return nil, err
		}
		out[k] = p
	}
	return out, nil
}

// CreateTransferTx records a transfer request inside tx. It moves no stock,
// unless an enabled approval rule matches and the origin's stock covers it:
// then it is approved at once. Errors: 422 (field) for bad input, unknown
// locations or SKUs.
func (db *DB) CreateTransferTx(ctx context.Context, tx *Tx, actor domain.Actor, in domain.NewTransfer) (domain.Transfer, error) {
	needed, err := in.Validate()
	if err != nil {
		return domain.Transfer{}, err
	}
	from, err := locationByCodeIn(ctx, tx, in.From)
	if err != nil {
		return domain.Transfer{}, domain.Unprocessable("from", "Location %q does not exist.", in.From)
	}
	to, err := locationByCodeIn(ctx, tx, in.To)
	if err != nil {
		return domain.Transfer{}, domain.Unprocessable("to", "Location %q does not exist.", in.To)
	}
	var id int64
	if err := tx.GetContext(ctx, &id, `INSERT INTO transfers (from_location_id, to_location_id, status, reason, needed_by, requested_by)
		VALUES ($1, $2, 'requested', $3, $4, $5) RETURNING id`, from.ID, to.ID, strings.TrimSpace(in.Reason), needed, actor.String()); err != nil {
		return domain.Transfer{}, fmt.Errorf("store: create transfer: %w", err)
	}
	units, value := 0, int64(0)
	items := make([]string, 0, len(in.Lines))
	for i, l := range in.Lines {
		p, err := productBySKUIn(ctx, tx, l.SKU)
		if err != nil {
			return domain.Transfer{}, domain.Unprocessable(fmt.Sprintf("lines[%d].sku", i), "SKU %q does not exist.", l.SKU)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO transfer_lines (transfer_id, line_no, product_id, requested) VALUES ($1, $2, $3, $4)`,
			id, i+1, p.ID, l.Qty); err != nil {
			return domain.Transfer{}, fmt.Errorf("store: transfer line: %w", err)
		}
		units += l.Qty
		value += int64(l.Qty) * p.PriceCents
		items = append(items, fmt.Sprintf("%d × %s", l.Qty, p.SKU))
	}
	msg := fmt.Sprintf("Requested %s from %s to %s.", strings.Join(items, ", "), from.Code, to.Code)
	if err := transferEvent(ctx, tx, id, actor, "requested", msg); err != nil {
		return domain.Transfer{}, err
	}
	if err := insertAudit(ctx, tx, actor, "transfer.request", "transfer", fmt.Sprint(id), nil, in); err != nil {
		return domain.Transfer{}, err
	}
	if err := insertOutbox(ctx, tx, "transfer.requested", map[string]any{"id": id, "from": from.Code, "to": to.Code}); err != nil {
		return domain.Transfer{}, err
	}
	var rules []domain.ApprovalRule
	if err := tx.SelectContext(ctx, &rules, `SELECT id, name, same_region, max_units, max_value_cents, enabled, updated_at, updated_by
		FROM transfer_rules WHERE enabled ORDER BY id`); err != nil {
		return domain.Transfer{}, fmt.Errorf("store: transfer rules: %w", err)
	}
	for _, r := range rules {
		if !r.Matches(from, to, units, value) {
			continue
		}
		t, err := loadTransfer(ctx, tx, id, true)
		if err != nil {
			return t, err
		}
		if err := approveLocked(ctx, tx, domain.SystemActor("approval-rule"), &t, "Approved by rule "+r.Name+"."); err != nil {
			if domain.ErrorCode(err) != domain.CodeInsufficientStock {
				return t, err
			}
			if err := transferEvent(ctx, tx, id, domain.SystemActor("approval-rule"), "note",
				"Rule "+r.Name+" matches, but "+domain.ErrorMessage(err)+" It waits for a manager."); err != nil {
				return t, err
			}
		}
		break
	}
	return loadTransfer(ctx, tx, id, false)
}

// CreateTransfer is CreateTransferTx in its own transaction.
func (db *DB) CreateTransfer(ctx context.Context, actor domain.Actor, in domain.NewTransfer) (domain.Transfer, error) {
	var out domain.Transfer
	err := db.InTx(ctx, func(tx *Tx) error {
		var err error
		out, err = db.CreateTransferTx(ctx, tx, actor, in)
		return err
	})
	return out, err
}

// mutateTransfer runs fn on a locked transfer and returns it afterwards.
func (db *DB) mutateTransfer(ctx context.Context, id int64, fn func(tx *Tx, t *domain.Transfer) error) (domain.Transfer, error) {
	return db.mutateTransferRecording(ctx, id, domain.Actor{}, nil, fn)
}

// mutateTransferRecording is mutateTransfer that also records an
// exception's resolution (rec, when not nil, by actor) in the same
// transaction.
func (db *DB) mutateTransferRecording(ctx context.Context, id int64, actor domain.Actor, rec *ExceptionRecord,
	fn func(tx *Tx, t *domain.Transfer) error) (domain.Transfer, error) {
	var out domain.Transfer
	err := db.InTx(ctx, func(tx *Tx) error {
		t, err := loadTransfer(ctx, tx, id, true)
		if err != nil {
			return err
		}
		if err := fn(tx, &t); err != nil {
			return err
		}
		if err := recordExceptionActionTx(ctx, tx, actor, rec); err != nil {
			return err
		}
		out, err = loadTransfer(ctx, tx, id, false)
		return err
	})
	return out, err
}

func setTransferStatus(ctx context.Context, tx *Tx, actor domain.Actor, t *domain.Transfer, to domain.TransferStatus, extra string) error {
	if err := domain.CheckTransferMove(t.Status, to); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `UPDATE transfers SET status = $2, updated_at = now()`+extra+` WHERE id = $1`, t.ID, to); err != nil {
		return fmt.Errorf("store: transfer status: %w", err)
	}
	if err := insertAudit(ctx, tx, actor, "transfer."+string(to), "transfer", fmt.Sprint(t.ID),
		map[string]any{"status": t.Status}, map[string]any{"status": to}); err != nil {
		return err
	}
	if err := insertOutbox(ctx, tx, "transfer.updated", map[string]any{"id": t.ID, "from": t.Status, "status": to}); err != nil {
		return err
	}
	t.Status = to
	return nil
}

// approveLocked checks the origin's ATP for every line and moves the units
// into transfer_out, or refuses with insufficient_stock and the figures.
func approveLocked(ctx context.Context, tx *Tx, actor domain.Actor, t *domain.Transfer, msg string) error {
	if err := domain.CheckTransferMove(t.Status, domain.TransferApproved); err != nil {
		return err
	}
	pos, err := lockTransferPositions(ctx, tx, *t, t.FromID)
	if err != nil {
		return err
	}
	var short []domain.ShortLine
	for _, l := range t.Lines {
		if a := domain.TransferAvailable(pos[posKey{t.FromID, l.ProductID}]); a < l.Requested {
			short = append(short, domain.ShortLine{SKU: l.SKU, Requested: l.Requested, Available: a, Location: t.From})
		}
	}
	if len(short) > 0 {
		return domain.TransferApprovalShort(t.From, short)
	}
	for _, l := range t.Lines {
		if err := applySteps(ctx, tx, t.FromID, l.ProductID, domain.ApproveSteps(l.Requested), transferRef(t.ID), actor); err != nil {
			return err
		}
	}
	if _, err := tx.ExecContext(ctx, `UPDATE transfer_lines SET approved = requested WHERE transfer_id = $1`, t.ID); err != nil {
		return fmt.Errorf("store: approve lines: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `UPDATE transfers SET decided_by = $2, approved_at = now() WHERE id = $1`, t.ID, actor.String()); err != nil {
		return err
	}
	if err := setTransferStatus(ctx, tx, actor, t, domain.TransferApproved, ""); err != nil {
		return err
	}
	return transferEvent(ctx, tx, t.ID, actor, "approved", fmt.Sprintf("%s %d unit(s) moved into transfer_out at %s.", msg, t.Units(), t.From))
}

// ApproveTransfer approves a requested transfer. Errors: ENOTFOUND,
// ECONFLICT, insufficient_stock (409 with the current figures).
func (db *DB) ApproveTransfer(ctx context.Context, actor domain.Actor, id int64, note string) (domain.Transfer, error) {
	if err := domain.ValidateNote(note); err != nil {
		return domain.Transfer{}, err
	}
	return db.mutateTransfer(ctx, id, func(tx *Tx, t *domain.Transfer) error {
		if note != "" {
			if _, err := tx.ExecContext(ctx, `UPDATE transfers SET decision_note = $2 WHERE id = $1`, id, note); err != nil {
				return err
			}
		}
		msg := "Approved by " + actor.Name + "."
		if note != "" {
			msg = "Approved by " + actor.Name + ": " + note + "."
		}
		return approveLocked(ctx, tx, actor, t, msg)
	})
}

// RejectTransfer rejects a requested transfer; nothing moves.
func (db *DB) RejectTransfer(ctx context.Context, actor domain.Actor, id int64, note string) (domain.Transfer, error) {
	if err := domain.ValidateNote(note); err != nil {
		return domain.Transfer{}, err
	}
	return db.mutateTransfer(ctx, id, func(tx *Tx, t *domain.Transfer) error {
		if err := setTransferStatus(ctx, tx, actor, t, domain.TransferRejected, ""); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE transfers SET decided_by = $2, decision_note = $3 WHERE id = $1`, id, actor.String(), note); err != nil {
			return err
		}
		msg := "Rejected by " + actor.Name + "."
		if note != "" {
			msg = "Rejected by " + actor.Name + ": " + note + "."
		}
		return transferEvent(ctx, tx, id, actor, "rejected", msg)
	})
}

// CancelTransfer cancels a transfer before it ships; approved units go
// back from transfer_out to sellable. A shipped one is 409 already_shipped.
func (db *DB) CancelTransfer(ctx context.Context, actor domain.Actor, id int64) (domain.Transfer, error) {
	return db.mutateTransfer(ctx, id, func(tx *Tx, t *domain.Transfer) error {
		if err := domain.CheckTransferMove(t.Status, domain.TransferCancelled); err != nil {
			return err
		}
		released := 0
		if t.Status == domain.TransferApproved {
			if _, err := lockTransferPositions(ctx, tx, *t, t.FromID); err != nil {
				return err
			}
			for _, l := range t.Lines {
				if err := applySteps(ctx, tx, t.FromID, l.ProductID, domain.CancelSteps(l.Approved), transferRef(id), actor); err != nil {
					return err
				}
				released += l.Approved
			}
		}
		if err := setTransferStatus(ctx, tx, actor, t, domain.TransferCancelled, ""); err != nil {
			return err
		}
		msg := "Cancelled before shipping; nothing had been set aside."
		if released > 0 {
			msg = fmt.Sprintf("Cancelled before shipping; %d unit(s) went back from transfer_out to sellable at %s.", released, t.From)
		}
		return transferEvent(ctx, tx, id, actor, "cancelled", msg)
	})
}

// TransferFilter narrows ListTransfers; empty fields match everything.
type TransferFilter struct {
	Status    string
	From, To  string
	Locations []string // scoped users: origin or destination among these; nil means all
	ToAny     []string // destination among these (a store's incoming transfers); nil means any
	FromAny   []string // origin among these (a manager's approvals); nil means any
	BeforeID  int64    // paging: only transfers older than this id
	Limit     int
}

// ListTransfers returns transfers newest first, with lines (no timeline).
func (db *DB) ListTransfers(ctx context.Context, f TransferFilter) ([]domain.Transfer, error) {
	if f.Limit <= 0 || f.Limit > 200 {
		f.Limit = 100
	}
	var locs any
	if f.Locations != nil {
		locs = pq.Array(f.Locations)
	}
	var ids []int64
	err := db.SelectContext(ctx, &ids, `SELECT t.id FROM transfers t JOIN locations f ON f.id = t.from_location_id JOIN locations d ON d.id = t.to_location_id
		WHERE ($1 = '' OR t.status = $1) AND ($2 = '' OR f.code = $2) AND ($3 = '' OR d.code = $3)
			AND ($4::text[] IS NULL OR f.code = ANY($4::text[]) OR d.code = ANY($4::text[]))
			AND ($6::text[] IS NULL OR d.code = ANY($6::text[])) AND ($7 = 0 OR t.id < $7)
			AND ($8::text[] IS NULL OR f.code = ANY($8::text[]))
		ORDER BY t.id DESC LIMIT $5`, f.Status, f.From, f.To, locs, f.Limit, locsArg(f.ToAny), f.BeforeID, locsArg(f.FromAny))
	if err != nil {
		return nil, fmt.Errorf("store: list transfers: %w", err)
	}
	return loadTransfers(ctx, db, ids)
}
