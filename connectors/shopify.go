package connectors

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"time"

	"stockline/domain"
	"stockline/store"
)

// ShopifyAPIVersion is the Admin API version in request paths unless a
// connector's settings name another.
const ShopifyAPIVersion = "2025-01"

// VerifyShopifyHMAC reports whether header (X-Shopify-Hmac-Sha256) is the
// base64 HMAC-SHA256 of the raw body under secret, compared in constant
// time. An empty secret verifies nothing.
func VerifyShopifyHMAC(secret string, body []byte, header string) bool {
	if secret == "" || header == "" {
		return false
	}
	got, err := base64.StdEncoding.DecodeString(strings.TrimSpace(header))
	if err != nil {
		return false
	}
	return hmac.Equal(got, ShopifyHMAC(secret, body))
}

// ShopifyHMAC is the raw HMAC-SHA256 of body under secret.
func ShopifyHMAC(secret string, body []byte) []byte {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	return m.Sum(nil)
}

// ShopifyWebhookTopics are the topics POST /webhooks/shopify accepts.
var ShopifyWebhookTopics = []string{"orders/create", "orders/updated", "orders/cancelled", "refunds/create", "inventory_levels/update"}

// ParseShopifyWebhook reads a webhook body for topic into events. The
// events carry the same ids a pull of the same order, refund or level
// would, so webhooks and pulls dedupe against each other.
func ParseShopifyWebhook(topic string, body []byte) ([]store.InboundEvent, error) {
	switch topic {
	case "orders/create", "orders/updated", "orders/cancelled", "orders/paid", "orders/fulfilled":
		return ParseShopifyOrder(body), nil
	case "refunds/create":
		return []store.InboundEvent{ParseShopifyRefund(body)}, nil
	case "inventory_levels/update":
		return []store.InboundEvent{ParseShopifyInventoryLevel(body)}, nil
	}
	return nil, domain.Errorf(domain.EINVALID, "Topic %q is not one Stockline subscribes to.", feedExcerpt(topic, 60))
}

// ParseShopifyStored re-reads one stored Shopify event by its type.
func ParseShopifyStored(typ string, payload []byte) store.InboundEvent {
	switch typ {
	case "shopify.order", "shopify.order_cancelled":
		for _, ev := range ParseShopifyOrder(payload) {
			if ev.Type == typ || ev.Err != "" {
				return ev
			}
		}
		return store.InboundEvent{Type: typ, Payload: payload, Err: "The order is not cancelled; nothing to cancel."}
	case "shopify.refund":
		return ParseShopifyRefund(payload)
	case "shopify.inventory_level":
		return ParseShopifyInventoryLevel(payload)
	}
	return store.InboundEvent{Type: typ, Payload: payload, Err: "Unknown Shopify event type " + typ + "."}
}

var decimalID = regexp.MustCompile(`^[0-9]{1,20}$`)

type shopifyLineItemJSON struct {
	ID        json.Number `json:"id"`
	VariantID json.Number `json:"variant_id"`
	SKU       string      `json:"sku"`
	Quantity  int         `json:"quantity"`
	Title     string      `json:"title"`
}

type shopifyOrderJSON struct {
	ID              json.Number           `json:"id"`
	Name            string                `json:"name"`
	Email           string                `json:"email"`
	Phone           string                `json:"phone"`
	CreatedAt       string                `json:"created_at"`
	UpdatedAt       string                `json:"updated_at"`
	CancelledAt     *string               `json:"cancelled_at"`
	CancelReason    string                `json:"cancel_reason"`
	FinancialStatus string                `json:"financial_status"`
	LocationID      json.Number           `json:"location_id"`
	LineItems       []shopifyLineItemJSON `json:"line_items"`
	ShippingLines   []struct {
		Code  string `json:"code"`
		Title string `json:"title"`
	} `json:"shipping_lines"`
	NoteAttributes []struct {
		Name  string `json:"name"`
		Value any    `json:"value"`
	} `json:"note_attributes"`
	Customer *struct {
		FirstName string `json:"first_name"`
		LastName  string `json:"last_name"`
		Email     string `json:"email"`
		Phone     string `json:"phone"`
	} `json:"customer"`
	Refunds []json.RawMessage `json:"refunds"`
}

// ParseShopifyOrder reads an Admin REST order (from orders.json or an
// orders/* webhook) into its events: the order's creation, its
// cancellation when cancelled_at is set, and each refund. It never fails:
// what it cannot read comes back as one event with Err set.
func ParseShopifyOrder(raw []byte) []store.InboundEvent {
	var o shopifyOrderJSON
	bad := func(id, msg string) []store.InboundEvent {
		ev := store.InboundEvent{Type: "shopify.order", Payload: raw, Err: msg}
		if id != "" {
			ev.SourceEventID = "shopify:order:" + id + ":created"
		}
		return []store.InboundEvent{ev}
	}
	if err := strictJSON(raw, &o); err != nil {
		return bad("", "Not a Shopify order: "+err.Error())
	}
	id := o.ID.String()
	if !decimalID.MatchString(id) {
		return bad("", fmt.Sprintf("The order id %q is not a decimal id.", feedExcerpt(id, 30)))
	}
	placed, err := parseSourceTime(o.CreatedAt)
	if err != nil {
		return bad(id, "created_at: "+err.Error()+".")
	}
	ord := &domain.ExternalOrder{ExternalRef: id, Name: feedExcerpt(o.Name, 60), Channel: domain.EcommerceShip,
		CustomerEmail: o.Email, CustomerPhone: o.Phone, FinancialStatus: o.FinancialStatus, PlacedAt: placed}
	if c := o.Customer; c != nil {
		ord.CustomerName = strings.TrimSpace(c.FirstName + " " + c.LastName)
		if ord.CustomerEmail == "" {
			ord.CustomerEmail = c.Email
		}
		if ord.CustomerPhone == "" {
			ord.CustomerPhone = c.Phone
		}
	}
	// Local pickup: a shipping line that says pickup, at the order's
	// location (or a pickup_location_id note attribute).
	for _, s := range o.ShippingLines {
		if strings.Contains(strings.ToLower(s.Code+" "+s.Title), "pickup") {
			ord.Channel = domain.BOPIS
		}
	}
	if ord.Channel == domain.BOPIS {
		loc := o.LocationID.String()
		for _, a := range o.NoteAttributes {
			if a.Name == "pickup_location_id" {
				loc = fmt.Sprint(a.Value)
			}
		}
		ord.PickupLocation = domain.LocationRef(loc)
	}
	for _, li := range o.LineItems {
		ref, msg := shopifyItemRef(li.SKU, li.VariantID)
		if msg != "" {
			return bad(id, "Line "+li.ID.String()+": "+msg)
		}
		ord.Lines = append(ord.Lines, domain.ExternalOrderLine{ExternalLineID: li.ID.String(), Item: ref, Quantity: li.Quantity})
	}
	if err := ord.Validate(); err != nil {
		return bad(id, domain.ErrorMessage(err))
	}
	evs := []store.InboundEvent{{SourceEventID: "shopify:order:" + id + ":created", Type: "shopify.order", OccurredAt: placed,
		Payload: raw, Order: ord}}
	if o.CancelledAt != nil && *o.CancelledAt != "" {
		at, err := parseSourceTime(*o.CancelledAt)
		ev := store.InboundEvent{SourceEventID: "shopify:order:" + id + ":cancelled", Type: "shopify.order_cancelled", OccurredAt: at, Payload: raw}
		if err != nil {
			ev.Err = "cancelled_at: " + err.Error() + "."
		} else {
			ev.Cancel = &domain.ExternalOrderCancel{ExternalRef: id, Reason: feedExcerpt(o.CancelReason, 100), ReasonCode: domain.ShopifyCancelReason(o.CancelReason), CancelledAt: at}
		}
		evs = append(evs, ev)
	}
	for _, r := range o.Refunds {
		evs = append(evs, ParseShopifyRefund(r))
	}
	return evs
}

// shopifyItemRef names a line's item: its SKU when it has one (Shopify
// SKUs are usually the retailer's own), else its variant through the
// connector's item mappings (external id "variant:<id>").
func shopifyItemRef(sku string, variant json.Number) (domain.Ref, string) {
	if s := strings.TrimSpace(sku); s != "" {
		return domain.Ref{Kind: domain.RefSKU, ID: feedExcerpt(s, 100)}, ""
	}
	if v := variant.String(); decimalID.MatchString(v) {
		return domain.ItemRef("variant:" + v), ""
	}
	return domain.Ref{}, "the line names neither a SKU nor a variant"
}

type shopifyRefundJSON struct {
	ID              json.Number `json:"id"`
	OrderID         json.Number `json:"order_id"`
	CreatedAt       string      `json:"created_at"`
	ProcessedAt     string      `json:"processed_at"`
	RefundLineItems []struct {
		ID          json.Number         `json:"id"`
		LineItemID  json.Number         `json:"line_item_id"`
		Quantity    int                 `json:"quantity"`
		RestockType string              `json:"restock_type"`
		LocationID  json.Number         `json:"location_id"`
		LineItem    shopifyLineItemJSON `json:"line_item"`
	} `json:"refund_line_items"`
}

// ParseShopifyRefund reads a refund (inside an order, or a refunds/create
// webhook) as a refund of its order, which Stockline records as returns:
// lines restocked as a return ("return", "legacy_restock") come back on
// hand at their location through a received return (disposition
// restock); lines refunded with "no_restock" become a pending return that
// a store receives later. "cancel" restocks belong to the order's
// cancellation and are left out.
func ParseShopifyRefund(raw []byte) store.InboundEvent {
	ev := store.InboundEvent{Type: "shopify.refund", Payload: raw}
	var r shopifyRefundJSON
	if err := strictJSON(raw, &r); err != nil {
		ev.Err = "Not a Shopify refund: " + err.Error()
		return ev
	}
	id := r.ID.String()
	if !decimalID.MatchString(id) {
		ev.Err = fmt.Sprintf("The refund id %q is not a decimal id.", feedExcerpt(id, 30))
		return ev
	}
	ev.SourceEventID = "shopify:refund:" + id
	at := r.ProcessedAt
	if at == "" {
		at = r.CreatedAt
	}
	t, err := parseSourceTime(at)
	if err != nil {
		ev.Err = "created_at: " + err.Error() + "."
		return ev
	}
	ev.OccurredAt = t
	orderID := r.OrderID.String()
	refund := &domain.ExternalRefund{RefundID: id, OrderRef: orderID}
	for _, l := range r.RefundLineItems {
		line := domain.ExternalRefundLine{Quantity: l.Quantity}
		switch l.RestockType {
		case "return", "legacy_restock":
			line.Restock = true
		case "no_restock", "":
		case "cancel":
			continue
		default:
			ev.Err = fmt.Sprintf("Unknown restock_type %q.", feedExcerpt(l.RestockType, 30))
			return ev
		}
		if l.Quantity <= 0 || l.Quantity > domain.MaxQuantity {
			ev.Err = fmt.Sprintf("Refund line %s has quantity %d.", l.ID.String(), l.Quantity)
			return ev
		}
		if loc := l.LocationID.String(); line.Restock && !decimalID.MatchString(loc) {
			ev.Err = fmt.Sprintf("Refund line %s restocks with no location_id.", l.ID.String())
			return ev
		} else if line.Restock {
			line.Location = domain.LocationRef(loc)
		}
		ref, msg := shopifyItemRef(l.LineItem.SKU, l.LineItem.VariantID)
		if msg != "" {
			ev.Err = "Refund line " + l.ID.String() + ": " + msg + "."
			return ev
		}
		line.Item = ref
		refund.Lines = append(refund.Lines, line)
	}
	if len(refund.Lines) == 0 {
		ev.NoEffect = "The refund returns no units."
		return ev
	}
	if !decimalID.MatchString(orderID) {
		ev.Err = fmt.Sprintf("The refund's order_id %q is not a decimal id.", feedExcerpt(orderID, 30))
		return ev
	}
	ev.Refund = refund
	return ev
}

type shopifyLevelJSON struct {
	InventoryItemID json.Number `json:"inventory_item_id"`
	LocationID      json.Number `json:"location_id"`
	Available       *int        `json:"available"`
	UpdatedAt       string      `json:"updated_at"`
}

// ParseShopifyInventoryLevel reads an inventory level (inventory_levels.json
// or an inventory_levels/update webhook) as a count snapshot: the mapped
// location had Available units at updated_at. Shopify lets available go
// below zero when it oversells; a count cannot, so that is read as zero.
func ParseShopifyInventoryLevel(raw []byte) store.InboundEvent {
	ev := store.InboundEvent{Type: "shopify.inventory_level", Payload: raw}
	var l shopifyLevelJSON
	if err := strictJSON(raw, &l); err != nil {
		ev.Err = "Not a Shopify inventory level: " + err.Error()
		return ev
	}
	item, loc := l.InventoryItemID.String(), l.LocationID.String()
	if !decimalID.MatchString(item) || !decimalID.MatchString(loc) {
		ev.Err = "The level needs decimal inventory_item_id and location_id."
		return ev
	}
	ev.SourceEventID = "shopify:inventory_level:" + item + ":" + loc + ":" + feedExcerpt(l.UpdatedAt, 40)
	t, err := parseSourceTime(l.UpdatedAt)
	if err != nil {
		ev.Err = "updated_at: " + err.Error() + "."
		return ev
	}
	ev.OccurredAt = t
	if l.Available == nil {
		ev.NoEffect = "The item is not tracked at this location (available is null)."
		return ev
	}
	n := max(*l.Available, 0)
	if n > domain.MaxQuantity {
		ev.Err = fmt.Sprintf("available %d is over %d.", n, domain.MaxQuantity)
		return ev
	}
	ev.Changes = []domain.StockChange{{Item: domain.ItemRef("inventory_item:" + item), Location: domain.LocationRef(loc), Count: &n}}
	return ev
}

// shopifyCursor is a Shopify stream's saved position: the updated_at_min
// of the current query, the next page's link, and the newest updated_at
// seen, which starts the next query.
type shopifyCursor struct {
	After string `json:"after"`
	Next  string `json:"next,omitempty"`
	Max   string `json:"max,omitempty"`
}

type shopifySettings struct {
	APIVersion string   `json:"api_version"`
	StartAfter string   `json:"start_after"`
	PageLimit  int      `json:"page_limit"`
	Streams    []string `json:"streams"`
}

// ShopifyAdapter pulls the Admin REST API: orders (with their refunds)
// and inventory levels at the mapped locations.
type ShopifyAdapter struct {
	src      source
	settings shopifySettings
	db       *store.DB
	conn     store.Connector
}

// Streams are orders and inventory_levels unless settings say otherwise.
func (a *ShopifyAdapter) Streams() []string {
	if len(a.settings.Streams) > 0 {
		return a.settings.Streams
	}
	return []string{"orders", "inventory_levels"}
}

var linkNext = regexp.MustCompile(`<([^>]+)>;\s*rel="?next"?`)

// Pull fetches the page after cursor on the orders or inventory_levels stream.
func (a *ShopifyAdapter) Pull(ctx context.Context, stream, cursor string) (Page, error) {
	var cur shopifyCursor
	if cursor != "" {
		if err := json.Unmarshal([]byte(cursor), &cur); err != nil {
			return Page{}, fmt.Errorf("saved cursor is unreadable: %w", err)
		}
	}
	if cur.After == "" {
		cur.After = a.settings.StartAfter
		if cur.After == "" {
			cur.After = "2000-01-01T00:00:00Z"
		}
	}
	ver := a.settings.APIVersion
	if ver == "" {
		ver = ShopifyAPIVersion
	}
	limit := a.settings.PageLimit
	if limit <= 0 || limit > 250 {
		limit = 250
	}
	path := cur.Next
	if path == "" {
		q := url.Values{"updated_at_min": {cur.After}, "limit": {fmt.Sprint(limit)}}
		switch stream {
		case "orders":
			q.Set("status", "any")
			path = "/admin/api/" + ver + "/orders.json?" + q.Encode()
		case "inventory_levels":
			maps, err := a.db.LocationMappings(ctx, a.conn.ID)
			if err != nil {
				return Page{}, err
			}
			if len(maps) == 0 {
				return Page{Next: cursor}, nil
			}
			var ids []string
			for _, m := range maps {
				ids = append(ids, m.ExternalID)
			}
			q.Set("location_ids", strings.Join(ids, ","))
			path = "/admin/api/" + ver + "/inventory_levels.json?" + q.Encode()
		default:
			return Page{}, fmt.Errorf("unknown Shopify stream %q", stream)
		}
	}
	raw, hdr, err := a.src.do(ctx, "GET", path, nil)
	if err != nil {
		return Page{}, err
	}
	var resp struct {
		Orders []json.RawMessage `json:"orders"`
		Levels []json.RawMessage `json:"inventory_levels"`
	}
	if err := json.Unmarshal(raw, &resp); err != nil {
		return Page{}, fmt.Errorf("Shopify response is not the JSON expected: %s", feedExcerpt(err.Error(), 200))
	}
	page := Page{}
	maxSeen := cur.Max
	note := func(raw []byte) {
		var x struct {
			UpdatedAt string `json:"updated_at"`
		}
		if json.Unmarshal(raw, &x) == nil {
			if t, err := time.Parse(time.RFC3339Nano, x.UpdatedAt); err == nil && !t.After(time.Now().Add(24*time.Hour)) {
				if s := t.UTC().Format("2006-01-02T15:04:05.000000000Z"); s > maxSeen {
					maxSeen = s
				}
			}
		}
	}
	for _, o := range resp.Orders {
		page.Events = append(page.Events, ParseShopifyOrder(o)...)
		note(o)
	}
	for _, l := range resp.Levels {
		page.Events = append(page.Events, ParseShopifyInventoryLevel(l))
		note(l)
	}
	next := ""
	if m := linkNext.FindStringSubmatch(hdr.Get("Link")); m != nil {
		next = m[1]
	}
	nc := shopifyCursor{After: cur.After, Next: next, Max: maxSeen}
	if next == "" {
		nc = shopifyCursor{After: cur.After}
		if t, err := time.Parse(time.RFC3339Nano, maxSeen); err == nil {
			after := t.Add(-squareOverlap)
			if prev, err := time.Parse(time.RFC3339Nano, cur.After); err != nil || after.After(prev) {
				nc.After = after.UTC().Format(time.RFC3339)
			}
		}
	}
	page.More = next != ""
	b, _ := json.Marshal(nc)
	page.Next = string(b)
	return page, nil
}
