package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"

	"github.com/lib/pq"

	"stockline/domain"
)

// CountsConnectorName is the built-in connector store count uploads
// arrive through, so each counted line is an inbound event like any feed's.
const CountsConnectorName = "store-counts"

// CountsConnector returns the built-in counts connector, creating it the
// first time.
func (db *DB) CountsConnector(ctx context.Context) (Connector, error) {
	c, err := db.ConnectorByName(ctx, CountsConnectorName)
	if domain.ErrorCode(err) != domain.ENOTFOUND {
		return c, err
	}
	c, err = db.CreateConnector(ctx, domain.SystemActor("counts"), NewConnector{Name: CountsConnectorName, Kind: domain.ConnectorCounts,
		Adapter: "csv", Enabled: true, PollSeconds: 86400, StaleSeconds: 604800})
	if domain.ErrorCode(err) == domain.EINVALID { // created meanwhile by another request
		return db.ConnectorByName(ctx, CountsConnectorName)
	}
	return c, err
}

// CountItem is a product a count line named, by SKU or barcode.
type CountItem struct {
	ID      int64  `db:"id"`
	SKU     string `db:"sku"`
	Barcode string `db:"barcode"`
}

// CountItems looks up the products a count file names, by SKU and by
// barcode, in two queries however long the file.
func (db *DB) CountItems(ctx context.Context, skus, barcodes []string) (bySKU, byBarcode map[string]CountItem, err error) {
	var rows []CountItem
	err = db.SelectContext(ctx, &rows, `SELECT id, sku, barcode FROM products WHERE sku = ANY($1::text[]) OR barcode = ANY($2::text[])`,
		feedStrings(skus), feedStrings(barcodes))
	if err != nil {
		return nil, nil, fmt.Errorf("store: count items: %w", err)
	}
	bySKU, byBarcode = map[string]CountItem{}, map[string]CountItem{}
	for _, r := range rows {
		bySKU[r.SKU], byBarcode[r.Barcode] = r, r
	}
	return bySKU, byBarcode, nil
}

// countUploadRow is a count upload as scanned.
type countUploadRow struct {
	domain.CountUpload
	AppliedAt sql.NullTime `db:"applied_at"`
}

func (r countUploadRow) upload() domain.CountUpload {
	u := r.CountUpload
	u.AppliedAt = r.AppliedAt.Time
	return u
}

const countUploadCols = `u.id, u.location_id, l.code AS location, l.timezone, u.filename, u.uploaded_by, u.total_rows, u.rows, u.errors,
	u.status, u.applied_rows, u.changed_rows, u.created_at, u.applied_at,
	jsonb_array_length(u.errors) AS error_count, jsonb_array_length(u.rows) AS valid_count`

// SaveCountUpload records a validated count file (nothing is applied).
func (db *DB) SaveCountUpload(ctx context.Context, actor domain.Actor, locationID int64, filename string, total int, rows, errs any) (domain.CountUpload, error) {
	r, err := jsonArray(rows)
	if err != nil {
		return domain.CountUpload{}, err
	}
	e, err := jsonArray(errs)
	if err != nil {
		return domain.CountUpload{}, err
	}
	var id int64
	err = db.InTx(ctx, func(tx *Tx) error {
		if err := tx.GetContext(ctx, &id, `INSERT INTO count_uploads (location_id, filename, uploaded_by, total_rows, rows, errors, status)
			VALUES ($1, $2, $3, $4, $5, $6, 'validated') RETURNING id`, locationID, feedTruncate(filename, 200), actor.String(), total, r, e); err != nil {
			return fmt.Errorf("store: save count upload: %w", err)
		}
		return insertAudit(ctx, tx, actor, "counts.upload", "count_upload", fmt.Sprint(id), nil,
			map[string]any{"location_id": locationID, "filename": filename, "lines": total})
	})
	if err != nil {
		return domain.CountUpload{}, err
	}
	return db.CountUploadByID(ctx, id)
}

// CountUploadByID returns one upload, or ENOTFOUND.
func (db *DB) CountUploadByID(ctx context.Context, id int64) (domain.CountUpload, error) {
	u, err := getAs(ctx, db, countUploadRow.upload, `SELECT `+countUploadCols+` FROM count_uploads u JOIN locations l ON l.id = u.location_id WHERE u.id = $1`, id)
	return u, notFound(err, "Count upload %d does not exist.", id)
}

// RecentCountUploads lists uploads newest first, for the given location
// codes (nil: every location).
func (db *DB) RecentCountUploads(ctx context.Context, locations []string, limit int) ([]domain.CountUpload, error) {
	if limit <= 0 || limit > 100 {
		limit = 20
	}
	var codes any
	if locations != nil {
		codes = pq.Array(locations)
	}
	out, err := selectAs(ctx, db, countUploadRow.upload, `SELECT `+countUploadCols+` FROM count_uploads u JOIN locations l ON l.id = u.location_id
		WHERE $1::text[] IS NULL OR l.code = ANY($1::text[]) ORDER BY u.id DESC LIMIT $2`, codes, limit)
	if err != nil {
		return nil, fmt.Errorf("store: recent count uploads: %w", err)
	}
	return out, nil
}

// MarkCountUploadApplied records that an upload's lines were applied.
// Errors: ECONFLICT when it was applied already.
func (db *DB) MarkCountUploadApplied(ctx context.Context, actor domain.Actor, id int64, applied, changed int) error {
	return db.InTx(ctx, func(tx *Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE count_uploads SET status = 'applied', applied_rows = $2, changed_rows = $3, applied_at = now()
			WHERE id = $1 AND status = 'validated'`, id, applied, changed)
		if err != nil {
			return fmt.Errorf("store: mark count upload: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return domain.Errorf(domain.ECONFLICT, "Count upload %d was applied already.", id)
		}
		return insertAudit(ctx, tx, actor, "counts.apply", "count_upload", fmt.Sprint(id), nil,
			map[string]any{"applied": applied, "changed": changed})
	})
}

// jsonArray marshals a slice, writing a nil one as [] rather than null.
func jsonArray(v any) ([]byte, error) {
	b, err := json.Marshal(v)
	if err == nil && string(b) == "null" {
		b = []byte("[]")
	}
	return b, err
}
