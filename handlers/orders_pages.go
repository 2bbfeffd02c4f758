package handlers

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"stockline/domain"
	"stockline/store"
	"stockline/views"
)

// orderInScope loads the order named by :id and refuses one that touches
// none of a scoped user's locations (its pickup store or a line's store).
func (s *Server) orderInScope(c echo.Context) (domain.Order, error) {
	id, err := strconv.ParseInt(c.Param("id"), 10, 64)
	if err != nil {
		o, err := s.DB.OrderByNumber(c.Request().Context(), c.Param("id"))
		if domain.ErrorCode(err) == domain.ENOTFOUND {
			return o, domain.Errorf(domain.ENOTFOUND, "There is no order %q.", c.Param("id"))
		} else if err != nil {
			return o, err
		}
		id = o.ID
	}
	o, err := s.DB.OrderByID(c.Request().Context(), id)
	if err != nil {
		return o, err
	}
	if !orderVisible(currentUser(c), o) {
		// The same answer as an order that does not exist, so order
		// numbers of other stores cannot be probed.
		return o, domain.Errorf(domain.ENOTFOUND, "There is no order %q.", c.Param("id"))
	}
	return o, nil
}

func orderVisible(u *domain.User, o domain.Order) bool {
	if !u.Role.Scoped() {
		return true
	}
	if o.PickupLocation != "" && u.CanSeeLocation(o.PickupLocation) {
		return true
	}
	for _, l := range o.Lines {
		if l.Location != "" && u.CanSeeLocation(l.Location) {
			return true
		}
	}
	return false
}

func (s *Server) handleOrdersPage(c echo.Context) error {
	ctx := c.Request().Context()
	m := views.OrdersSearchView{Q: strings.TrimSpace(c.QueryParam("q"))}
	before, _ := strconv.ParseInt(c.QueryParam("before"), 10, 64)
	start := time.Now()
	if m.Q != "" {
		rows, next, err := s.DB.SearchOrders(ctx, store.OrderQuery{Q: m.Q, BeforeID: before, Limit: 50})
		if err != nil {
			return err
		}
		m.Rows, m.Searched = rows, true
		if next > 0 {
			m.Older = fmt.Sprintf("/orders?q=%s&before=%d", url.QueryEscape(m.Q), next)
		}
		if len(rows) == 1 && before == 0 && c.QueryParam("list") == "" {
			return c.Redirect(http.StatusSeeOther, fmt.Sprintf("/orders/%d", rows[0].ID))
		}
	} else {
		rows, _, err := s.DB.SearchOrders(ctx, store.OrderQuery{Problems: true, Limit: 25})
		if err != nil {
			return err
		}
		m.Problems = rows
		recent, _, err := s.DB.SearchOrders(ctx, store.OrderQuery{Limit: 15})
		if err != nil {
			return err
		}
		m.Recent = recent
	}
	m.Elapsed = time.Since(start).Round(100 * time.Microsecond).String()
	return render(c, http.StatusOK, views.OrdersSearch(s.viewCtx(c), m))
}

// orderView loads what the order page shows.
func (s *Server) orderView(c echo.Context, o domain.Order) (views.OrderView, error) {
	ctx := c.Request().Context()
	tl, err := s.DB.OrderTimeline(ctx, o)
	if err != nil {
		return views.OrderView{}, err
	}
	fs, err := s.DB.OrderFulfilments(ctx, o.ID)
	if err != nil {
		return views.OrderView{}, err
	}
	u := currentUser(c)
	m := views.OrderView{Order: o, Timeline: tl, Fulfilments: fs, Now: time.Now(), CanAct: slices.Contains(orderActRoles, u.Role), CanShip: slices.Contains(shipRoles, u.Role),
		CanReturn: slices.Contains(returnRoles, u.Role)}
	if o.Fulfilment == domain.FulfilPickup && o.Open() && m.CanAct {
		locs, err := s.DB.ListLocations(ctx)
		if err != nil {
			return m, err
		}
		pol, err := s.DB.CachedPolicy(ctx, domain.BOPIS)
		if err != nil {
			return m, err
		}
		for _, l := range locs {
			if pol.Eligible(l) && l.Code != o.PickupLocation {
				m.PickupStores = append(m.PickupStores, l)
			}
		}
	}
	if o.Fulfilment == domain.FulfilShip && m.CanShip {
		seen := map[string]bool{}
		for _, l := range o.Lines {
			if l.Held() > 0 && !seen[l.Location] && u.CanSeeLocation(l.Location) {
				seen[l.Location] = true
				m.ShipFrom = append(m.ShipFrom, l.Location)
			}
		}
	}
	return m, nil
}

func (s *Server) handleOrderPage(c echo.Context) error {
	o, err := s.orderInScope(c)
	if err != nil {
		return err
	}
	m, err := s.orderView(c, o)
	if err != nil {
		return err
	}
	if m.Flash, err = takeFlash(c); err != nil {
		return err
	}
	return render(c, http.StatusOK, views.OrderShow(s.viewCtx(c), m))
}

// orderActionFailed re-renders the order page with the error next to the
// form it came from (form names: note, cancel, pickup, ship), keeping what
// was typed; non-input errors go to the error handler.
func (s *Server) orderActionFailed(c echo.Context, o domain.Order, form string, err error, keep func(m *views.OrderView)) error {
	e := domain.AsError(err)
	if e == nil || e.Code == domain.EINTERNAL || e.Code == domain.ENOTFOUND && e.Field == "" || e.Code == domain.EFORBIDDEN {
		return err
	}
	o, lerr := s.DB.OrderByID(c.Request().Context(), o.ID)
	if lerr != nil {
		return lerr
	}
	m, verr := s.orderView(c, o)
	if verr != nil {
		return verr
	}
	m.Err, m.Form = e, form
	if alts, ok := e.Details["alternatives"].([]domain.StoreATP); ok {
		m.Alternatives = alts
	}
	if keep != nil {
		keep(&m)
	}
	status := statusFor(e)
	if status < 400 || status >= 500 {
		status = http.StatusUnprocessableEntity
	}
	return render(c, status, views.OrderShow(s.viewCtx(c), m))
}

func (s *Server) orderDone(c echo.Context, o domain.Order, msg string) error {
	if err := setFlash(c, msg); err != nil {
		return err
	}
	return c.Redirect(http.StatusSeeOther, fmt.Sprintf("/orders/%d#timeline", o.ID))
}

func (s *Server) handleOrderNote(c echo.Context) error {
	o, err := s.orderInScope(c)
	if err != nil {
		return err
	}
	text := c.FormValue("note")
	if _, err := s.DB.AddNote(c.Request().Context(), actor(c), o.ID, text); err != nil {
		return s.orderActionFailed(c, o, "note", err, func(m *views.OrderView) { m.Note = text })
	}
	return s.orderDone(c, o, "Note added to the timeline of "+o.Number+".")
}

func (s *Server) handleOrderLineCancel(c echo.Context) error {
	o, l, err := s.lineHere(c) // the line's own store, as on the pick screen
	if err != nil {
		return err
	}
	lineID := l.ID
	qty, err := formQty(c.FormValue("qty"))
	if err != nil {
		return s.orderActionFailed(c, o, "cancel", err, nil)
	}
	onLine := func(m *views.OrderView) { m.ErrLine = lineID }
	req, err := cancelRequest(c.FormValue("reason_code"), c.FormValue("reason"), c.FormValue("note"))
	if err != nil {
		return s.orderActionFailed(c, o, "cancel", err, onLine)
	}
	req.LineID, req.LineQty = lineID, qty
	after, err := s.DB.CancelOrder(c.Request().Context(), actor(c), o.ID, req)
	if err != nil {
		return s.orderActionFailed(c, o, "cancel", err, onLine)
	}
	return s.orderDone(c, o, cancelConfirmation(o, after, lineID))
}

// cancelConfirmation names the effect of a line cancellation.
func cancelConfirmation(before, after domain.Order, lineID int64) string {
	b, a := before.Line(lineID), after.Line(lineID)
	if b == nil || a == nil {
		return "Line cancelled; customer notified."
	}
	n := a.Cancelled - b.Cancelled
	released := b.Held() - a.Held()
	msg := fmt.Sprintf("%d × %s cancelled", n, a.SKU)
	if released > 0 {
		msg += fmt.Sprintf("; %d unit(s) released back to stock at %s", released, a.Location)
	}
	return msg + "; customer notified. Order is now " + domain.OrderStatusLabel(after.Status) + "."
}

func (s *Server) handleOrderPickupChange(c echo.Context) error {
	o, err := s.orderInScope(c)
	if err != nil {
		return err
	}
	loc := c.FormValue("location")
	after, err := s.DB.ChangePickupLocation(c.Request().Context(), actor(c), o.ID, loc)
	if err != nil {
		return s.orderActionFailed(c, o, "pickup", err, nil)
	}
	return s.orderDone(c, o, fmt.Sprintf("Pickup moved from %s to %s; the stock is held there and the customer notified.",
		o.PickupLocation, after.PickupLocation))
}

func (s *Server) handleOrderShip(c echo.Context) error {
	o, err := s.orderInScope(c)
	if err != nil {
		return err
	}
	loc := c.FormValue("location")
	if u := currentUser(c); !u.CanSeeLocation(loc) {
		return domain.Errorf(domain.EFORBIDDEN, "You cannot ship from %s.", loc)
	}
	form, _ := c.FormParams()
	var lines []store.ShipLine
	for _, l := range o.Lines {
		if v := form.Get(fmt.Sprintf("qty_%d", l.ID)); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil {
				return s.orderActionFailed(c, o, "ship", domain.FieldError("qty", "Quantities are whole numbers."), nil)
			}
			lines = append(lines, store.ShipLine{LineID: l.ID, Qty: n})
		}
	}
	tracking := c.FormValue("tracking")
	after, err := s.DB.Ship(c.Request().Context(), actor(c), o.ID, loc, lines, c.FormValue("carrier"), tracking)
	if err != nil {
		return s.orderActionFailed(c, o, "ship", err, nil)
	}
	return s.orderDone(c, o, fmt.Sprintf("Shipment from %s recorded with tracking %s; customer notified. Order is now %s.",
		loc, strings.TrimSpace(tracking), domain.OrderStatusLabel(after.Status)))
}
