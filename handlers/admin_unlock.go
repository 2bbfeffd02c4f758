package handlers

import (
	"fmt"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"stockline/views"
)

// userLock is how failed sign-ins stand against the account with email.
func (s *Server) userLock(c echo.Context, email string) (views.AdminUserLock, error) {
	n, _, err := s.DB.FailedLogins(c.Request().Context(), email, "", time.Now().Add(-s.opts.LoginWindow))
	return views.AdminUserLock{Failed: n, Max: s.opts.LoginMaxPerAccount, Window: s.opts.LoginWindow.String()}, err
}

// handleAdminUserUnlock lifts the lock that failed sign-ins put on an
// account, so its owner can sign in at once (audited as user.unlock).
func (s *Server) handleAdminUserUnlock(c echo.Context) error {
	id, err := adminID(c, "user")
	if err != nil {
		return err
	}
	u, err := s.DB.UserByID(c.Request().Context(), id)
	if err != nil {
		return err
	}
	n, err := s.DB.UnlockUser(c.Request().Context(), actor(c), id, time.Now().Add(-s.opts.LoginWindow))
	if err != nil {
		return err
	}
	if err := setFlash(c, fmt.Sprintf("Unlocked %s: %d failed sign-ins no longer count, and they can sign in now.", u.Email, n)); err != nil {
		return err
	}
	return c.Redirect(http.StatusSeeOther, fmt.Sprintf("/admin/users/%d", id))
}
