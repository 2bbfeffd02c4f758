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

// queuePageSize is how many of the most urgent orders a queue tab lists.
const queuePageSize = 50

// queueScope is the stores a queue shows: a scoped user's own, or for
// others the one chosen with ?location= (every pickup store when none),
// and the stores the user may choose from. A scoped user's location ids
// come with the user from the session; others' with the location list.
func (s *Server) queueScope(c echo.Context) (ids []int64, codes []string, chosen string, choices []string, err error) {
	u := currentUser(c)
	chosen = strings.ToUpper(strings.TrimSpace(c.QueryParam("location")))
	if u.Role.Scoped() {
		if chosen != "" && !slices.Contains(u.Locations, chosen) {
			chosen = ""
		}
		for i, code := range u.Locations {
			if chosen == "" || code == chosen {
				codes, ids = append(codes, code), append(ids, u.LocationIDs[i])
			}
		}
		return ids, codes, chosen, u.Locations, nil
	}
	locs, err := s.DB.ListLocations(c.Request().Context())
	if err != nil {
		return nil, nil, "", nil, err
	}
	for _, l := range locs {
		choices = append(choices, l.Code)
		if chosen == "" || l.Code == chosen {
			codes, ids = append(codes, l.Code), append(ids, l.ID)
		}
	}
	return ids, codes, chosen, choices, nil
}

func (s *Server) pickupQueueView(c echo.Context) (views.PickupQueueView, error) {
	ids, codes, chosen, choices, err := s.queueScope(c)
	if err != nil {
		return views.PickupQueueView{}, err
	}
	tab := c.QueryParam("tab")
	if !slices.Contains([]string{domain.TabToPick, domain.TabReady, domain.TabOverdue, domain.TabToShip}, tab) {
		tab = domain.TabToPick
	}
	now := time.Now()
	rows, counts, err := s.DB.PickupQueue(c.Request().Context(), ids, tab, now, queuePageSize)
	if err != nil {
		return views.PickupQueueView{}, err
	}
	return views.PickupQueueView{Tab: tab, Rows: rows, Counts: counts, Stores: codes, Location: chosen, Choices: choices, Now: now}, nil
}

func (s *Server) handlePickupQueue(c echo.Context) error {
	u, ctx := currentUser(c), c.Request().Context()
	// The counts beside the list do not depend on it: read them side by
	// side with the queue, so the page takes about as long as the queue.
	var open, overdue, toReceive int
	var countErr error
	counted := make(chan struct{})
	go func() {
		defer close(counted)
		if open, overdue, countErr = s.DB.OpenExceptionCounts(ctx, domain.KindsOwnedBy(u.Role), scopeOf(u)); countErr == nil {
			toReceive, countErr = s.DB.CountToReceive(ctx, scopeOf(u))
		}
	}()
	m, err := s.pickupQueueView(c)
	<-counted
	if err != nil {
		return err
	}
	if countErr != nil {
		return countErr
	}
	c.Set(ctxToReceive, toReceive) // the navigation shows it too (countToReceive)
	m.ExceptionsOpen, m.ExceptionsOverdue, m.ToReceive = open, overdue, toReceive
	if m.Flash, err = takeFlash(c); err != nil {
		return err
	}
	m.Scan, m.ScanErr = c.QueryParam("scan"), c.QueryParam("scan_error")
	return render(c, http.StatusOK, views.PickupQueue(s.viewCtx(c), m))
}

// handlePickupList is the queue's list fragment, polled every few seconds.
func (s *Server) handlePickupList(c echo.Context) error {
	m, err := s.pickupQueueView(c)
	if err != nil {
		return err
	}
	return render(c, http.StatusOK, views.PickupList(m))
}

// handlePickupFind is the queue's scan field: an order number goes to its
// pick screen; anything else is searched among the queue's orders.
func (s *Server) handlePickupFind(c echo.Context) error {
	q := strings.TrimSpace(c.QueryParam("q"))
	back := func(msg string) error {
		return c.Redirect(http.StatusSeeOther, "/pickups?"+url.Values{"scan": {q}, "scan_error": {msg}}.Encode())
	}
	if q == "" {
		return back("Scan or type an order number.")
	}
	rows, _, err := s.DB.SearchOrders(c.Request().Context(), store.OrderQuery{Q: q, Limit: 20})
	if err != nil {
		return err
	}
	u := currentUser(c)
	for _, r := range rows {
		o, err := s.DB.OrderByID(c.Request().Context(), r.ID)
		if err == nil && o.Open() && orderVisible(u, o) {
			return c.Redirect(http.StatusSeeOther, fmt.Sprintf("/pickups/%d", o.ID))
		}
	}
	return back(fmt.Sprintf("No open order of your stores matches %q.", q))
}

// pickView builds the pick screen: each line with what can be done to it
// from here, and for lines waiting for a decision, the stores that could
// take them (never one that already rejected the line).
func (s *Server) pickView(c echo.Context, o domain.Order) (views.PickView, error) {
	ctx := c.Request().Context()
	u := currentUser(c)
	m := views.PickView{Order: o, Now: time.Now()}
	for _, l := range o.Lines {
		pl := views.PickLine{Line: l, Here: l.Location != "" && u.CanSeeLocation(l.Location)}
		if l.Pending > 0 {
			alts, err := s.DB.AlternativeStores(ctx, domain.Channel(o.Channel), l.ProductID, l.RejectedIDs, 6)
			if err != nil {
				return m, err
			}
			pl.Alternatives = alts
			pl.Split = splitSuggestion(alts, l.Pending)
		}
		m.Lines = append(m.Lines, pl)
	}
	if o.Fulfilment == domain.FulfilPickup && o.Open() {
		alts, err := s.DB.PickupAlternatives(ctx, &o, 0)
		if err != nil {
			return m, err
		}
		m.PickupStores = alts
	}
	return m, nil
}

// splitSuggestion turns domain.SuggestSplit's quantities into allocations
// at the alternative stores (listed most ATP first).
func splitSuggestion(alts []domain.StoreATP, need int) []domain.LineAllocation {
	atp := make([]int, len(alts))
	for i, a := range alts {
		atp[i] = a.ATP
	}
	var out []domain.LineAllocation
	for i, n := range domain.SuggestSplit(atp, need) {
		out = append(out, domain.LineAllocation{Location: alts[i].Code, Qty: n})
	}
	return out
}

func (s *Server) handlePickScreen(c echo.Context) error {
	o, err := s.orderInScope(c)
	if err != nil {
		return err
	}
	m, err := s.pickView(c, o)
	if err != nil {
		return err
	}
	if m.Flash, err = takeFlash(c); err != nil {
		return err
	}
	return render(c, http.StatusOK, views.PickScreen(s.viewCtx(c), m))
}

// pickFailed re-renders the pick screen with the error beside the line's
// form, keeping the scan typed.
func (s *Server) pickFailed(c echo.Context, o domain.Order, lineID int64, form string, err error) error {
	e := domain.AsError(err)
	if e == nil || e.Code == domain.EINTERNAL || e.Code == domain.EFORBIDDEN || e.Code == domain.ENOTFOUND && e.Field == "" {
		return err
	}
	o, lerr := s.DB.OrderByID(c.Request().Context(), o.ID)
	if lerr != nil {
		return lerr
	}
	m, verr := s.pickView(c, o)
	if verr != nil {
		return verr
	}
	m.Err, m.ErrLine, m.Form, m.Scan = e, lineID, form, c.FormValue("scan")
	if alts, ok := e.Details["alternatives"].([]domain.StoreATP); ok {
		m.PickupStores = alts
	}
	status := statusFor(e)
	if status < 400 || status >= 500 {
		status = http.StatusUnprocessableEntity
	}
	return render(c, status, views.PickScreen(s.viewCtx(c), m))
}

func (s *Server) pickDone(c echo.Context, o domain.Order, msg string) error {
	if err := setFlash(c, msg); err != nil {
		return err
	}
	return c.Redirect(http.StatusSeeOther, fmt.Sprintf("/pickups/%d", o.ID))
}

// lineHere loads the order and line named in the path and checks the user
// may work the line's store.
func (s *Server) lineHere(c echo.Context) (domain.Order, domain.OrderLine, error) {
	o, err := s.orderInScope(c)
	if err != nil {
		return o, domain.OrderLine{}, err
	}
	id, _ := strconv.ParseInt(c.Param("line"), 10, 64)
	l := o.Line(id)
	if l == nil {
		return o, domain.OrderLine{}, domain.Errorf(domain.ENOTFOUND, "Order %s has no line %s.", o.Number, c.Param("line"))
	}
	if l.Location != "" && !currentUser(c).CanSeeLocation(l.Location) {
		return o, *l, domain.Errorf(domain.ENOTFOUND, "Order %s has no line %s at your stores.", o.Number, c.Param("line"))
	}
	return o, *l, nil
}

func (s *Server) handlePickLine(c echo.Context) error {
	o, l, err := s.lineHere(c)
	if err != nil {
		return err
	}
	after, err := s.DB.PickLine(c.Request().Context(), actor(c), o.ID, l.ID, c.FormValue("scan"), 0)
	if err != nil {
		return s.pickFailed(c, o, l.ID, "pick", err)
	}
	msg := fmt.Sprintf("Picked %d × %s.", l.Reserved, l.SKU)
	if after.Status == domain.OrderReadyForPickup {
		msg += " Every item is picked: the order is ready for pickup and the customer has been notified."
	}
	return s.pickDone(c, o, msg)
}

func (s *Server) handleRejectLine(c echo.Context) error {
	o, l, err := s.lineHere(c)
	if err != nil {
		return err
	}
	qty, err := formQty(c.FormValue("qty"))
	if err != nil {
		return s.pickFailed(c, o, l.ID, "reject", err)
	}
	reason := c.FormValue("reason")
	var code domain.CancelReason
	if raw := c.FormValue("reason_code"); raw != "" { // empty: the code follows from reason
		if code, err = domain.ResolveCancelReason(raw, c.FormValue("note")); err != nil {
			return s.pickFailed(c, o, l.ID, "reject", err)
		}
	}
	if _, err := s.DB.RejectLine(c.Request().Context(), actor(c), o.ID, l.ID, reason, code, qty, c.FormValue("note")); err != nil {
		return s.pickFailed(c, o, l.ID, "reject", err)
	}
	if qty == 0 {
		qty = l.Held()
	}
	bucket, _, _ := domain.RejectEffect(reason)
	return s.pickDone(c, o, fmt.Sprintf("%d × %s marked %s at %s: moved to %s pending a count, exception raised, customer told of the delay. Choose what happens next below.",
		qty, l.SKU, strings.ReplaceAll(reason, "_", " "), l.Location, bucket))
}

func (s *Server) handleReallocateLine(c echo.Context) error {
	o, l, err := s.lineHere(c)
	if err != nil {
		return err
	}
	form, _ := c.FormParams()
	locs, qtys := form["location"], form["qty"]
	var allocs []domain.LineAllocation
	for i, loc := range locs {
		n := 0
		if i < len(qtys) {
			if n, err = formQty(qtys[i]); err != nil {
				return s.pickFailed(c, o, l.ID, "reallocate", err)
			}
		}
		allocs = append(allocs, domain.LineAllocation{Location: loc, Qty: n})
	}
	if _, err := s.DB.ReallocateLine(c.Request().Context(), actor(c), o.ID, l.ID, allocs); err != nil {
		return s.pickFailed(c, o, l.ID, "reallocate", err)
	}
	var parts []string
	for _, a := range allocs {
		parts = append(parts, fmt.Sprintf("%d at %s", a.Qty, a.Location))
	}
	return s.pickDone(c, o, fmt.Sprintf("%s reallocated: %s held there now; nothing is sent back to %s.", l.SKU, strings.Join(parts, " and "),
		strings.Join(l.RejectedAt, ", ")))
}

func (s *Server) handlePickCancelLine(c echo.Context) error {
	o, l, err := s.lineHere(c)
	if err != nil {
		return err
	}
	qty, err := formQty(c.FormValue("qty"))
	if err != nil {
		return s.pickFailed(c, o, l.ID, "cancel", err)
	}
	req, err := cancelRequest(c.FormValue("reason_code"), c.FormValue("reason"), c.FormValue("note"))
	if err != nil {
		return s.pickFailed(c, o, l.ID, "cancel", err)
	}
	req.LineID, req.LineQty = l.ID, qty
	after, err := s.DB.CancelOrder(c.Request().Context(), actor(c), o.ID, req)
	if err != nil {
		return s.pickFailed(c, o, l.ID, "cancel", err)
	}
	return s.pickDone(c, o, cancelConfirmation(o, after, l.ID))
}

func (s *Server) handleHandOver(c echo.Context) error {
	o, err := s.orderInScope(c)
	if err != nil {
		return err
	}
	if u := currentUser(c); !u.CanSeeLocation(o.PickupLocation) {
		return domain.Errorf(domain.ENOTFOUND, "Order %s is not collected at your stores.", o.Number)
	}
	after, err := s.DB.HandOver(c.Request().Context(), actor(c), o.ID)
	if err != nil {
		return s.pickFailed(c, o, 0, "handover", err)
	}
	if err := setFlash(c, fmt.Sprintf("%s handed over: the order is %s and the stock has left on hand.", o.Number, domain.OrderStatusLabel(after.Status))); err != nil {
		return err
	}
	return c.Redirect(http.StatusSeeOther, "/pickups?tab=ready")
}

func (s *Server) handlePickPickupChange(c echo.Context) error {
	o, err := s.orderInScope(c)
	if err != nil {
		return err
	}
	after, err := s.DB.ChangePickupLocation(c.Request().Context(), actor(c), o.ID, c.FormValue("location"))
	if err != nil {
		return s.pickFailed(c, o, 0, "pickup", err)
	}
	if err := setFlash(c, fmt.Sprintf("%s now waits at %s: its stock is held there and the customer notified.", o.Number, after.PickupLocation)); err != nil {
		return err
	}
	return c.Redirect(http.StatusSeeOther, "/pickups")
}
