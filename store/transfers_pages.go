package store

import (
	"context"
	"fmt"
	"strings"

	"github.com/lib/pq"

	"stockline/domain"
)

// What the transfer pages read beyond one transfer: counts for the
// navigation, the stock context of an approval, the inputs of suggested
// transfers and a SKU's open transfers.

func locsArg(locs []string) any {
	if locs == nil {
		return nil
	}
	return pq.Array(locs)
}

// CountAwaitingApproval is how many transfers wait for a manager whose
// scope is locs (origin among them; nil means every origin). This count and
// CountToReceive are shown in the navigation of every page: each is
// prepared once per connection (one round trip instead of two).
func (db *DB) CountAwaitingApproval(ctx context.Context, locs []string) (int, error) {
	var n int
	err := db.prepared().getDB(ctx, &n, `SELECT count(*) FROM transfers t JOIN locations f ON f.id = t.from_location_id
		WHERE t.status = 'requested' AND ($1::text[] IS NULL OR f.code = ANY($1::text[]))`, locsArg(locs))
	if err != nil {
		return 0, fmt.Errorf("store: count approvals: %w", err)
	}
	return n, nil
}

// CountToReceive is how many shipped transfers are on their way to locs
// (nil means every destination).
func (db *DB) CountToReceive(ctx context.Context, locs []string) (int, error) {
	var n int
	err := db.prepared().getDB(ctx, &n, `SELECT count(*) FROM transfers t JOIN locations d ON d.id = t.to_location_id
		WHERE t.status = 'shipped' AND ($1::text[] IS NULL OR d.code = ANY($1::text[]))`, locsArg(locs))
	if err != nil {
		return 0, fmt.Errorf("store: count to receive: %w", err)
	}
	return n, nil
}

// SalesWindowDays is the window over which sales figures (sell-through,
// weeks of cover) are read from the ledger.
const SalesWindowDays = 28

// stockSignalSelect reads positions with the units each sold in the last
// $1 days: on_hand movements of reason sale (POS) or fulfilled (orders).
const stockSignalSelect = `WITH sold AS (
		SELECT g.location_id, g.product_id, -sum(g.delta)::int AS sold FROM ledger g
		WHERE g.bucket = 'on_hand' AND g.reason IN ('sale', 'fulfilled') AND g.occurred_at > now() - make_interval(days => $1)
			AND %s
		GROUP BY 1, 2)
	SELECT l.code AS location, l.region, l.kind, pr.sku, pr.name, pr.price_cents, p.on_hand, p.reserved, p.damaged, p.quality_hold,
		p.transfer_out, p.in_transit_in, coalesce(s.sold, 0) AS sold
	FROM positions p JOIN locations l ON l.id = p.location_id JOIN products pr ON pr.id = p.product_id
	LEFT JOIN sold s ON s.location_id = p.location_id AND s.product_id = p.product_id
	WHERE %s
	ORDER BY pr.sku, l.code`

// StockSignals returns the stock and recent sales of skus at locs (the
// context of an approval).
func (db *DB) StockSignals(ctx context.Context, locs, skus []string, days int) ([]domain.StockSignal, error) {
	var out []domain.StockSignal
	if len(locs) == 0 || len(skus) == 0 {
		return out, nil
	}
	q := fmt.Sprintf(stockSignalSelect,
		`g.product_id IN (SELECT id FROM products WHERE sku = ANY($3)) AND g.location_id IN (SELECT id FROM locations WHERE code = ANY($2))`,
		`l.code = ANY($2) AND pr.sku = ANY($3)`)
	if err := db.SelectContext(ctx, &out, q, days, pq.Array(locs), pq.Array(skus)); err != nil {
		return nil, fmt.Errorf("store: stock signals: %w", err)
	}
	return out, nil
}

// SuggestionSignals is the one query behind suggested transfers: every
// position of every SKU that sold anywhere in the last days, with its
// sales. A SKU that sold nowhere has no demand to move stock towards.
func (db *DB) SuggestionSignals(ctx context.Context, days int) ([]domain.StockSignal, error) {
	var out []domain.StockSignal
	q := fmt.Sprintf(stockSignalSelect, `true`, `p.product_id IN (SELECT product_id FROM sold)`)
	if err := db.SelectContext(ctx, &out, q, days); err != nil {
		return nil, fmt.Errorf("store: suggestion signals: %w", err)
	}
	return out, nil
}

// OpenTransfersForSKU returns the transfers of a product that are not
// finished (requested, approved, shipped, or received with units still
// outstanding), newest first, with an end among locs (nil means all).
func (db *DB) OpenTransfersForSKU(ctx context.Context, productID int64, locs []string) ([]domain.Transfer, error) {
	var ids []int64
	err := db.SelectContext(ctx, &ids, `SELECT t.id FROM transfer_lines tl JOIN transfers t ON t.id = tl.transfer_id
		JOIN locations f ON f.id = t.from_location_id JOIN locations d ON d.id = t.to_location_id
		WHERE tl.product_id = $1 AND (t.status IN ('requested', 'approved', 'shipped') OR (t.status = 'received' AND tl.shipped > tl.received + tl.lost))
			AND ($2::text[] IS NULL OR f.code = ANY($2::text[]) OR d.code = ANY($2::text[]))
		ORDER BY t.id DESC LIMIT 20`, productID, locsArg(locs))
	if err != nil {
		return nil, fmt.Errorf("store: open transfers for sku: %w", err)
	}
	return loadTransfers(ctx, db, ids)
}

// TransferRules lists the approval rules, enabled or not.
func (db *DB) TransferRules(ctx context.Context) ([]domain.ApprovalRule, error) {
	var out []domain.ApprovalRule
	if err := db.SelectContext(ctx, &out, `SELECT id, name, same_region, max_units, max_value_cents, enabled, updated_at, updated_by
		FROM transfer_rules ORDER BY id`); err != nil {
		return nil, fmt.Errorf("store: transfer rules: %w", err)
	}
	return out, nil
}

// SaveTransferRule creates a rule (r.ID == 0) or changes one, audited with
// its before and after. Errors: EINVALID (field), ENOTFOUND.
func (db *DB) SaveTransferRule(ctx context.Context, actor domain.Actor, r domain.ApprovalRule) (domain.ApprovalRule, error) {
	r.Name = strings.TrimSpace(r.Name)
	if err := r.Validate(); err != nil {
		return r, err
	}
	err := db.InTx(ctx, func(tx *Tx) error {
		if r.ID == 0 {
			if err := tx.GetContext(ctx, &r.ID, `INSERT INTO transfer_rules (name, same_region, max_units, max_value_cents, enabled, updated_by)
				VALUES ($1, $2, $3, $4, $5, $6) RETURNING id`, r.Name, r.SameRegion, r.MaxUnits, r.MaxValueCents, r.Enabled, actor.String()); err != nil {
				return fmt.Errorf("store: create transfer rule: %w", err)
			}
			return insertAudit(ctx, tx, actor, "transfer_rule.create", "transfer_rule", fmt.Sprint(r.ID), nil, r)
		}
		var before domain.ApprovalRule
		if err := tx.GetContext(ctx, &before, `SELECT id, name, same_region, max_units, max_value_cents, enabled, updated_at, updated_by
			FROM transfer_rules WHERE id = $1 FOR UPDATE`, r.ID); err != nil {
			return notFound(err, "There is no approval rule %d.", r.ID)
		}
		if _, err := tx.ExecContext(ctx, `UPDATE transfer_rules SET name = $2, same_region = $3, max_units = $4, max_value_cents = $5, enabled = $6,
			updated_by = $7, updated_at = now() WHERE id = $1`, r.ID, r.Name, r.SameRegion, r.MaxUnits, r.MaxValueCents, r.Enabled, actor.String()); err != nil {
			return fmt.Errorf("store: update transfer rule: %w", err)
		}
		return insertAudit(ctx, tx, actor, "transfer_rule.update", "transfer_rule", fmt.Sprint(r.ID), before, r)
	})
	return r, err
}
