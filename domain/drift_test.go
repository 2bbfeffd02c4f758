package domain

import (
	"testing"
	"time"
)

func TestThresholdBeyond(t *testing.T) {
	cases := []struct {
		name            string
		th              Threshold
		system, counted int
		price           int64
		want            bool
	}{
		{"agreement is never beyond", DefaultThreshold, 10, 10, 100, false},
		{"2 units is within the default", DefaultThreshold, 10, 8, 100, false},
		{"3 units of 10 is beyond", DefaultThreshold, 10, 7, 100, true},
		{"3 units of 100 is 3 %: within", DefaultThreshold, 100, 97, 100, false},
		{"5 units of 100 is 5 %: beyond", DefaultThreshold, 100, 95, 100, true},
		{"over the system figure counts too", DefaultThreshold, 10, 14, 100, true},
		{"from zero", DefaultThreshold, 0, 3, 100, true},
		{"negative system figure", DefaultThreshold, -4, 0, 100, true},
		{"value bound not met", Threshold{MinUnits: 1, MinValueCents: 5000}, 10, 5, 999, false},
		{"value bound met", Threshold{MinUnits: 1, MinValueCents: 5000}, 10, 5, 1000, true},
		{"units only", Threshold{MinUnits: 10}, 1000, 990, 1, true},
		{"no bounds: any difference", Threshold{}, 1000, 999, 1, true},
	}
	for _, c := range cases {
		if got := c.th.Beyond(c.system, c.counted, c.price); got != c.want {
			t.Errorf("%s: Beyond(%d, %d) = %v, want %v", c.name, c.system, c.counted, got, c.want)
		}
	}
}

func TestThresholdsFor(t *testing.T) {
	loc := Threshold{MinUnits: 10}
	cat := Threshold{MinUnits: 1, MinPercent: 1}
	th := NewThresholds([]ThresholdRule{
		{Scope: ThresholdDefault, Threshold: Threshold{MinUnits: 4, MinPercent: 5}},
		{Scope: ThresholdLocation, Location: "S01", Threshold: loc},
		{Scope: ThresholdCategory, Category: "Jewellery", Threshold: cat},
	})
	cases := []struct {
		loc, cat string
		want     Threshold
	}{
		{"S01", "Jewellery", loc}, // the location wins over the category
		{"S02", "Jewellery", cat},
		{"S02", "Shoes", Threshold{MinUnits: 4, MinPercent: 5}},
	}
	for _, c := range cases {
		if got := th.For(c.loc, c.cat); got != c.want {
			t.Errorf("For(%s, %s) = %+v, want %+v", c.loc, c.cat, got, c.want)
		}
	}
	if NewThresholds(nil).For("X", "Y") != DefaultThreshold {
		t.Error("no rules should mean the default threshold")
	}
	// A 4-unit drift at S02 in Jewellery is beyond; the same at S01 is not.
	if !th.For("S02", "Jewellery").Beyond(40, 36, 100) || th.For("S01", "Jewellery").Beyond(40, 36, 100) {
		t.Error("per-location and per-category thresholds misapplied")
	}
}

func TestShortfallToHold(t *testing.T) {
	cases := []struct {
		system, counted int
		p               Position
		want            int
	}{
		{40, 30, Position{OnHand: 40}, 10},
		{40, 50, Position{OnHand: 40}, 0},               // a count above holds nothing
		{40, 30, Position{OnHand: 40, Reserved: 35}, 5}, // reserved units stay promised
		{40, 30, Position{OnHand: 40, Damaged: 40}, 0},  // nothing free to hold
		{10, 0, Position{OnHand: 12, QualityHold: 2, TransferOut: 1}, 9},
	}
	for _, c := range cases {
		if got := ShortfallToHold(c.system, c.counted, c.p); got != c.want {
			t.Errorf("ShortfallToHold(%d, %d, %+v) = %d, want %d", c.system, c.counted, c.p, got, c.want)
		}
	}
}

func TestActionsFor(t *testing.T) {
	drift := ActionsFor(KindReconciliationDrift)
	if len(drift) != 4 || drift[3] != ActionDismiss {
		t.Fatalf("drift actions %v", drift)
	}
	if err := CheckAction(KindReconciliationDrift, ActionKeepSystem); err != nil {
		t.Fatal(err)
	}
	if ErrorCode(CheckAction(KindFeedStale, ActionAcceptCount)) != CodeActionNotAllowed {
		t.Fatal("accept_count on feed_stale should be action_not_allowed")
	}
	if e := AsError(CheckAction(KindFeedStale, "")); e == nil || e.Code != EINVALID || e.Field != "action" {
		t.Fatalf("empty action: %+v", e)
	}
	if ValidateActionNote(ActionDismiss, "") == nil || ValidateActionNote(ActionKeepSystem, "") != nil {
		t.Fatal("dismiss needs a reason; other actions do not")
	}
}

func TestDriftLate(t *testing.T) {
	at := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
	d := DriftData{System: 40, Counted: 30, CountedAt: at, RecordedAt: at.Add(time.Minute), PriceCents: 125}
	if d.Difference() != -10 || d.ValueDifference() != "-12.50" {
		t.Fatalf("difference %d value %s", d.Difference(), d.ValueDifference())
	}
	late := ReplayRow{OccurredAt: at.Add(-time.Hour), RecordedAt: at.Add(time.Hour)}
	onTime := ReplayRow{OccurredAt: at.Add(-time.Hour), RecordedAt: at.Add(-time.Hour)}
	if !d.Late(late) || d.Late(onTime) {
		t.Fatal("late detection")
	}
}
