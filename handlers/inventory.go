package handlers

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"stockline/domain"
	"stockline/store"
	"stockline/views"
)

const searchPageSize = 25

// handleInventorySearch is GET /inventory?q=&after=. A full request whose q
// is exactly a SKU or barcode (what a scanner types before Enter) goes
// straight to the SKU page. An htmx request (the field's as-you-type
// search) gets only the results fragment.
func (s *Server) handleInventorySearch(c echo.Context) error {
	ctx := c.Request().Context()
	q := strings.TrimSpace(c.QueryParam("q"))
	if len(q) > 200 {
		q = q[:200]
	}
	after := c.QueryParam("after")
	partial := isHTMX(c) && c.Request().Header.Get("HX-History-Restore-Request") != "true"
	c.Response().Header().Add("Vary", "HX-Request")
	if q != "" && after == "" && !partial {
		p, ok, err := s.DB.FindProductExact(ctx, q)
		if err != nil {
			return err
		}
		if ok {
			return c.Redirect(http.StatusSeeOther, string(views.SKUHref(p.SKU)))
		}
	}
	view := views.InventorySearchView{Q: q}
	if q != "" {
		prods, next, err := s.DB.SearchProducts(ctx, store.ProductQuery{Q: q, After: after, Limit: searchPageSize})
		if err != nil {
			return err
		}
		view.Results = prods
		if next != "" {
			view.Next = "/inventory?" + url.Values{"q": {q}, "after": {next}}.Encode()
		}
		if after != "" {
			view.First = "/inventory?" + url.Values{"q": {q}}.Encode()
		}
	}
	if partial {
		return render(c, http.StatusOK, views.InventoryResults(view))
	}
	return render(c, http.StatusOK, views.InventorySearch(s.viewCtx(c), view))
}

// visibleLocationCodes is the location codes u may see among stock, or nil when u
// sees every location.
func visibleLocationCodes(u *domain.User, stock []domain.LocationStock) []string {
	if !u.Role.Scoped() {
		return nil
	}
	codes := []string{}
	for _, l := range stock {
		if u.CanSeeLocation(l.Code) {
			codes = append(codes, l.Code)
		}
	}
	return codes
}

const ledgerPageSize = 25

// handleSKU is the SKU page: buckets and ATP per channel for every location
// the user may see, network ATP, open exceptions and the ledger (paged
// with ?before=<ledger id>).
func (s *Server) handleSKU(c echo.Context) error {
	ctx := c.Request().Context()
	u := currentUser(c)
	prod, err := s.DB.ProductBySKU(ctx, c.Param("sku"))
	if err != nil {
		return err
	}
	stock, err := s.DB.StockForSKU(ctx, prod.SKU)
	if err != nil {
		return err
	}
	pols, err := s.DB.CachedPolicies(ctx)
	if err != nil {
		return err
	}
	view := views.SKUView{Product: prod, TZ: map[string]string{}, CanAdjust: slices.Contains(adjusters, u.Role)}
	var avail []domain.Availability
	for _, ch := range domain.Channels {
		if p, ok := pols[ch]; ok {
			a := domain.ChannelAvailability(p, stock)
			avail = append(avail, a)
			view.Channels = append(view.Channels, ch)
			view.Network = append(view.Network, a.NetworkATP)
		}
	}
	for i, l := range stock {
		view.TZ[l.Code] = l.Timezone
		if !u.CanSeeLocation(l.Code) {
			view.Hidden++
			continue
		}
		row := views.SKURow{LocationStock: l}
		for _, a := range avail {
			row.ATP = append(row.ATP, a.Locations[i])
		}
		view.Rows = append(view.Rows, row)
	}
	codes := visibleLocationCodes(u, stock)
	before, _ := strconv.ParseInt(c.QueryParam("before"), 10, 64)
	var next int64
	view.Ledger, next, err = s.DB.LedgerPage(ctx, store.LedgerQuery{ProductID: prod.ID, Locations: codes, BeforeID: before, Limit: ledgerPageSize})
	if err != nil {
		return err
	}
	base := string(views.SKUHref(prod.SKU))
	if next > 0 {
		view.Older = fmt.Sprintf("%s?before=%d#ledger", base, next)
	}
	if before > 0 {
		view.Newest = base + "#ledger"
	}
	excs, err := s.DB.OpenExceptionsForProduct(ctx, prod.ID)
	if err != nil {
		return err
	}
	for _, e := range excs {
		if e.Location == "" || u.CanSeeLocation(e.Location) {
			view.Exceptions = append(view.Exceptions, e)
		}
	}
	view.Reservations, view.ReservationTotal, err = s.DB.ListReservations(ctx, store.ReservationFilter{Scope: scopeOf(u), SKU: prod.SKU, Limit: 10})
	if err != nil {
		return err
	}
	if view.Transfers, err = s.DB.OpenTransfersForSKU(ctx, prod.ID, scopeOf(u)); err != nil {
		return err
	}
	view.CanTransfer = slices.Contains(transferRoles, u.Role)
	if view.Done, err = takeFlash(c); err != nil {
		return err
	}
	return render(c, http.StatusOK, views.SKUPage(s.viewCtx(c), view))
}

// adjustForm loads what the adjustment form shows: the product and the
// locations the user may adjust, with their current buckets.
func (s *Server) adjustForm(c echo.Context) (views.AdjustForm, error) {
	ctx := c.Request().Context()
	u := currentUser(c)
	prod, err := s.DB.ProductBySKU(ctx, c.Param("sku"))
	if err != nil {
		return views.AdjustForm{}, err
	}
	stock, err := s.DB.StockForSKU(ctx, prod.SKU)
	if err != nil {
		return views.AdjustForm{}, err
	}
	f := views.AdjustForm{Product: prod, Mode: "delta"}
	for _, l := range stock {
		if u.CanSeeLocation(l.Code) {
			f.Stock = append(f.Stock, l)
		}
	}
	return f, nil
}

func (s *Server) handleAdjustForm(c echo.Context) error {
	f, err := s.adjustForm(c)
	if err != nil {
		return err
	}
	f.Location = c.QueryParam("location")
	return render(c, http.StatusOK, views.AdjustPage(s.viewCtx(c), f))
}

// handleAdjust records an adjustment. Bad input re-renders the form (422)
// with the message beside its field and the user's input kept; success
// redirects to the SKU page with a confirmation naming the effect.
func (s *Server) handleAdjust(c echo.Context) error {
	f, err := s.adjustForm(c)
	if err != nil {
		return err
	}
	f.Location = strings.TrimSpace(c.FormValue("location"))
	f.Reason = c.FormValue("reason")
	f.Mode = c.FormValue("mode")
	f.Quantity = strings.TrimSpace(c.FormValue("quantity"))
	f.Note = strings.TrimSpace(c.FormValue("note"))
	refuse := func(e *domain.Error) error {
		f.Err = e
		return render(c, http.StatusUnprocessableEntity, views.AdjustPage(s.viewCtx(c), f))
	}
	if f.Location == "" || !currentUser(c).CanSeeLocation(f.Location) {
		return refuse(domain.FieldError("location", "Choose the location whose stock you are adjusting."))
	}
	if f.Reason == "" {
		return refuse(domain.FieldError("reason", "Choose a reason code; the ledger records why stock moved."))
	}
	if f.Mode != "delta" && f.Mode != "counted" {
		return refuse(domain.FieldError("mode", "Choose whether to change by a number of units or to set the counted quantity."))
	}
	n, err := strconv.Atoi(strings.Replace(f.Quantity, "−", "-", 1))
	if err != nil {
		return refuse(domain.FieldError("quantity", "Enter a whole number of units, like 3 or -2."))
	}
	adj := domain.Adjustment{Reason: domain.Reason(f.Reason), Note: f.Note}
	if f.Mode == "counted" {
		adj.Counted = &n
	} else {
		adj.Delta = &n
	}
	res, err := s.DB.AdjustPosition(c.Request().Context(), actor(c), f.Product.SKU, f.Location, adj)
	if e := domain.AsError(err); e != nil && e.Code == domain.EINVALID {
		if e.Field == "delta" || e.Field == "counted" {
			e = &domain.Error{Code: e.Code, Field: "quantity", Message: e.Message}
		}
		return refuse(e)
	} else if e != nil && e.Code == domain.ENOTFOUND {
		return refuse(domain.FieldError("location", "%s", e.Message))
	} else if err != nil {
		return err
	}
	if err := setFlash(c, adjustedMessage(res, adj.Reason)); err != nil {
		return err
	}
	return c.Redirect(http.StatusSeeOther, string(views.SKUHref(res.Product.SKU)))
}

// adjustedMessage names an adjustment's effect, e.g. "On hand at S01 went
// from 4 to 7 (+3, received)."
func adjustedMessage(res store.Adjusted, reason domain.Reason) string {
	parts := make([]string, len(res.Moves))
	for i, m := range res.Moves {
		parts[i] = fmt.Sprintf("%s at %s went from %d to %d (%+d, %s)", m.Bucket.Label(), res.Location.Code,
			res.Before.Get(m.Bucket), res.After.Get(m.Bucket), m.Delta, reason)
	}
	return strings.Join(parts, "; ") + "."
}

func (s *Server) handleLocations(c echo.Context) error {
	rows, err := s.DB.LocationSummaries(c.Request().Context())
	if err != nil {
		return err
	}
	return render(c, http.StatusOK, views.LocationsPage(s.viewCtx(c), rows))
}
