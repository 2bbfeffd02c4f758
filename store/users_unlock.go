package store

import (
	"context"
	"fmt"
	"time"

	"stockline/domain"
)

// lastUnlock is the time an admin last unlocked the account whose email is
// $1: the newest user.unlock audit row of that user.
const lastUnlock = `SELECT max(l.at) FROM audit_log l JOIN users u ON l.entity = 'user' AND l.entity_id = u.id::text
	WHERE lower(u.email) = lower($1) AND l.action = 'user.unlock'`

// UnlockUser lifts the lock that failed sign-ins put on a user's account:
// failures before now no longer count against the account (the per-address
// throttle is untouched). It writes a user.unlock audit row saying how
// many failures it cleared, and returns that number.
func (db *DB) UnlockUser(ctx context.Context, actor domain.Actor, id int64, since time.Time) (int, error) {
	var cleared int
	err := db.InTx(ctx, func(tx *Tx) error {
		u, err := userByID(ctx, tx, id)
		if err != nil {
			return err
		}
		if err := tx.GetContext(ctx, &cleared, `SELECT count(*) FROM login_attempts WHERE lower(email) = lower($1) AND NOT ok AND at > $2
			AND at > COALESCE((`+lastUnlock+`), '-infinity')`, u.Email, since); err != nil {
			return fmt.Errorf("store: unlock user: %w", err)
		}
		return insertAudit(ctx, tx, actor, "user.unlock", "user", fmt.Sprint(id), nil, map[string]any{"failed_sign_ins_cleared": cleared})
	})
	return cleared, err
}
