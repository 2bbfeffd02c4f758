package store_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"stockline/domain"
)

// What a reservation's audit rows and outbox events record at each step
// (hold through the batcher, commit, release): its status, channel,
// expiry, lines, refs and reason, and, in events only, its id.
func TestReservationAuditAndEvents(t *testing.T) {
	db := resvDB(t)
	ctx := context.Background()
	sku := firstSKU(t, db, 104)
	setReservable(t, db, domain.BOPIS, sku, "S01", 10)
	req := bopis("S01", sku, 2)
	req.CheckoutRef = "cart-77"
	res, err := db.Reserve(ctx, call(req))
	if err != nil {
		t.Fatal(err)
	}
	r := decodeRes(t, res)
	if _, err := db.CommitReservation(ctx, domain.SystemActor("test"), r.ID, "ORD-DOCS-1"); err != nil {
		t.Fatal(err)
	}
	if _, err := db.ReleaseReservation(ctx, domain.SystemActor("test"), r.ID, "customer_cancelled"); err != nil {
		t.Fatal(err)
	}

	type line struct {
		SKU      string `json:"sku"`
		Location string `json:"location"`
		Qty      int    `json:"qty"`
	}
	type doc struct {
		ID          *int64    `json:"id"`
		Status      string    `json:"status"`
		Channel     string    `json:"channel"`
		ExpiresAt   time.Time `json:"expires_at"`
		Lines       []line    `json:"lines"`
		CheckoutRef string    `json:"checkout_ref"`
		OrderRef    string    `json:"order_ref"`
		Reason      string    `json:"reason"`
	}
	decode := func(what string, raw []byte) doc {
		t.Helper()
		var d doc
		if err := json.Unmarshal(raw, &d); err != nil {
			t.Fatalf("%s: %v in %s", what, err, raw)
		}
		var keys map[string]json.RawMessage
		json.Unmarshal(raw, &keys)
		if len(keys) > 8 {
			t.Fatalf("%s records more than a reservation's fields: %s", what, raw)
		}
		return d
	}
	want := []line{{SKU: sku, Location: "S01", Qty: 2}}
	check := func(what string, d doc, event bool, status, orderRef, reason string) {
		t.Helper()
		if event != (d.ID != nil) || (event && *d.ID != r.ID) {
			got := "none"
			if d.ID != nil {
				got = fmt.Sprint(*d.ID)
			}
			t.Errorf("%s: id %s (an event carries the reservation's id %d, an audit row none)", what, got, r.ID)
		}
		if d.Status != status || d.Channel != string(domain.BOPIS) || d.CheckoutRef != "cart-77" || d.OrderRef != orderRef || d.Reason != reason {
			t.Errorf("%s: %+v, want status %s, order_ref %q, reason %q", what, d, status, orderRef, reason)
		}
		if d.ExpiresAt.IsZero() || fmt.Sprint(d.Lines) != fmt.Sprint(want) {
			t.Errorf("%s: expires_at %v, lines %+v, want %+v", what, d.ExpiresAt, d.Lines, want)
		}
	}

	var audits []struct {
		Action string  `db:"action"`
		Before *[]byte `db:"before"`
		After  []byte  `db:"after"`
	}
	if err := db.SelectContext(ctx, &audits, `SELECT action, before, after FROM audit_log
		WHERE entity = 'reservation' AND entity_id = $1 ORDER BY id`, fmt.Sprint(r.ID)); err != nil {
		t.Fatal(err)
	}
	if len(audits) != 3 || audits[0].Action != "reservation.hold" || audits[1].Action != "reservation.commit" || audits[2].Action != "reservation.release" {
		t.Fatalf("audit rows: %+v", audits)
	}
	check("hold audit", decode("hold audit", audits[0].After), false, "held", "", "")
	check("commit audit before", decode("commit audit before", *audits[1].Before), false, "held", "", "")
	check("commit audit after", decode("commit audit after", audits[1].After), false, "committed", "ORD-DOCS-1", "")
	check("release audit before", decode("release audit before", *audits[2].Before), false, "committed", "ORD-DOCS-1", "")
	check("release audit after", decode("release audit after", audits[2].After), false, "released", "ORD-DOCS-1", "customer_cancelled")

	var events []struct {
		Topic   string `db:"topic"`
		Payload []byte `db:"payload"`
	}
	if err := db.SelectContext(ctx, &events, `SELECT topic, payload FROM outbox
		WHERE topic LIKE 'reservation.%' AND payload->>'id' = $1 ORDER BY id`, fmt.Sprint(r.ID)); err != nil {
		t.Fatal(err)
	}
	if len(events) != 3 || events[0].Topic != "reservation.held" || events[1].Topic != "reservation.committed" || events[2].Topic != "reservation.released" {
		t.Fatalf("outbox events: %+v", events)
	}
	check("held event", decode("held event", events[0].Payload), true, "held", "", "")
	check("committed event", decode("committed event", events[1].Payload), true, "committed", "ORD-DOCS-1", "")
	check("released event", decode("released event", events[2].Payload), true, "released", "ORD-DOCS-1", "customer_cancelled")
}
