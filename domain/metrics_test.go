package domain

import (
	"testing"
	"time"
)

func TestNeutraliseCSVCell(t *testing.T) {
	for in, want := range map[string]string{
		"=HYPERLINK(\"x\")": "'=HYPERLINK(\"x\")", "+1": "'+1", "-3": "'-3", "@SUM(A1)": "'@SUM(A1)",
		"\t=1": "'\t=1", "\r=1": "'\r=1", "S01": "S01", "": "", "0.25": "0.25", "a=b": "a=b",
	} {
		if got := NeutraliseCSVCell(in); got != want {
			t.Errorf("NeutraliseCSVCell(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestParseMetricGroupAndWindow(t *testing.T) {
	for _, c := range []struct {
		in   string
		want MetricGroup
		ok   bool
	}{
		{"", MetricGroup{}, true}, {"location,sku,channel", MetricGroup{true, true, true}, true},
		{"channel, sku", MetricGroup{SKU: true, Channel: true}, true}, {"region", MetricGroup{}, false},
		{"sku,sku", MetricGroup{}, false}, {"location,", MetricGroup{}, false},
	} {
		g, err := ParseMetricGroup(c.in, "location", "sku", "channel")
		if (err == nil) != c.ok || (c.ok && g != c.want) {
			t.Errorf("ParseMetricGroup(%q) = %+v, %v", c.in, g, err)
		}
		if err != nil && errField(err) != "group_by" {
			t.Errorf("ParseMetricGroup(%q): field %q", c.in, errField(err))
		}
	}
	now := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
	w, err := ParseMetricWindow("2026-11-01T00:00:00Z", "2026-12-01T00:00:00+01:00", now)
	if err != nil || !w.To.Equal(time.Date(2026, 11, 30, 23, 0, 0, 0, time.UTC)) || w.DayAligned() {
		t.Errorf("window: %+v %v", w, err)
	}
	for _, c := range []struct{ from, to, field string }{
		{"yesterday", "", "from"}, {"", "2026-13-01T00:00:00Z", "to"}, {"2026-12-02T00:00:00Z", "2026-12-01T00:00:00Z", "from"},
		{"2024-01-01T00:00:00Z", "2026-12-01T00:00:00Z", "from"},
	} {
		if _, err := ParseMetricWindow(c.from, c.to, now); errField(err) != c.field {
			t.Errorf("ParseMetricWindow(%q, %q): %v, want field %s", c.from, c.to, err, c.field)
		}
	}
	if r := Rate(1, 3); r != 0.3333 {
		t.Errorf("Rate(1, 3) = %v", r)
	}
}

// errField is the Field of a domain error, "" otherwise.
func errField(err error) string {
	if e := AsError(err); e != nil {
		return e.Field
	}
	return ""
}
