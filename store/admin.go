package store

import (
	"context"
	"fmt"

	"stockline/domain"
)

// ListUsersPage returns one page of users ordered by email, and how many
// users there are in all.
func (db *DB) ListUsersPage(ctx context.Context, offset, limit int) ([]domain.UserSummary, int, error) {
	if limit <= 0 || limit > 200 {
		limit = 50
	}
	if offset < 0 {
		offset = 0
	}
	var total int
	if err := db.GetContext(ctx, &total, `SELECT count(*) FROM users`); err != nil {
		return nil, 0, fmt.Errorf("store: count users: %w", err)
	}
	var rows []struct {
		userRow
		Sessions int `db:"sessions"`
	}
	err := db.SelectContext(ctx, &rows, `SELECT x.*, (SELECT count(*) FROM sessions s WHERE s.user_id = x.id AND s.expires_at > now()) AS sessions
		FROM (`+userSelect+` ORDER BY u.email OFFSET $1 LIMIT $2) x ORDER BY x.email`, offset, limit)
	if err != nil {
		return nil, 0, fmt.Errorf("store: list users: %w", err)
	}
	out := make([]domain.UserSummary, len(rows))
	for i, r := range rows {
		out[i] = domain.UserSummary{User: r.user(), CreatedAt: r.CreatedAt, ActiveSessions: r.Sessions}
	}
	return out, total, nil
}

// UserSummaryByID returns one user with their creation time and open
// session count, or ENOTFOUND.
func (db *DB) UserSummaryByID(ctx context.Context, id int64) (domain.UserSummary, error) {
	var r struct {
		userRow
		Sessions int `db:"sessions"`
	}
	err := db.GetContext(ctx, &r, `SELECT x.*, (SELECT count(*) FROM sessions s WHERE s.user_id = x.id AND s.expires_at > now()) AS sessions
		FROM (`+userSelect+` WHERE u.id = $1) x`, id)
	if err != nil {
		return domain.UserSummary{}, notFound(err, "User %d does not exist.", id)
	}
	return domain.UserSummary{User: r.user(), CreatedAt: r.CreatedAt, ActiveSessions: r.Sessions}, nil
}

// AuditEntities lists the entity kinds that have audit rows, for the
// audit page's filter.
func (db *DB) AuditEntities(ctx context.Context) ([]string, error) {
	var out []string
	if err := db.SelectContext(ctx, &out, `SELECT DISTINCT entity FROM audit_log ORDER BY entity`); err != nil {
		return nil, fmt.Errorf("store: audit entities: %w", err)
	}
	return out, nil
}

// TokenByID returns one API token's record (no secret), or ENOTFOUND.
func (db *DB) TokenByID(ctx context.Context, id int64) (domain.APIToken, error) {
	t, err := getAs(ctx, db, apiTokenRow.token, `SELECT `+apiTokenCols+` FROM api_tokens WHERE id = $1`, id)
	if err != nil {
		return t, notFound(err, "Token %d does not exist.", id)
	}
	return t, nil
}

// InsertTestProduct adds a product with no stock and no audit row. It
// exists for tests that need a product with a chosen name (for example an
// XSS payload); the application adds products through its connectors.
func (db *DB) InsertTestProduct(ctx context.Context, sku, name, barcode, category string, priceCents int64) (domain.Product, error) {
	var p domain.Product
	err := db.GetContext(ctx, &p, `INSERT INTO products (sku, name, barcode, category, price_cents) VALUES ($1, $2, $3, $4, $5)
		RETURNING `+productColumns, sku, name, barcode, category, priceCents)
	if err != nil {
		return p, fmt.Errorf("store: insert test product: %w", err)
	}
	return p, nil
}
