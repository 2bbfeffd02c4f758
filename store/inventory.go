package store

import (
	"context"
	"fmt"
	"math"
	"strings"
	"unicode/utf8"

	"github.com/lib/pq"

	"stockline/domain"
)

// ListLocations returns every location ordered by code.
func (db *DB) ListLocations(ctx context.Context) ([]domain.Location, error) {
	var out []domain.Location
	if err := db.SelectContext(ctx, &out, `SELECT id, code, name, kind, region, timezone, pickup, ship_from_store FROM locations ORDER BY code`); err != nil {
		return nil, fmt.Errorf("store: list locations: %w", err)
	}
	return out, nil
}

// LocationByCode returns the location with code, or ENOTFOUND.
func (db *DB) LocationByCode(ctx context.Context, code string) (domain.Location, error) {
	var l domain.Location
	if !storable(code) {
		return l, domain.Errorf(domain.ENOTFOUND, "Location %q does not exist.", code)
	}
	err := db.GetContext(ctx, &l, `SELECT id, code, name, kind, region, timezone, pickup, ship_from_store FROM locations WHERE code = $1`, code)
	if err != nil {
		return l, notFound(err, "Location %q does not exist.", code)
	}
	return l, nil
}

// storable reports whether s can be a PostgreSQL text value: valid UTF-8
// with no NUL. A lookup by anything else cannot match, and sending it would
// only make the server raise an encoding error.
func storable(s string) bool { return utf8.ValidString(s) && !strings.ContainsRune(s, 0) }

// productColumns are the columns a domain.Product scans from.
const productColumns = `id, sku, name, barcode, category, price_cents`

// ProductBySKU returns the product with sku, or ENOTFOUND.
func (db *DB) ProductBySKU(ctx context.Context, sku string) (domain.Product, error) {
	if !storable(sku) {
		return domain.Product{}, domain.Errorf(domain.ENOTFOUND, "SKU %q does not exist.", sku)
	}
	return productBySKUIn(ctx, db, sku)
}

// ProductQuery filters SearchProducts. Q matches a SKU or barcode exactly,
// a SKU prefix, or part of the name; results come in SKU order after After.
type ProductQuery struct {
	Q     string
	After string // the last SKU of the previous page
	Limit int
}

// SearchProducts returns one page of products in SKU order and the cursor
// for the next page ("" when this is the last).
func (db *DB) SearchProducts(ctx context.Context, q ProductQuery) ([]domain.Product, string, error) {
	if q.Limit <= 0 || q.Limit > 200 {
		q.Limit = 50
	}
	q.Q = strings.ReplaceAll(strings.ToValidUTF8(q.Q, ""), "\x00", "")
	q.After = strings.ReplaceAll(strings.ToValidUTF8(q.After, ""), "\x00", "")
	where, args := []string{"TRUE"}, []any{}
	if s := strings.TrimSpace(q.Q); s != "" {
		args = append(args, s, likePrefix(strings.ToLower(s)), "%"+likeEscape(strings.ToLower(s))+"%")
		n := len(args)
		where = append(where, fmt.Sprintf("(sku = $%d OR barcode = $%d OR lower(sku) LIKE $%d OR lower(name) LIKE $%d)", n-2, n-2, n-1, n))
	}
	if q.After != "" {
		args = append(args, q.After)
		where = append(where, fmt.Sprintf("sku > $%d", len(args)))
	}
	args = append(args, q.Limit+1)
	var out []domain.Product
	err := db.SelectContext(ctx, &out, `SELECT `+productColumns+` FROM products WHERE `+
		joinAnd(where)+fmt.Sprintf(` ORDER BY sku LIMIT $%d`, len(args)), args...)
	if err != nil {
		return nil, "", fmt.Errorf("store: search products: %w", err)
	}
	next := ""
	if len(out) > q.Limit {
		out = out[:q.Limit]
		next = out[len(out)-1].SKU
	}
	return out, next, nil
}

// FindProductExact returns the product whose SKU or barcode is exactly s,
// which is what a scanner types; ok is false when there is none.
func (db *DB) FindProductExact(ctx context.Context, s string) (domain.Product, bool, error) {
	var out []domain.Product
	if !storable(s) {
		return domain.Product{}, false, nil
	}
	err := db.SelectContext(ctx, &out, `SELECT `+productColumns+` FROM products WHERE sku = $1 OR barcode = $1 LIMIT 1`, strings.TrimSpace(s))
	if err != nil {
		return domain.Product{}, false, fmt.Errorf("store: find product: %w", err)
	}
	if len(out) == 0 {
		return domain.Product{}, false, nil
	}
	return out[0], true, nil
}

func likeEscape(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}

func likePrefix(s string) string { return likeEscape(s) + "%" }

// LocationPosition is a location with its position for one SKU; locations
// with no position row show zeros.
type LocationPosition = domain.LocationStock

// PositionsForSKU returns every location's position for the product, in
// location code order.
func (db *DB) PositionsForSKU(ctx context.Context, productID int64) ([]LocationPosition, error) {
	var out []LocationPosition
	err := db.SelectContext(ctx, &out, `SELECT l.id, l.code, l.name, l.kind, l.region, l.timezone, l.pickup, l.ship_from_store,
			COALESCE(p.on_hand, 0) AS on_hand, COALESCE(p.reserved, 0) AS reserved, COALESCE(p.damaged, 0) AS damaged,
			COALESCE(p.quality_hold, 0) AS quality_hold, COALESCE(p.transfer_out, 0) AS transfer_out,
			COALESCE(p.in_transit_in, 0) AS in_transit_in
		FROM locations l LEFT JOIN LATERAL (
			SELECT * FROM positions x WHERE x.location_id = l.id AND x.product_id = $1 LIMIT 1 -- a primary-key lookup per location; see StockForSKU
		) p ON true
		ORDER BY l.code`, productID)
	if err != nil {
		return nil, fmt.Errorf("store: positions for sku: %w", err)
	}
	return out, nil
}

// PositionAt returns the position of a product at a location (zeros if none).
func (db *DB) PositionAt(ctx context.Context, locationID, productID int64) (domain.Position, error) {
	var out []domain.Position
	err := db.SelectContext(ctx, &out, `SELECT on_hand, reserved, damaged, quality_hold, transfer_out, in_transit_in
		FROM positions WHERE location_id = $1 AND product_id = $2`, locationID, productID)
	if err != nil {
		return domain.Position{}, fmt.Errorf("store: position: %w", err)
	}
	if len(out) == 0 {
		return domain.Position{}, nil
	}
	return out[0], nil
}

// Adjust applies a person's adjustment to the product at the location in
// one transaction: ledger rows, position, audit and an outbox event. It
// returns the new position. Errors: ENOTFOUND, EINVALID.
func (db *DB) Adjust(ctx context.Context, actor domain.Actor, sku, location string, adj domain.Adjustment) (domain.Position, error) {
	res, err := db.AdjustPosition(ctx, actor, sku, location, adj)
	return res.After, err
}

// Adjusted is what an adjustment did: the position before and after, and
// the movements written to the ledger.
type Adjusted struct {
	Product  domain.Product
	Location domain.Location
	Before   domain.Position
	After    domain.Position
	Moves    []domain.Movement
}

// AdjustPosition is Adjust returning the whole effect, so pages can say
// what happened ("on hand at S01 went from 4 to 7"). Errors: ENOTFOUND,
// EINVALID.
func (db *DB) AdjustPosition(ctx context.Context, actor domain.Actor, sku, location string, adj domain.Adjustment) (Adjusted, error) {
	return db.adjustPosition(ctx, actor, sku, location, adj, nil)
}

// AdjustForException is AdjustPosition done as an exception's action (a
// counted figure for negative stock): the adjustment and the exception's
// resolution record commit together.
func (db *DB) AdjustForException(ctx context.Context, actor domain.Actor, rec ExceptionRecord, sku, location string, adj domain.Adjustment) (Adjusted, error) {
	return db.adjustPosition(ctx, actor, sku, location, adj, &rec)
}

func (db *DB) adjustPosition(ctx context.Context, actor domain.Actor, sku, location string, adj domain.Adjustment, rec *ExceptionRecord) (Adjusted, error) {
	var res Adjusted
	if err := adj.Validate(); err != nil {
		return res, err
	}
	prod, err := db.ProductBySKU(ctx, sku)
	if err != nil {
		return res, err
	}
	loc, err := db.LocationByCode(ctx, location)
	if err != nil {
		return res, err
	}
	res.Product, res.Location = prod, loc
	err = db.InTx(ctx, func(tx *Tx) error {
		before, err := lockPosition(ctx, tx, loc.ID, prod.ID)
		if err != nil {
			return err
		}
		moves, err := adj.Movements(before)
		if err != nil {
			return err
		}
		if len(moves) == 0 {
			return domain.FieldError("counted", "The count matches on hand (%d); nothing to adjust.", before.OnHand)
		}
		// The position is locked, so the outcome is known before the write
		// and its event goes out in the same statement.
		want := before
		for _, m := range moves {
			want = want.Apply(m.Bucket, m.Delta)
		}
		after, err := applyMovements(ctx, tx, loc.ID, prod.ID, moves, LedgerMeta{
			Reason: adj.Reason, Source: "stockline", SourceRef: "adjustment", Actor: actor, Note: adj.Note,
			Event: &StockEvent{Topic: "inventory.adjusted", Payload: map[string]any{"sku": sku, "location": location, "position": want, "reason": adj.Reason}},
		})
		if err != nil {
			return err
		}
		res.Before, res.After, res.Moves = before, after, moves
		id := sku + "@" + location
		if err := insertAudit(ctx, tx, actor, "inventory.adjust", "position", id, before, map[string]any{
			"position": after, "reason": adj.Reason, "note": adj.Note, "delta": adj.Delta, "counted": adj.Counted,
		}); err != nil {
			return err
		}
		return recordExceptionActionTx(ctx, tx, actor, rec)
	})
	return res, err
}

// RecentLedger returns a product's ledger rows newest first, optionally
// for one location, paging backwards from beforeID.
func (db *DB) RecentLedger(ctx context.Context, productID int64, locationCode string, beforeID int64, limit int) ([]domain.LedgerEntry, error) {
	if limit <= 0 || limit > 200 {
		limit = 50
	}
	args := []any{productID, limit}
	q := `SELECT g.id, p.sku, l.code AS location, g.bucket, g.delta, g.reason, g.source, g.source_ref, g.actor, g.note, g.occurred_at, g.recorded_at
		FROM ledger g JOIN locations l ON l.id = g.location_id JOIN products p ON p.id = g.product_id
		WHERE g.product_id = $1`
	if locationCode != "" {
		args = append(args, locationCode)
		q += fmt.Sprintf(` AND l.code = $%d`, len(args))
	}
	if beforeID > 0 {
		args = append(args, beforeID)
		q += fmt.Sprintf(` AND g.id < $%d`, len(args))
	}
	q += ` ORDER BY g.id DESC LIMIT $2`
	var out []domain.LedgerEntry
	if err := db.SelectContext(ctx, &out, q, args...); err != nil {
		return nil, fmt.Errorf("store: ledger: %w", err)
	}
	return out, nil
}

// LedgerQuery asks for one page of a product's ledger, newest first.
type LedgerQuery struct {
	ProductID int64
	Locations []string // location codes to include; nil means every location
	BeforeID  int64    // page backwards from this ledger id; 0 means newest
	Limit     int      // 1..200, default 25
}

// LedgerPage returns one page of a product's ledger rows, newest first,
// and the BeforeID of the next (older) page, 0 when there is none. It reads
// each location's newest rows through the ledger_position index and merges
// them, so a hot SKU with a long ledger costs no sort of its whole history.
func (db *DB) LedgerPage(ctx context.Context, q LedgerQuery) ([]domain.LedgerEntry, int64, error) {
	if q.Limit <= 0 || q.Limit > 200 {
		q.Limit = 25
	}
	before := q.BeforeID
	if before <= 0 {
		before = math.MaxInt64
	}
	var codes any // NULL means every location
	if q.Locations != nil {
		codes = pq.Array(q.Locations)
	}
	var out []domain.LedgerEntry
	err := db.SelectContext(ctx, &out, `SELECT g.id, pr.sku, l.code AS location, g.bucket, g.delta, g.reason, g.source, g.source_ref,
			g.actor, g.note, g.occurred_at, g.recorded_at
		FROM locations l
		CROSS JOIN LATERAL (
			SELECT * FROM ledger x WHERE x.product_id = $1 AND x.location_id = l.id AND x.id < $2
			ORDER BY x.id DESC LIMIT $3
		) g
		JOIN products pr ON pr.id = g.product_id
		WHERE $4::text[] IS NULL OR l.code = ANY($4::text[])
		ORDER BY g.id DESC LIMIT $3`, q.ProductID, before, q.Limit+1, codes)
	if err != nil {
		return nil, 0, fmt.Errorf("store: ledger page: %w", err)
	}
	var next int64
	if len(out) > q.Limit {
		out = out[:q.Limit]
		next = out[len(out)-1].ID
	}
	return out, next, nil
}
