package handlers

import (
	"github.com/gorilla/sessions"
	"github.com/labstack/echo/v4"
)

// setFlash stores a one-time confirmation in the session, for the page a
// post/redirect/get lands on.
func setFlash(c echo.Context, msg string) error {
	sess, ok := c.Get(ctxSession).(*sessions.Session)
	if !ok {
		return nil
	}
	sess.AddFlash(msg)
	return sess.Save(c.Request(), c.Response())
}

// takeFlash returns the pending confirmation, if any, and clears it.
func takeFlash(c echo.Context) (string, error) {
	sess, ok := c.Get(ctxSession).(*sessions.Session)
	if !ok {
		return "", nil
	}
	fl := sess.Flashes()
	if len(fl) == 0 {
		return "", nil
	}
	if err := sess.Save(c.Request(), c.Response()); err != nil {
		return "", err
	}
	msg, _ := fl[len(fl)-1].(string)
	return msg, nil
}
