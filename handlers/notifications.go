package handlers

import (
	"fmt"
	"net/http"
	"strconv"

	"github.com/labstack/echo/v4"

	"stockline/domain"
	"stockline/views"
)

// handleNotificationsPage is the demo's local outbox: every customer
// message, newest first, with its delivery status.
func (s *Server) handleNotificationsPage(c echo.Context) error {
	before, _ := strconv.ParseInt(c.QueryParam("before"), 10, 64)
	rows, err := s.DB.Notifications(c.Request().Context(), before, 50)
	if err != nil {
		return err
	}
	m := views.NotificationsView{Rows: rows}
	if len(rows) == 50 {
		m.Older = fmt.Sprintf("/notifications?before=%d", rows[len(rows)-1].ID)
	}
	if isHTMX(c) && c.Request().Header.Get("HX-Target") == "notification-list" {
		return render(c, http.StatusOK, views.NotificationList(m))
	}
	return render(c, http.StatusOK, views.NotificationsPage(s.viewCtx(c), m))
}

func (s *Server) handleNotificationShow(c echo.Context) error {
	id, _ := strconv.ParseInt(c.Param("id"), 10, 64)
	n, err := s.DB.NotificationByID(c.Request().Context(), id)
	if err != nil {
		return err
	}
	return render(c, http.StatusOK, views.NotificationShow(s.viewCtx(c), n))
}

func (s *Server) handleTemplatesPage(c echo.Context) error {
	ts, err := s.DB.NotificationTemplates(c.Request().Context())
	if err != nil {
		return err
	}
	m := views.TemplatesView{Templates: ts}
	if m.Flash, err = takeFlash(c); err != nil {
		return err
	}
	return render(c, http.StatusOK, views.TemplatesPage(s.viewCtx(c), m))
}

func (s *Server) handleTemplateSave(c echo.Context) error {
	t := domain.NotificationTemplate{Kind: c.Param("kind"), Subject: c.FormValue("subject"), Body: c.FormValue("body"), Enabled: c.FormValue("enabled") == "on"}
	err := s.DB.SaveNotificationTemplate(c.Request().Context(), actor(c), t)
	if e := domain.AsError(err); e != nil && e.Code == domain.EINVALID {
		ts, lerr := s.DB.NotificationTemplates(c.Request().Context())
		if lerr != nil {
			return lerr
		}
		for i := range ts {
			if ts[i].Kind == t.Kind {
				ts[i] = t
			}
		}
		return render(c, http.StatusBadRequest, views.TemplatesPage(s.viewCtx(c), views.TemplatesView{Templates: ts, Err: e, ErrKind: t.Kind}))
	} else if err != nil {
		return err
	}
	if err := setFlash(c, fmt.Sprintf("Saved the %q message; it applies to messages queued from now on.", t.Kind)); err != nil {
		return err
	}
	return c.Redirect(http.StatusSeeOther, "/notifications/templates#tmpl-"+t.Kind)
}
