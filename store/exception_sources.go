package store

import (
	"context"
	"fmt"
	"strings"
	"time"

	"stockline/domain"
)

// RaiseOverduePickups raises a pickup_overdue exception, once per order
// (a unique index makes it so across instances and restarts), for up to
// limit open pickup orders whose pickup window ended before now. It
// returns how many it raised.
func (db *DB) RaiseOverduePickups(ctx context.Context, now time.Time, limit int) (int, error) {
	var due []struct {
		ID       int64     `db:"id"`
		Number   string    `db:"number"`
		Location int64     `db:"pickup_location_id"`
		Code     string    `db:"code"`
		Status   string    `db:"status"`
		Until    time.Time `db:"pickup_until"`
	}
	err := db.SelectContext(ctx, &due, `SELECT o.id, o.number, o.pickup_location_id, l.code, o.status, o.pickup_until
		FROM orders o JOIN locations l ON l.id = o.pickup_location_id
		WHERE o.fulfilment = 'pickup' AND o.status NOT IN ('completed', 'cancelled') AND o.pickup_until < $1
		  AND NOT EXISTS (SELECT 1 FROM exceptions x WHERE x.kind = 'pickup_overdue' AND x.ref = o.number)
		ORDER BY o.pickup_until LIMIT $2`, now, limit)
	if err != nil {
		return 0, fmt.Errorf("store: overdue pickups: %w", err)
	}
	actor := domain.SystemActor("pickup-sweeper")
	n := 0
	for _, o := range due {
		err := db.InTx(ctx, func(tx *Tx) error {
			what := "is ready and was not collected"
			if o.Status != domain.OrderReadyForPickup {
				what = "is still not ready"
			}
			id, err := openExceptionID(ctx, tx, NewException{Kind: domain.KindPickupOverdue, LocationID: o.Location, Ref: o.Number, Once: true,
				Title:  fmt.Sprintf("Order %s: pickup window at %s ended", o.Number, o.Code),
				Detail: fmt.Sprintf("The pickup window of order %s ended %s; the order %s. Call the customer, then cancel the open units (they return to stock and the customer is told) or mark it handled.", o.Number, o.Until.UTC().Format(time.RFC3339), what)})
			if err != nil || id == 0 {
				return err
			}
			n++
			return insertOrderEvents(ctx, tx, o.ID, actor, "stockline", []orderEvent{{"exception", "The pickup window ended; pickup overdue raised.", exceptionLink(id)}}, now)
		})
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// RecordCheckResult keeps one check_failed exception open while the
// scheduled consistency check finds violations (its detail lists the
// first of them) and resolves it when the check comes back clean.
func (db *DB) RecordCheckResult(ctx context.Context, rep CheckReport) error {
	return db.InTx(ctx, func(tx *Tx) error {
		if rep.OK() {
			var ids []int64
			if err := tx.SelectContext(ctx, &ids, `SELECT id FROM exceptions WHERE kind = 'check_failed' AND status IN ('open', 'in_progress') FOR UPDATE`); err != nil {
				return fmt.Errorf("store: check exceptions: %w", err)
			}
			code, status := domain.ActionResolution(domain.ActRecheck)
			for _, id := range ids {
				if err := closeExceptionTx(ctx, tx, domain.SystemActor("check"), id, status, code, "The scheduled check came back clean.", ""); err != nil {
					return err
				}
			}
			return nil
		}
		var lines []string
		for _, group := range [][]string{rep.LedgerMismatch, rep.Unexplained, rep.ReservationLeak, rep.OrderMismatch} {
			lines = append(lines, group...)
		}
		total := len(lines)
		if len(lines) > 10 {
			lines = lines[:10]
		}
		_, err := openExceptionID(ctx, tx, NewException{Kind: domain.KindCheckFailed, Ref: "check", Dedupe: true,
			Title: fmt.Sprintf("Consistency check found %d violation(s)", total),
			Detail: fmt.Sprintf("%d ledger mismatch(es), %d unexplained invariant violation(s), %d reservation leak(s), %d order/reservation mismatch(es). First: %s",
				len(rep.LedgerMismatch), len(rep.Unexplained), len(rep.ReservationLeak), len(rep.OrderMismatch), strings.Join(lines, "; "))})
		return err
	})
}
