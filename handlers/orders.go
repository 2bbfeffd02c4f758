package handlers

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"stockline/domain"
	"stockline/store"
)

// orderRequest is the body of POST /api/v1/orders.
type orderRequest struct {
	Channel        string                  `json:"channel"`
	ExternalRef    string                  `json:"external_ref"`
	Customer       domain.Customer         `json:"customer"`
	PickupLocation string                  `json:"pickup_location"`
	ReservationID  int64                   `json:"reservation_id"`
	PaymentStatus  string                  `json:"payment_status"`
	Lines          []domain.OrderLineInput `json:"lines"`
}

// OrderLineJSON is one order line as the API shows it.
type OrderLineJSON struct {
	SKU        string         `json:"sku"`
	Qty        int            `json:"qty"`
	Location   *string        `json:"location"`
	State      string         `json:"state"`
	Quantities domain.LineQty `json:"quantities"`
}

// OrderCreatedJSON is the 201 answer to POST /api/v1/orders.
type OrderCreatedJSON struct {
	ID     int64           `json:"id"`
	Number string          `json:"number"`
	Status string          `json:"status"`
	Lines  []OrderLineJSON `json:"lines"`
}

// OrderJSON is GET /api/v1/orders/{id}: the order with its timeline.
type OrderJSON struct {
	ID             int64                  `json:"id"`
	Number         string                 `json:"number"`
	Status         string                 `json:"status"`
	HoldReason     string                 `json:"hold_reason,omitempty"`
	Channel        string                 `json:"channel"`
	Fulfilment     string                 `json:"fulfilment"`
	Source         string                 `json:"source"`
	ExternalRef    string                 `json:"external_ref"`
	Customer       domain.Customer        `json:"customer"`
	PaymentStatus  string                 `json:"payment_status"`
	PickupLocation *string                `json:"pickup_location"`
	PromisedAt     *time.Time             `json:"promised_at"`
	PickupUntil    *time.Time             `json:"pickup_until"`
	PlacedAt       time.Time              `json:"placed_at"`
	Lines          []OrderLineJSON        `json:"lines"`
	Timeline       []domain.TimelineEntry `json:"timeline"`
}

func orderLinesJSON(o domain.Order) []OrderLineJSON {
	out := make([]OrderLineJSON, 0, len(o.Lines))
	for _, l := range o.Lines {
		j := OrderLineJSON{SKU: l.SKU, Qty: l.Qty, State: l.State(), Quantities: l.LineQty}
		if l.Location != "" {
			loc := l.Location
			j.Location = &loc
		}
		out = append(out, j)
	}
	return out
}

// optTime is a time the API shows as null when it is zero (not set).
func optTime(v time.Time) *time.Time {
	if v.IsZero() {
		return nil
	}
	return &v
}

func orderJSON(o domain.Order, tl []domain.TimelineEntry) OrderJSON {
	j := OrderJSON{ID: o.ID, Number: o.Number, Status: o.Status, HoldReason: o.HoldReason, Channel: o.Channel, Fulfilment: o.Fulfilment,
		Source: o.Source, ExternalRef: o.ExternalRef, Customer: o.Customer(), PaymentStatus: o.PaymentStatus,
		PromisedAt: optTime(o.PromisedAt), PickupUntil: optTime(o.PickupUntil), PlacedAt: o.PlacedAt,
		Lines: orderLinesJSON(o), Timeline: tl}
	if o.PickupLocation != "" {
		p := o.PickupLocation
		j.PickupLocation = &p
	}
	if j.Timeline == nil {
		j.Timeline = []domain.TimelineEntry{}
	}
	return j
}

// handleOrderCreate is POST /api/v1/orders: idempotent on Idempotency-Key
// like reservations; the order, its holds and its exceptions commit with
// the key's stored answer.
func (s *Server) handleOrderCreate(c echo.Context) error {
	key, err := idempotencyKey(c)
	if err != nil {
		return err
	}
	var req orderRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	in := domain.NewOrder{Channel: domain.Channel(req.Channel), ExternalRef: req.ExternalRef, Customer: req.Customer,
		PickupLocation: req.PickupLocation, ReservationID: req.ReservationID, PaymentStatus: req.PaymentStatus, Lines: req.Lines, Source: "api"}
	act := actor(c)
	res, err := s.DB.Idempotent(c.Request().Context(), store.IdempotencyKey{Scope: idempotencyScope(c), Key: key, Hash: requestHash(c, req)},
		func(ctx context.Context, tx *store.Tx) (store.Response, error) {
			created, err := s.DB.CreateOrderTx(ctx, tx, act, in)
			if err != nil {
				return store.Response{}, err
			}
			if created.Existing {
				e := &domain.Error{Code: domain.CodeOrderExists, Field: "external_ref",
					Message: "An order with this external_ref already exists: " + created.Order.Number + ".",
					Details: map[string]any{"id": created.Order.ID, "number": created.Order.Number}}
				return store.Response{Status: http.StatusConflict, Body: jsonLine(apiErrorBody(e))}, nil
			}
			o := created.Order
			return store.Response{Status: http.StatusCreated, Body: jsonLine(OrderCreatedJSON{ID: o.ID, Number: o.Number, Status: o.Status, Lines: orderLinesJSON(o)})}, nil
		})
	if err != nil {
		return err
	}
	return c.Blob(res.Status, echo.MIMEApplicationJSON, res.Body)
}

// orderFromParam loads the order named by :id, a numeric id or an order
// number such as SL-100001.
func (s *Server) orderFromParam(c echo.Context) (domain.Order, error) {
	p := c.Param("id")
	if id, err := strconv.ParseInt(p, 10, 64); err == nil && id > 0 {
		if o, err := s.DB.OrderByID(c.Request().Context(), id); err == nil || domain.ErrorCode(err) != domain.ENOTFOUND {
			return o, err
		}
	}
	o, err := s.DB.OrderByNumber(c.Request().Context(), p)
	if domain.ErrorCode(err) == domain.ENOTFOUND {
		return o, domain.Errorf(domain.ENOTFOUND, "There is no order %q.", p)
	}
	return o, err
}

// handleOrderGetAPI is GET /api/v1/orders/{id}.
func (s *Server) handleOrderGetAPI(c echo.Context) error {
	o, err := s.orderFromParam(c)
	if err != nil {
		return err
	}
	tl, err := s.DB.OrderTimeline(c.Request().Context(), o)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, orderJSON(o, tl))
}

// OrderSummaryJSON is one search hit.
type OrderSummaryJSON struct {
	ID          int64  `json:"id"`
	Number      string `json:"number"`
	ExternalRef string `json:"external_ref"`
	Channel     string `json:"channel"`
	Status      string `json:"status"`
}

// handleOrderSearchAPI is GET /api/v1/orders?external_ref=&email=
// (also number, phone, sku, q); the filters combine with AND, newest first.
func (s *Server) handleOrderSearchAPI(c echo.Context) error {
	q := store.OrderQuery{Q: c.QueryParam("q"), Number: c.QueryParam("number"), ExternalRef: c.QueryParam("external_ref"),
		Email: c.QueryParam("email"), Phone: c.QueryParam("phone"), SKU: c.QueryParam("sku")}
	if l, err := strconv.Atoi(c.QueryParam("limit")); err == nil {
		q.Limit = l
	}
	rows, _, err := s.DB.SearchOrders(c.Request().Context(), q)
	if err != nil {
		return err
	}
	out := make([]OrderSummaryJSON, len(rows))
	for i, r := range rows {
		out[i] = OrderSummaryJSON{ID: r.ID, Number: r.Number, ExternalRef: r.ExternalRef, Channel: r.Channel, Status: r.Status}
	}
	return c.JSON(http.StatusOK, map[string]any{"orders": out})
}

// handleOrderCancelAPI is POST /api/v1/orders/{id}/cancel with
// {"lines":[{"sku","qty"}],"reason_code","note"} (or the older free-text
// "reason", counted as other); no lines (or no body) cancels every
// open unit. Held stock is released and the customer notified.
func (s *Server) handleOrderCancelAPI(c echo.Context) error {
	o, err := s.orderFromParam(c)
	if err != nil {
		return err
	}
	var body struct {
		Lines      []domain.OrderLineInput `json:"lines"`
		Reason     string                  `json:"reason"`
		ReasonCode string                  `json:"reason_code"`
		Note       string                  `json:"note"`
	}
	if c.Request().ContentLength != 0 {
		if err := decodeOptionalJSON(c, &body); err != nil {
			return err
		}
	}
	req, err := cancelRequest(body.ReasonCode, body.Reason, body.Note)
	if err != nil {
		return err
	}
	req.Lines = body.Lines
	o, err = s.DB.CancelOrder(c.Request().Context(), actor(c), o.ID, req)
	if err != nil {
		return err
	}
	tl, err := s.DB.OrderTimeline(c.Request().Context(), o)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, orderJSON(o, tl))
}
