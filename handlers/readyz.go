package handlers

import (
	"net/http"
	"time"

	"github.com/labstack/echo/v4"
)

// readyz is the readiness probe: 200 "ready" while the database answers
// within a second, otherwise 503 with Retry-After, so a load balancer
// stops sending work until the database is back. /healthz stays a
// liveness probe (the process serves HTTP) and never touches the database.
func (s *Server) readyz(c echo.Context) error {
	if err := s.DB.Ready(c.Request().Context(), time.Second); err != nil {
		c.Response().Header().Set("Retry-After", retryAfterSeconds)
		return c.String(http.StatusServiceUnavailable, "not ready: the database is not reachable\n")
	}
	return c.String(http.StatusOK, "ready\n")
}
