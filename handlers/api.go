package handlers

// The inventory JSON API. Errors follow one scheme: every validation
// failure answers 400 with code "invalid" and "field" naming the offending
// input (for example {"error":{"code":"invalid","field":"reason",...}} for
// a bad reason code, or field "delta" for a quantity that is not a whole
// number); a body that is not JSON is "invalid_json"; a SKU or location
// that does not exist answers 404 "not_found".

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"stockline/domain"
	"stockline/store"
)

type apiProduct struct {
	SKU      string `json:"sku"`
	Name     string `json:"name"`
	Barcode  string `json:"barcode"`
	Category string `json:"category"`
	Price    string `json:"price"` // decimal string in major units, e.g. "12.99"
}

// handleProductsAPI answers GET /api/v1/products?q=&limit=&cursor= with one
// page in SKU order. next_cursor is null on the last page; otherwise pass it
// back as cursor for the next one. limit is 1..200, default 50.
func (s *Server) handleProductsAPI(c echo.Context) error {
	limit := 50
	if raw := c.QueryParam("limit"); raw != "" {
		n, err := strconv.Atoi(raw)
		if err != nil || n < 1 || n > 200 {
			return domain.FieldError("limit", "limit must be a whole number from 1 to 200.")
		}
		limit = n
	}
	q := c.QueryParam("q")
	if len(q) > 200 {
		return domain.FieldError("q", "q is at most 200 characters.")
	}
	prods, next, err := s.DB.SearchProducts(c.Request().Context(), store.ProductQuery{Q: q, After: c.QueryParam("cursor"), Limit: limit})
	if err != nil {
		return err
	}
	out := struct {
		Products   []apiProduct `json:"products"`
		NextCursor *string      `json:"next_cursor"`
	}{Products: make([]apiProduct, len(prods))}
	for i, p := range prods {
		out.Products[i] = apiProduct{SKU: p.SKU, Name: p.Name, Barcode: p.Barcode, Category: p.Category, Price: p.Price()}
	}
	if next != "" {
		out.NextCursor = &next
	}
	return c.JSON(http.StatusOK, out)
}

// handleLocationsAPI answers GET /api/v1/locations, every location by code.
func (s *Server) handleLocationsAPI(c echo.Context) error {
	locs, err := s.DB.ListLocations(c.Request().Context())
	if err != nil {
		return err
	}
	if locs == nil {
		locs = []domain.Location{}
	}
	return c.JSON(http.StatusOK, map[string]any{"locations": locs})
}

// adjustmentRequest is POST /api/v1/adjustments' body. The quantities stay
// raw so that 2.5 or "3" can be refused precisely rather than coerced.
type adjustmentRequest struct {
	SKU      string          `json:"sku"`
	Location string          `json:"location"`
	Reason   string          `json:"reason"`
	Delta    json.RawMessage `json:"delta"`
	Counted  json.RawMessage `json:"counted"`
	Note     string          `json:"note"`
}

// handleAdjustmentAPI answers POST /api/v1/adjustments with 201 and the new
// position: sku, location, the six buckets, atp (sellable units before any
// channel's safety stock) and atp_by_channel (this location's ATP for each
// channel, 0 where the channel's policy excludes it).
func (s *Server) handleAdjustmentAPI(c echo.Context) error {
	ctx := c.Request().Context()
	var req adjustmentRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	if strings.TrimSpace(req.SKU) == "" {
		return domain.FieldError("sku", "sku is required.")
	}
	if strings.TrimSpace(req.Location) == "" {
		return domain.FieldError("location", "location is required.")
	}
	delta, err := wholeNumber(req.Delta, "delta")
	if err != nil {
		return err
	}
	counted, err := wholeNumber(req.Counted, "counted")
	if err != nil {
		return err
	}
	adj := domain.Adjustment{Reason: domain.Reason(req.Reason), Delta: delta, Counted: counted, Note: req.Note}
	res, err := s.DB.AdjustPosition(ctx, actor(c), strings.TrimSpace(req.SKU), strings.TrimSpace(req.Location), adj)
	if err != nil {
		return err
	}
	pols, err := s.DB.CachedPolicies(ctx)
	if err != nil {
		return err
	}
	byChannel := make(map[domain.Channel]int, len(domain.Channels))
	for _, ch := range domain.Channels {
		if p, ok := pols[ch]; ok {
			byChannel[ch] = p.LocationATP(res.Location, res.After)
		}
	}
	p := res.After
	return c.JSON(http.StatusCreated, map[string]any{
		"sku": res.Product.SKU, "location": res.Location.Code,
		"on_hand": p.OnHand, "reserved": p.Reserved, "damaged": p.Damaged, "quality_hold": p.QualityHold,
		"transfer_out": p.TransferOut, "in_transit_in": p.InTransitIn,
		"atp": domain.ATP(p, 0), "atp_by_channel": byChannel,
	})
}

// wholeNumber reads an optional JSON integer. Absent or null is nil; a
// string, a fraction or an exponent is refused with code invalid on field.
func wholeNumber(raw json.RawMessage, field string) (*int, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	if raw[0] == '"' {
		return nil, domain.FieldError(field, "%s must be a JSON number, not a string.", field)
	}
	n, err := strconv.Atoi(string(raw))
	if err != nil {
		if ne, ok := err.(*strconv.NumError); ok && ne.Err == strconv.ErrRange {
			return nil, domain.FieldError(field, "%s is out of range; keep it between -%d and %d.", field, domain.MaxQuantity, domain.MaxQuantity)
		}
		return nil, domain.FieldError(field, "%s must be a whole number of units, not %.20s.", field, raw)
	}
	return &n, nil
}
