package store

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/lib/pq"
	"golang.org/x/crypto/bcrypt"

	"stockline/domain"
)

type userRow struct {
	ID        int64          `db:"id"`
	Email     string         `db:"email"`
	Name      string         `db:"name"`
	Role      string         `db:"role"`
	Hash      string         `db:"password_hash"`
	Disabled  bool           `db:"disabled"`
	Locations pq.StringArray `db:"locations"`
	LocIDs    pq.Int64Array  `db:"location_ids"`
	CreatedAt time.Time      `db:"created_at"`
}

func (r userRow) user() *domain.User {
	return &domain.User{ID: r.ID, Email: r.Email, Name: r.Name, Role: domain.Role(r.Role), Disabled: r.Disabled, Locations: r.Locations,
		LocationIDs: r.LocIDs}
}

const userSelect = `SELECT u.id, u.email, u.name, u.role, u.password_hash, u.disabled_at IS NOT NULL AS disabled, u.created_at,
	COALESCE(ARRAY(SELECT l.code FROM user_locations ul JOIN locations l ON l.id = ul.location_id WHERE ul.user_id = u.id ORDER BY l.code), '{}') AS locations,
	COALESCE(ARRAY(SELECT l.id FROM user_locations ul JOIN locations l ON l.id = ul.location_id WHERE ul.user_id = u.id ORDER BY l.code), '{}') AS location_ids
	FROM users u`

// NewUser is what an admin or the CLI supplies to add a person.
type NewUser struct {
	Email     string
	Name      string
	Role      domain.Role
	Locations []string // location codes; required for associates and managers
	Password  string
}

// BcryptCost is the bcrypt work factor for stored passwords.
var BcryptCost = bcrypt.DefaultCost

// Validate checks a new user's fields.
func (n NewUser) Validate() error {
	if !strings.Contains(n.Email, "@") || len(n.Email) > 254 {
		return domain.FieldError("email", "Enter a valid email address.")
	}
	if _, err := domain.ParseRole(string(n.Role)); err != nil {
		return err
	}
	if n.Role.Scoped() && len(n.Locations) == 0 {
		return domain.FieldError("locations", "A %s needs at least one location.", n.Role.Label())
	}
	if len(n.Password) < 10 || len(n.Password) > 72 {
		return domain.FieldError("password", "Passwords are 10 to 72 characters long.")
	}
	return nil
}

// CreateUser adds a user with a bcrypt-hashed password and an audit row.
// Errors: EINVALID, ECONFLICT (email taken), ENOTFOUND (unknown location).
func (db *DB) CreateUser(ctx context.Context, actor domain.Actor, n NewUser) (*domain.User, error) {
	n.Email = strings.ToLower(strings.TrimSpace(n.Email))
	if !n.Role.Scoped() {
		n.Locations = nil // unscoped roles see every location
	}
	if err := n.Validate(); err != nil {
		return nil, err
	}
	hash, err := bcrypt.GenerateFromPassword([]byte(n.Password), BcryptCost)
	if err != nil {
		return nil, fmt.Errorf("store: hash password: %w", err)
	}
	var u *domain.User
	err = db.InTx(ctx, func(tx *Tx) error {
		var id int64
		err := tx.GetContext(ctx, &id, `INSERT INTO users (email, name, role, password_hash) VALUES ($1, $2, $3, $4) RETURNING id`,
			n.Email, n.Name, string(n.Role), string(hash))
		if isUniqueViolation(err) {
			return &domain.Error{Code: domain.ECONFLICT, Field: "email", Message: fmt.Sprintf("A user with email %s already exists.", n.Email)}
		} else if err != nil {
			return fmt.Errorf("store: create user: %w", err)
		}
		if err := setUserLocations(ctx, tx, id, n.Locations); err != nil {
			return err
		}
		if u, err = userByID(ctx, tx, id); err != nil {
			return err
		}
		if err := insertAudit(ctx, tx, actor, "user.create", "user", fmt.Sprint(id), nil, u); err != nil {
			return err
		}
		return insertOutbox(ctx, tx, "user.created", map[string]any{"id": id, "email": u.Email, "role": u.Role})
	})
	return u, err
}

func setUserLocations(ctx context.Context, tx *Tx, userID int64, codes []string) error {
	if _, err := tx.ExecContext(ctx, `DELETE FROM user_locations WHERE user_id = $1`, userID); err != nil {
		return err
	}
	for _, code := range codes {
		res, err := tx.ExecContext(ctx, `INSERT INTO user_locations (user_id, location_id) SELECT $1, id FROM locations WHERE code = $2`, userID, code)
		if err != nil {
			return fmt.Errorf("store: user locations: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return &domain.Error{Code: domain.ENOTFOUND, Field: "locations", Message: fmt.Sprintf("Location %q does not exist.", code)}
		}
	}
	return nil
}

func userByID(ctx context.Context, tx *Tx, id int64) (*domain.User, error) {
	var r userRow
	if err := tx.GetContext(ctx, &r, userSelect+` WHERE u.id = $1`, id); err != nil {
		return nil, notFound(err, "User %d does not exist.", id)
	}
	return r.user(), nil
}

// ListUsers returns every user ordered by email.
func (db *DB) ListUsers(ctx context.Context) ([]*domain.User, error) {
	var rows []userRow
	if err := db.SelectContext(ctx, &rows, userSelect+` ORDER BY u.email`); err != nil {
		return nil, fmt.Errorf("store: list users: %w", err)
	}
	out := make([]*domain.User, len(rows))
	for i, r := range rows {
		out[i] = r.user()
	}
	return out, nil
}

// UserByID returns one user or ENOTFOUND.
func (db *DB) UserByID(ctx context.Context, id int64) (*domain.User, error) {
	var r userRow
	if err := db.GetContext(ctx, &r, userSelect+` WHERE u.id = $1`, id); err != nil {
		return nil, notFound(err, "User %d does not exist.", id)
	}
	return r.user(), nil
}

// UpdateUser changes a user's role, locations and disabled flag, with an
// audit row. Disabling a user deletes their sessions, so it takes effect
// at once. Errors: ENOTFOUND, EINVALID.
func (db *DB) UpdateUser(ctx context.Context, actor domain.Actor, id int64, role domain.Role, locations []string, disabled bool) (*domain.User, error) {
	if _, err := domain.ParseRole(string(role)); err != nil {
		return nil, err
	}
	if role.Scoped() && len(locations) == 0 {
		return nil, domain.FieldError("locations", "A %s needs at least one location.", role.Label())
	}
	if !role.Scoped() {
		locations = nil
	}
	if actor.UserID == id && (disabled || role != domain.RoleAdmin) {
		return nil, domain.FieldError("role", "You cannot demote or disable yourself; ask another admin.")
	}
	var after *domain.User
	err := db.InTx(ctx, func(tx *Tx) error {
		before, err := userByID(ctx, tx, id)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE users SET role = $2,
				disabled_at = CASE WHEN $3 THEN COALESCE(disabled_at, now()) ELSE NULL END WHERE id = $1`, id, string(role), disabled); err != nil {
			return fmt.Errorf("store: update user: %w", err)
		}
		if err := setUserLocations(ctx, tx, id, locations); err != nil {
			return err
		}
		if disabled || role != before.Role {
			if _, err := tx.ExecContext(ctx, `DELETE FROM sessions WHERE user_id = $1`, id); err != nil {
				return err
			}
		}
		if after, err = userByID(ctx, tx, id); err != nil {
			return err
		}
		if err := insertAudit(ctx, tx, actor, "user.update", "user", fmt.Sprint(id), before, after); err != nil {
			return err
		}
		return insertOutbox(ctx, tx, "user.updated", map[string]any{"id": id, "role": after.Role, "disabled": after.Disabled})
	})
	return after, err
}

// Authenticate checks an email and password. It returns EUNAUTHORIZED for
// an unknown email, a wrong password or a disabled user alike, and spends
// the same bcrypt time on each so the answer leaks nothing.
func (db *DB) Authenticate(ctx context.Context, email, password string) (*domain.User, error) {
	var r userRow
	err := db.GetContext(ctx, &r, userSelect+` WHERE lower(u.email) = lower($1)`, strings.TrimSpace(email))
	if err != nil && err != sql.ErrNoRows {
		return nil, fmt.Errorf("store: authenticate: %w", err)
	}
	hash := r.Hash
	if hash == "" {
		hash = dummyHash
	}
	if bcrypt.CompareHashAndPassword([]byte(hash), []byte(password)) != nil || r.ID == 0 || r.Disabled {
		return nil, domain.Errorf(domain.EUNAUTHORIZED, "That email and password do not match an active account.")
	}
	return r.user(), nil
}

var dummyHash = func() string {
	h, _ := bcrypt.GenerateFromPassword([]byte("stockline-timing-equaliser"), bcrypt.DefaultCost)
	return string(h)
}()

// RecordLogin notes a sign-in attempt for throttling.
func (db *DB) RecordLogin(ctx context.Context, email, ip string, ok bool) error {
	_, err := db.ExecContext(ctx, `INSERT INTO login_attempts (email, ip, ok) VALUES (lower($1), $2, $3)`, email, ip, ok)
	return err
}

// FailedLogins counts failed attempts since the given time for the email
// (only those after an admin last unlocked the account, see UnlockUser)
// and for the client IP.
func (db *DB) FailedLogins(ctx context.Context, email, ip string, since time.Time) (byEmail, byIP int, err error) {
	err = db.QueryRowxContext(ctx, `SELECT
		(SELECT count(*) FROM login_attempts WHERE lower(email) = lower($1) AND NOT ok AND at > $3
			AND at > COALESCE((`+lastUnlock+`), '-infinity')),
		(SELECT count(*) FROM login_attempts WHERE ip = $2 AND NOT ok AND at > $3)`, email, ip, since).Scan(&byEmail, &byIP)
	return byEmail, byIP, err
}

func hashToken(raw string) []byte {
	h := sha256.Sum256([]byte(raw))
	return h[:]
}

// CreateSession stores the server-side record of a new session whose
// cookie carries rawID, valid until expires.
func (db *DB) CreateSession(ctx context.Context, rawID string, userID int64, expires time.Time, ip, ua string) error {
	_, err := db.ExecContext(ctx, `INSERT INTO sessions (id_hash, user_id, expires_at, ip, user_agent) VALUES ($1, $2, $3, $4, $5)`,
		hashToken(rawID), userID, expires, ip, ua)
	if err != nil {
		return fmt.Errorf("store: create session: %w", err)
	}
	return nil
}

// SessionUser returns the active user behind a session id, recording its
// use at most once a minute (touchSession). It returns EUNAUTHORIZED when
// the session is unknown, past its absolute expiry, idle longer than idle,
// or its user is disabled.
func (db *DB) SessionUser(ctx context.Context, rawID string, idle time.Duration) (*domain.User, error) {
	hash := hashToken(rawID)
	var r struct {
		userRow
		LastSeen time.Time `db:"last_seen_at"`
	}
	// Every signed-in page asks this first: prepared once per connection,
	// it costs one round trip instead of two.
	err := db.prepared().getDB(ctx, &r, `SELECT s.last_seen_at, x.* FROM sessions s
		JOIN LATERAL (`+userSelect+` WHERE u.id = s.user_id) x ON TRUE
		WHERE s.id_hash = $1 AND s.expires_at > now() AND s.last_seen_at > now() - $2 * interval '1 second'`,
		hash, idle.Seconds())
	if err == sql.ErrNoRows {
		return nil, domain.Errorf(domain.EUNAUTHORIZED, "Your session has ended. Please sign in again.")
	} else if err != nil {
		return nil, fmt.Errorf("store: session: %w", err)
	}
	if r.Disabled {
		return nil, domain.Errorf(domain.EUNAUTHORIZED, "This account is disabled.")
	}
	if time.Since(r.LastSeen) > time.Minute {
		db.touchSession(hash)
	}
	return r.user(), nil
}

// touchSession moves a session's last-seen time (what the idle timeout
// counts from) to now, in the background, as touchToken does for a token:
// the page that found it more than a minute old, and the page's concurrent
// htmx requests, do not wait on the write or on each other's, and the
// condition makes every repeat after the first write nothing. The idle
// timeout is minutes long (30 by default), so the write landing a moment
// after the request changes nothing it decides.
func (db *DB) touchSession(hash []byte) {
	db.execDetached(`UPDATE sessions SET last_seen_at = now()
		WHERE id_hash = $1 AND last_seen_at < now() - interval '1 minute'`, hash)
}

// DeleteSession ends a session at once.
func (db *DB) DeleteSession(ctx context.Context, rawID string) error {
	_, err := db.ExecContext(ctx, `DELETE FROM sessions WHERE id_hash = $1`, hashToken(rawID))
	return err
}

// apiTokenRow is an api_tokens row as scanned (never the hash).
type apiTokenRow struct {
	domain.APIToken
	Scopes     pq.StringArray `db:"scopes"`
	LastUsedAt sql.NullTime   `db:"last_used_at"`
	RevokedAt  sql.NullTime   `db:"revoked_at"`
}

func (r apiTokenRow) token() domain.APIToken {
	t := r.APIToken
	t.Scopes, t.LastUsedAt, t.RevokedAt = []string(r.Scopes), r.LastUsedAt.Time, r.RevokedAt.Time
	return t
}

const apiTokenCols = `id, name, prefix, scopes, created_at, last_used_at, revoked_at`

// CreateToken stores a hashed API token with scopes. raw is the secret the
// client will send; only its hash and first characters are kept.
func (db *DB) CreateToken(ctx context.Context, actor domain.Actor, name, raw string, scopes []string) (domain.APIToken, error) {
	var t domain.APIToken
	if strings.TrimSpace(name) == "" {
		return t, domain.FieldError("name", "Give the token a name.")
	}
	if len(scopes) == 0 {
		return t, domain.FieldError("scopes", "Give the token at least one scope.")
	}
	for _, s := range scopes {
		if !slices.Contains(domain.Scopes, s) {
			return t, domain.FieldError("scopes", "Unknown scope %q; use availability, inventory, reservations, orders or admin.", s)
		}
	}
	err := db.InTx(ctx, func(tx *Tx) error {
		var err error
		t, err = getAs(ctx, tx, apiTokenRow.token, `INSERT INTO api_tokens (name, token_hash, prefix, scopes) VALUES ($1, $2, $3, $4)
			RETURNING `+apiTokenCols, name, hashToken(raw), raw[:min(len(raw), 8)], pq.Array(scopes))
		if err != nil {
			return fmt.Errorf("store: create token: %w", err)
		}
		if err := insertAudit(ctx, tx, actor, "token.create", "api_token", fmt.Sprint(t.ID), nil, map[string]any{"name": name, "scopes": scopes, "prefix": t.Prefix}); err != nil {
			return err
		}
		return insertOutbox(ctx, tx, "token.created", map[string]any{"id": t.ID, "name": name, "scopes": scopes})
	})
	return t, err
}

// ListTokens returns every token, newest first, without secrets.
func (db *DB) ListTokens(ctx context.Context) ([]domain.APIToken, error) {
	out, err := selectAs(ctx, db, apiTokenRow.token, `SELECT `+apiTokenCols+` FROM api_tokens ORDER BY id DESC`)
	if err != nil {
		return nil, fmt.Errorf("store: tokens: %w", err)
	}
	return out, nil
}

// RevokeToken revokes a token with an audit row.
func (db *DB) RevokeToken(ctx context.Context, actor domain.Actor, id int64) error {
	err := db.InTx(ctx, func(tx *Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE api_tokens SET revoked_at = now() WHERE id = $1 AND revoked_at IS NULL`, id)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return domain.Errorf(domain.ENOTFOUND, "Token %d does not exist or is already revoked.", id)
		}
		if err := insertAudit(ctx, tx, actor, "token.revoke", "api_token", fmt.Sprint(id), nil, map[string]any{"revoked": true}); err != nil {
			return err
		}
		return insertOutbox(ctx, tx, "token.revoked", map[string]any{"id": id})
	})
	// After the commit: a check that read the token before it cannot cache
	// it any more (its generation is behind), and one after it reads the
	// token as revoked.
	db.tokens.forget()
	return err
}
