package handlers

import (
	"fmt"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"stockline/domain"
	"stockline/views"
)

// reconDays is the dashboard's window.
const reconDays = 30

// handleReconDashboard shows the reconciliation dashboard, limited to the
// user's locations for scoped roles.
func (s *Server) handleReconDashboard(c echo.Context) error {
	return s.renderReconDashboard(c, http.StatusOK, c.QueryParam("done"), nil)
}

func (s *Server) renderReconDashboard(c echo.Context, status int, done string, perr *domain.Error) error {
	ctx := c.Request().Context()
	u := currentUser(c)
	d, err := s.DB.ReconDashboard(ctx, reconDays, scopeOf(u))
	if err != nil {
		return err
	}
	p := views.ReconPage{Dashboard: d, Done: done, Err: perr, CanStart: !u.Role.Scoped()}
	if p.CanStart {
		cs, err := s.DB.ListConnectors(ctx)
		if err != nil {
			return err
		}
		for _, c := range cs {
			if c.Kind == "ecommerce" || c.Kind == "warehouse" {
				p.Feeds = append(p.Feeds, c)
			}
		}
	}
	return render(c, status, views.ReconDashboardPage(s.viewCtx(c), p))
}

// handleReconRunStart queues a run of a connector by hand; the worker
// claims it, and the dashboard shows its progress.
func (s *Server) handleReconRunStart(c echo.Context) error {
	id, err := strconv.ParseInt(c.FormValue("connector"), 10, 64)
	if err != nil {
		return s.renderReconDashboard(c, http.StatusBadRequest, "", domain.FieldError("connector", "Choose a connector."))
	}
	run, err := s.DB.QueueReconRun(c.Request().Context(), actor(c), id, "manual")
	if err != nil {
		return err
	}
	return c.Redirect(http.StatusSeeOther, "/reconciliation?done="+url.QueryEscape(fmt.Sprintf("Run %d of %s is %s.", run.ID, run.Connector, run.Status)))
}

// handleReconRunRow is one run's table row, polled (htmx) while it runs.
func (s *Server) handleReconRunRow(c echo.Context) error {
	id, err := strconv.ParseInt(c.Param("id"), 10, 64)
	if err != nil {
		return domain.Errorf(domain.ENOTFOUND, "There is no run %q.", c.Param("id"))
	}
	run, err := s.DB.ReconRunByID(c.Request().Context(), id)
	if err != nil {
		return err
	}
	return render(c, http.StatusOK, views.ReconRunRow(run))
}

// handleThresholds shows the drift thresholds and their edit form.
func (s *Server) handleThresholds(c echo.Context) error {
	return s.renderThresholds(c, http.StatusOK, views.ThresholdForm{Scope: "location", Units: "3", Percent: "5", Value: "0.00"}, c.QueryParam("done"))
}

func (s *Server) renderThresholds(c echo.Context, status int, f views.ThresholdForm, done string) error {
	ctx := c.Request().Context()
	rules, err := s.DB.ThresholdRules(ctx)
	if err != nil {
		return err
	}
	locs, err := s.DB.ListLocations(ctx)
	if err != nil {
		return err
	}
	return render(c, status, views.ThresholdsEditPage(s.viewCtx(c), views.ThresholdsPage{Rules: rules, Locations: locs, Form: f, Done: done}))
}

// parseThreshold reads the form's bounds: whole units, a percent and a
// money value in major units.
func parseThreshold(f views.ThresholdForm) (domain.Threshold, error) {
	var th domain.Threshold
	units, err := strconv.Atoi(strings.TrimSpace(f.Units))
	if err != nil {
		return th, domain.FieldError("min_units", "Units must be a whole number.")
	}
	pct, err := strconv.ParseFloat(strings.TrimSpace(f.Percent), 64)
	if err != nil || math.IsNaN(pct) || math.IsInf(pct, 0) {
		return th, domain.FieldError("min_percent", "Percent must be a number such as 5 or 2.5.")
	}
	val, err := strconv.ParseFloat(strings.TrimSpace(f.Value), 64)
	if err != nil || math.IsNaN(val) || math.IsInf(val, 0) || val > 1e12 {
		return th, domain.FieldError("min_value", "Value must be an amount such as 25.00.")
	}
	th = domain.Threshold{MinUnits: units, MinPercent: math.Round(pct*100) / 100, MinValueCents: int64(math.Round(val * 100))}
	return th, th.Validate()
}

// handleThresholdSave sets one scope's threshold.
func (s *Server) handleThresholdSave(c echo.Context) error {
	f := views.ThresholdForm{Scope: c.FormValue("scope"), Location: c.FormValue("location"), Category: c.FormValue("category"),
		Units: c.FormValue("min_units"), Percent: c.FormValue("min_percent"), Value: c.FormValue("min_value")}
	th, err := parseThreshold(f)
	if err == nil {
		err = s.DB.SaveThreshold(c.Request().Context(), actor(c), f.Scope, f.Location, f.Category, th)
	}
	if de := domain.AsError(err); de != nil && (de.Code == domain.EINVALID || de.Code == domain.ENOTFOUND) {
		f.Err = de
		return s.renderThresholds(c, http.StatusBadRequest, f, "")
	} else if err != nil {
		return err
	}
	return c.Redirect(http.StatusSeeOther, "/reconciliation/thresholds?done="+url.QueryEscape("Threshold saved."))
}

// handleThresholdDelete removes a location or category rule.
func (s *Server) handleThresholdDelete(c echo.Context) error {
	id, err := strconv.ParseInt(c.Param("id"), 10, 64)
	if err != nil {
		return domain.Errorf(domain.ENOTFOUND, "There is no threshold %q.", c.Param("id"))
	}
	if err := s.DB.DeleteThreshold(c.Request().Context(), actor(c), id); err != nil {
		return err
	}
	return c.Redirect(http.StatusSeeOther, "/reconciliation/thresholds?done="+url.QueryEscape("Threshold removed."))
}
