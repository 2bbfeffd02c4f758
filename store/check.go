package store

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/lib/pq"
)

// CheckReport is the result of the consistency check.
type CheckReport struct {
	Positions       int      // positions examined
	LedgerMismatch  []string // position bucket differs from its ledger sum
	Unexplained     []string // invariant broken with no open exception explaining it
	Explained       int      // invariant broken but an open exception records it
	ReservationLeak []string // reserved differs from the sum of active (held, committed) reservation lines
	OrderMismatch   []string // orders and their reservations disagree: orphaned, doubled or missing holds (orders_check.go)
}

// OK reports whether the check found nothing wrong.
func (r CheckReport) OK() bool {
	return len(r.LedgerMismatch) == 0 && len(r.Unexplained) == 0 && len(r.ReservationLeak) == 0 && len(r.OrderMismatch) == 0
}

// Check verifies the inventory invariants across the whole database:
// every position bucket equals the sum of its ledger deltas; reserved ≤
// on_hand; and no bucket is negative, unless an open negative_stock
// exception for that position explains it. All its queries read one
// snapshot, so work going on meanwhile cannot look like a leak.
func (db *DB) Check(ctx context.Context) (CheckReport, error) {
	return db.check(ctx, time.Time{})
}

// CheckChangedSince is Check limited to the positions changed at or after
// since (updated, or given ledger rows): after a burst of work on a large
// database it checks that work in seconds instead of every position.
func (db *DB) CheckChangedSince(ctx context.Context, since time.Time) (CheckReport, error) {
	return db.check(ctx, since)
}

func (db *DB) check(ctx context.Context, since time.Time) (CheckReport, error) {
	var r CheckReport
	tx, err := db.BeginTxx(ctx, &sql.TxOptions{Isolation: sql.LevelRepeatableRead, ReadOnly: true})
	if err != nil {
		return r, fmt.Errorf("store: check: %w", err)
	}
	defer tx.Rollback()
	// Room to aggregate the ledger in memory rather than spilling to disk.
	if _, err := tx.ExecContext(ctx, `SET LOCAL work_mem = '256MB'`); err != nil {
		return r, fmt.Errorf("store: check: %w", err)
	}
	// scope filters the rows of a table (by its alias) to the positions
	// checked: every one, or those changed since.
	scope := func(alias string) string { return "TRUE" }
	var args []any
	if !since.IsZero() {
		var locs, prods []int64
		var rows []struct {
			Loc  int64 `db:"location_id"`
			Prod int64 `db:"product_id"`
		}
		if err := tx.SelectContext(ctx, &rows, `SELECT location_id, product_id FROM positions WHERE updated_at >= $1
			UNION SELECT location_id, product_id FROM ledger WHERE recorded_at >= $1`, since); err != nil {
			return r, fmt.Errorf("store: check scope: %w", err)
		}
		for _, x := range rows {
			locs, prods = append(locs, x.Loc), append(prods, x.Prod)
		}
		args = []any{pq.Array(locs), pq.Array(prods)}
		scope = func(alias string) string {
			return "(" + alias + ".location_id, " + alias + ".product_id) IN (SELECT * FROM unnest($1::bigint[], $2::bigint[]))"
		}
	}
	if err := tx.GetContext(ctx, &r.Positions, `SELECT count(*) FROM positions p WHERE `+scope("p"), args...); err != nil {
		return r, fmt.Errorf("store: check: %w", err)
	}
	if r.LedgerMismatch, err = ledgerMismatches(ctx, tx, scope, args); err != nil {
		return r, err
	}
	var bad []struct {
		Location  string `db:"location"`
		SKU       string `db:"sku"`
		OnHand    int    `db:"on_hand"`
		Reserved  int    `db:"reserved"`
		Explained bool   `db:"explained"`
	}
	err = tx.SelectContext(ctx, &bad, `
		WITH out_of_bounds AS MATERIALIZED ( -- usually empty: name the rows only after finding them
			SELECT * FROM positions p
			WHERE (p.on_hand < 0 OR p.reserved > p.on_hand OR p.reserved < 0 OR p.damaged < 0 OR p.quality_hold < 0
				OR p.transfer_out < 0 OR p.in_transit_in < 0) AND `+scope("p")+`
		)
		SELECT l.code AS location, pr.sku, p.on_hand, p.reserved,
			EXISTS (SELECT 1 FROM exceptions e WHERE e.kind = 'negative_stock' AND e.status IN ('open', 'in_progress')
				AND e.location_id = p.location_id AND e.product_id = p.product_id) AS explained
		FROM out_of_bounds p JOIN locations l ON l.id = p.location_id JOIN products pr ON pr.id = p.product_id
		ORDER BY l.code, pr.sku LIMIT 1000`, args...)
	if err != nil {
		return r, fmt.Errorf("store: check invariants: %w", err)
	}
	for _, b := range bad {
		if b.Explained {
			r.Explained++
			continue
		}
		r.Unexplained = append(r.Unexplained, fmt.Sprintf("%s@%s: on_hand %d, reserved %d", b.SKU, b.Location, b.OnHand, b.Reserved))
	}
	if r.ReservationLeak, err = reservationLeaks(ctx, tx, scope, args); err != nil {
		return r, err
	}
	if r.OrderMismatch, err = orderReservationMismatches(ctx, tx); err != nil {
		return r, err
	}
	return r, nil
}

// ledgerMismatches names the positions (within scope) whose buckets differ
// from the sum of their ledger rows, bucket by bucket.
func ledgerMismatches(ctx context.Context, tx *Tx, scope func(string) string, args []any) ([]string, error) {
	var mism []struct {
		Location string `db:"location"`
		SKU      string `db:"sku"`
		Bucket   string `db:"bucket"`
		Position int64  `db:"position"`
		Ledger   int64  `db:"ledger"`
	}
	err := tx.SelectContext(ctx, &mism, `
		WITH sums AS (
			SELECT location_id, product_id,
				sum(delta) FILTER (WHERE bucket = 'on_hand') AS on_hand,
				sum(delta) FILTER (WHERE bucket = 'reserved') AS reserved,
				sum(delta) FILTER (WHERE bucket = 'damaged') AS damaged,
				sum(delta) FILTER (WHERE bucket = 'quality_hold') AS quality_hold,
				sum(delta) FILTER (WHERE bucket = 'transfer_out') AS transfer_out,
				sum(delta) FILTER (WHERE bucket = 'in_transit_in') AS in_transit_in
			FROM ledger g WHERE `+scope("g")+` GROUP BY location_id, product_id
		), bad AS MATERIALIZED (
			-- Compare whole rows first and expand only the few that differ:
			-- at millions of positions this halves the check's time.
			SELECT COALESCE(p.location_id, s.location_id) AS location_id, COALESCE(p.product_id, s.product_id) AS product_id,
				p.on_hand AS p_on_hand, p.reserved AS p_reserved, p.damaged AS p_damaged, p.quality_hold AS p_quality_hold,
				p.transfer_out AS p_transfer_out, p.in_transit_in AS p_in_transit_in,
				s.on_hand AS s_on_hand, s.reserved AS s_reserved, s.damaged AS s_damaged, s.quality_hold AS s_quality_hold,
				s.transfer_out AS s_transfer_out, s.in_transit_in AS s_in_transit_in
			FROM (SELECT * FROM positions p WHERE `+scope("p")+`) p FULL JOIN sums s ON s.location_id = p.location_id AND s.product_id = p.product_id
			WHERE (COALESCE(p.on_hand, 0), COALESCE(p.reserved, 0), COALESCE(p.damaged, 0), COALESCE(p.quality_hold, 0),
					COALESCE(p.transfer_out, 0), COALESCE(p.in_transit_in, 0))
				IS DISTINCT FROM (COALESCE(s.on_hand, 0), COALESCE(s.reserved, 0), COALESCE(s.damaged, 0), COALESCE(s.quality_hold, 0),
					COALESCE(s.transfer_out, 0), COALESCE(s.in_transit_in, 0))
		), cmp AS (
			SELECT x.location_id, x.product_id, b.bucket, b.pos, b.led
			FROM bad x CROSS JOIN LATERAL (VALUES
				('on_hand', COALESCE(x.p_on_hand, 0), COALESCE(x.s_on_hand, 0)),
				('reserved', COALESCE(x.p_reserved, 0), COALESCE(x.s_reserved, 0)),
				('damaged', COALESCE(x.p_damaged, 0), COALESCE(x.s_damaged, 0)),
				('quality_hold', COALESCE(x.p_quality_hold, 0), COALESCE(x.s_quality_hold, 0)),
				('transfer_out', COALESCE(x.p_transfer_out, 0), COALESCE(x.s_transfer_out, 0)),
				('in_transit_in', COALESCE(x.p_in_transit_in, 0), COALESCE(x.s_in_transit_in, 0))
			) AS b(bucket, pos, led)
		)
		SELECT l.code AS location, pr.sku, c.bucket, c.pos AS position, c.led AS ledger
		FROM cmp c JOIN locations l ON l.id = c.location_id JOIN products pr ON pr.id = c.product_id
		WHERE c.pos <> c.led ORDER BY l.code, pr.sku, c.bucket LIMIT 1000`, args...)
	if err != nil {
		return nil, fmt.Errorf("store: check ledger: %w", err)
	}
	var out []string
	for _, m := range mism {
		out = append(out, fmt.Sprintf("%s@%s %s: position %d, ledger sum %d", m.SKU, m.Location, m.Bucket, m.Position, m.Ledger))
	}
	return out, nil
}
