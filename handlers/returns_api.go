package handlers

// The returns JSON API and the fulfilments API (issue 10): scope returns
// (fulfilments: orders); admin opens every route. Bad input is 422 with
// field; more than was fulfilled is 422 exceeds_fulfilled naming the line.

import (
	"context"
	"net/http"
	"strconv"

	"github.com/labstack/echo/v4"

	"stockline/domain"
	"stockline/store"
)

// ReturnLineJSON is one return line as the API shows it; on_hold counts
// quality-hold units not yet released.
type ReturnLineJSON struct {
	SKU         string `json:"sku"`
	Qty         int    `json:"qty"`
	Disposition string `json:"disposition"`
	OnHold      int    `json:"on_hold"`
	Reason      string `json:"reason,omitempty"`
}

// ReturnJSON is a return as every returns route answers it. location is
// null while the return is pending (announced by a refund, not yet
// received by a store).
type ReturnJSON struct {
	ID            int64            `json:"id"`
	Order         int64            `json:"order"`
	Location      *string          `json:"location"`
	Lines         []ReturnLineJSON `json:"lines"`
	Status        string           `json:"status"`
	ExchangeOrder *int64           `json:"exchange_order"`
}

func returnJSON(r domain.Return) ReturnJSON {
	j := ReturnJSON{ID: r.ID, Order: r.OrderID, Location: r.Location, Status: string(r.Status), ExchangeOrder: r.ExchangeID,
		Lines: make([]ReturnLineJSON, 0, len(r.Lines))}
	for _, l := range r.Lines {
		j.Lines = append(j.Lines, ReturnLineJSON{SKU: l.SKU, Qty: l.Qty, Disposition: string(l.Disposition), OnHold: l.OnHold(), Reason: l.Reason})
	}
	return j
}

type returnRequest struct {
	Order         int64                    `json:"order"`
	Location      string                   `json:"location"`
	Lines         []domain.ReturnLineInput `json:"lines"`
	ExchangeOrder *int64                   `json:"exchange_order"`
	Exchange      *domain.NewExchange      `json:"exchange"` // optional: replacement units, a new order reserved at location
}

// handleReturnCreate is POST /api/v1/returns, idempotent on
// Idempotency-Key: 201 with the return. The optional "exchange":
// {"lines":[{"sku","qty"}]} also creates the exchange order (bopis at
// location, reserved there) in the same transaction, its id answered as
// exchange_order; a replacement the location cannot reserve is 409
// insufficient_stock and nothing is recorded.
func (s *Server) handleReturnCreate(c echo.Context) error {
	key, err := idempotencyKey(c)
	if err != nil {
		return err
	}
	var req returnRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	in := domain.NewReturn{OrderID: req.Order, Location: req.Location, Lines: req.Lines, ExchangeOrder: req.ExchangeOrder, Exchange: req.Exchange, Source: "api"}
	act := actor(c)
	res, err := s.DB.Idempotent(c.Request().Context(), store.IdempotencyKey{Scope: idempotencyScope(c), Key: key, Hash: requestHash(c, req)},
		func(ctx context.Context, tx *store.Tx) (store.Response, error) {
			r, err := s.DB.CreateReturnTx(ctx, tx, act, in)
			if err != nil {
				return store.Response{}, err
			}
			return store.Response{Status: http.StatusCreated, Body: jsonLine(returnJSON(r))}, nil
		})
	if err != nil {
		return err
	}
	return c.Blob(res.Status, echo.MIMEApplicationJSON, res.Body)
}

// returnID reads :id; anything but a positive number is a return that
// does not exist.
func returnID(c echo.Context) (int64, error) {
	id, err := strconv.ParseInt(c.Param("id"), 10, 64)
	if err != nil || id <= 0 {
		return 0, domain.Errorf(domain.ENOTFOUND, "There is no return %q.", c.Param("id"))
	}
	return id, nil
}

// handleReturnGetAPI is GET /api/v1/returns/{id}.
func (s *Server) handleReturnGetAPI(c echo.Context) error {
	id, err := returnID(c)
	if err != nil {
		return err
	}
	r, err := s.DB.ReturnByID(c.Request().Context(), id)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, returnJSON(r))
}

// handleOrderFulfilmentAPI is POST /api/v1/orders/{id}/fulfilments with
// {"location","lines":[{"sku","qty"}],"tracking","carrier"}: a shipment
// as a warehouse or shipping tool reports it. It does what the order
// page's ship form does (Ship: units leave on_hand through their
// reservations, the customer is told) and answers the order.
func (s *Server) handleOrderFulfilmentAPI(c echo.Context) error {
	o, err := s.orderFromParam(c)
	if err != nil {
		return err
	}
	var b struct {
		Location string                  `json:"location"`
		Lines    []domain.OrderLineInput `json:"lines"`
		Tracking string                  `json:"tracking"`
		Carrier  string                  `json:"carrier"`
	}
	if err := decodeJSON(c, &b); err != nil {
		return err
	}
	ctx := c.Request().Context()
	if _, err := s.DB.LocationByCode(ctx, b.Location); err != nil {
		if domain.ErrorCode(err) == domain.ENOTFOUND {
			return domain.Unprocessable("location", "Location %q does not exist.", b.Location)
		}
		return err
	}
	parts, err := domain.PlanShipment(o, b.Location, b.Lines)
	if err != nil {
		return err
	}
	lines := make([]store.ShipLine, len(parts))
	for i, p := range parts {
		lines[i] = store.ShipLine{LineID: p.LineID, Qty: p.Qty}
	}
	o, err = s.DB.Ship(ctx, actor(c), o.ID, b.Location, lines, b.Carrier, b.Tracking)
	if err != nil {
		return err
	}
	tl, err := s.DB.OrderTimeline(ctx, o)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, orderJSON(o, tl))
}
