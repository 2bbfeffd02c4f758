package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/lib/pq"

	"stockline/domain"
)

// Connector is the domain's; the name stays here for the feed code.
type Connector = domain.Connector

// connectorRow is a connectors row as scanned.
type connectorRow struct {
	domain.Connector
	LastAttemptAt sql.NullTime `db:"last_attempt_at"`
	LastSuccessAt sql.NullTime `db:"last_success_at"`
	LastSourceAt  sql.NullTime `db:"last_source_at"`
	NextAttemptAt sql.NullTime `db:"next_attempt_at"`
	LastErrorAt   sql.NullTime `db:"last_error_at"`
}

func (r connectorRow) connector() domain.Connector {
	c := r.Connector
	c.LastAttemptAt, c.LastSuccessAt, c.LastSourceAt, c.NextAttemptAt, c.LastErrorAt =
		r.LastAttemptAt.Time, r.LastSuccessAt.Time, r.LastSourceAt.Time, r.NextAttemptAt.Time, r.LastErrorAt.Time
	return c
}

const connectorCols = `id, name, kind, adapter, base_url, credential_ref, credential_sealed, credential_hint, settings,
	poll_interval_seconds, stale_after_seconds, enabled, simulated, last_attempt_at, last_success_at, last_source_at,
	next_attempt_at, error_count, errors_total, last_error, last_error_at, events_total, created_at, updated_at`

// ListConnectors returns every connector by name.
func (db *DB) ListConnectors(ctx context.Context) ([]Connector, error) {
	out, err := selectAs(ctx, db, connectorRow.connector, `SELECT `+connectorCols+` FROM connectors ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("store: list connectors: %w", err)
	}
	return out, nil
}

// ConnectorByID returns one connector, or ENOTFOUND.
func (db *DB) ConnectorByID(ctx context.Context, id int64) (Connector, error) {
	c, err := getAs(ctx, db, connectorRow.connector, `SELECT `+connectorCols+` FROM connectors WHERE id = $1`, id)
	return c, notFound(err, "Connector %d does not exist.", id)
}

// ConnectorByName returns one connector, or ENOTFOUND.
func (db *DB) ConnectorByName(ctx context.Context, name string) (Connector, error) {
	c, err := getAs(ctx, db, connectorRow.connector, `SELECT `+connectorCols+` FROM connectors WHERE name = $1`, name)
	return c, notFound(err, "Connector %q does not exist.", name)
}

// ConnectorByAdapter returns the enabled-first, oldest connector using
// adapter, or ENOTFOUND. Webhooks use it to find who they are for.
func (db *DB) ConnectorByAdapter(ctx context.Context, adapter string) (Connector, error) {
	c, err := getAs(ctx, db, connectorRow.connector, `SELECT `+connectorCols+` FROM connectors WHERE adapter = $1 ORDER BY enabled DESC, id LIMIT 1`, adapter)
	return c, notFound(err, "No %s connector is set up.", adapter)
}

// NewConnector is a connector to register. Credentials arrive already
// sealed (or as an env: reference); the store never sees them in clear.
type NewConnector struct {
	Name             string
	Kind             string
	Adapter          string
	BaseURL          string
	CredentialRef    string
	CredentialSealed []byte
	CredentialHint   string
	Settings         json.RawMessage
	PollSeconds      int
	StaleSeconds     int
	Enabled          bool
	Simulated        bool
}

func (n *NewConnector) validate() error {
	n.Name = strings.TrimSpace(n.Name)
	if n.Name == "" || len(n.Name) > 80 {
		return domain.FieldError("name", "Give the connector a name of 1 to 80 characters.")
	}
	if n.PollSeconds == 0 {
		n.PollSeconds = 30
	}
	if n.StaleSeconds == 0 {
		n.StaleSeconds = 900
	}
	if len(n.Settings) == 0 {
		n.Settings = json.RawMessage(`{}`)
	}
	return validateConnectorFields(n.Kind, n.Adapter, n.PollSeconds, n.StaleSeconds)
}

func validateConnectorFields(kind, adapter string, poll, stale int) error {
	switch {
	case !feedContains(domain.ConnectorKinds, kind):
		return domain.FieldError("kind", "Kind must be pos, ecommerce, warehouse or counts.")
	case adapter != "square" && adapter != "shopify" && adapter != "csv":
		return domain.FieldError("adapter", "Adapter must be square, shopify or csv.")
	case poll < 1 || poll > 86400:
		return domain.FieldError("poll_interval", "Poll interval must be between 1 second and 1 day.")
	case stale < 1 || stale > 604800:
		return domain.FieldError("stale_after", "Stale threshold must be between 1 second and 7 days.")
	}
	return nil
}

func feedContains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// CreateConnector registers a connector. Errors: EINVALID, ECONFLICT (name taken).
func (db *DB) CreateConnector(ctx context.Context, actor domain.Actor, n NewConnector) (Connector, error) {
	if err := n.validate(); err != nil {
		return Connector{}, err
	}
	var c Connector
	err := db.InTx(ctx, func(tx *Tx) error {
		var err error
		c, err = getAs(ctx, tx, connectorRow.connector, `INSERT INTO connectors (name, kind, adapter, base_url, credential_ref, credential_sealed, credential_hint,
				settings, poll_interval_seconds, stale_after_seconds, enabled, simulated)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) RETURNING `+connectorCols,
			n.Name, n.Kind, n.Adapter, n.BaseURL, n.CredentialRef, n.CredentialSealed, n.CredentialHint, string(n.Settings),
			n.PollSeconds, n.StaleSeconds, n.Enabled, n.Simulated)
		if isUniqueViolation(err) {
			return domain.FieldError("name", "A connector named %q already exists.", n.Name)
		} else if err != nil {
			return fmt.Errorf("store: create connector: %w", err)
		}
		return insertAudit(ctx, tx, actor, "connector.create", "connector", c.Name, nil, connectorAuditView(c))
	})
	return c, err
}

// connectorAuditView is what audit rows record of a connector: never the
// sealed credential.
func connectorAuditView(c Connector) map[string]any {
	return map[string]any{"name": c.Name, "kind": c.Kind, "adapter": c.Adapter, "base_url": c.BaseURL,
		"credential": c.CredentialHint, "poll_interval_seconds": c.PollSeconds, "stale_after_seconds": c.StaleSeconds,
		"enabled": c.Enabled, "settings": c.Settings}
}

// ConnectorEdit is an operator's change to a connector's set-up. A nil
// credential field leaves the stored credential as it is.
type ConnectorEdit struct {
	BaseURL          string
	PollSeconds      int
	StaleSeconds     int
	SetCredential    bool
	CredentialRef    string
	CredentialSealed []byte
	CredentialHint   string
}

// UpdateConnector saves an edit with an audit row. Errors: EINVALID, ENOTFOUND.
func (db *DB) UpdateConnector(ctx context.Context, actor domain.Actor, id int64, e ConnectorEdit) (Connector, error) {
	var c Connector
	err := db.InTx(ctx, func(tx *Tx) error {
		before, err := getAs(ctx, tx, connectorRow.connector, `SELECT `+connectorCols+` FROM connectors WHERE id = $1 FOR UPDATE`, id)
		if err != nil {
			return notFound(err, "Connector %d does not exist.", id)
		}
		if err := validateConnectorFields(before.Kind, before.Adapter, e.PollSeconds, e.StaleSeconds); err != nil {
			return err
		}
		ref, sealed, hint := before.CredentialRef, before.CredentialSealed, before.CredentialHint
		if e.SetCredential {
			ref, sealed, hint = e.CredentialRef, e.CredentialSealed, e.CredentialHint
		}
		c, err = getAs(ctx, tx, connectorRow.connector, `UPDATE connectors SET base_url = $2, poll_interval_seconds = $3, stale_after_seconds = $4,
				credential_ref = $5, credential_sealed = $6, credential_hint = $7, updated_at = now()
			WHERE id = $1 RETURNING `+connectorCols, id, e.BaseURL, e.PollSeconds, e.StaleSeconds, ref, sealed, hint)
		if err != nil {
			return fmt.Errorf("store: update connector: %w", err)
		}
		return insertAudit(ctx, tx, actor, "connector.update", "connector", c.Name, connectorAuditView(before), connectorAuditView(c))
	})
	return c, err
}

// SetConnectorEnabled pauses (false) or resumes (true) a connector. A
// paused connector is not pulled, and webhooks for it wait as pending.
func (db *DB) SetConnectorEnabled(ctx context.Context, actor domain.Actor, id int64, enabled bool) (Connector, error) {
	return db.setConnectorEnabled(ctx, actor, id, enabled, nil)
}

// SetConnectorEnabledForException is SetConnectorEnabled done as a feed
// exception's action (pause or resume): the change and the exception's
// resolution record commit together.
func (db *DB) SetConnectorEnabledForException(ctx context.Context, actor domain.Actor, rec ExceptionRecord, id int64, enabled bool) (Connector, error) {
	return db.setConnectorEnabled(ctx, actor, id, enabled, &rec)
}

func (db *DB) setConnectorEnabled(ctx context.Context, actor domain.Actor, id int64, enabled bool, rec *ExceptionRecord) (Connector, error) {
	var c Connector
	err := db.InTx(ctx, func(tx *Tx) error {
		var err error
		c, err = getAs(ctx, tx, connectorRow.connector, `UPDATE connectors SET enabled = $2, updated_at = now(),
				error_count = CASE WHEN $2 THEN 0 ELSE error_count END, next_attempt_at = NULL
			WHERE id = $1 RETURNING `+connectorCols, id, enabled)
		if err != nil {
			return notFound(err, "Connector %d does not exist.", id)
		}
		action := "connector.pause"
		if enabled {
			action = "connector.resume"
		}
		if !enabled {
			// A paused feed is not stale: an operator chose it.
			if err := resolveFeedStale(ctx, tx, c.Name, "Paused by "+actor.String()); err != nil {
				return err
			}
		}
		if err := insertAudit(ctx, tx, actor, action, "connector", c.Name, map[string]any{"enabled": !enabled}, map[string]any{"enabled": enabled}); err != nil {
			return err
		}
		return recordExceptionActionTx(ctx, tx, actor, rec)
	})
	return c, err
}

// --- Leases ---

// AcquireLease takes or renews the connector's lease for owner until ttl
// from now. It succeeds when nobody holds it, the holder's lease expired,
// or owner already holds it; ok is false when another instance does.
func (db *DB) AcquireLease(ctx context.Context, connectorID int64, owner string, ttl time.Duration) (bool, error) {
	var got string
	err := db.GetContext(ctx, &got, `INSERT INTO connector_leases AS l (connector_id, owner, expires_at)
		VALUES ($1, $2, now() + $3 * interval '1 millisecond')
		ON CONFLICT (connector_id) DO UPDATE SET owner = EXCLUDED.owner, expires_at = EXCLUDED.expires_at,
			acquired_at = CASE WHEN l.owner = EXCLUDED.owner THEN l.acquired_at ELSE now() END
		WHERE l.owner = EXCLUDED.owner OR l.expires_at < now()
		RETURNING owner`, connectorID, owner, ttl.Milliseconds())
	if err == sql.ErrNoRows {
		return false, nil
	} else if err != nil {
		return false, fmt.Errorf("store: acquire lease: %w", err)
	}
	return got == owner, nil
}

// ReleaseLease gives the lease up if owner holds it.
func (db *DB) ReleaseLease(ctx context.Context, connectorID int64, owner string) error {
	_, err := db.ExecContext(ctx, `DELETE FROM connector_leases WHERE connector_id = $1 AND owner = $2`, connectorID, owner)
	if err != nil {
		return fmt.Errorf("store: release lease: %w", err)
	}
	return nil
}

// LeaseHolder returns who holds the connector's unexpired lease, or "".
func (db *DB) LeaseHolder(ctx context.Context, connectorID int64) (string, error) {
	var owners []string
	err := db.SelectContext(ctx, &owners, `SELECT owner FROM connector_leases WHERE connector_id = $1 AND expires_at > now()`, connectorID)
	if err != nil {
		return "", fmt.Errorf("store: lease holder: %w", err)
	}
	if len(owners) == 0 {
		return "", nil
	}
	return owners[0], nil
}

// ErrLeaseLost is returned by Ingest when the caller no longer holds the
// connector's lease; the batch is not applied.
var ErrLeaseLost = domain.Errorf(domain.ECONFLICT, "This instance no longer holds the connector's lease.")

// checkLease fails with ErrLeaseLost unless owner holds an unexpired lease.
// It takes a share lock on the lease row, so the lease cannot change hands
// until the batch commits: a late instance can never apply beside a new one.
func checkLease(ctx context.Context, tx *Tx, connectorID int64, owner string) error {
	var n int
	err := tx.GetContext(ctx, &n, `SELECT count(*) FROM (SELECT 1 FROM connector_leases
		WHERE connector_id = $1 AND owner = $2 AND expires_at > now() FOR SHARE) l`, connectorID, owner)
	if err != nil {
		return fmt.Errorf("store: check lease: %w", err)
	}
	if n == 0 {
		return ErrLeaseLost
	}
	return nil
}

// --- Cursors ---

// Cursor returns the saved cursor of a connector's stream ("" when none).
func (db *DB) Cursor(ctx context.Context, connectorID int64, stream string) (string, error) {
	var v []string
	if err := db.SelectContext(ctx, &v, `SELECT value FROM connector_cursors WHERE connector_id = $1 AND stream = $2`, connectorID, stream); err != nil {
		return "", fmt.Errorf("store: cursor: %w", err)
	}
	if len(v) == 0 {
		return "", nil
	}
	return v[0], nil
}

// SaveCursor persists a stream's cursor. The pull loop calls it only after
// the page's events have committed, so a crash before it re-reads the page
// and dedupe drops what was already applied. When owner is set the save is
// refused (ErrLeaseLost) unless owner still holds the lease.
func (db *DB) SaveCursor(ctx context.Context, connectorID int64, stream, value, owner string) error {
	return db.InTx(ctx, func(tx *Tx) error {
		if owner != "" {
			if err := checkLease(ctx, tx, connectorID, owner); err != nil {
				return err
			}
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO connector_cursors (connector_id, stream, value) VALUES ($1, $2, $3)
			ON CONFLICT (connector_id, stream) DO UPDATE SET value = EXCLUDED.value, updated_at = now()`, connectorID, stream, value)
		if err != nil {
			return fmt.Errorf("store: save cursor: %w", err)
		}
		return nil
	})
}

// --- Mappings ---

// Mapping maps a feed's item or location id to ours.
type Mapping struct {
	Kind       string `db:"kind"` // item or location
	ExternalID string `db:"external_id"`
	Code       string `db:"code"` // our SKU or location code
}

// SetMappings upserts mappings for a connector; Code is our SKU (items) or
// location code (locations). Errors: EINVALID naming the first unknown code.
func (db *DB) SetMappings(ctx context.Context, actor domain.Actor, connectorID int64, maps []Mapping) error {
	var kinds, ext, codes []string
	for _, m := range maps {
		if m.Kind != "item" && m.Kind != "location" {
			return domain.FieldError("kind", "Mapping kind must be item or location.")
		}
		if strings.TrimSpace(m.ExternalID) == "" {
			return domain.FieldError("external_id", "Give the feed's id.")
		}
		kinds, ext, codes = append(kinds, m.Kind), append(ext, strings.TrimSpace(m.ExternalID)), append(codes, strings.TrimSpace(m.Code))
	}
	return db.InTx(ctx, func(tx *Tx) error {
		var missing []string
		err := tx.SelectContext(ctx, &missing, `SELECT m.code FROM unnest($1::text[], $2::text[]) AS m(kind, code)
			WHERE (m.kind = 'item' AND NOT EXISTS (SELECT 1 FROM products p WHERE p.sku = m.code))
			   OR (m.kind = 'location' AND NOT EXISTS (SELECT 1 FROM locations l WHERE l.code = m.code)) LIMIT 1`,
			pq.Array(kinds), pq.Array(codes))
		if err != nil {
			return fmt.Errorf("store: check mappings: %w", err)
		}
		if len(missing) > 0 {
			return domain.FieldError("code", "%q is not one of our SKUs or location codes.", missing[0])
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO connector_mappings (connector_id, kind, external_id, product_id, location_id)
			SELECT $1, m.kind, m.ext, p.id, l.id
			FROM unnest($2::text[], $3::text[], $4::text[]) AS m(kind, ext, code)
			LEFT JOIN products p ON m.kind = 'item' AND p.sku = m.code
			LEFT JOIN locations l ON m.kind = 'location' AND l.code = m.code
			ON CONFLICT (connector_id, kind, external_id) DO UPDATE SET product_id = EXCLUDED.product_id, location_id = EXCLUDED.location_id`,
			connectorID, pq.Array(kinds), pq.Array(ext), pq.Array(codes))
		if err != nil {
			return fmt.Errorf("store: set mappings: %w", err)
		}
		if len(maps) <= 20 {
			return insertAudit(ctx, tx, actor, "connector.map", "connector", fmt.Sprint(connectorID), nil, maps)
		}
		return insertAudit(ctx, tx, actor, "connector.map", "connector", fmt.Sprint(connectorID), nil, map[string]any{"mappings": len(maps)})
	})
}

// MappingCounts returns how many item and location mappings a connector has.
func (db *DB) MappingCounts(ctx context.Context, connectorID int64) (items, locations int, err error) {
	err = db.QueryRowContext(ctx, `SELECT count(*) FILTER (WHERE kind = 'item'), count(*) FILTER (WHERE kind = 'location')
		FROM connector_mappings WHERE connector_id = $1`, connectorID).Scan(&items, &locations)
	if err != nil {
		err = fmt.Errorf("store: mapping counts: %w", err)
	}
	return
}

// LocationMappings returns a connector's location mappings by external id.
func (db *DB) LocationMappings(ctx context.Context, connectorID int64) ([]Mapping, error) {
	var out []Mapping
	err := db.SelectContext(ctx, &out, `SELECT m.kind, m.external_id, l.code FROM connector_mappings m JOIN locations l ON l.id = m.location_id
		WHERE m.connector_id = $1 AND m.kind = 'location' ORDER BY l.code`, connectorID)
	if err != nil {
		return nil, fmt.Errorf("store: location mappings: %w", err)
	}
	return out, nil
}

// --- Health ---

// RecordPullSuccess notes a successful round: the error streak ends, the
// newest source time moves forward, and an open feed_stale exception for
// the connector is resolved.
func (db *DB) RecordPullSuccess(ctx context.Context, connectorID int64, newestSource time.Time) error {
	return db.InTx(ctx, func(tx *Tx) error {
		var name string
		err := tx.GetContext(ctx, &name, `UPDATE connectors SET last_attempt_at = now(), last_success_at = now(), error_count = 0,
				next_attempt_at = NULL,
				last_source_at = CASE WHEN $2::timestamptz IS NULL THEN last_source_at ELSE GREATEST(last_source_at, $2::timestamptz) END
			WHERE id = $1 RETURNING name`, connectorID, feedNullTime(newestSource))
		if err != nil {
			return fmt.Errorf("store: record success: %w", err)
		}
		return resolveFeedStale(ctx, tx, name, "The feed recovered.")
	})
}

// NoteSourceTime moves the connector's newest source time forward (for
// events that arrive by webhook rather than by a pull).
func (db *DB) NoteSourceTime(ctx context.Context, connectorID int64, t time.Time) error {
	if t.IsZero() {
		return nil
	}
	_, err := db.ExecContext(ctx, `UPDATE connectors SET last_source_at = GREATEST(last_source_at, $2) WHERE id = $1`, connectorID, t)
	if err != nil {
		return fmt.Errorf("store: note source time: %w", err)
	}
	return nil
}

// RecordPullError notes a failed attempt and when the next one is due.
func (db *DB) RecordPullError(ctx context.Context, connectorID int64, msg string, next time.Time) error {
	if len(msg) > 1000 {
		msg = msg[:1000]
	}
	_, err := db.ExecContext(ctx, `UPDATE connectors SET last_attempt_at = now(), error_count = error_count + 1,
			errors_total = errors_total + 1, last_error = $2, last_error_at = now(), next_attempt_at = $3
		WHERE id = $1`, connectorID, strings.ToValidUTF8(msg, "?"), feedNullTime(next))
	if err != nil {
		return fmt.Errorf("store: record error: %w", err)
	}
	return nil
}

func feedNullTime(t time.Time) sql.NullTime { return sql.NullTime{Time: t, Valid: !t.IsZero()} }

// feedRef is the exceptions.ref of a connector's feed exceptions.
func feedRef(name string) string { return "connector:" + name }

func resolveFeedStale(ctx context.Context, tx *Tx, name, note string) error {
	_, err := tx.ExecContext(ctx, `UPDATE exceptions SET status = 'resolved', resolution_code = 'no_action_needed',
			resolution_note = $2, resolved_at = now(), updated_at = now()
		WHERE kind = 'feed_stale' AND ref = $1 AND status IN ('open', 'in_progress')`, feedRef(name), note)
	if err != nil {
		return fmt.Errorf("store: resolve feed_stale: %w", err)
	}
	return nil
}

// FeedErrorStreak is how many failed pulls in a row make a feed failing.
const FeedErrorStreak = 5

// MarkStaleFeeds opens a feed_stale exception for every enabled connector
// whose last success (or, never having succeeded, its creation) is older
// than its stale threshold, or whose last FeedErrorStreak pulls failed:
// once per episode (deduplicated while open; a successful pull or a pause
// resolves it). Connectors for which skip returns true (e.g.
// simulated feeds while the simulators are off) are left alone. It returns
// the names it flagged; flagging is idempotent.
func (db *DB) MarkStaleFeeds(ctx context.Context, skip func(Connector) bool) ([]string, error) {
	stale, err := selectAs(ctx, db, connectorRow.connector, `SELECT `+connectorCols+` FROM connectors
		WHERE enabled AND adapter <> 'csv' AND (COALESCE(last_success_at, created_at) < now() - stale_after_seconds * interval '1 second'
			OR error_count >= $1)`, FeedErrorStreak)
	if err != nil {
		return nil, fmt.Errorf("store: stale feeds: %w", err)
	}
	var names []string
	for _, c := range stale {
		if skip != nil && skip(c) {
			continue
		}
		title, detail := "Feed "+c.Name+" is stale", "No successful pull since it was set up."
		if c.ErrorCount >= FeedErrorStreak {
			title = fmt.Sprintf("Feed %s is failing: %d pulls in a row", c.Name, c.ErrorCount)
		}
		if !c.LastSuccessAt.IsZero() {
			detail = fmt.Sprintf("Last successful pull %s; threshold %s.", c.LastSuccessAt.UTC().Format(time.RFC3339), c.StaleAfter())
		}
		if c.LastError != "" {
			detail += " Last error: " + c.LastError
		}
		err := db.InTx(ctx, func(tx *Tx) error {
			return openException(ctx, tx, NewException{Kind: "feed_stale", Severity: "high", Ref: feedRef(c.Name),
				Title: title, Detail: detail, Dedupe: true})
		})
		if err != nil {
			return names, err
		}
		names = append(names, c.Name)
	}
	return names, nil
}

// EventRate is how many events a connector received in the last window.
func (db *DB) EventRates(ctx context.Context, window time.Duration) (map[int64]int, error) {
	var rows []struct {
		ID int64 `db:"connector_id"`
		N  int   `db:"n"`
	}
	err := db.SelectContext(ctx, &rows, `SELECT c.id AS connector_id, (SELECT count(*) FROM (SELECT 1 FROM inbound_events e
			WHERE e.connector_id = c.id AND e.received_at > now() - $1 * interval '1 millisecond' LIMIT 100000) x) AS n
		FROM connectors c`, window.Milliseconds())
	if err != nil {
		return nil, fmt.Errorf("store: event rates: %w", err)
	}
	out := map[int64]int{}
	for _, r := range rows {
		out[r.ID] = r.N
	}
	return out, nil
}
