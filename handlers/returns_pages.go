package handlers

// The returns desk (issue 10): associates for their stores, managers,
// inventory leads and admins find an order by scan, receive its units
// with a disposition each, receive the pending returns connector refunds
// announced, and release units on quality hold.

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"stockline/domain"
	"stockline/store"
	"stockline/views"
)

// returnStores is where the user may receive returns: their stores, or
// every location for unscoped roles.
func (s *Server) returnStores(c echo.Context) ([]string, error) {
	u := currentUser(c)
	if u.Role.Scoped() {
		return u.Locations, nil
	}
	locs, err := s.DB.ListLocations(c.Request().Context())
	if err != nil {
		return nil, err
	}
	out := make([]string, len(locs))
	for i, l := range locs {
		out[i] = l.Code
	}
	return out, nil
}

// scopeLocations is the ListReturns location filter for the user: nil
// (every location) for unscoped roles.
func scopeLocations(u *domain.User) []string {
	if !u.Role.Scoped() {
		return nil
	}
	return append([]string{}, u.Locations...)
}

// deskView builds the desk's lists; the caller adds the order and form.
func (s *Server) deskView(c echo.Context) (views.ReturnsDeskView, error) {
	ctx := c.Request().Context()
	stores, err := s.returnStores(c)
	if err != nil {
		return views.ReturnsDeskView{}, err
	}
	locs := scopeLocations(currentUser(c))
	m := views.ReturnsDeskView{Stores: stores, Values: map[string]string{}}
	if m.Pending, err = s.DB.ListReturns(ctx, store.ReturnFilter{Status: domain.ReturnPending, Limit: 50}); err != nil {
		return m, err
	}
	if m.Held, err = s.DB.ListReturns(ctx, store.ReturnFilter{Held: true, Locations: locs, Limit: 50}); err != nil {
		return m, err
	}
	m.Recent, err = s.DB.ListReturns(ctx, store.ReturnFilter{Status: domain.ReturnReceived, Locations: locs, Limit: 10})
	return m, err
}

// handleReturnsDesk is GET /returns?q=: the desk, with the scanned order's
// returnable lines when q names one.
func (s *Server) handleReturnsDesk(c echo.Context) error {
	m, err := s.deskView(c)
	if err != nil {
		return err
	}
	if m.Flash, err = takeFlash(c); err != nil {
		return err
	}
	m.Scan = strings.TrimSpace(c.QueryParam("q"))
	status := http.StatusOK
	if m.Scan != "" {
		o, err := s.DB.FindOrderForReturn(c.Request().Context(), m.Scan)
		switch {
		case domain.ErrorCode(err) == domain.ENOTFOUND:
			m.ScanErr = domain.ErrorMessage(err) + " Check the receipt, or search by the online store's order number."
		case err != nil:
			return err
		default:
			m.Order = &o
		}
	}
	return render(c, status, views.ReturnsDesk(s.viewCtx(c), m))
}

// dispositionLines reads the per-disposition quantities of the form's
// rows (n_<key>_<disposition>) into return lines, one per row and
// disposition with units, and the reason for destroyed units
// (destroy_reason, required when any are); skuOf names each row's SKU.
func dispositionLines(c echo.Context, keys []int64, skuOf func(int64) string) ([]domain.ReturnLineInput, map[string]string, error) {
	var lines []domain.ReturnLineInput
	values := map[string]string{}
	for _, k := range keys {
		for _, d := range domain.Dispositions {
			name := views.ReturnQtyField(k, d)
			v := strings.TrimSpace(c.FormValue(name))
			if v == "" {
				continue
			}
			values[name] = v
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 {
				return nil, values, domain.FieldError("lines", "Quantities are whole numbers of zero or more (%s, %s).", skuOf(k), domain.DispositionLabel(d))
			}
			if n > 0 {
				lines = append(lines, domain.ReturnLineInput{SKU: skuOf(k), Qty: n, Disposition: string(d)})
			}
		}
	}
	if len(lines) == 0 {
		return nil, values, domain.FieldError("lines", "Type how many units come back, under the disposition each one gets.")
	}
	// Destroyed units are removed for good: the desk asks why, once for
	// the submission, and records it on each destroyed line and its ledger
	// rows.
	reason := strings.TrimSpace(c.FormValue("destroy_reason"))
	values["destroy_reason"] = reason
	for i := range lines {
		if !domain.NeedsReason(domain.Disposition(lines[i].Disposition)) {
			continue
		}
		if reason == "" {
			return nil, values, domain.FieldError("destroy_reason", "Say why the %d unit(s) of %s are destroyed (for example: broken, unsafe, hygiene).", lines[i].Qty, lines[i].SKU)
		}
		lines[i].Reason = reason
	}
	return lines, values, nil
}

// receivingStore checks the chosen store is one the user receives at.
func receivingStore(c echo.Context) (string, error) {
	loc := c.FormValue("location")
	if loc == "" {
		return "", domain.FieldError("location", "Choose the store receiving the return.")
	}
	if !currentUser(c).CanSeeLocation(loc) {
		return "", domain.Errorf(domain.EFORBIDDEN, "You cannot receive returns at %s.", loc)
	}
	return loc, nil
}

// handleReturnCreatePage is POST /returns: the desk's form. With the
// exchange choice "new", the replacement rows become a new order reserved
// at the receiving store in the return's own transaction; a short
// replacement refuses the whole thing and the form comes back with its
// values. An existing exchange order must be one the user may see: any
// other is answered as one that does not exist (404).
func (s *Server) handleReturnCreatePage(c echo.Context) error {
	ctx := c.Request().Context()
	id, err := strconv.ParseInt(c.FormValue("order"), 10, 64)
	if err != nil {
		return domain.Errorf(domain.ENOTFOUND, "There is no order %q.", c.FormValue("order"))
	}
	o, err := s.DB.OrderByID(ctx, id)
	if err != nil {
		return err
	}
	keys := make([]int64, len(o.Lines))
	for i, l := range o.Lines {
		keys[i] = l.ID
	}
	lines, values, err := dispositionLines(c, keys, func(k int64) string { return o.Line(k).SKU })
	in := domain.NewReturn{OrderID: o.ID, Lines: lines}
	x := readExchange(c)
	if err == nil {
		in.Location, err = receivingStore(c)
	}
	if err == nil {
		err = s.applyExchange(c, x, &in)
	}
	var r domain.Return
	if err == nil {
		r, err = s.DB.CreateReturn(ctx, actor(c), in)
	}
	if err != nil {
		e := domain.AsError(err)
		if e == nil || e.Code == domain.EINTERNAL || e.Code == domain.EFORBIDDEN {
			return err
		}
		m, verr := s.deskView(c)
		if verr != nil {
			return verr
		}
		m.Order, m.Scan, m.Err, m.Values, m.Location, m.Exchange = &o, o.Number, e, values, c.FormValue("location"), x.order
		m.ExchangeKind, m.ExchangeRows = x.kind, x.rows
		status := http.StatusUnprocessableEntity
		if e.Code == domain.ENOTFOUND {
			status = http.StatusNotFound
		} else if e.Code == domain.CodeInsufficientStock {
			status = http.StatusConflict
		}
		return render(c, status, views.ReturnsDesk(s.viewCtx(c), m))
	}
	msg := returnConfirmation(r)
	if in.Exchange != nil {
		msg += fmt.Sprintf(" Its replacement is reserved at %s for the customer: pick it and hand it over from the pickup queue.", in.Location)
	}
	if err := setFlash(c, msg); err != nil {
		return err
	}
	return c.Redirect(http.StatusSeeOther, fmt.Sprintf("/returns/%d", r.ID))
}

// deskExchange is the desk form's exchange choice as typed.
type deskExchange struct {
	kind  string // "" (none), "new" (replacement units) or "link" (an existing order)
	order string // the existing order's number
	rows  []views.ExchangeRow
}

// readExchange reads the exchange choice, the replacement rows (x_sku,
// x_qty; blank rows skipped) and the existing order number.
func readExchange(c echo.Context) deskExchange {
	x := deskExchange{kind: c.FormValue("exchange"), order: strings.TrimSpace(c.FormValue("exchange_order"))}
	if x.kind == "" && x.order != "" {
		x.kind = "link"
	}
	form, _ := c.FormParams()
	skus, qtys := form["x_sku"], form["x_qty"]
	for i := range max(len(skus), len(qtys)) {
		var row views.ExchangeRow
		if i < len(skus) {
			row.SKU = strings.TrimSpace(skus[i])
		}
		if i < len(qtys) {
			row.Qty = strings.TrimSpace(qtys[i])
		}
		if row.SKU != "" || row.Qty != "" {
			x.rows = append(x.rows, row)
		}
	}
	return x
}

// applyExchange puts the chosen exchange on the return: replacement lines
// (a blank quantity is one unit, so a scan alone asks for one), or the
// existing order the user may see.
func (s *Server) applyExchange(c echo.Context, x deskExchange, in *domain.NewReturn) error {
	switch x.kind {
	case "new":
		if len(x.rows) == 0 {
			return domain.Unprocessable("exchange.lines", "Scan or type the replacement SKU and how many the customer takes.")
		}
		xl := make([]domain.OrderLineInput, len(x.rows))
		for i, r := range x.rows {
			n := 1
			if r.Qty != "" {
				var err error
				if n, err = strconv.Atoi(r.Qty); err != nil {
					return domain.Unprocessable(fmt.Sprintf("exchange.lines[%d].qty", i), "Replacement quantity for %s must be a whole number.", r.SKU)
				}
			}
			xl[i] = domain.OrderLineInput{SKU: r.SKU, Qty: n}
		}
		in.Exchange = &domain.NewExchange{Lines: xl}
	case "link":
		if x.order == "" {
			return domain.Unprocessable("exchange_order", "Type the number of the order to link, or choose another exchange option.")
		}
		o, err := s.DB.FindOrderForReturn(c.Request().Context(), x.order)
		if err == nil && !orderVisible(currentUser(c), o) {
			err = domain.Errorf(domain.ENOTFOUND, "hidden")
		}
		if domain.ErrorCode(err) == domain.ENOTFOUND {
			return &domain.Error{Code: domain.ENOTFOUND, Field: "exchange_order",
				Message: fmt.Sprintf("No order has the number %q; create the exchange order first, then link it here, or choose an exchange for other items.", x.order)}
		} else if err != nil {
			return err
		}
		in.ExchangeOrder = &o.ID
	}
	return nil
}

// returnConfirmation names a received return's effect.
func returnConfirmation(r domain.Return) string {
	per := map[domain.Disposition]int{}
	for _, l := range r.Lines {
		per[l.Disposition] += l.Qty
	}
	var parts []string
	for _, d := range domain.Dispositions {
		if n := per[d]; n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n, strings.ToLower(domain.DispositionLabel(d))))
		}
	}
	msg := fmt.Sprintf("Return %d received at %s for order %s: %s.", r.ID, *r.Location, r.OrderNumber, strings.Join(parts, ", "))
	if n := per[domain.DispositionRestock]; n > 0 {
		msg += fmt.Sprintf(" %d unit(s) are sellable again.", n)
	}
	if r.ExchangeNumber != nil {
		msg += fmt.Sprintf(" Exchange order %s is linked.", *r.ExchangeNumber)
	}
	if per[domain.DispositionQualityHold] > 0 {
		msg += " Units on quality hold wait on the returns desk."
	}
	return msg
}

// returnInScope loads the return named by :id. A received return at a
// store outside a scoped user's stores answers as one that does not exist;
// a pending one has no store yet, and any desk may receive it.
func (s *Server) returnInScope(c echo.Context) (domain.Return, error) {
	id, err := returnID(c)
	if err != nil {
		return domain.Return{}, err
	}
	r, err := s.DB.ReturnByID(c.Request().Context(), id)
	if err != nil {
		return r, err
	}
	if r.Location != nil && !currentUser(c).CanSeeLocation(*r.Location) {
		return domain.Return{}, domain.Errorf(domain.ENOTFOUND, "There is no return %q.", c.Param("id"))
	}
	return r, nil
}

func (s *Server) returnView(c echo.Context, r domain.Return) (views.ReturnView, error) {
	stores, err := s.returnStores(c)
	return views.ReturnView{Return: r, Stores: stores, Values: map[string]string{}, CanHold: r.Location != nil}, err
}

// handleReturnShow is GET /returns/{id}.
func (s *Server) handleReturnShow(c echo.Context) error {
	r, err := s.returnInScope(c)
	if err != nil {
		return err
	}
	m, err := s.returnView(c, r)
	if err != nil {
		return err
	}
	if m.Flash, err = takeFlash(c); err != nil {
		return err
	}
	return render(c, http.StatusOK, views.ReturnShow(s.viewCtx(c), m))
}

// handleReturnReceivePage is POST /returns/{id}/receive: a pending return
// received at the user's store with a disposition per unit.
func (s *Server) handleReturnReceivePage(c echo.Context) error {
	r, err := s.returnInScope(c)
	if err != nil {
		return err
	}
	var keys []int64
	sku := map[int64]string{}
	for _, l := range r.Lines {
		if _, ok := sku[l.OrderLineID]; !ok {
			keys = append(keys, l.OrderLineID)
		}
		sku[l.OrderLineID] = l.SKU
	}
	lines, values, err := dispositionLines(c, keys, func(k int64) string { return sku[k] })
	loc := ""
	if err == nil {
		loc, err = receivingStore(c)
	}
	var after domain.Return
	if err == nil {
		after, err = s.DB.ReceiveReturn(c.Request().Context(), actor(c), r.ID, loc, lines)
	}
	if err != nil {
		e := domain.AsError(err)
		if e == nil || e.Code == domain.EINTERNAL || e.Code == domain.EFORBIDDEN || e.Code == domain.ENOTFOUND && e.Field == "" {
			return err
		}
		m, verr := s.returnView(c, r)
		if verr != nil {
			return verr
		}
		m.Err, m.Values = e, values
		return render(c, http.StatusUnprocessableEntity, views.ReturnShow(s.viewCtx(c), m))
	}
	if err := setFlash(c, returnConfirmation(after)); err != nil {
		return err
	}
	return c.Redirect(http.StatusSeeOther, fmt.Sprintf("/returns/%d", r.ID))
}

// handleReturnRelease is POST /returns/{id}/lines/{line}/release with qty
// and to (sellable or damaged): units leave quality hold.
func (s *Server) handleReturnRelease(c echo.Context) error {
	r, err := s.returnInScope(c)
	if err != nil {
		return err
	}
	line, err := strconv.Atoi(c.Param("line"))
	if err != nil {
		return domain.Errorf(domain.ENOTFOUND, "Return %d has no line %q.", r.ID, c.Param("line"))
	}
	to := c.FormValue("to")
	if to != "sellable" && to != "damaged" {
		return domain.FieldError("to", "Release to sellable or to damaged.")
	}
	qty, err := formQty(c.FormValue("qty"))
	var after domain.Return
	if err == nil {
		after, err = s.DB.ReleaseHold(c.Request().Context(), actor(c), r.ID, line, qty, to == "damaged")
	}
	if e := domain.AsError(err); e != nil && e.Field != "" {
		m, verr := s.deskView(c)
		if verr != nil {
			return verr
		}
		m.HoldErr = e
		return render(c, http.StatusUnprocessableEntity, views.ReturnsDesk(s.viewCtx(c), m))
	} else if err != nil {
		return err
	}
	sku := ""
	for _, l := range after.Lines {
		if l.LineNo == line {
			sku = l.SKU
		}
	}
	msg := fmt.Sprintf("%d × %s released from quality hold to sellable at %s; they can be promised again.", qty, sku, *after.Location)
	if to == "damaged" {
		msg = fmt.Sprintf("%d × %s marked damaged at %s; they stay on hand and are never promised.", qty, sku, *after.Location)
	}
	if err := setFlash(c, msg); err != nil {
		return err
	}
	return c.Redirect(http.StatusSeeOther, "/returns")
}
