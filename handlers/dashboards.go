package handlers

import (
	"encoding/csv"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"

	"github.com/labstack/echo/v4"

	"stockline/domain"
	"stockline/views"
)

// Who may see which metrics page.
var (
	opsDashRoles      = []domain.Role{domain.RoleManager, domain.RoleAdmin}
	storeDashRoles    = []domain.Role{domain.RoleAssociate, domain.RoleManager, domain.RoleAdmin}
	accuracyDashRoles = []domain.Role{domain.RoleInventoryLead, domain.RoleAdmin}
	fulfilDashRoles   = []domain.Role{domain.RoleSupport, domain.RoleManager, domain.RoleAdmin}
	drillRoles        = []domain.Role{domain.RoleAssociate, domain.RoleSupport, domain.RoleManager, domain.RoleInventoryLead, domain.RoleAdmin}
)

// sectionFn builds one measure of a page.
type sectionFn func(b *sections) (domain.MetricTable, error)

// dashboard renders a metrics page (or, with format=csv, exports its
// tables) from its sections.
func (s *Server) dashboard(c echo.Context, d domain.Dashboard, fixedLocation string, build ...sectionFn) error {
	f, df, err := s.dashboardFilters(c)
	if err != nil {
		return err
	}
	if fixedLocation != "" {
		f.Location, df.Location, df.FixedLocation = fixedLocation, fixedLocation, true
	}
	b := &sections{s: s, ctx: c.Request().Context(), f: f, df: df}
	d.Filters, d.LiveAt = df, s.DB.Now()
	// The measures are independent queries: run them side by side, so the
	// page takes about as long as its slowest measure.
	d.Sections = make([]domain.MetricTable, len(build))
	errs := make([]error, len(build))
	var wg sync.WaitGroup
	for i, fn := range build {
		wg.Add(1)
		go func() { defer wg.Done(); d.Sections[i], errs[i] = fn(b) }()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return err
	}
	d.RollupAt = b.rollup
	if c.QueryParam("format") == "csv" {
		return writeDashboardCSV(c, d, c.QueryParam("table"))
	}
	return render(c, http.StatusOK, views.DashboardPage(s.viewCtx(c), d))
}

func (s *Server) handleOpsDashboard(c echo.Context) error {
	return s.dashboard(c, domain.Dashboard{Title: "Operations overview", Path: "/dashboards/operations",
		Intro: "Cancellations, oversell, pickups, exceptions, sell-through and feeds across your stores."}, "",
		func(b *sections) (domain.MetricTable, error) {
			return b.cancellations("cancel-location", "Cancellation rate by location", domain.MetricGroup{Location: true}, 0)
		},
		func(b *sections) (domain.MetricTable, error) {
			return b.cancellations("cancel-channel", "Cancellation rate by channel", domain.MetricGroup{Channel: true}, 0)
		},
		(*sections).oversell,
		func(b *sections) (domain.MetricTable, error) { return b.bopis(true) },
		(*sections).exceptions,
		func(b *sections) (domain.MetricTable, error) { return b.sellThrough(false) },
		(*sections).feedHealth)
}

// handleMyStoreDashboard opens the signed-in person's first store's page
// (an unscoped role's first store).
func (s *Server) handleMyStoreDashboard(c echo.Context) error {
	u := currentUser(c)
	code := ""
	if u.Role.Scoped() {
		if len(u.Locations) == 0 {
			return domain.Errorf(domain.ENOTFOUND, "You have no store yet: ask an admin to give you one.")
		}
		code = u.Locations[0]
	} else {
		locs, err := s.DB.ListLocations(c.Request().Context())
		if err != nil || len(locs) == 0 {
			return domain.Errorf(domain.ENOTFOUND, "There are no locations yet.")
		}
		code = locs[0].Code
	}
	return c.Redirect(http.StatusSeeOther, "/dashboards/stores/"+code)
}

func (s *Server) handleStoreDashboard(c echo.Context) error {
	code := c.Param("code")
	if !currentUser(c).CanSeeLocation(code) {
		return domain.Errorf(domain.ENOTFOUND, "There is no location %q.", code)
	}
	loc, err := s.DB.LocationByCode(c.Request().Context(), code)
	if err != nil {
		return err
	}
	return s.dashboard(c, domain.Dashboard{Title: "Store " + loc.Code + " · " + loc.Name, Path: "/dashboards/stores/" + loc.Code,
		Intro: "How this store is doing: pickups, cancellations by SKU, sell-through and weeks of cover, exceptions."}, loc.Code,
		func(b *sections) (domain.MetricTable, error) { return b.bopis(true) },
		func(b *sections) (domain.MetricTable, error) {
			return b.cancellations("cancel-sku", "Cancellation rate by SKU", domain.MetricGroup{SKU: true}, 100)
		},
		func(b *sections) (domain.MetricTable, error) { return b.sellThrough(true) },
		(*sections).exceptions)
}

func (s *Server) handleAccuracyDashboard(c echo.Context) error {
	return s.dashboard(c, domain.Dashboard{Title: "Inventory accuracy", Path: "/dashboards/inventory-accuracy",
		Intro: "Record accuracy, drift found and resolved, sell-through and cover by category, and feed health."}, "",
		(*sections).accuracy,
		(*sections).exceptions,
		func(b *sections) (domain.MetricTable, error) { return b.sellThrough(true) },
		(*sections).feedHealth)
}

func (s *Server) handleFulfilmentDashboard(c echo.Context) error {
	return s.dashboard(c, domain.Dashboard{Title: "Fulfilment", Path: "/dashboards/fulfilment",
		Intro: "Pickup speed against the promise, cancellations and their reasons, oversell and exceptions."}, "",
		func(b *sections) (domain.MetricTable, error) { return b.bopis(true) },
		func(b *sections) (domain.MetricTable, error) {
			return b.cancellations("cancel-channel", "Cancellation rate by channel", domain.MetricGroup{Channel: true}, 0)
		},
		func(b *sections) (domain.MetricTable, error) {
			return b.cancellations("cancel-location-channel", "Cancellation rate by location and channel", domain.MetricGroup{Location: true, Channel: true}, 0)
		},
		(*sections).oversell,
		(*sections).exceptions)
}

// writeDashboardCSV answers the page's tables (or the one named) as CSV,
// every cell neutralised against formula injection.
func writeDashboardCSV(c echo.Context, d domain.Dashboard, table string) error {
	var out []domain.MetricTable
	for _, t := range d.Sections {
		if table == "" || t.ID == table {
			out = append(out, t)
		}
	}
	if len(out) == 0 {
		return domain.FieldError("table", "This page has no table %q.", table)
	}
	name := strings.Trim(strings.ReplaceAll(d.Path, "/", "-"), "-")
	if table != "" {
		name += "-" + table
	}
	h := c.Response().Header()
	h.Set(echo.HeaderContentType, "text/csv; charset=utf-8")
	h.Set(echo.HeaderContentDisposition, fmt.Sprintf(`attachment; filename="%s-%s-%s.csv"`, name, d.Filters.From, d.Filters.To))
	c.Response().WriteHeader(http.StatusOK)
	w := csv.NewWriter(c.Response())
	for i, t := range out {
		if len(out) > 1 {
			if i > 0 {
				_ = w.Write([]string{})
			}
			_ = w.Write(csvCells([]string{t.Title}))
		}
		_ = w.Write(csvCells(t.Columns))
		for _, r := range t.Rows {
			_ = w.Write(csvCells(r))
		}
	}
	w.Flush()
	return w.Error()
}

// csvCells neutralises each cell of an exported row.
func csvCells(row []string) []string {
	out := make([]string, len(row))
	for i, v := range row {
		out[i] = domain.NeutraliseCSVCell(v)
	}
	return out
}
