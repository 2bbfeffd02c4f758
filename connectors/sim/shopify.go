package sim

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Shopify serves the Admin REST endpoints the connector pulls:
// GET /admin/api/<version>/orders.json and inventory_levels.json, filtered
// by updated_at_min and paginated with page_info in a Link header.
type Shopify struct {
	Token    string // when set, requests must carry X-Shopify-Access-Token
	PageSize int    // the most records per page (also bounded by limit); default 50

	traffic
	mu     sync.Mutex
	orders map[string]shopifyRecord // by order id; an update replaces the record
	levels map[string]shopifyRecord // by item:location
	seq    int
}

type shopifyRecord struct {
	updated  time.Time
	seq      int // tie-break for equal times
	location string
	raw      json.RawMessage
}

// NewShopify returns an empty shop.
func NewShopify() *Shopify {
	return &Shopify{orders: map[string]shopifyRecord{}, levels: map[string]shopifyRecord{}}
}

// PutOrder stores (or replaces) an order; raw must carry id and updated_at.
func (s *Shopify) PutOrder(raw json.RawMessage) error {
	var o struct {
		ID        json.Number `json:"id"`
		UpdatedAt string      `json:"updated_at"`
	}
	if err := json.Unmarshal(raw, &o); err != nil {
		return err
	}
	t, err := time.Parse(time.RFC3339, o.UpdatedAt)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.seq++
	s.orders[o.ID.String()] = shopifyRecord{updated: t, seq: s.seq, raw: raw}
	return nil
}

// PutLevel stores (or replaces) an inventory level.
func (s *Shopify) PutLevel(raw json.RawMessage) error {
	var l struct {
		Item      json.Number `json:"inventory_item_id"`
		Location  json.Number `json:"location_id"`
		UpdatedAt string      `json:"updated_at"`
	}
	if err := json.Unmarshal(raw, &l); err != nil {
		return err
	}
	t, err := time.Parse(time.RFC3339, l.UpdatedAt)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.seq++
	s.levels[l.Item.String()+":"+l.Location.String()] = shopifyRecord{updated: t, seq: s.seq, location: l.Location.String(), raw: raw}
	return nil
}

var shopifyPath = regexp.MustCompile(`^/admin/api/[0-9]{4}-[0-9]{2}/(orders|inventory_levels)\.json$`)

type pageInfo struct {
	Min    string `json:"m"`
	Offset int    `json:"o"`
	Limit  int    `json:"l"`
	Locs   string `json:"x,omitempty"`
}

func shopifyErr(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]string{"errors": msg})
}

// ServeHTTP answers the two list endpoints.
func (s *Shopify) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if fault := s.arrive(w, r); fault != nil && fault.serve(w, r, func(status int) { shopifyErr(w, status, "simulated outage") }) {
		return
	}
	m := shopifyPath.FindStringSubmatch(r.URL.Path)
	if r.Method != http.MethodGet || m == nil {
		shopifyErr(w, http.StatusNotFound, "Not Found")
		return
	}
	if s.Token != "" && r.Header.Get("X-Shopify-Access-Token") != s.Token {
		shopifyErr(w, http.StatusUnauthorized, "[API] Invalid API key or access token (unrecognized login or wrong password)")
		return
	}
	q := r.URL.Query()
	var pi pageInfo
	if p := q.Get("page_info"); p != "" {
		// Shopify refuses filters beside page_info.
		if q.Get("updated_at_min") != "" {
			shopifyErr(w, http.StatusBadRequest, "updated_at_min cannot be passed when page_info is present")
			return
		}
		b, err := base64.RawURLEncoding.DecodeString(p)
		if err != nil || json.Unmarshal(b, &pi) != nil {
			shopifyErr(w, http.StatusBadRequest, "Invalid page_info")
			return
		}
	} else {
		pi = pageInfo{Min: q.Get("updated_at_min"), Locs: q.Get("location_ids")}
		pi.Limit, _ = strconv.Atoi(q.Get("limit"))
		if m[1] == "inventory_levels" && pi.Locs == "" {
			shopifyErr(w, http.StatusUnprocessableEntity, "location_ids or inventory_item_ids is required")
			return
		}
	}
	if pi.Limit <= 0 || pi.Limit > 250 {
		pi.Limit = 50
	}
	limit := pi.Limit
	if s.PageSize > 0 && limit > s.PageSize {
		limit = s.PageSize
	}
	var min time.Time
	if pi.Min != "" {
		t, err := time.Parse(time.RFC3339, pi.Min)
		if err != nil {
			shopifyErr(w, http.StatusBadRequest, "updated_at_min is not a time")
			return
		}
		min = t
	}
	s.mu.Lock()
	src := s.orders
	if m[1] == "inventory_levels" {
		src = s.levels
	}
	locs := map[string]bool{}
	for _, l := range strings.Split(pi.Locs, ",") {
		locs[l] = true
	}
	var recs []shopifyRecord
	for _, rec := range src {
		if rec.updated.Before(min) || m[1] == "inventory_levels" && !locs[rec.location] {
			continue
		}
		recs = append(recs, rec)
	}
	s.mu.Unlock()
	sort.Slice(recs, func(i, j int) bool {
		if !recs[i].updated.Equal(recs[j].updated) {
			return recs[i].updated.Before(recs[j].updated)
		}
		return recs[i].seq < recs[j].seq
	})
	page := []json.RawMessage{}
	if pi.Offset < len(recs) {
		end := pi.Offset + limit
		if end > len(recs) {
			end = len(recs)
		}
		for _, rec := range recs[pi.Offset:end] {
			page = append(page, rec.raw)
		}
		if end < len(recs) {
			next := pi
			next.Offset = end
			b, _ := json.Marshal(next)
			u := url.URL{Scheme: "http", Host: r.Host, Path: r.URL.Path,
				RawQuery: url.Values{"limit": {strconv.Itoa(pi.Limit)}, "page_info": {base64.RawURLEncoding.EncodeToString(b)}}.Encode()}
			w.Header().Set("Link", fmt.Sprintf(`<%s>; rel="next"`, u.String()))
		}
	}
	key := "orders"
	if m[1] == "inventory_levels" {
		key = "inventory_levels"
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]any{key: page})
}

// ShopifyTime formats a time as Shopify does.
func ShopifyTime(t time.Time) string { return t.Format("2006-01-02T15:04:05-07:00") }

// ShopifyLine is one line of a simulated order.
type ShopifyLine struct {
	ID        int64
	VariantID int64
	SKU       string
	Quantity  int
}

// ShopifyOrder builds an Admin REST order. pickupLocation > 0 makes it a
// local-pickup order at that location.
func ShopifyOrder(id int64, number int, email string, created, updated time.Time, lines []ShopifyLine, pickupLocation int64, cancelled *time.Time, refunds ...json.RawMessage) json.RawMessage {
	var li []map[string]any
	for _, l := range lines {
		li = append(li, map[string]any{"id": l.ID, "variant_id": l.VariantID, "sku": l.SKU, "quantity": l.Quantity,
			"fulfillable_quantity": l.Quantity, "title": l.SKU})
	}
	o := map[string]any{
		"id": id, "name": fmt.Sprintf("#%d", number), "order_number": number, "email": email, "phone": nil,
		"created_at": ShopifyTime(created), "updated_at": ShopifyTime(updated), "cancelled_at": nil, "cancel_reason": nil,
		"financial_status": "paid", "fulfillment_status": nil, "currency": "USD", "line_items": li,
		"customer":       map[string]any{"first_name": "Sam", "last_name": "Rivera", "email": email},
		"shipping_lines": []map[string]any{{"code": "Standard", "title": "Standard Shipping"}},
		"refunds":        refunds,
	}
	if refunds == nil {
		o["refunds"] = []any{}
	}
	if pickupLocation > 0 {
		o["shipping_lines"] = []map[string]any{{"code": "Pickup", "title": "Pickup in store"}}
		o["location_id"] = pickupLocation
	}
	if cancelled != nil {
		o["cancelled_at"] = ShopifyTime(*cancelled)
		o["cancel_reason"] = "customer"
		o["financial_status"] = "refunded"
	}
	b, _ := json.Marshal(o)
	return b
}

// ShopifyRefund builds a refund that restocks qty of one line as a return
// at location.
func ShopifyRefund(id, orderID, lineItemID int64, sku string, qty int, location int64, at time.Time) json.RawMessage {
	b, _ := json.Marshal(map[string]any{"id": id, "order_id": orderID, "created_at": ShopifyTime(at), "processed_at": ShopifyTime(at),
		"restock": true, "refund_line_items": []map[string]any{{"id": id*10 + 1, "line_item_id": lineItemID, "quantity": qty,
			"restock_type": "return", "location_id": location, "line_item": map[string]any{"id": lineItemID, "sku": sku}}}})
	return b
}

// ShopifyLevel builds an inventory level.
func ShopifyLevel(item, location int64, available int, updated time.Time) json.RawMessage {
	b, _ := json.Marshal(map[string]any{"inventory_item_id": item, "location_id": location, "available": available,
		"updated_at": ShopifyTime(updated), "admin_graphql_api_id": fmt.Sprintf("gid://shopify/InventoryLevel/%d?inventory_item_id=%d", location, item)})
	return b
}

// ShopifyRefundNoRestock builds a refund of qty units of a line without a
// restock: the customer sends the units back, and a store receives them.
func ShopifyRefundNoRestock(id, orderID, lineItemID int64, sku string, qty int, at time.Time) json.RawMessage {
	b, _ := json.Marshal(map[string]any{"id": id, "order_id": orderID, "created_at": ShopifyTime(at), "processed_at": ShopifyTime(at),
		"restock": false, "refund_line_items": []map[string]any{{"id": id*10 + 1, "line_item_id": lineItemID, "quantity": qty,
			"restock_type": "no_restock", "line_item": map[string]any{"id": lineItemID, "sku": sku}}}})
	return b
}

// SendWebhook POSTs body to url as Shopify would: topic and webhook id in
// headers and the body's HMAC-SHA256 under secret. It returns the status.
func SendWebhook(ctx context.Context, client *http.Client, url, secret, topic, webhookID string, body []byte) (int, error) {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Shopify-Topic", topic)
	req.Header.Set("X-Shopify-Hmac-Sha256", base64.StdEncoding.EncodeToString(m.Sum(nil)))
	req.Header.Set("X-Shopify-Webhook-Id", webhookID)
	req.Header.Set("X-Shopify-Shop-Domain", "stockline-demo.myshopify.com")
	req.Header.Set("X-Shopify-API-Version", "2025-01")
	res, err := client.Do(req)
	if err != nil {
		return 0, err
	}
	res.Body.Close()
	return res.StatusCode, nil
}
