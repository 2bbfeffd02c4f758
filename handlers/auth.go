package handlers

import (
	"net/http"
	"strings"
	"time"

	"github.com/gorilla/sessions"
	"github.com/labstack/echo/v4"

	"stockline/domain"
	"stockline/views"
)

func (s *Server) handleHome(c echo.Context) error {
	return c.Redirect(http.StatusSeeOther, s.home[currentUser(c).Role])
}

func (s *Server) handleLoginForm(c echo.Context) error {
	if u := currentUser(c); u != nil {
		return c.Redirect(http.StatusSeeOther, s.home[u.Role])
	}
	return render(c, http.StatusOK, views.Login(s.viewCtx(c), views.LoginForm{Next: safeNext(c.QueryParam("next"))}))
}

// maxPasswordBytes is the longest password bcrypt can check in full.
const maxPasswordBytes = 72

// handleLogin checks the throttle, then the password; on success it issues
// a new session id (never reusing the pre-login one) and redirects to the
// role's home page.
func (s *Server) handleLogin(c echo.Context) error {
	ctx := c.Request().Context()
	email := strings.TrimSpace(c.FormValue("email"))
	password := c.FormValue("password")
	next := safeNext(c.FormValue("next"))
	ip := c.RealIP()
	form := views.LoginForm{Email: email, Next: next}

	byEmail, byIP, err := s.DB.FailedLogins(ctx, email, ip, time.Now().Add(-s.opts.LoginWindow))
	if err != nil {
		return err
	}
	if byEmail >= s.opts.LoginMaxPerAccount || byIP >= s.opts.LoginMaxPerIP {
		form.Error = "Too many failed sign-ins. Wait " + s.opts.LoginWindow.String() + " and try again, or ask an admin."
		return render(c, http.StatusTooManyRequests, views.Login(s.viewCtx(c), form))
	}
	if len(password) > maxPasswordBytes {
		// bcrypt reads only the first 72 bytes: a longer password would
		// sign in on its first 72 alone, so it is refused, and counted.
		if err := s.DB.RecordLogin(ctx, email, ip, false); err != nil {
			return err
		}
		form.Error = "That password is longer than a Stockline password can be (72 bytes at most), so it cannot be right. Check what was pasted."
		return render(c, http.StatusUnprocessableEntity, views.Login(s.viewCtx(c), form))
	}
	u, err := s.DB.Authenticate(ctx, email, password)
	if domain.ErrorCode(err) == domain.EUNAUTHORIZED {
		if err := s.DB.RecordLogin(ctx, email, ip, false); err != nil {
			return err
		}
		form.Error = domain.ErrorMessage(err)
		return render(c, http.StatusUnauthorized, views.Login(s.viewCtx(c), form))
	} else if err != nil {
		return err
	}
	if err := s.DB.RecordLogin(ctx, email, ip, true); err != nil {
		return err
	}
	sid := randomToken(32)
	if err := s.DB.CreateSession(ctx, sid, u.ID, time.Now().Add(s.opts.AbsoluteTimeout), ip, c.Request().UserAgent()); err != nil {
		return err
	}
	sess := c.Get(ctxSession).(*sessions.Session)
	sess.Values = map[any]any{"sid": sid, "csrf": randomToken(32)}
	if err := sess.Save(c.Request(), c.Response()); err != nil {
		return err
	}
	s.Log.InfoContext(ctx, "sign-in", "user", u.Email, "ip", ip)
	if next == "" {
		next = s.home[u.Role]
	}
	return c.Redirect(http.StatusSeeOther, next)
}

func (s *Server) handleLogout(c echo.Context) error {
	sess := c.Get(ctxSession).(*sessions.Session)
	if sid, ok := sess.Values["sid"].(string); ok {
		if err := s.DB.DeleteSession(c.Request().Context(), sid); err != nil {
			return err
		}
	}
	sess.Values = map[any]any{}
	sess.Options.MaxAge = -1
	if err := sess.Save(c.Request(), c.Response()); err != nil {
		return err
	}
	return c.Redirect(http.StatusSeeOther, "/login")
}
