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
	audit, err := s.DB.ListAudit(c.Request().Context(), store.AuditFilter{Entity: "exception", EntityID: fmt.Sprint(e.ID), Limit: 20})
	if err != nil {
		return err
	}
	return render(c, http.StatusOK, views.ExceptionShow(s.viewCtx(c), e, audit, views.ExceptionForm{Done: c.QueryParam("done")}))
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
		audit, aerr := s.DB.ListAudit(c.Request().Context(), store.AuditFilter{Entity: "exception", EntityID: fmt.Sprint(e.ID), Limit: 20})
		if aerr != nil {
			return aerr
		}
		return render(c, http.StatusBadRequest, views.ExceptionShow(s.viewCtx(c), e, audit, views.ExceptionForm{Err: de, Resolution: r}))
	} else if err != nil {
		return err
	}
	return c.Redirect(http.StatusSeeOther, fmt.Sprintf("/exceptions/%d?done=%s", e.ID, url.QueryEscape("Exception "+domain.StatusLabel(r.To)+".")))
}
