package views

import (
	"net/url"
	"strings"

	"stockline/domain"
)

// csvHref is the page's address with its filters and format=csv (and the
// one table to export, or every table).
func csvHref(path string, f domain.DashboardFilters, table string) string {
	q := url.Values{"format": {"csv"}}
	for k, v := range map[string]string{"from": f.From, "to": f.To, "channel": f.Channel, "category": f.Category, "table": table} {
		if v != "" {
			q.Set(k, v)
		}
	}
	if !f.FixedLocation {
		for k, v := range map[string]string{"location": f.Location, "region": f.Region} {
			if v != "" {
				q.Set(k, v)
			}
		}
	}
	if strings.Contains(path, "?") { // the drill-down's path carries its measure
		return path + "&" + q.Encode()
	}
	return path + "?" + q.Encode()
}

func isNumeric(s domain.MetricTable, i int) bool { return i < len(s.Numeric) && s.Numeric[i] }
