package handlers

import (
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"stockline/domain"
	"stockline/store"
)

// metricWindow reads the from and to query parameters (400 with field on a
// bad one).
func (s *Server) metricWindow(c echo.Context) (domain.MetricWindow, error) {
	return domain.ParseMetricWindow(c.QueryParam("from"), c.QueryParam("to"), s.DB.Now())
}

// handleCancellationsAPI answers GET /api/v1/metrics/cancellations
// ?from=&to=&group_by=: cancelled ÷ ordered units of the orders placed in
// [from, to), grouped by any of location, sku and channel, with the units
// per reason code. Day-aligned windows without sku come from the rollup;
// fresh_at says as of when.
func (s *Server) handleCancellationsAPI(c echo.Context) error {
	w, err := s.metricWindow(c)
	if err != nil {
		return err
	}
	g, err := domain.ParseMetricGroup(c.QueryParam("group_by"), "location", "sku", "channel")
	if err != nil {
		return err
	}
	rows, fresh, err := s.DB.CancellationRate(c.Request().Context(), store.MetricFilter{Window: w}, g)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"rows": rows, "from": w.From.Format(time.RFC3339Nano),
		"to": w.To.Format(time.RFC3339Nano), "fresh_at": fresh.UTC().Format(time.RFC3339Nano)})
}

// handleBOPISAPI answers GET /api/v1/metrics/bopis?from=&to=&group_by=:
// the pickup measures of pickup orders placed in [from, to), per pickup
// store (group_by=location) or overall. Computed live: fresh_at is now.
func (s *Server) handleBOPISAPI(c echo.Context) error {
	w, err := s.metricWindow(c)
	if err != nil {
		return err
	}
	g, err := domain.ParseMetricGroup(c.QueryParam("group_by"), "location")
	if err != nil {
		return err
	}
	fresh := s.DB.Now()
	rows, err := s.DB.BOPIS(c.Request().Context(), store.MetricFilter{Window: w}, g.Location)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"rows": rows, "from": w.From.Format(time.RFC3339Nano),
		"to": w.To.Format(time.RFC3339Nano), "fresh_at": fresh.UTC().Format(time.RFC3339Nano)})
}
