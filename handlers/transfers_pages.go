package handlers

// The transfer pages (issue 10): the list, the request form, one
// transfer's page. Scope: a scoped user sees a transfer when its origin or
// its destination is theirs; any other is 404, exactly like one that does
// not exist. Acting on a visible transfer from the wrong end (approving
// without the origin in scope, receiving without the destination) is 403,
// as shipping an order from another store is.

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

const transferPageSize = 25

// transferInScope loads the transfer named by :id, 404 when the user may
// not see it.
func (s *Server) transferInScope(c echo.Context) (domain.Transfer, error) {
	id, err := transferID(c)
	if err != nil {
		return domain.Transfer{}, err
	}
	t, err := s.DB.TransferByID(c.Request().Context(), id)
	if err != nil {
		return t, err
	}
	if !domain.TransferVisible(currentUser(c), t) {
		return t, domain.Errorf(domain.ENOTFOUND, "There is no transfer %q.", c.Param("id"))
	}
	return t, nil
}

// handleTransfersPage is GET /transfers?status=&incoming=1&before=.
func (s *Server) handleTransfersPage(c echo.Context) error {
	u := currentUser(c)
	m := views.TransferListView{Status: c.QueryParam("status"), Incoming: c.QueryParam("incoming") == "1", Now: time.Now(),
		OverdueDays: s.opts.TransferOverdueDays, CanSuggest: slices.Contains(suggestRoles, u.Role), CanEditRules: slices.Contains(ruleRoles, u.Role)}
	if m.Status != "" && !slices.Contains(domain.TransferStatuses, domain.TransferStatus(m.Status)) {
		m.Status = ""
	}
	f := store.TransferFilter{Status: m.Status, Locations: scopeOf(u), Limit: transferPageSize + 1}
	f.BeforeID, _ = strconv.ParseInt(c.QueryParam("before"), 10, 64)
	if m.Incoming {
		f.Status, m.Status = string(domain.TransferShipped), string(domain.TransferShipped)
		f.ToAny = scopeOf(u)
	}
	rows, err := s.DB.ListTransfers(c.Request().Context(), f)
	if err != nil {
		return err
	}
	if len(rows) > transferPageSize {
		rows = rows[:transferPageSize]
		v := url.Values{"before": {fmt.Sprint(rows[len(rows)-1].ID)}}
		if m.Status != "" {
			v.Set("status", m.Status)
		}
		if m.Incoming {
			v.Set("incoming", "1")
		}
		m.Older = "/transfers?" + v.Encode()
	}
	m.Rows = rows
	if f.BeforeID > 0 {
		m.Newest = "/transfers"
	}
	if m.Flash, err = takeFlash(c); err != nil {
		return err
	}
	return render(c, http.StatusOK, views.TransfersPage(s.viewCtx(c), m))
}

// transferForm loads the locations a request may name.
func (s *Server) transferForm(c echo.Context) (views.TransferForm, error) {
	locs, err := s.DB.ListLocations(c.Request().Context())
	return views.TransferForm{Locations: locs}, err
}

// handleTransferNew is GET /transfers/new, prefilled from the query (the
// SKU page links here with sku and to).
func (s *Server) handleTransferNew(c echo.Context) error {
	f, err := s.transferForm(c)
	if err != nil {
		return err
	}
	f.From, f.To = c.QueryParam("from"), c.QueryParam("to")
	if sku := strings.TrimSpace(c.QueryParam("sku")); sku != "" {
		f.Lines = sku + " 1"
	}
	return render(c, http.StatusOK, views.TransferNewPage(s.viewCtx(c), f))
}

// parseTransferLines reads the lines field: one SKU or barcode per line,
// optionally followed by a quantity ("FOO-1 3", "0123456789012 x2"); a
// code without one counts 1, so each scan of a barcode adds a unit. The
// same SKU on several lines is summed, in first-seen order.
func (s *Server) parseTransferLines(c echo.Context, field, raw string) ([]domain.TransferLineInput, error) {
	var out []domain.TransferLineInput
	at := map[string]int{}
	for i, line := range strings.Split(raw, "\n") {
		parts := strings.FieldsFunc(line, func(r rune) bool { return r == ' ' || r == '\t' || r == ',' || r == ';' || r == '\r' })
		if len(parts) == 0 {
			continue
		}
		if len(parts) > 2 {
			return nil, domain.FieldError(field, "Line %d: give a SKU or barcode and, optionally, a quantity.", i+1)
		}
		qty := 1
		if len(parts) == 2 {
			n, err := strconv.Atoi(strings.TrimLeft(parts[1], "x×"))
			if err != nil || n < 1 || n > maxFormQty {
				return nil, domain.FieldError(field, "Line %d: the quantity %q is not a whole number from 1 to %d.", i+1, clip(parts[1], 12), maxFormQty)
			}
			qty = n
		}
		p, ok, err := s.DB.FindProductExact(c.Request().Context(), parts[0])
		if err != nil {
			return nil, err
		}
		if !ok {
			return nil, domain.FieldError(field, "Line %d: no SKU or barcode %q.", i+1, clip(parts[0], 40))
		}
		if j, seen := at[p.SKU]; seen {
			out[j].Qty += qty
			continue
		}
		at[p.SKU] = len(out)
		out = append(out, domain.TransferLineInput{SKU: p.SKU, Qty: qty})
	}
	return out, nil
}

// formFieldOf maps a store field ("lines[0].qty") to the form's field.
func formFieldOf(e *domain.Error) *domain.Error {
	if e != nil && strings.HasPrefix(e.Field, "lines") {
		c := *e
		c.Field = "lines"
		return &c
	}
	return e
}

// handleTransferCreate is POST /transfers: a request from the form (or a
// suggestion's one-click button). Bad input re-renders the form (422)
// with the message beside its field and what was typed kept.
func (s *Server) handleTransferCreatePage(c echo.Context) error {
	f, err := s.transferForm(c)
	if err != nil {
		return err
	}
	f.From, f.To = strings.TrimSpace(c.FormValue("from")), strings.TrimSpace(c.FormValue("to"))
	f.Lines, f.Reason, f.NeededBy = c.FormValue("lines"), c.FormValue("reason"), strings.TrimSpace(c.FormValue("needed_by"))
	refuse := func(err error) error {
		e := domain.AsError(err)
		if e == nil || e.Code == domain.EINTERNAL {
			return err
		}
		f.Err = formFieldOf(e)
		return render(c, http.StatusUnprocessableEntity, views.TransferNewPage(s.viewCtx(c), f))
	}
	if u := currentUser(c); f.From != "" && f.To != "" && !u.CanSeeLocation(f.From) && !u.CanSeeLocation(f.To) {
		return refuse(domain.FieldError("from", "Neither %s nor %s is one of your locations; a request starts or ends at one of them.", f.From, f.To))
	}
	lines, err := s.parseTransferLines(c, "lines", f.Lines)
	if err != nil {
		return refuse(err)
	}
	t, err := s.DB.CreateTransfer(c.Request().Context(), actor(c),
		domain.NewTransfer{From: f.From, To: f.To, Lines: lines, Reason: f.Reason, NeededBy: f.NeededBy})
	if err != nil {
		return refuse(err)
	}
	msg := fmt.Sprintf("Transfer %d requested: %d unit(s) from %s to %s; nothing moves until a manager of %s approves it.", t.ID, t.Units(), t.From, t.To, t.From)
	if t.Status == domain.TransferApproved {
		msg = fmt.Sprintf("Transfer %d requested and approved by a rule: %d unit(s) moved into transfer_out at %s.", t.ID, t.Units(), t.From)
	}
	return s.transferDone(c, t, msg)
}

// transferView loads what the transfer page shows and what the viewer
// may do.
func (s *Server) transferView(c echo.Context, t domain.Transfer) (views.TransferView, error) {
	u := currentUser(c)
	m := views.TransferView{T: t, Now: time.Now(), OverdueDays: s.opts.TransferOverdueDays, SalesDays: store.SalesWindowDays}
	open := t.Status == domain.TransferRequested || t.Status == domain.TransferApproved
	m.CanApprove = t.Status == domain.TransferRequested && slices.Contains(approveRoles, u.Role) && domain.MayApprove(u, t.From)
	m.CanShip = t.Status == domain.TransferApproved && slices.Contains(transferRoles, u.Role) && u.CanSeeLocation(t.From)
	m.CanReceive = t.Status == domain.TransferShipped && slices.Contains(transferRoles, u.Role) && u.CanSeeLocation(t.To)
	m.CanCancel = open && slices.Contains(transferRoles, u.Role)
	if t.Status == domain.TransferReceived && u.CanSeeLocation(t.To) {
		m.CanFound = slices.Contains(transferRoles, u.Role)
		m.CanWriteOff = slices.Contains(writeOffRoles, u.Role)
	}
	if t.Status == domain.TransferRequested || t.Status == domain.TransferApproved {
		ctx, err := s.transferStock(c, []domain.Transfer{t})
		if err != nil {
			return m, err
		}
		m.Stock = ctx[t.ID]
	}
	return m, nil
}

// transferStock is the stock context of transfers: per line, the origin
// and the destination now, with their recent sales.
func (s *Server) transferStock(c echo.Context, ts []domain.Transfer) (map[int64][]views.StockContext, error) {
	var locs, skus []string
	for _, t := range ts {
		locs = append(locs, t.From, t.To)
		for _, l := range t.Lines {
			skus = append(skus, l.SKU)
		}
	}
	slices.Sort(locs)
	slices.Sort(skus)
	sig, err := s.DB.StockSignals(c.Request().Context(), slices.Compact(locs), slices.Compact(skus), store.SalesWindowDays)
	if err != nil {
		return nil, err
	}
	at := map[string]domain.StockSignal{}
	for _, g := range sig {
		at[g.Location+"|"+g.SKU] = g
	}
	out := map[int64][]views.StockContext{}
	for _, t := range ts {
		for _, l := range t.Lines {
			from, to := at[t.From+"|"+l.SKU], at[t.To+"|"+l.SKU]
			need := l.Requested
			if t.Status == domain.TransferApproved {
				need = 0 // already set aside in transfer_out
			}
			out[t.ID] = append(out[t.ID], views.StockContext{SKU: l.SKU, Name: l.Name, Requested: l.Requested, From: from, To: to, Covers: from.ATP() >= need})
		}
	}
	return out, nil
}

func (s *Server) handleTransferPage(c echo.Context) error {
	t, err := s.transferInScope(c)
	if err != nil {
		return err
	}
	m, err := s.transferView(c, t)
	if err != nil {
		return err
	}
	if m.Flash, err = takeFlash(c); err != nil {
		return err
	}
	return render(c, http.StatusOK, views.TransferPage(s.viewCtx(c), m))
}

// transferDone redirects to the transfer's timeline with a confirmation.
func (s *Server) transferDone(c echo.Context, t domain.Transfer, msg string) error {
	if err := setFlash(c, msg); err != nil {
		return err
	}
	return c.Redirect(http.StatusSeeOther, fmt.Sprintf("/transfers/%d#timeline", t.ID))
}

// transferActionFailed re-renders the transfer page, reloaded, with the
// error beside the form it came from (approve, reject, ship, receive,
// cancel, settle) and the current stock figures; not-found and internal
// errors go to the error handler.
func (s *Server) transferActionFailed(c echo.Context, t domain.Transfer, form string, err error) error {
	e := domain.AsError(err)
	if e == nil || e.Code == domain.EINTERNAL || e.Code == domain.ENOTFOUND && e.Field == "" || e.Code == domain.EFORBIDDEN {
		return err
	}
	t, lerr := s.DB.TransferByID(c.Request().Context(), t.ID)
	if lerr != nil {
		return lerr
	}
	m, verr := s.transferView(c, t)
	if verr != nil {
		return verr
	}
	m.Err, m.Form = formFieldOf(e), form
	status := statusFor(e)
	if status < 400 || status >= 500 {
		status = http.StatusUnprocessableEntity
	}
	return render(c, status, views.TransferPage(s.viewCtx(c), m))
}
