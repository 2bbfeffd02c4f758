package handlers

// The transfer page's form posts: approve, reject, ship, receive, cancel,
// and a variance's "found later" and "write off as lost". Each loads the
// transfer in the user's scope (404 otherwise), checks the end the act
// belongs to (403 when it is not the user's), calls the one store function
// and redirects to the timeline with the effect named.

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"stockline/domain"
)

// handleTransferDecide is POST /transfers/{id}/approve and …/reject with
// an optional note; back=approvals returns to the queue.
func (s *Server) handleTransferDecide(approve bool) echo.HandlerFunc {
	return func(c echo.Context) error {
		t, err := s.transferInScope(c)
		if err != nil {
			return err
		}
		if !domain.MayApprove(currentUser(c), t.From) {
			return domain.Errorf(domain.EFORBIDDEN, "Only a manager of %s can approve or reject this transfer.", t.From)
		}
		note := strings.TrimSpace(c.FormValue("note"))
		form, verb := "reject", "rejected; nothing moved"
		var after domain.Transfer
		if approve {
			form = "approve"
			after, err = s.DB.ApproveTransfer(c.Request().Context(), actor(c), t.ID, note)
		} else {
			after, err = s.DB.RejectTransfer(c.Request().Context(), actor(c), t.ID, note)
		}
		if err != nil {
			return s.transferActionFailed(c, t, form, err)
		}
		if approve {
			verb = fmt.Sprintf("approved: %d unit(s) moved into transfer_out at %s, so its ATP dropped at once", after.Units(), after.From)
		}
		msg := fmt.Sprintf("Transfer %d %s.", t.ID, verb)
		if c.FormValue("back") == "approvals" {
			if err := setFlash(c, msg); err != nil {
				return err
			}
			return c.Redirect(http.StatusSeeOther, "/transfers/approvals")
		}
		return s.transferDone(c, after, msg)
	}
}

// lineQty reads an optional whole number ≥ 0 from a form field.
func lineQty(c echo.Context, name, sku string) (int, error) {
	raw := strings.TrimSpace(c.FormValue(name))
	if raw == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(raw)
	if err != nil || n < 0 || n > maxFormQty {
		return 0, domain.FieldError("lines", "%s: %q is not a whole number from 0 to %d.", sku, clip(raw, 12), maxFormQty)
	}
	return n, nil
}

// handleTransferShip is POST /transfers/{id}/ship with qty_<line> (at
// most what was approved) and tracking; the origin's staff ship.
func (s *Server) handleTransferShip(c echo.Context) error {
	t, err := s.transferInScope(c)
	if err != nil {
		return err
	}
	if !currentUser(c).CanSeeLocation(t.From) {
		return domain.Errorf(domain.EFORBIDDEN, "Only %s's staff can ship this transfer.", t.From)
	}
	var lines []domain.TransferLineInput
	for _, l := range t.Lines {
		n, err := lineQty(c, fmt.Sprintf("qty_%d", l.LineNo), l.SKU)
		if err != nil {
			return s.transferActionFailed(c, t, "ship", err)
		}
		lines = append(lines, domain.TransferLineInput{SKU: l.SKU, Qty: n})
	}
	after, err := s.DB.ShipTransfer(c.Request().Context(), actor(c), t.ID, lines, c.FormValue("tracking"))
	if err != nil {
		return s.transferActionFailed(c, t, "ship", err)
	}
	shipped, approved := 0, 0
	for _, l := range after.Lines {
		shipped, approved = shipped+l.Shipped, approved+l.Approved
	}
	msg := fmt.Sprintf("Transfer %d shipped: %d unit(s) left %s and are in transit to %s.", t.ID, shipped, t.From, t.To)
	if approved > shipped {
		msg += fmt.Sprintf(" %d approved unit(s) not shipped went back to sellable at %s.", approved-shipped, t.From)
	}
	return s.transferDone(c, after, msg)
}

// handleTransferReceive is POST /transfers/{id}/receive: qty_<line> and
// damaged_<line> per line, plus scans (one SKU or barcode per line, each
// adding a unit; a scanner's Enter starts the next line), and
// complete=true to close the receipt (false: partial, more to come). The
// destination's staff receive.
func (s *Server) handleTransferReceive(c echo.Context) error {
	t, err := s.transferInScope(c)
	if err != nil {
		return err
	}
	if !currentUser(c).CanSeeLocation(t.To) {
		return domain.Errorf(domain.EFORBIDDEN, "Only %s's staff can receive this transfer.", t.To)
	}
	scanned, err := s.parseTransferLines(c, "lines", c.FormValue("scans"))
	if err != nil {
		return s.transferActionFailed(c, t, "receive", err)
	}
	extra := map[string]int{}
	for _, l := range scanned {
		extra[l.SKU] += l.Qty
	}
	var lines []domain.ReceiptLine
	units := 0
	for _, l := range t.Lines {
		n, err := lineQty(c, fmt.Sprintf("qty_%d", l.LineNo), l.SKU)
		if err != nil {
			return s.transferActionFailed(c, t, "receive", err)
		}
		d, err := lineQty(c, fmt.Sprintf("damaged_%d", l.LineNo), l.SKU)
		if err != nil {
			return s.transferActionFailed(c, t, "receive", err)
		}
		n += extra[l.SKU]
		delete(extra, l.SKU)
		lines = append(lines, domain.ReceiptLine{SKU: l.SKU, Qty: n, Damaged: d})
		units += n
	}
	for sku := range extra {
		return s.transferActionFailed(c, t, "receive", domain.FieldError("lines", "%s was scanned, but it is not on this transfer.", sku))
	}
	complete := c.FormValue("complete") != "false"
	after, err := s.DB.ReceiveTransfer(c.Request().Context(), actor(c), t.ID, lines, complete)
	if err != nil {
		return s.transferActionFailed(c, t, "receive", err)
	}
	msg := fmt.Sprintf("%d unit(s) received at %s and now on hand; partial receipt, the rest stays in transit.", units, t.To)
	if complete {
		msg = fmt.Sprintf("%d unit(s) received at %s; the transfer is received.", units, t.To)
		if n := after.Outstanding(); n > 0 {
			msg += fmt.Sprintf(" %d unit(s) did not arrive: they stay in in_transit_in under a transfer_variance exception until someone says found later or lost.", n)
		}
	}
	return s.transferDone(c, after, msg)
}

// handleTransferCancelPage is POST /transfers/{id}/cancel: before it
// ships (a shipped one is 409 already_shipped, shown on the page).
func (s *Server) handleTransferCancelPage(c echo.Context) error {
	t, err := s.transferInScope(c)
	if err != nil {
		return err
	}
	after, err := s.DB.CancelTransfer(c.Request().Context(), actor(c), t.ID)
	if err != nil {
		return s.transferActionFailed(c, t, "cancel", err)
	}
	msg := fmt.Sprintf("Transfer %d cancelled; nothing had been set aside.", t.ID)
	if t.Status == domain.TransferApproved {
		msg = fmt.Sprintf("Transfer %d cancelled; %d unit(s) went back from transfer_out to sellable at %s.", t.ID, t.Units(), t.From)
	}
	return s.transferDone(c, after, msg)
}

// handleTransferSettle is POST /transfers/{id}/found and …/lost with the
// sku of a short line: the destination's staff settle a variance.
func (s *Server) handleTransferSettle(found bool) echo.HandlerFunc {
	return func(c echo.Context) error {
		t, err := s.transferInScope(c)
		if err != nil {
			return err
		}
		if !currentUser(c).CanSeeLocation(t.To) {
			return domain.Errorf(domain.EFORBIDDEN, "Only %s's staff can settle this transfer's variance.", t.To)
		}
		sku := strings.TrimSpace(c.FormValue("sku"))
		after, err := s.DB.SettleVariance(c.Request().Context(), actor(c), t.ID, sku, found)
		if err != nil {
			return s.transferActionFailed(c, t, "settle", err)
		}
		msg := fmt.Sprintf("The missing units of %s were found and received at %s; the variance exception is resolved.", sku, t.To)
		if !found {
			msg = fmt.Sprintf("The missing units of %s were written off as lost (shrinkage, source transfer %d); the variance exception is resolved.", sku, t.ID)
		}
		return s.transferDone(c, after, msg)
	}
}
