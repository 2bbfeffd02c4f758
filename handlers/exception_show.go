package handlers

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"stockline/domain"
	"stockline/store"
	"stockline/views"
)

// exceptionPage gathers what a person needs to decide: the order, the SKU
// at the stores of the exception's region, its ledger there, the feed or
// the transfer, and the actions that apply now.
func (s *Server) exceptionPage(c echo.Context, e domain.ExceptionDetail) (views.ExceptionPage, error) {
	ctx := c.Request().Context()
	u := currentUser(c)
	p := views.ExceptionPage{E: e, Spec: domain.KindSpecFor(e.Kind), Now: time.Now(), Form: map[string]string{}}
	p.CanWork = p.Spec.CanWork(u.Role)
	var err error
	if p.Timeline, err = s.DB.ExceptionTimeline(ctx, e.ID); err != nil {
		return p, err
	}
	if err := s.orderContext(ctx, &p); err != nil {
		return p, err
	}
	if err := s.stockContext(ctx, u, &p); err != nil {
		return p, err
	}
	if err := s.feedContext(ctx, &p); err != nil {
		return p, err
	}
	if e.Kind == domain.KindReconciliationDrift {
		d, err := s.DB.DriftOf(ctx, e)
		if err != nil {
			return p, err
		}
		p.Drift = &d
	}
	if id, ok := strings.CutPrefix(e.Ref, "transfer:"); ok {
		if n, err := strconv.ParseInt(id, 10, 64); err == nil {
			if t, err := s.DB.TransferByID(ctx, n); err == nil {
				p.Transfer = &t
			}
		}
	}
	for _, a := range p.Spec.Actions {
		if s.actionApplies(p, a) {
			p.Actions = append(p.Actions, a)
		}
	}
	return p, nil
}

// orderContext loads the order an exception names (its ref is the order
// number) and the line it is about: the exception's SKU, waiting or open.
func (s *Server) orderContext(ctx context.Context, p *views.ExceptionPage) error {
	if !strings.HasPrefix(p.E.Ref, "SL-") {
		return nil
	}
	o, err := s.DB.OrderByNumber(ctx, p.E.Ref)
	if domain.ErrorCode(err) == domain.ENOTFOUND {
		return nil
	} else if err != nil {
		return err
	}
	p.Order = &o
	for i := range o.Lines {
		l := &o.Lines[i]
		if (p.E.SKU == "" || l.SKU == p.E.SKU) && l.Open() > 0 && (p.Line == nil || l.Pending > p.Line.Pending) {
			p.Line = l
		}
	}
	if p.Line != nil && p.Line.Pending > 0 {
		stores, err := s.DB.AlternativeStores(ctx, domain.Channel(o.Channel), p.Line.ProductID, p.Line.RejectedIDs, 6)
		if err != nil {
			return err
		}
		p.Stores = stores
	}
	return nil
}

// stockContext: the SKU at the stores of the exception's region that the
// user may see, and the ledger at the exception's location.
func (s *Server) stockContext(ctx context.Context, u *domain.User, p *views.ExceptionPage) error {
	if p.E.SKU == "" {
		return nil
	}
	prod, err := s.DB.ProductBySKU(ctx, p.E.SKU)
	if err != nil {
		return err
	}
	all, err := s.DB.PositionsForSKU(ctx, prod.ID)
	if err != nil {
		return err
	}
	region := ""
	for _, l := range all {
		if l.Code == p.E.Location {
			region = l.Region
		}
	}
	for _, l := range all {
		if (region == "" || l.Region == region) && (u.CanSeeLocation(l.Code) || !u.Role.Scoped()) {
			p.Nearby = append(p.Nearby, l)
		}
	}
	if p.E.Location != "" {
		if p.Ledger, err = s.DB.RecentLedger(ctx, prod.ID, p.E.Location, 0, 10); err != nil {
			return err
		}
	}
	return nil
}

// feedContext loads the connector of a feed or dead-letter exception
// (ref "connector:<name>") and its open dead letters.
func (s *Server) feedContext(ctx context.Context, p *views.ExceptionPage) error {
	name, ok := strings.CutPrefix(p.E.Ref, "connector:")
	if !ok {
		return nil
	}
	cn, err := s.DB.ConnectorByName(ctx, name)
	if domain.ErrorCode(err) == domain.ENOTFOUND {
		return nil
	} else if err != nil {
		return err
	}
	p.Connector = &cn
	if p.E.Kind == domain.KindDeadLetter {
		if p.Dead, _, err = s.DB.DeadLetters(ctx, cn.ID, "open", 0, 10); err != nil {
			return err
		}
	}
	return nil
}

// actionApplies says whether an action of the kind can be taken now (a
// paused feed cannot be paused again; a line with nothing waiting cannot be
// reallocated). Actions with no work wired here (drift's, done by
// reconciliation) are not offered.
func (s *Server) actionApplies(p views.ExceptionPage, a domain.ExceptionAction) bool {
	switch a {
	case domain.ActReallocate:
		return p.Line != nil && p.Line.Pending > 0 && len(p.Stores) > 0
	case domain.ActCancelLine:
		return p.Line != nil && p.Line.Open() > 0
	case domain.ActAdjust:
		return p.E.SKU != "" && p.E.Location != ""
	case domain.ActRetry, domain.ActFixPayload:
		return len(p.Dead) > 0
	case domain.ActPauseFeed:
		return p.Connector != nil && p.Connector.Enabled
	case domain.ActResumeFeed:
		return p.Connector != nil && !p.Connector.Enabled
	case domain.ActFound, domain.ActLost:
		// Only units still in transit can be found or lost: an over-receipt's
		// variance has none (its extra units are on hand already).
		if p.Transfer == nil || p.E.SKU == "" || p.Transfer.Status != domain.TransferReceived {
			return false
		}
		for _, l := range p.Transfer.Lines {
			if l.SKU == p.E.SKU && l.Outstanding() > 0 {
				return true
			}
		}
		return false
	case domain.ActRecheck, domain.ActAcknowledge, domain.ActionDismiss:
		return true
	}
	if slices.Contains(domain.ActionsFor(p.E.Kind), a) {
		return true // reconciliation's actions, done by the store's dispatch
	}
	_, ok := s.exceptionActions()[a]
	return ok
}

func (s *Server) handleExceptionShow(c echo.Context) error {
	e, err := s.exceptionInScope(c)
	if err != nil {
		return err
	}
	p, err := s.exceptionPage(c, e)
	if err != nil {
		return err
	}
	if p.Flash, err = takeFlash(c); err != nil {
		return err
	}
	return render(c, http.StatusOK, views.ExceptionShow(s.viewCtx(c), p))
}

// handleExceptionResolve does the work of one of the kind's actions (the
// form's action field) and records its resolution code and note in the
// same transaction (the API's resolve, ResolveException, does the same). A
// refused action re-renders the page with the error beside its form.
func (s *Server) handleExceptionResolve(c echo.Context) error {
	e, err := s.exceptionToWork(c)
	if err != nil {
		return err
	}
	action := domain.ExceptionAction(c.FormValue("action"))
	if !domain.KindSpecFor(e.Kind).Allows(action) {
		return &domain.Error{Code: domain.CodeActionNotAllowed, Field: "action",
			Message: fmt.Sprintf("%s exceptions have no action %q.", domain.ExceptionKindLabel(e.Kind), action)}
	}
	p, err := s.exceptionPage(c, e)
	if err != nil {
		return err
	}
	do, ok := s.exceptionActions()[action]
	if !ok || !s.actionApplies(p, action) {
		return domain.Errorf(domain.ECONFLICT, "%s does not apply to this exception now.", domain.ActionLabel(action))
	}
	note := strings.TrimSpace(c.FormValue("note"))
	// One store call does the work and records the resolution together.
	effect, err := do(c, p, store.ExceptionRecord{ID: e.ID, Action: action, Note: note})
	if de := domain.AsError(err); de != nil && de.Code != domain.EINTERNAL && de.Code != domain.ENOTFOUND && de.Code != domain.EFORBIDDEN {
		p, perr := s.exceptionPage(c, e)
		if perr != nil {
			return perr
		}
		p.Err, p.ErrAction, p.Form["counted"], p.Form["note"] = de, action, c.FormValue("counted"), note
		return render(c, statusFor(de), views.ExceptionShow(s.viewCtx(c), p))
	} else if err != nil {
		return err
	}
	if err := setFlash(c, effect); err != nil {
		return err
	}
	return c.Redirect(http.StatusSeeOther, fmt.Sprintf("/exceptions/%d", e.ID))
}

// handleExceptionClose resolves (with a code) or dismisses an exception
// without one of the kind's actions.
func (s *Server) handleExceptionClose(c echo.Context) error {
	e, err := s.exceptionToWork(c)
	if err != nil {
		return err
	}
	r := domain.ExceptionResolution{To: c.FormValue("to"), Code: c.FormValue("code"), Note: strings.TrimSpace(c.FormValue("note"))}
	err = s.DB.CloseException(c.Request().Context(), actor(c), e.ID, r)
	if de := domain.AsError(err); de != nil && de.Code == domain.EINVALID {
		p, perr := s.exceptionPage(c, e)
		if perr != nil {
			return perr
		}
		p.Err, p.ErrAction, p.Form["note"] = de, domain.ActionDismiss, r.Note
		return render(c, http.StatusBadRequest, views.ExceptionShow(s.viewCtx(c), p))
	} else if err != nil {
		return err
	}
	if err := setFlash(c, "Exception "+domain.StatusLabel(r.To)+"."); err != nil {
		return err
	}
	return c.Redirect(http.StatusSeeOther, fmt.Sprintf("/exceptions/%d", e.ID))
}
