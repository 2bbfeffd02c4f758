package handlers

import "github.com/labstack/echo/v4"

// noStoreSignedIn keeps every response to a signed-in user (pages, htmx
// fragments, redirects and errors alike) and every API answer out of
// browser and proxy caches: they carry one person's data, and a shared
// computer's back button or disk cache must not show them to the next.
func (s *Server) noStoreSignedIn(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if currentUser(c) != nil || isAPI(c) {
			c.Response().Header().Set("Cache-Control", "no-store")
		}
		return next(c)
	}
}
