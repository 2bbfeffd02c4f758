package store

import (
	"context"
	"fmt"
	"time"

	"github.com/lib/pq"

	"stockline/domain"
)

type policyRow struct {
	Channel              string         `db:"channel"`
	EligibleKinds        pq.StringArray `db:"eligible_kinds"`
	RequirePickup        bool           `db:"require_pickup"`
	RequireShipFromStore bool           `db:"require_ship_from_store"`
	ReserveAt            string         `db:"reserve_at"`
	HoldTTLSeconds       int            `db:"hold_ttl_seconds"`
	SafetyStock          int            `db:"safety_stock"`
	AllowSplit           bool           `db:"allow_split"`
	MaxSplit             int            `db:"max_split"`
	PickupWindowSeconds  int            `db:"pickup_window_seconds"`
	PromiseIncoming      bool           `db:"promise_incoming"`
	UpdatedAt            time.Time      `db:"updated_at"`
}

func (r policyRow) policy() domain.Policy {
	p := domain.Policy{
		Channel: domain.Channel(r.Channel), RequirePickup: r.RequirePickup, RequireShipFromStore: r.RequireShipFromStore,
		ReserveAt: r.ReserveAt, HoldTTL: time.Duration(r.HoldTTLSeconds) * time.Second, SafetyStock: r.SafetyStock,
		AllowSplit: r.AllowSplit, MaxSplit: r.MaxSplit, PickupWindow: time.Duration(r.PickupWindowSeconds) * time.Second,
		PromiseIncomingStock: r.PromiseIncoming, UpdatedAt: r.UpdatedAt,
	}
	for _, k := range r.EligibleKinds {
		p.EligibleKinds = append(p.EligibleKinds, domain.LocationKind(k))
	}
	return p
}

const policyColumns = `channel, eligible_kinds, require_pickup, require_ship_from_store, reserve_at, hold_ttl_seconds,
	safety_stock, allow_split, max_split, pickup_window_seconds, promise_incoming, updated_at`

// Policies returns every channel's policy in channel order.
func (db *DB) Policies(ctx context.Context) ([]domain.Policy, error) {
	var rows []policyRow
	if err := db.SelectContext(ctx, &rows, `SELECT `+policyColumns+` FROM channel_policies ORDER BY channel`); err != nil {
		return nil, fmt.Errorf("store: policies: %w", err)
	}
	out := make([]domain.Policy, len(rows))
	for i, r := range rows {
		out[i] = r.policy()
	}
	return out, nil
}

// Policy returns one channel's policy, or ENOTFOUND.
func (db *DB) Policy(ctx context.Context, ch domain.Channel) (domain.Policy, error) {
	var r policyRow
	if err := db.GetContext(ctx, &r, `SELECT `+policyColumns+` FROM channel_policies WHERE channel = $1`, string(ch)); err != nil {
		return domain.Policy{}, notFound(err, "Channel %q has no policy.", ch)
	}
	return r.policy(), nil
}

// SavePolicy validates and writes a channel's policy with an audit row.
// It takes effect at once. Errors: EINVALID.
func (db *DB) SavePolicy(ctx context.Context, actor domain.Actor, p domain.Policy) error {
	if err := p.Validate(); err != nil {
		return err
	}
	kinds := make([]string, len(p.EligibleKinds))
	for i, k := range p.EligibleKinds {
		kinds[i] = string(k)
	}
	defer db.policies.invalidate() // after commit (or failure), so no reader caches the old rules
	defer db.policiesChanged()     // and the other instances' caches (availability_listen.go)
	return db.InTx(ctx, func(tx *Tx) error {
		var before policyRow
		_ = tx.GetContext(ctx, &before, `SELECT `+policyColumns+` FROM channel_policies WHERE channel = $1 FOR UPDATE`, string(p.Channel))
		_, err := tx.ExecContext(ctx, `INSERT INTO channel_policies (channel, eligible_kinds, require_pickup, require_ship_from_store,
				reserve_at, hold_ttl_seconds, safety_stock, allow_split, max_split, pickup_window_seconds, promise_incoming, updated_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, now())
			ON CONFLICT (channel) DO UPDATE SET eligible_kinds = EXCLUDED.eligible_kinds, require_pickup = EXCLUDED.require_pickup,
				require_ship_from_store = EXCLUDED.require_ship_from_store, reserve_at = EXCLUDED.reserve_at,
				hold_ttl_seconds = EXCLUDED.hold_ttl_seconds, safety_stock = EXCLUDED.safety_stock, allow_split = EXCLUDED.allow_split,
				max_split = EXCLUDED.max_split, pickup_window_seconds = EXCLUDED.pickup_window_seconds,
				promise_incoming = EXCLUDED.promise_incoming, updated_at = now()`,
			string(p.Channel), pq.Array(kinds), p.RequirePickup, p.RequireShipFromStore, p.ReserveAt,
			int(p.HoldTTL/time.Second), p.SafetyStock, p.AllowSplit, p.MaxSplit, int(p.PickupWindow/time.Second), p.PromiseIncomingStock)
		if err != nil {
			return fmt.Errorf("store: save policy: %w", err)
		}
		var after policyRow
		if err := tx.GetContext(ctx, &after, `SELECT `+policyColumns+` FROM channel_policies WHERE channel = $1`, string(p.Channel)); err != nil {
			return err
		}
		var b any
		if before.Channel != "" {
			b = before
		}
		if err := insertAudit(ctx, tx, actor, "policy.save", "channel_policy", string(p.Channel), b, after); err != nil {
			return err
		}
		return insertOutbox(ctx, tx, "policy.saved", map[string]any{"channel": p.Channel})
	})
}
