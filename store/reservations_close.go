package store

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/lib/pq"

	"stockline/domain"
)

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
	if _, err := lockStock(ctx, tx, keys, false); err != nil {
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
	return rs, moveStock(ctx, tx, nil, to, moves, LedgerMeta{Source: sourceOf(actor), Actor: actor, Note: reason, OccurredAt: now}, nil)
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
