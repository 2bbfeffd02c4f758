package handlers

import (
	"fmt"
	"net/http"
	"net/url"
	"strconv"

	"github.com/labstack/echo/v4"

	"stockline/domain"
	"stockline/store"
	"stockline/views"
)

// scopeOf is the location codes a user is limited to, or nil for all.
func scopeOf(u *domain.User) []string {
	if u.Role.Scoped() {
		if u.Locations == nil {
			return []string{}
		}
		return u.Locations
	}
	return nil
}

func (s *Server) handleExceptionQueue(c echo.Context) error {
	ctx := c.Request().Context()
	u := currentUser(c)
	f := store.ExceptionFilter{Kind: c.QueryParam("kind"), Locations: scopeOf(u)}
	if st := c.QueryParam("status"); st != "" {
		f.Statuses = []string{st}
	}
	f.BeforeID, _ = strconv.ParseInt(c.QueryParam("before"), 10, 64)
	rows, total, err := s.DB.ListExceptions(ctx, f)
	if err != nil {
		return err
	}
	counts, err := s.DB.ExceptionCounts(ctx, f.Locations)
	if err != nil {
		return err
	}
	q := views.ExceptionQuery{Kind: f.Kind, Status: c.QueryParam("status"), Total: total}
	if len(rows) == 50 {
		v := url.Values{"before": {fmt.Sprint(rows[len(rows)-1].ID)}}
		if q.Kind != "" {
			v.Set("kind", q.Kind)
		}
		if q.Status != "" {
			v.Set("status", q.Status)
		}
		q.Older = "/exceptions?" + v.Encode()
	}
	if isHTMX(c) && c.Request().Header.Get("HX-Target") == "exception-list" {
		return render(c, http.StatusOK, views.ExceptionList(rows, q))
	}
	return render(c, http.StatusOK, views.ExceptionQueue(s.viewCtx(c), counts, rows, q))
}

// exceptionInScope loads an exception and refuses one outside the user's
// locations.
func (s *Server) exceptionInScope(c echo.Context) (domain.ExceptionDetail, error) {
	id, err := strconv.ParseInt(c.Param("id"), 10, 64)
	if err != nil {
		return domain.ExceptionDetail{}, domain.Errorf(domain.ENOTFOUND, "There is no exception %q.", c.Param("id"))
	}
	e, err := s.DB.ExceptionByID(c.Request().Context(), id)
	if err != nil {
		return e, err
	}
	if u := currentUser(c); u.Role.Scoped() && (e.Location == "" || !u.CanSeeLocation(e.Location)) {
		return e, domain.Errorf(domain.ENOTFOUND, "There is no exception %q.", c.Param("id"))
	}
	return e, nil
}

func (s *Server) handleExceptionShow(c echo.Context) error {
	e, err := s.exceptionInScope(c)
	if err != nil {
		return err
	}
	return s.renderException(c, http.StatusOK, e, views.ExceptionForm{Done: c.QueryParam("done")})
}

// renderException renders the exception page with its history and, for a
// drift, its figures and replay.
func (s *Server) renderException(c echo.Context, status int, e domain.ExceptionDetail, f views.ExceptionForm) error {
	ctx := c.Request().Context()
	audit, err := s.DB.ListAudit(ctx, store.AuditFilter{Entity: "exception", EntityID: fmt.Sprint(e.ID), Limit: 20})
	if err != nil {
		return err
	}
	if e.Kind == domain.KindReconciliationDrift {
		d, err := s.DB.DriftOf(ctx, e)
		if err != nil {
			return err
		}
		f.Drift = &d
	}
	return render(c, status, views.ExceptionShow(s.viewCtx(c), e, audit, f))
}

// handleExceptionResolve does one of the exception's actions (the forms
// on the exception page) through DB.ResolveException, then shows the page
// with a confirmation; a refused action re-renders it with the message.
func (s *Server) handleExceptionResolve(c echo.Context) error {
	e, err := s.exceptionInScope(c)
	if err != nil {
		return err
	}
	action, note := domain.ExceptionAction(c.FormValue("action")), c.FormValue("note")
	after, err := s.DB.ResolveException(c.Request().Context(), actor(c), e.ID, action, note)
	if de := domain.AsError(err); de != nil && (de.Code == domain.EINVALID || de.Code == domain.CodeActionNotAllowed || de.Code == domain.CodeAlreadyResolved) {
		return s.renderException(c, statusFor(de), e, views.ExceptionForm{Err: de, Action: action, Note: note})
	} else if err != nil {
		return err
	}
	msg := domain.ActionLabel(action) + ": done. The exception is " + domain.StatusLabel(after.Status) + "."
	if action == domain.ActionRequestRecount {
		msg = "Recount requested: the exception is back with the store's associates, the hold stays until the recount."
	}
	return c.Redirect(http.StatusSeeOther, fmt.Sprintf("/exceptions/%d?done=%s", e.ID, url.QueryEscape(msg)))
}

func (s *Server) handleExceptionTake(c echo.Context) error {
	e, err := s.exceptionInScope(c)
	if err != nil {
		return err
	}
	if err := s.DB.TakeException(c.Request().Context(), actor(c), e.ID); err != nil {
		return err
	}
	return c.Redirect(http.StatusSeeOther, fmt.Sprintf("/exceptions/%d?done=%s", e.ID, url.QueryEscape("You took this exception; it is now in progress and assigned to you.")))
}

func (s *Server) handleExceptionClose(c echo.Context) error {
	e, err := s.exceptionInScope(c)
	if err != nil {
		return err
	}
	r := domain.ExceptionResolution{To: c.FormValue("to"), Code: c.FormValue("code"), Note: c.FormValue("note")}
	err = s.DB.CloseException(c.Request().Context(), actor(c), e.ID, r)
	if de := domain.AsError(err); de != nil && de.Code == domain.EINVALID {
		return s.renderException(c, http.StatusBadRequest, e, views.ExceptionForm{Err: de, Resolution: r})
	} else if err != nil {
		return err
	}
	return c.Redirect(http.StatusSeeOther, fmt.Sprintf("/exceptions/%d?done=%s", e.ID, url.QueryEscape("Exception "+domain.StatusLabel(r.To)+".")))
}
