package connectors

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"stockline/domain"
	"stockline/store"
)

// SquareVersion is the Square-Version header the adapter sends.
const SquareVersion = "2025-01-23"

// Square inventory states (InventoryState).
var squareStates = []string{"CUSTOM", "IN_STOCK", "SOLD", "RETURNED_BY_CUSTOMER", "RESERVED_FOR_SALE", "SOLD_ONLINE",
	"ORDERED_FROM_VENDOR", "RECEIVED_FROM_VENDOR", "IN_TRANSIT_TO", "NONE", "WASTE", "UNLINKED_RETURN", "COMPOSED",
	"DECOMPOSED", "SUPPORTED_BY_NEWER_VERSION", "IN_TRANSIT"}

// squareOnHand are the states whose units are physically at the location:
// on_hand mirrors them. Units RESERVED_FOR_SALE are still on the shelf;
// Stockline's own reservations are kept apart and never moved by a feed.
func squareOnHand(state string) bool { return state == "IN_STOCK" || state == "RESERVED_FOR_SALE" }

// squareAdjustment says what a Square ADJUSTMENT from one state to another
// does to on_hand: +1 into the location, -1 out of it, 0 nothing, with the
// reason code. The common cases, after Square's own documentation:
//
//	IN_STOCK → SOLD, SOLD_ONLINE          sale            on_hand −q
//	IN_STOCK → WASTE                      damaged         on_hand −q (written off)
//	IN_STOCK → IN_TRANSIT(_TO)            transfer_out    on_hand −q
//	IN_STOCK → NONE, anything else        correction      on_hand −q
//	RETURNED_BY_CUSTOMER, SOLD → IN_STOCK return_restock  on_hand +q
//	NONE, *_FROM_VENDOR → IN_STOCK        received        on_hand +q
//	IN_TRANSIT(_TO) → IN_STOCK            transfer_in     on_hand +q
//	IN_STOCK ↔ RESERVED_FOR_SALE, or between two off-shelf states
//	(e.g. SOLD → RETURNED_BY_CUSTOMER)   no stock effect
func squareAdjustment(from, to string) (sign int, reason domain.Reason) {
	switch fromOn, toOn := squareOnHand(from), squareOnHand(to); {
	case fromOn == toOn:
		return 0, ""
	case fromOn:
		switch to {
		case "SOLD", "SOLD_ONLINE":
			return -1, domain.ReasonSale
		case "WASTE":
			return -1, domain.ReasonDamaged
		case "IN_TRANSIT", "IN_TRANSIT_TO":
			return -1, domain.ReasonTransferOut
		}
		return -1, domain.ReasonCorrection
	default:
		switch from {
		case "RETURNED_BY_CUSTOMER", "SOLD", "SOLD_ONLINE", "UNLINKED_RETURN":
			return 1, domain.ReasonReturnRestock
		case "NONE", "RECEIVED_FROM_VENDOR", "ORDERED_FROM_VENDOR":
			return 1, domain.ReasonReceived
		case "IN_TRANSIT", "IN_TRANSIT_TO":
			return 1, domain.ReasonTransferIn
		}
		return 1, domain.ReasonCorrection
	}
}

type squareAdjustmentJSON struct {
	ID              string `json:"id"`
	FromState       string `json:"from_state"`
	ToState         string `json:"to_state"`
	LocationID      string `json:"location_id"`
	CatalogObjectID string `json:"catalog_object_id"`
	Quantity        string `json:"quantity"`
	OccurredAt      string `json:"occurred_at"`
	CreatedAt       string `json:"created_at"`
}

type squareCountJSON struct {
	ID              string `json:"id"`
	State           string `json:"state"`
	LocationID      string `json:"location_id"`
	CatalogObjectID string `json:"catalog_object_id"`
	Quantity        string `json:"quantity"`
	OccurredAt      string `json:"occurred_at"`
	CreatedAt       string `json:"created_at"`
}

type squareTransferJSON struct {
	ID              string `json:"id"`
	State           string `json:"state"`
	FromLocationID  string `json:"from_location_id"`
	ToLocationID    string `json:"to_location_id"`
	CatalogObjectID string `json:"catalog_object_id"`
	Quantity        string `json:"quantity"`
	OccurredAt      string `json:"occurred_at"`
	CreatedAt       string `json:"created_at"`
}

type squareChangeJSON struct {
	Type          string                `json:"type"`
	Adjustment    *squareAdjustmentJSON `json:"adjustment"`
	PhysicalCount *squareCountJSON      `json:"physical_count"`
	Transfer      *squareTransferJSON   `json:"transfer"`
}

// ParseSquareChange reads one InventoryChange from a Square
// batch-retrieve response. It never fails: an event it cannot read comes
// back with Err set (and is dead-lettered), keyed by its id when it has one.
func ParseSquareChange(raw []byte) store.InboundEvent {
	ev := store.InboundEvent{Payload: raw, Type: "square.unknown"}
	var ch squareChangeJSON
	if err := strictJSON(raw, &ch); err != nil {
		ev.Err = "Not a Square inventory change: " + err.Error()
		return ev
	}
	switch ch.Type {
	case "ADJUSTMENT":
		ev.Type = "square.adjustment"
		a := ch.Adjustment
		if a == nil {
			ev.Err = "ADJUSTMENT change without an adjustment object."
			return ev
		}
		ev.SourceEventID = squareID("adjustment", a.ID)
		if err := squareCommon(&ev, a.ID, a.OccurredAt, a.CatalogObjectID, a.LocationID); err != "" {
			ev.Err = err
			return ev
		}
		for _, s := range []string{a.FromState, a.ToState} {
			if !slices.Contains(squareStates, s) {
				ev.Err = fmt.Sprintf("Unknown inventory state %q.", s)
				return ev
			}
		}
		q, err := domain.ParseWholeQuantity(a.Quantity)
		if err != nil {
			ev.Err = "Quantity: " + err.Error() + "."
			return ev
		}
		sign, reason := squareAdjustment(a.FromState, a.ToState)
		if sign == 0 || q == 0 {
			ev.NoEffect = fmt.Sprintf("%s → %s moves no units on the shelf.", a.FromState, a.ToState)
			return ev
		}
		ev.Changes = []domain.StockChange{{Item: domain.ItemRef(a.CatalogObjectID), Location: domain.LocationRef(a.LocationID),
			Reason: reason, Moves: []domain.Movement{{Bucket: domain.OnHand, Delta: sign * q}}}}
	case "PHYSICAL_COUNT":
		ev.Type = "square.physical_count"
		c := ch.PhysicalCount
		if c == nil {
			ev.Err = "PHYSICAL_COUNT change without a physical_count object."
			return ev
		}
		ev.SourceEventID = squareID("physical_count", c.ID)
		if err := squareCommon(&ev, c.ID, c.OccurredAt, c.CatalogObjectID, c.LocationID); err != "" {
			ev.Err = err
			return ev
		}
		if !slices.Contains(squareStates, c.State) {
			ev.Err = fmt.Sprintf("Unknown inventory state %q.", c.State)
			return ev
		}
		q, err := domain.ParseWholeQuantity(c.Quantity)
		if err != nil {
			ev.Err = "Quantity: " + err.Error() + "."
			return ev
		}
		if c.State != "IN_STOCK" {
			ev.NoEffect = "Counts of state " + c.State + " are not tracked; only IN_STOCK counts set on hand."
			return ev
		}
		ev.Changes = []domain.StockChange{{Item: domain.ItemRef(c.CatalogObjectID), Location: domain.LocationRef(c.LocationID), Count: &q}}
	case "TRANSFER":
		ev.Type = "square.transfer"
		t := ch.Transfer
		if t == nil {
			ev.Err = "TRANSFER change without a transfer object."
			return ev
		}
		ev.SourceEventID = squareID("transfer", t.ID)
		if err := squareCommon(&ev, t.ID, t.OccurredAt, t.CatalogObjectID, t.FromLocationID); err != "" {
			ev.Err = err
			return ev
		}
		if t.ToLocationID == "" {
			ev.Err = "The transfer has no to_location_id."
			return ev
		}
		q, err := domain.ParseWholeQuantity(t.Quantity)
		if err != nil {
			ev.Err = "Quantity: " + err.Error() + "."
			return ev
		}
		if t.State != "" && t.State != "IN_STOCK" {
			ev.NoEffect = "Transfers of state " + t.State + " are not tracked."
			return ev
		}
		if q == 0 || t.FromLocationID == t.ToLocationID {
			ev.NoEffect = "The transfer moves nothing."
			return ev
		}
		item := domain.ItemRef(t.CatalogObjectID)
		ev.Changes = []domain.StockChange{
			{Item: item, Location: domain.LocationRef(t.FromLocationID), Reason: domain.ReasonTransferOut, Moves: []domain.Movement{{Bucket: domain.OnHand, Delta: -q}}},
			{Item: item, Location: domain.LocationRef(t.ToLocationID), Reason: domain.ReasonTransferIn, Moves: []domain.Movement{{Bucket: domain.OnHand, Delta: q}}},
		}
	default:
		ev.Err = fmt.Sprintf("Unknown inventory change type %q.", ch.Type)
	}
	return ev
}

func squareID(kind, id string) string {
	if id == "" {
		return ""
	}
	return "square:" + kind + ":" + id
}

// squareCommon checks the fields every change has and sets OccurredAt.
func squareCommon(ev *store.InboundEvent, id, occurred, item, loc string) string {
	switch {
	case id == "":
		return "The change has no id."
	case len(id) > 200:
		return "The change id is too long."
	case item == "":
		return "The change has no catalog_object_id."
	case loc == "":
		return "The change has no location_id."
	}
	t, err := parseSourceTime(occurred)
	if err != nil {
		return "occurred_at: " + err.Error() + "."
	}
	ev.OccurredAt = t
	return ""
}

// parseSourceTime reads an RFC 3339 time from a feed, rejecting times
// before 2000 or more than a day ahead (a broken clock, not an event).
func parseSourceTime(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, fmt.Errorf("missing")
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q is not an RFC 3339 time", feedExcerpt(s, 40))
	}
	if t.Year() < 2000 || t.After(time.Now().Add(24*time.Hour)) {
		return time.Time{}, fmt.Errorf("%s is out of range", s)
	}
	return t.UTC(), nil
}

// strictJSON decodes one JSON value and nothing after it.
func strictJSON(raw []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(raw))
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("invalid JSON (%s)", feedExcerpt(err.Error(), 120))
	}
	if dec.More() {
		return fmt.Errorf("data after the JSON value")
	}
	return nil
}

func feedExcerpt(s string, n int) string {
	s = strings.ToValidUTF8(s, "?")
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// squareCursor is the Square stream's saved position: pages of one query
// (updated_after, with Square's page cursor), and the newest created_at
// seen, which becomes the next query's updated_after.
type squareCursor struct {
	After string `json:"after"`
	Page  string `json:"page,omitempty"`
	Max   string `json:"max,omitempty"`
}

// squareOverlap re-reads this much before the newest change seen, so a
// change Square records a moment late is not skipped; dedupe drops the
// repeats.
const squareOverlap = time.Minute

type squareSettings struct {
	LocationIDs []string `json:"location_ids"`
	StartAfter  string   `json:"start_after"`
	PageLimit   int      `json:"page_limit"`
}

// SquareAdapter pulls POST /v2/inventory/changes/batch-retrieve.
type SquareAdapter struct {
	src      source
	settings squareSettings
	db       *store.DB
	conn     store.Connector
}

// Streams lists the one stream: inventory changes.
func (a *SquareAdapter) Streams() []string { return []string{"inventory"} }

// Pull fetches the page after cursor.
func (a *SquareAdapter) Pull(ctx context.Context, stream, cursor string) (Page, error) {
	var cur squareCursor
	if cursor != "" {
		if err := json.Unmarshal([]byte(cursor), &cur); err != nil {
			return Page{}, fmt.Errorf("saved cursor is unreadable: %w", err)
		}
	}
	if cur.After == "" {
		cur.After = a.settings.StartAfter
		if cur.After == "" {
			cur.After = "1970-01-01T00:00:00Z"
		}
	}
	locs := a.settings.LocationIDs
	if len(locs) == 0 {
		maps, err := a.db.LocationMappings(ctx, a.conn.ID)
		if err != nil {
			return Page{}, err
		}
		for _, m := range maps {
			locs = append(locs, m.ExternalID)
		}
	}
	limit := a.settings.PageLimit
	if limit <= 0 || limit > 1000 {
		limit = 500
	}
	body := map[string]any{"updated_after": cur.After, "limit": limit}
	if len(locs) > 0 {
		body["location_ids"] = locs
	}
	if cur.Page != "" {
		body["cursor"] = cur.Page
	}
	raw, _, err := a.src.do(ctx, "POST", "/v2/inventory/changes/batch-retrieve", body)
	if err != nil {
		return Page{}, err
	}
	var resp struct {
		Changes []json.RawMessage `json:"changes"`
		Cursor  string            `json:"cursor"`
		Errors  []struct {
			Category string `json:"category"`
			Code     string `json:"code"`
			Detail   string `json:"detail"`
		} `json:"errors"`
	}
	if err := json.Unmarshal(raw, &resp); err != nil {
		return Page{}, fmt.Errorf("Square response is not the JSON expected: %s", feedExcerpt(err.Error(), 200))
	}
	if len(resp.Errors) > 0 && len(resp.Changes) == 0 {
		e := resp.Errors[0]
		return Page{}, fmt.Errorf("Square error %s/%s: %s", e.Category, e.Code, feedExcerpt(e.Detail, 200))
	}
	page := Page{}
	maxSeen := cur.Max
	for _, rc := range resp.Changes {
		ev := ParseSquareChange(rc)
		page.Events = append(page.Events, ev)
		if created := squareCreatedAt(rc); created > maxSeen {
			maxSeen = created
		}
	}
	next := squareCursor{After: cur.After, Page: resp.Cursor, Max: maxSeen}
	if resp.Cursor == "" {
		// The query is done: the next one starts a little before the newest
		// change seen.
		next = squareCursor{After: cur.After}
		if t, err := time.Parse(time.RFC3339Nano, maxSeen); err == nil {
			after := t.Add(-squareOverlap)
			if prev, err := time.Parse(time.RFC3339Nano, cur.After); err != nil || after.After(prev) {
				next.After = after.UTC().Format(time.RFC3339Nano)
			}
		}
	}
	page.More = resp.Cursor != ""
	b, _ := json.Marshal(next)
	page.Next = string(b)
	return page, nil
}

// squareCreatedAt pulls created_at out of a change, normalised to UTC
// RFC 3339 so strings compare in time order; "" when unreadable.
func squareCreatedAt(raw []byte) string {
	var ch squareChangeJSON
	if json.Unmarshal(raw, &ch) != nil {
		return ""
	}
	var s string
	switch {
	case ch.Adjustment != nil:
		s = ch.Adjustment.CreatedAt
	case ch.PhysicalCount != nil:
		s = ch.PhysicalCount.CreatedAt
	case ch.Transfer != nil:
		s = ch.Transfer.CreatedAt
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil || t.After(time.Now().Add(24*time.Hour)) {
		return ""
	}
	return t.UTC().Format("2006-01-02T15:04:05.000000000Z")
}
