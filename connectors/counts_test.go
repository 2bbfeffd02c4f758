package connectors_test

import (
	"strings"
	"testing"
	"time"

	"stockline/connectors"
	"stockline/domain"
)

func TestParseCountCSV(t *testing.T) {
	now := time.Date(2026, 3, 2, 18, 0, 0, 0, time.UTC)
	chicago, _ := time.LoadLocation("America/Chicago")
	tests := []struct {
		name    string
		in      string
		rows    int
		errs    []string // "line: substring"
		fileErr string
	}{
		{name: "minimal", in: "sku,quantity\nA,1\nB,2\n", rows: 2},
		{name: "bom, crlf, spaces, blank lines", in: "\ufeffSKU , Quantity\r\n A , 3 \r\n\r\nB,0\r\n", rows: 2},
		{name: "barcode only", in: "barcode,quantity\n4006381000001,5\n", rows: 1},
		{name: "decimal whole", in: "sku,quantity\nA,2.000\n", rows: 1},
		{name: "line errors keep file line numbers", in: "sku,quantity,counted_at\nA,1,\n,2,\nB,-1,\nC,1.5,\nD,x,\nA,3,\nE,1,yesterday\nF,1,2026-03-03 12:00\nG,1,2024-01-01\n",
			rows: 1, errs: []string{"3:Give a SKU", "4:negative", "5:whole number", "6:not a decimal", "7:already counted on line 2", "8:not a time", "9:future", "10:over a year"}},
		{name: "quoted multi-line field counts lines", in: "sku,quantity\n\"A\nB\",1\nC,zz\n", rows: 1, errs: []string{"4:not a decimal"}},
		{name: "bad quote is a line error", in: "sku,quantity\nA\"x,1\nB,2\n", rows: 1, errs: []string{"2:not valid CSV"}},
		{name: "NUL or bytes that are not UTF-8 in a line are line errors", in: "sku,quantity\nA\x00,1\nB,2\nC\xff,3\nD,4\x00\n",
			rows: 1, errs: []string{"2:cannot be stored", "4:cannot be stored", "5:cannot be stored"}},
		{name: "no header", in: "", fileErr: "empty"},
		{name: "wrong header", in: "item,qty\nA,1\n", fileErr: "must name the columns"},
		{name: "duplicate column", in: "sku,sku,quantity\n", fileErr: "twice"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sheet, err := connectors.ParseCountCSV(strings.NewReader(tt.in), chicago, now)
			if tt.fileErr != "" {
				if err == nil || !strings.Contains(domain.ErrorMessage(err), tt.fileErr) || domain.AsError(err).Field != "file" {
					t.Fatalf("want file error %q, got %v", tt.fileErr, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(sheet.Rows) != tt.rows {
				t.Errorf("rows %d, want %d: %+v", len(sheet.Rows), tt.rows, sheet.Rows)
			}
			if len(sheet.Errors) != len(tt.errs) {
				t.Fatalf("errors %v, want %v", sheet.Errors, tt.errs)
			}
			for i, want := range tt.errs {
				line, msg, _ := strings.Cut(want, ":")
				got := sheet.Errors[i]
				if got.String()[len("line "):len("line ")+len(line)] != line || !strings.Contains(got.Message, msg) {
					t.Errorf("error %d: %s, want line %s with %q", i, got, line, msg)
				}
			}
		})
	}
	// A time without a zone is the store's local time.
	sheet, _ := connectors.ParseCountCSV(strings.NewReader("sku,quantity,counted_at\nA,1,2026-03-02 09:30\n"), chicago, now)
	if want := time.Date(2026, 3, 2, 15, 30, 0, 0, time.UTC); !sheet.Rows[0].CountedAt.Equal(want) {
		t.Fatalf("counted_at %v, want %v", sheet.Rows[0].CountedAt, want)
	}
}
