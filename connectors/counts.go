package connectors

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
	"unicode/utf8"

	"stockline/domain"
	"stockline/store"
)

// CountRow is one valid line of a count file.
type CountRow struct {
	Line      int       `json:"line"`
	SKU       string    `json:"sku,omitempty"`
	Barcode   string    `json:"barcode,omitempty"`
	Quantity  int       `json:"quantity"`
	CountedAt time.Time `json:"counted_at"` // zero: when the file is applied
}

// LineError is a problem on one line of a count file (the domain's).
type LineError = domain.LineError

// CountSheet is a parsed count file: its valid rows and its line errors.
type CountSheet struct {
	Rows   []CountRow
	Errors []LineError
	Lines  int // data lines read (blank lines not included)
}

// Count file limits.
const (
	MaxCountFileBytes = 20 << 20
	MaxCountRows      = 200_000
)

// ParseCountCSV reads a store count file: a header naming sku and/or
// barcode, quantity, and optionally counted_at; then one line per item.
// Line numbers are the file's own (the header is line 1). Times without a
// zone are read in tz, the store's zone; counts may not be in the future
// or more than a year old. It returns an error only when the file as a
// whole cannot be read; problems with lines are in the sheet's Errors.
func ParseCountCSV(r io.Reader, tz *time.Location, now time.Time) (CountSheet, error) {
	var sheet CountSheet
	if tz == nil {
		tz = time.UTC
	}
	br := bufio.NewReader(io.LimitReader(r, MaxCountFileBytes+1))
	if b, _ := br.Peek(3); bytes.Equal(b, []byte{0xEF, 0xBB, 0xBF}) {
		br.Discard(3)
	}
	cr := csv.NewReader(&limitCheck{r: br})
	cr.FieldsPerRecord = -1
	cr.TrimLeadingSpace = true
	cr.ReuseRecord = true
	header, err := cr.Read()
	if err == io.EOF {
		return sheet, domain.FieldError("file", "The file is empty. The first line must name the columns: sku (or barcode), quantity, and optionally counted_at.")
	} else if err != nil {
		return sheet, csvFileError(err)
	}
	col := map[string]int{}
	for i, h := range header {
		name := strings.ToLower(strings.TrimSpace(h))
		if _, dup := col[name]; dup && name != "" {
			return sheet, domain.FieldError("file", "Line 1 names the column %q twice.", feedExcerpt(name, 30))
		}
		col[name] = i
	}
	skuCol, hasSKU := col["sku"]
	bcCol, hasBC := col["barcode"]
	qtyCol, hasQty := col["quantity"]
	atCol, hasAt := col["counted_at"]
	if !hasSKU && !hasBC || !hasQty {
		return sheet, domain.FieldError("file", "Line 1 must name the columns sku (or barcode) and quantity; it names %s.",
			feedExcerpt(strings.Join(header, ", "), 120))
	}
	seen := map[string]int{}
	field := func(rec []string, i int, ok bool) string {
		if !ok || i >= len(rec) {
			return ""
		}
		return strings.TrimSpace(rec[i])
	}
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) && !errors.Is(err, errTooBig) {
				sheet.Errors = append(sheet.Errors, LineError{Line: pe.StartLine, Message: "This line is not valid CSV (" + pe.Err.Error() + ")."})
				if len(sheet.Errors) > 1000 {
					return sheet, domain.FieldError("file", "Over 1,000 lines have errors; is this the right file?")
				}
				continue
			}
			return sheet, csvFileError(err)
		}
		line, _ := cr.FieldPos(0)
		if len(rec) == 1 && strings.TrimSpace(rec[0]) == "" {
			continue
		}
		sheet.Lines++
		if sheet.Lines > MaxCountRows {
			return sheet, domain.FieldError("file", "The file has over %d lines; split it.", MaxCountRows)
		}
		bad := func(format string, args ...any) {
			sheet.Errors = append(sheet.Errors, LineError{Line: line, Message: fmt.Sprintf(format, args...)})
		}
		if !storableText(rec) {
			bad("This line has characters that cannot be stored (a NUL byte, or bytes that are not UTF-8); save the file as UTF-8 text.")
			continue
		}
		row := CountRow{Line: line, SKU: field(rec, skuCol, hasSKU), Barcode: field(rec, bcCol, hasBC)}
		if len(row.SKU) > 100 || len(row.Barcode) > 100 {
			bad("The SKU or barcode is too long.")
			continue
		}
		key := "sku:" + row.SKU
		switch {
		case row.SKU == "" && row.Barcode == "":
			bad("Give a SKU or a barcode.")
			continue
		case row.SKU == "":
			key = "barcode:" + row.Barcode
		}
		q := field(rec, qtyCol, true)
		n, err := domain.ParseWholeQuantity(q)
		if err != nil {
			bad("Quantity: %s.", err.Error())
			continue
		}
		row.Quantity = n
		if s := field(rec, atCol, hasAt); s != "" {
			t, err := parseCountTime(s, tz)
			switch {
			case err != nil:
				bad("counted_at %q is not a time; write it like 2026-03-02T14:30:00-06:00 or 2026-03-02 14:30.", feedExcerpt(s, 40))
				continue
			case t.After(now.Add(5 * time.Minute)):
				bad("counted_at %s is in the future.", s)
				continue
			case t.Before(now.AddDate(-1, 0, 0)):
				bad("counted_at %s is over a year ago.", s)
				continue
			}
			row.CountedAt = t.UTC()
		}
		if prev, dup := seen[key]; dup {
			bad("%s is already counted on line %d.", strings.Replace(key, ":", " ", 1), prev)
			continue
		}
		seen[key] = line
		sheet.Rows = append(sheet.Rows, row)
	}
	return sheet, nil
}

// storableText reports whether every field is text PostgreSQL can store:
// UTF-8 without NUL.
func storableText(rec []string) bool {
	for _, f := range rec {
		if strings.IndexByte(f, 0) >= 0 || !utf8.ValidString(f) {
			return false
		}
	}
	return true
}

func parseCountTime(s string, tz *time.Location) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	for _, layout := range []string{"2006-01-02T15:04:05", "2006-01-02 15:04:05", "2006-01-02T15:04", "2006-01-02 15:04", "2006-01-02"} {
		if t, err := time.ParseInLocation(layout, s, tz); err == nil {
			return t, nil
		}
	}
	return time.Time{}, errors.New("not a time")
}

var errTooBig = errors.New("file too big")

// limitCheck turns reading past MaxCountFileBytes into errTooBig.
type limitCheck struct {
	r io.Reader
	n int64
}

func (l *limitCheck) Read(p []byte) (int, error) {
	n, err := l.r.Read(p)
	l.n += int64(n)
	if l.n > MaxCountFileBytes {
		return n, errTooBig
	}
	return n, err
}

func csvFileError(err error) error {
	if errors.Is(err, errTooBig) {
		return domain.FieldError("file", "The file is over %d MiB; split it.", MaxCountFileBytes>>20)
	}
	return domain.FieldError("file", "The file is not readable CSV: %s", feedExcerpt(err.Error(), 120))
}

// CountEvent is what a count line becomes as an inbound event of the
// counts connector.
type CountEvent struct {
	Upload    int64     `json:"upload"`
	Line      int       `json:"line"`
	SKU       string    `json:"sku"`
	Location  string    `json:"location"`
	Quantity  int       `json:"quantity"`
	CountedAt time.Time `json:"counted_at"`
}

// Event returns the inbound event for a count line; its id is the upload
// and line, so applying an upload twice applies each line once.
func (c CountEvent) Event() store.InboundEvent {
	raw, _ := json.Marshal(c)
	return ParseCountEvent(raw)
}

// ParseCountEvent reads a stored count-line event.
func ParseCountEvent(raw []byte) store.InboundEvent {
	ev := store.InboundEvent{Type: "csv.count", Payload: raw, Via: "upload"}
	var c CountEvent
	if err := strictJSON(raw, &c); err != nil {
		ev.Err = "Not a count line: " + err.Error()
		return ev
	}
	if c.Upload <= 0 || c.Line <= 0 {
		ev.Err = "The count line names no upload and line."
		return ev
	}
	ev.SourceEventID = fmt.Sprintf("upload:%d:line:%d", c.Upload, c.Line)
	if c.SKU == "" || c.Location == "" || c.CountedAt.IsZero() {
		ev.Err = "The count line needs sku, location and counted_at."
		return ev
	}
	q := c.Quantity
	ev.OccurredAt = c.CountedAt
	ev.Changes = []domain.StockChange{{Item: domain.Ref{Kind: domain.RefSKU, ID: c.SKU}, Location: domain.Ref{Kind: domain.RefLocationCode, ID: c.Location}, Count: &q}}
	return ev
}
