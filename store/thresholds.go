package store

import (
	"context"
	"fmt"
	"strings"

	"stockline/domain"
)

// ThresholdRules lists every drift threshold rule, the default first.
func (db *DB) ThresholdRules(ctx context.Context) ([]domain.ThresholdRule, error) {
	return thresholdRules(ctx, db)
}

// SaveThreshold sets the threshold of a scope (the default, a location by
// code, or a category), replacing the scope's rule if it has one, with an
// audit row. Errors: EINVALID (fields scope, location, category and the
// bounds), ENOTFOUND (field location).
func (db *DB) SaveThreshold(ctx context.Context, actor domain.Actor, scope, location, category string, th domain.Threshold) error {
	if err := th.Validate(); err != nil {
		return err
	}
	category = strings.TrimSpace(category)
	var locID int64
	switch scope {
	case domain.ThresholdDefault:
		location, category = "", ""
	case domain.ThresholdLocation:
		l, err := db.LocationByCode(ctx, location)
		if err != nil {
			return notFoundField(err, "location")
		}
		locID, category = l.ID, ""
	case domain.ThresholdCategory:
		if category == "" || len(category) > 100 {
			return domain.FieldError("category", "Name the category (up to 100 characters).")
		}
		location = ""
	default:
		return domain.FieldError("scope", "Choose the default, a location or a category.")
	}
	return db.InTx(ctx, func(tx *Tx) error {
		var before []domain.ThresholdRule
		if err := tx.SelectContext(ctx, &before, `SELECT t.id, t.scope, $2::text AS location, t.category, t.min_units, t.min_percent::float8 AS min_percent,
			t.min_value_cents, t.updated_at, t.updated_by FROM recon_thresholds t
			WHERE t.scope = $1 AND COALESCE(t.location_id, 0) = $3 AND t.category = $4 FOR UPDATE`, scope, location, locID, category); err != nil {
			return fmt.Errorf("store: threshold: %w", err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO recon_thresholds (scope, location_id, category, min_units, min_percent, min_value_cents, updated_by)
			VALUES ($1, $2, $3, $4, $5, $6, $7)
			ON CONFLICT (scope, COALESCE(location_id, 0), category) DO UPDATE SET min_units = EXCLUDED.min_units,
				min_percent = EXCLUDED.min_percent, min_value_cents = EXCLUDED.min_value_cents, updated_at = now(), updated_by = EXCLUDED.updated_by`,
			scope, nullID(locID), category, th.MinUnits, th.MinPercent, th.MinValueCents, actor.String()); err != nil {
			return fmt.Errorf("store: save threshold: %w", err)
		}
		var prev any
		if len(before) > 0 {
			prev = before[0].Threshold
		}
		return insertAudit(ctx, tx, actor, "threshold.save", "recon_threshold", scope+":"+location+category, prev,
			map[string]any{"scope": scope, "location": location, "category": category, "threshold": th})
	})
}

// DeleteThreshold removes a location or category rule (the default
// stays), with an audit row. Errors: ENOTFOUND, EINVALID.
func (db *DB) DeleteThreshold(ctx context.Context, actor domain.Actor, id int64) error {
	return db.InTx(ctx, func(tx *Tx) error {
		var r domain.ThresholdRule
		err := tx.GetContext(ctx, &r, `SELECT t.id, t.scope, COALESCE(l.code, '') AS location, t.category, t.min_units,
			t.min_percent::float8 AS min_percent, t.min_value_cents, t.updated_at, t.updated_by
			FROM recon_thresholds t LEFT JOIN locations l ON l.id = t.location_id WHERE t.id = $1 FOR UPDATE OF t`, id)
		if err != nil {
			return notFound(err, "Threshold %d does not exist.", id)
		}
		if r.Scope == domain.ThresholdDefault {
			return domain.FieldError("scope", "The default threshold can be changed but not removed.")
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM recon_thresholds WHERE id = $1`, id); err != nil {
			return fmt.Errorf("store: delete threshold: %w", err)
		}
		return insertAudit(ctx, tx, actor, "threshold.delete", "recon_threshold", r.Scope+":"+r.Location+r.Category, r, nil)
	})
}
