package handlers

import (
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/labstack/echo/v4"

	"stockline/domain"
	"stockline/views"
)

// drillLimit is how many rows a drill-down lists (newest first).
const drillLimit = 500

// handleDrill lists the rows behind a measure (measure=cancellations: the
// cancellations with their reason codes; measure=pickups: the pickup
// orders), under the page's filters and the viewer's stores.
func (s *Server) handleDrill(c echo.Context) error {
	f, df, err := s.dashboardFilters(c)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	measure := c.QueryParam("measure")
	d := domain.Dashboard{Path: "/dashboards/drill?measure=" + url.QueryEscape(measure), Filters: df, LiveAt: s.DB.Now()}
	stamp := func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04") }
	var t domain.MetricTable
	switch measure {
	case "cancellations":
		recs, err := s.DB.CancellationRecords(ctx, f, c.QueryParam("reason"), drillLimit)
		if err != nil {
			return err
		}
		d.Title, d.Intro = "Cancellations behind the rate", fmt.Sprintf("Each cancellation of orders placed %s to %s, newest first (at most %d).", df.From, df.To, drillLimit)
		t = domain.MetricTable{ID: "rows", Title: "Cancellations", Definition: "one row per line and cancellation: the units it took and the reason code it was counted under.",
			Columns: []string{"Order", "SKU", "Location", "Channel", "Reason code", "Units", "By", "Cancelled at (UTC)"},
			Numeric: []bool{false, false, false, false, false, true, false, false}, Empty: "No cancellations here."}
		for _, r := range recs {
			t.Rows = append(t.Rows, []string{r.OrderNumber, r.SKU, r.Location, r.Channel, r.ReasonCode, fmt.Sprint(r.Units), r.Actor, stamp(r.CancelledAt)})
			t.Links = append(t.Links, fmt.Sprintf("/orders/%d", r.OrderID))
		}
	case "pickups":
		recs, err := s.DB.PickupRecords(ctx, f, drillLimit)
		if err != nil {
			return err
		}
		d.Title, d.Intro = "Pickup orders behind the figures", fmt.Sprintf("Pickup orders placed %s to %s, newest first (at most %d).", df.From, df.To, drillLimit)
		t = domain.MetricTable{ID: "rows", Title: "Pickup orders", Definition: "one row per pickup order: when it was placed, promised, ready and closed.",
			Columns: []string{"Order", "Store", "Status", "Placed (UTC)", "Promised (UTC)", "Ready (UTC)", "Closed (UTC)"}, Empty: "No pickup orders here."}
		opt := func(p *time.Time) string {
			if p == nil {
				return "–"
			}
			return stamp(*p)
		}
		for _, r := range recs {
			t.Rows = append(t.Rows, []string{r.Number, r.Location, domain.OrderStatusLabel(r.Status), stamp(r.PlacedAt), opt(r.PromisedAt), opt(r.ReadyAt), opt(r.ClosedAt)})
			t.Links = append(t.Links, fmt.Sprintf("/orders/%d", r.ID))
		}
	default:
		return domain.FieldError("measure", "measure must be cancellations or pickups.")
	}
	d.Sections = []domain.MetricTable{t}
	if c.QueryParam("format") == "csv" {
		return writeDashboardCSV(c, d, "")
	}
	return render(c, http.StatusOK, views.DrillPage(s.viewCtx(c), d))
}
