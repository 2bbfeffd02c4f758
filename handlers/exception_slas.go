package handlers

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"stockline/domain"
	"stockline/views"
)

// handleExceptionSLAs shows the due time of every kind at every severity;
// inventory leads and admins may change them.
func (s *Server) handleExceptionSLAs(c echo.Context) error {
	return s.renderSLAs(c, http.StatusOK, nil)
}

func (s *Server) renderSLAs(c echo.Context, status int, e *domain.Error) error {
	slas, err := s.DB.ExceptionSLAs(c.Request().Context())
	if err != nil {
		return err
	}
	flash, err := takeFlash(c)
	if err != nil {
		return err
	}
	r := currentUser(c).Role
	canEdit := r == domain.RoleInventoryLead || r == domain.RoleAdmin
	return render(c, status, views.ExceptionSLAs(s.viewCtx(c), slas, canEdit, flash, e))
}

// handleExceptionSLASave changes one due time, audited; it applies to
// exceptions raised from then on.
func (s *Server) handleExceptionSLASave(c echo.Context) error {
	n, err := strconv.Atoi(strings.TrimSpace(c.FormValue("due_minutes")))
	if err != nil {
		n = 0
	}
	sla := domain.SLA{Kind: c.FormValue("kind"), Severity: c.FormValue("severity"), DueMinutes: n}
	if err := s.DB.SaveExceptionSLA(c.Request().Context(), actor(c), sla); err != nil {
		if de := domain.AsError(err); de != nil && de.Code == domain.EINVALID {
			return s.renderSLAs(c, http.StatusBadRequest, de)
		}
		return err
	}
	if err := setFlash(c, fmt.Sprintf("%s exceptions at %s severity are now due %d min after they are raised.", domain.ExceptionKindLabel(sla.Kind), sla.Severity, n)); err != nil {
		return err
	}
	return c.Redirect(http.StatusSeeOther, "/exceptions/slas")
}
