package store

import (
	"context"
	"encoding/json"
	"fmt"

	"stockline/domain"
)

// insertAudit writes an audit row inside tx. before and after are marshalled
// to JSON; pass nil where there is no state.
func insertAudit(ctx context.Context, tx *Tx, actor domain.Actor, action, entity, entityID string, before, after any) error {
	b, err := jsonOrNull(before)
	if err != nil {
		return err
	}
	a, err := jsonOrNull(after)
	if err != nil {
		return err
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO audit_log (actor, action, entity, entity_id, before, after, request_id)
		VALUES ($1, $2, $3, $4, $5, $6, $7)`, actor.String(), action, entity, entityID, b, a, actor.RequestID)
	if err != nil {
		return fmt.Errorf("store: audit: %w", err)
	}
	return nil
}

// insertOutbox writes a domain event inside tx.
func insertOutbox(ctx context.Context, tx *Tx, topic string, payload any) error {
	p, err := json.Marshal(payload)
	if err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO outbox (topic, payload) VALUES ($1, $2)`, topic, p); err != nil {
		return fmt.Errorf("store: outbox: %w", err)
	}
	return nil
}

func jsonOrNull(v any) (any, error) {
	if v == nil {
		return nil, nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return b, nil
}

// AuditFilter narrows ListAudit.
type AuditFilter struct {
	Entity   string
	EntityID string
	Limit    int
	BeforeID int64 // page backwards from this id; 0 means newest
}

// ListAudit returns audit rows newest first.
func (db *DB) ListAudit(ctx context.Context, f AuditFilter) ([]domain.Audit, error) {
	where, args := []string{"TRUE"}, []any{}
	if f.Entity != "" {
		args = append(args, f.Entity)
		where = append(where, fmt.Sprintf("entity = $%d", len(args)))
	}
	if f.EntityID != "" {
		args = append(args, f.EntityID)
		where = append(where, fmt.Sprintf("entity_id = $%d", len(args)))
	}
	if f.BeforeID > 0 {
		args = append(args, f.BeforeID)
		where = append(where, fmt.Sprintf("id < $%d", len(args)))
	}
	if f.Limit <= 0 || f.Limit > 200 {
		f.Limit = 50
	}
	args = append(args, f.Limit)
	var out []domain.Audit
	q := `SELECT id, at, actor, action, entity, entity_id, before, after, request_id FROM audit_log WHERE ` +
		joinAnd(where) + fmt.Sprintf(` ORDER BY id DESC LIMIT $%d`, len(args))
	if err := db.SelectContext(ctx, &out, q, args...); err != nil {
		return nil, fmt.Errorf("store: list audit: %w", err)
	}
	return out, nil
}

func joinAnd(conds []string) string {
	s := ""
	for i, c := range conds {
		if i > 0 {
			s += " AND "
		}
		s += c
	}
	return s
}
