// Package fuzz holds the go test -fuzz targets for every payload parser the
// connectors have (Square changes, Shopify orders, refunds, levels and
// webhooks, CSV count files and count events) and the small readers
// beside them. It is its own package, with no database, so fuzzing does
// not start PostgreSQL. Seed corpora live in testdata/fuzz/<Target>/;
// `make fuzz-short` runs each target for a few seconds.
package fuzz

import (
	"bytes"
	"encoding/base64"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"stockline/connectors"
	"stockline/domain"
	"stockline/store"
)

// checkEvent holds for every event a parser returns, whatever the input.
func checkEvent(t *testing.T, ev store.InboundEvent) {
	t.Helper()
	if ev.Err != "" {
		if ev.Changes != nil || ev.Order != nil || ev.Cancel != nil || ev.Refund != nil {
			t.Fatalf("an event with an error also carries an effect: %+v", ev)
		}
		if !utf8.ValidString(ev.Err) {
			t.Fatalf("error text is not UTF-8: %q", ev.Err)
		}
		return
	}
	if ev.SourceEventID == "" || ev.OccurredAt.IsZero() || ev.Type == "" {
		t.Fatalf("a readable event lacks its id, time or type: %+v", ev)
	}
	effects := 0
	for _, x := range []bool{len(ev.Changes) > 0, ev.Order != nil, ev.Cancel != nil, ev.Refund != nil, ev.NoEffect != ""} {
		if x {
			effects++
		}
	}
	if effects != 1 {
		t.Fatalf("a readable event must say exactly one thing (changes, order, cancel, refund or no effect): %+v", ev)
	}
	for _, ch := range ev.Changes {
		if err := ch.Validate(); err != nil {
			t.Fatalf("parser produced an invalid change %+v: %v", ch, err)
		}
		if ch.Count == nil && ch.OnHandDelta() == 0 {
			t.Fatalf("a change that moves nothing: %+v", ch)
		}
	}
	if ev.Order != nil {
		if err := ev.Order.Validate(); err != nil {
			t.Fatalf("parser produced an invalid order: %v", err)
		}
	}
}

func FuzzParseSquareChange(f *testing.F) {
	f.Add([]byte(`{"type":"ADJUSTMENT","adjustment":{"id":"A1","from_state":"IN_STOCK","to_state":"SOLD","location_id":"L1","catalog_object_id":"I1","quantity":"2","occurred_at":"2026-03-02T10:00:00Z"}}`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		ev := connectors.ParseSquareChange(raw)
		checkEvent(t, ev)
		if !bytes.Equal(ev.Payload, raw) {
			t.Fatal("the raw payload is not kept")
		}
		if ev.Err == "" && !strings.HasPrefix(ev.SourceEventID, "square:") {
			t.Fatalf("id %q", ev.SourceEventID)
		}
		// Parsing is deterministic: a redelivery gets the same id.
		if again := connectors.ParseSquareChange(raw); again.SourceEventID != ev.SourceEventID || again.Err != ev.Err {
			t.Fatal("parsing the same bytes twice differs")
		}
	})
}

func FuzzParseShopifyOrder(f *testing.F) {
	f.Add([]byte(`{"id":450789469,"name":"#1001","created_at":"2026-03-02T10:00:00-05:00","line_items":[{"id":1,"sku":"A","quantity":1}]}`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		evs := connectors.ParseShopifyOrder(raw)
		if len(evs) == 0 {
			t.Fatal("no events at all")
		}
		ids := map[string]bool{}
		for _, ev := range evs {
			checkEvent(t, ev)
			if ev.Err == "" {
				if ids[ev.SourceEventID] {
					t.Fatalf("two events share id %s", ev.SourceEventID)
				}
				ids[ev.SourceEventID] = true
			}
		}
		if o := evs[0].Order; o != nil && !strings.Contains(evs[0].SourceEventID, o.ExternalRef) {
			t.Fatalf("order event id %s does not name order %s", evs[0].SourceEventID, o.ExternalRef)
		}
	})
}

func FuzzParseShopifyRefund(f *testing.F) {
	f.Add([]byte(`{"id":509562969,"order_id":450789469,"created_at":"2026-03-02T10:00:00-05:00","refund_line_items":[{"id":1,"quantity":1,"restock_type":"return","location_id":4,"line_item":{"sku":"A"}}]}`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		ev := connectors.ParseShopifyRefund(raw)
		checkEvent(t, ev)
		if len(ev.Changes) > 0 {
			t.Fatalf("a refund moves stock only through returns: %+v", ev.Changes)
		}
		if rf := ev.Refund; rf != nil {
			for _, l := range rf.Lines {
				if l.Quantity <= 0 || l.Restock != (l.Location.ID != "") {
					t.Fatalf("a refund line needs a quantity, and a location exactly when it restocks: %+v", l)
				}
			}
		}
	})
}

func FuzzParseShopifyInventoryLevel(f *testing.F) {
	f.Add([]byte(`{"inventory_item_id":808950810,"location_id":905684977,"available":6,"updated_at":"2026-03-02T10:00:00-05:00"}`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		ev := connectors.ParseShopifyInventoryLevel(raw)
		checkEvent(t, ev)
		for _, ch := range ev.Changes {
			if ch.Count == nil || *ch.Count < 0 {
				t.Fatalf("a level must be a count of at least zero: %+v", ch)
			}
		}
	})
}

func FuzzParseShopifyWebhook(f *testing.F) {
	f.Add("orders/cancelled", []byte(`{"id":1,"created_at":"2026-03-02T10:00:00Z","cancelled_at":"2026-03-02T11:00:00Z","line_items":[{"id":1,"sku":"A","quantity":1}]}`))
	f.Add("refunds/create", []byte(`{}`))
	f.Fuzz(func(t *testing.T, topic string, body []byte) {
		evs, err := connectors.ParseShopifyWebhook(topic, body)
		if err != nil {
			if domain.ErrorCode(err) != domain.EINVALID {
				t.Fatalf("unexpected error kind: %v", err)
			}
			return
		}
		for _, ev := range evs {
			checkEvent(t, ev)
		}
		// The stored form re-reads to the same event.
		for _, ev := range evs {
			if ev.Err != "" {
				continue
			}
			again := connectors.ParseStored("shopify", ev.Type, ev.Payload)
			if again.SourceEventID != ev.SourceEventID {
				t.Fatalf("stored %s re-reads as %s", ev.SourceEventID, again.SourceEventID)
			}
		}
	})
}

var fuzzNow = time.Date(2026, 3, 2, 18, 0, 0, 0, time.UTC)

func FuzzParseCountCSV(f *testing.F) {
	f.Add([]byte("sku,quantity,counted_at\nA,1,\nB,2,2026-03-02 10:00\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		sheet, err := connectors.ParseCountCSV(bytes.NewReader(data), time.UTC, fuzzNow)
		if err != nil {
			if e := domain.AsError(err); e == nil || e.Field != "file" {
				t.Fatalf("a whole-file error must be a field error on file: %v", err)
			}
			return
		}
		lines := bytes.Count(data, []byte("\n")) + 1
		skus := map[string]bool{}
		for _, r := range sheet.Rows {
			if r.Line < 2 || r.Line > lines {
				t.Fatalf("row line %d outside 2..%d", r.Line, lines)
			}
			if r.Quantity < 0 || r.Quantity > domain.MaxQuantity {
				t.Fatalf("quantity %d", r.Quantity)
			}
			key := r.SKU + "\x00" + r.Barcode
			if r.SKU != "" {
				key = r.SKU
			}
			if skus[key] {
				t.Fatalf("%q counted twice", key)
			}
			skus[key] = true
			if !r.CountedAt.IsZero() && r.CountedAt.After(fuzzNow.Add(5*time.Minute)) {
				t.Fatalf("a count in the future: %v", r.CountedAt)
			}
		}
		for _, e := range sheet.Errors {
			if e.Line < 1 || e.Line > lines || e.Message == "" {
				t.Fatalf("bad line error %+v (file has %d lines)", e, lines)
			}
		}
		if len(sheet.Rows)+len(sheet.Errors) < sheet.Lines-countCSVParseErrors(sheet) {
			t.Fatalf("lines went missing: %d lines, %d rows, %d errors", sheet.Lines, len(sheet.Rows), len(sheet.Errors))
		}
	})
}

func countCSVParseErrors(s connectors.CountSheet) int {
	n := 0
	for _, e := range s.Errors {
		if strings.Contains(e.Message, "not valid CSV") {
			n++
		}
	}
	return n
}

func FuzzParseCountEvent(f *testing.F) {
	f.Add([]byte(`{"upload":3,"line":2,"sku":"FOO-10000","location":"S01","quantity":7,"counted_at":"2026-03-02T10:00:00Z"}`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		ev := connectors.ParseCountEvent(raw)
		if ev.Err != "" {
			return
		}
		if !strings.HasPrefix(ev.SourceEventID, "upload:") || len(ev.Changes) != 1 || ev.Changes[0].Count == nil {
			t.Fatalf("count event %+v", ev)
		}
	})
}

func FuzzParseWholeQuantity(f *testing.F) {
	for _, s := range []string{"0", "3", "2.000", "1.5", "-1", "1e3", "", " 7 ", "0000000000000001", "1000001"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := domain.ParseWholeQuantity(s)
		if err != nil {
			return
		}
		if n < 0 || n > domain.MaxQuantity {
			t.Fatalf("%q read as %d", s, n)
		}
		// Whatever it accepts is a plain decimal of that value.
		trimmed := strings.TrimSpace(s)
		whole, _, _ := strings.Cut(trimmed, ".")
		if w := strings.TrimLeft(whole, "0"); w != "" && w != strings.TrimLeft(itoa(n), "0") {
			t.Fatalf("%q read as %d", s, n)
		}
	})
}

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	var b []byte
	for n > 0 {
		b = append([]byte{byte('0' + n%10)}, b...)
		n /= 10
	}
	return string(b)
}

func FuzzParseRetryAfter(f *testing.F) {
	for _, s := range []string{"120", "0", "-5", "1.5", "Wed, 21 Oct 2015 07:28:00 GMT", "soon", "99999999999"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d := connectors.ParseRetryAfter(s, fuzzNow)
		if d < 0 || d > time.Hour {
			t.Fatalf("%q gave %v", s, d)
		}
	})
}

func FuzzVerifyShopifyHMAC(f *testing.F) {
	f.Add("secret", []byte(`{"id":1}`), "")
	f.Fuzz(func(t *testing.T, secret string, body []byte, header string) {
		if secret == "" {
			if connectors.VerifyShopifyHMAC(secret, body, header) {
				t.Fatal("an empty secret verified a body")
			}
			return
		}
		good := base64.StdEncoding.EncodeToString(connectors.ShopifyHMAC(secret, body))
		if !connectors.VerifyShopifyHMAC(secret, body, good) {
			t.Fatal("the right signature was refused")
		}
		if connectors.VerifyShopifyHMAC(secret, body, header) {
			got, err := base64.StdEncoding.DecodeString(strings.TrimSpace(header))
			if err != nil || !bytes.Equal(got, connectors.ShopifyHMAC(secret, body)) {
				t.Fatalf("a wrong signature %q was accepted", header)
			}
		}
	})
}
