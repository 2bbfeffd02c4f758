package connectors

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"time"

	"stockline/domain"
	"stockline/store"
)

// CheckCountFile reads a count file for a location and checks every line
// against the catalogue: unknown SKUs or barcodes, a SKU and barcode that
// name different products, and the same product counted twice become line
// errors. Nothing is applied. Rows come back with their SKU resolved.
func CheckCountFile(ctx context.Context, db *store.DB, r io.Reader, loc domain.Location, now time.Time) (CountSheet, error) {
	tz, err := time.LoadLocation(loc.Timezone)
	if err != nil {
		tz = time.UTC
	}
	sheet, err := ParseCountCSV(r, tz, now)
	if err != nil {
		return sheet, err
	}
	var skus, barcodes []string
	for _, row := range sheet.Rows {
		if row.SKU != "" {
			skus = append(skus, row.SKU)
		}
		if row.Barcode != "" {
			barcodes = append(barcodes, row.Barcode)
		}
	}
	bySKU, byBarcode, err := db.CountItems(ctx, skus, barcodes)
	if err != nil {
		return sheet, err
	}
	valid := sheet.Rows[:0]
	seen := map[string]int{}
	for _, row := range sheet.Rows {
		bad := func(format string, args ...any) {
			sheet.Errors = append(sheet.Errors, LineError{Line: row.Line, Message: fmt.Sprintf(format, args...)})
		}
		var item store.CountItem
		if row.SKU != "" {
			it, ok := bySKU[row.SKU]
			if !ok {
				bad("Unknown SKU %q.", row.SKU)
				continue
			}
			item = it
		}
		if row.Barcode != "" {
			it, ok := byBarcode[row.Barcode]
			switch {
			case !ok:
				bad("Unknown barcode %q.", row.Barcode)
				continue
			case row.SKU != "" && it.SKU != item.SKU:
				bad("Barcode %s is %s, not %s.", row.Barcode, it.SKU, row.SKU)
				continue
			}
			item = it
		}
		if prev, dup := seen[item.SKU]; dup {
			bad("%s is already counted on line %d.", item.SKU, prev)
			continue
		}
		seen[item.SKU] = row.Line
		row.SKU = item.SKU
		valid = append(valid, row)
	}
	sheet.Rows = valid
	sortLineErrors(sheet.Errors)
	return sheet, nil
}

func sortLineErrors(errs []LineError) {
	for i := 1; i < len(errs); i++ {
		for j := i; j > 0 && errs[j].Line < errs[j-1].Line; j-- {
			errs[j], errs[j-1] = errs[j-1], errs[j]
		}
	}
}

// ApplyCountUpload applies a validated upload's rows as counts at its
// location, all in one transaction: each line sets on hand as of its
// counted_at (the upload time when the file gave none) with a cycle_count
// movement, through the same apply path as every feed. A file with errors
// is applied only when validOnly says so (the "apply valid rows" choice).
// Errors: ECONFLICT (applied already), EINVALID (errors and not validOnly).
func ApplyCountUpload(ctx context.Context, db *store.DB, id int64, validOnly bool, actor domain.Actor) (domain.CountUpload, store.IngestResult, error) {
	var res store.IngestResult
	u, err := db.CountUploadByID(ctx, id)
	if err != nil {
		return u, res, err
	}
	switch {
	case u.Status == "applied":
		return u, res, domain.Errorf(domain.ECONFLICT, "This file was applied already.")
	case u.ErrorCount > 0 && !validOnly:
		return u, res, domain.Errorf(domain.EINVALID, "The file has %d line error(s). Fix them and upload again, or choose to apply the valid rows only.", u.ErrorCount)
	case u.ValidCount == 0:
		return u, res, domain.Errorf(domain.EINVALID, "No line of this file is valid; nothing to apply.")
	}
	var rows []CountRow
	if err := json.Unmarshal(u.Rows, &rows); err != nil {
		return u, res, err
	}
	conn, err := db.CountsConnector(ctx)
	if err != nil {
		return u, res, err
	}
	events := make([]store.InboundEvent, len(rows))
	for i, r := range rows {
		at := r.CountedAt
		if at.IsZero() {
			at = u.CreatedAt
		}
		events[i] = CountEvent{Upload: u.ID, Line: r.Line, SKU: r.SKU, Location: u.Location, Quantity: r.Quantity, CountedAt: at.UTC()}.Event()
	}
	res, err = db.IngestAs(ctx, conn, events, actor)
	if err != nil {
		return u, res, err
	}
	if err := db.MarkCountUploadApplied(ctx, actor, u.ID, res.Applied+res.Duplicates, res.Changed); err != nil {
		return u, res, err
	}
	u, err = db.CountUploadByID(ctx, id)
	return u, res, err
}
