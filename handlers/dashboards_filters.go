package handlers

import (
	"context"
	"slices"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"stockline/domain"
	"stockline/store"
)

// dashboardFilters reads a metrics page's filters: from and to are dates
// (to inclusive; by default the 30 days to today, UTC), then region,
// location, channel and category. A scoped user sees only their stores: a
// location outside them is 404, as for any other store's object.
func (s *Server) dashboardFilters(c echo.Context) (store.MetricFilter, domain.DashboardFilters, error) {
	ctx := c.Request().Context()
	u := currentUser(c)
	df := domain.DashboardFilters{From: c.QueryParam("from"), To: c.QueryParam("to"), Location: c.QueryParam("location"),
		Region: c.QueryParam("region"), Channel: c.QueryParam("channel"), Category: c.QueryParam("category")}
	today := s.DB.Now().UTC().Truncate(24 * time.Hour)
	to, err := parseDay(df.To, today, "to")
	if err != nil {
		return store.MetricFilter{}, df, err
	}
	from, err := parseDay(df.From, to.Add(-29*24*time.Hour), "from")
	if err != nil {
		return store.MetricFilter{}, df, err
	}
	w := domain.MetricWindow{From: from, To: to.Add(24 * time.Hour)}
	if !w.From.Before(w.To) || w.To.Sub(w.From) > domain.MaxMetricWindow {
		return store.MetricFilter{}, df, domain.FieldError("from", "Choose a from date on or before the to date, at most 400 days apart.")
	}
	df.From, df.To = from.Format(time.DateOnly), to.Format(time.DateOnly)
	if df.Channel != "" && !slices.Contains(domain.Channels, domain.Channel(df.Channel)) {
		return store.MetricFilter{}, df, domain.FieldError("channel", "Unknown channel %q.", df.Channel)
	}
	if df.Location != "" && !u.CanSeeLocation(df.Location) {
		return store.MetricFilter{}, df, domain.Errorf(domain.ENOTFOUND, "There is no location %q.", df.Location)
	}
	if err := s.filterChoices(ctx, u, &df); err != nil {
		return store.MetricFilter{}, df, err
	}
	return store.MetricFilter{Window: w, Scope: scopeOf(u), Location: df.Location, Region: df.Region,
		Channel: df.Channel, Category: df.Category}, df, nil
}

func parseDay(s string, def time.Time, field string) (time.Time, error) {
	if s = strings.TrimSpace(s); s == "" {
		return def, nil
	}
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		return def, domain.FieldError(field, "%s must be a date, like 2026-12-01.", field)
	}
	return t, nil
}

// filterChoices fills the locations, regions, channels and categories a
// user may choose from.
func (s *Server) filterChoices(ctx context.Context, u *domain.User, df *domain.DashboardFilters) error {
	locs, err := s.DB.ListLocations(ctx)
	if err != nil {
		return err
	}
	for _, l := range locs {
		if u.CanSeeLocation(l.Code) {
			df.Locations = append(df.Locations, l.Code)
			if !slices.Contains(df.Regions, l.Region) {
				df.Regions = append(df.Regions, l.Region)
			}
		}
	}
	slices.Sort(df.Regions)
	for _, ch := range domain.Channels {
		df.Channels = append(df.Channels, string(ch))
	}
	df.Categories, err = s.DB.MetricCategories(ctx)
	return err
}
