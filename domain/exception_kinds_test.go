package domain

import (
	"slices"
	"testing"
	"time"
)

// The registry: every kind has a label, owners, a known severity, and
// actions that end with dismiss and each map to a resolution code.
func TestExceptionKindRegistry(t *testing.T) {
	seen := map[string]bool{}
	for _, k := range KindSpecs {
		if seen[k.Kind] {
			t.Errorf("%s twice", k.Kind)
		}
		seen[k.Kind] = true
		if k.Label == "" || len(k.Owners) == 0 || !slices.Contains(Severities, k.Severity) {
			t.Errorf("%s: incomplete %+v", k.Kind, k)
		}
		if len(k.Actions) == 0 || k.Actions[len(k.Actions)-1] != ActionDismiss {
			t.Errorf("%s: actions %v must end with dismiss", k.Kind, k.Actions)
		}
		for _, a := range k.Actions {
			if code, st := ActionResolution(a); code == string(a) || st == "" || ActionLabel(a) == string(a) {
				t.Errorf("%s: action %s has no resolution code or label", k.Kind, a)
			}
		}
		if !k.CanWork(RoleAdmin) {
			t.Errorf("%s: admin must be able to work it", k.Kind)
		}
	}
	for _, want := range []string{KindItemNotFound, KindPickupLocationChange, KindPickupOverdue, KindPartialShipment, KindPaymentBeforeStock,
		KindOversell, KindReconciliationDrift, KindNegativeStock, KindTransferVariance, KindFeedStale, KindDeadLetter, KindCheckFailed} {
		if !seen[want] {
			t.Errorf("kind %s missing from the registry", want)
		}
	}
	tests := []struct {
		kind         string
		action       ExceptionAction
		role         Role
		allows, work bool
	}{
		{KindNegativeStock, ActAdjust, RoleInventoryLead, true, true},
		{KindNegativeStock, ActReallocate, RoleInventoryLead, false, true},
		{KindItemNotFound, ActReallocate, RoleAssociate, true, true},
		{KindItemNotFound, ActReallocate, RoleSupport, true, false},
		{KindFeedStale, ActPauseFeed, RoleManager, true, false},
		{KindDeadLetter, ActFixPayload, RoleAdmin, true, true},
		{KindReconciliationDrift, ActionAcceptCount, RoleAssociate, true, false},
		{"made_up", ActionDismiss, RoleInventoryLead, true, true},
		{"made_up", ActAdjust, RoleAdmin, false, true},
	}
	for _, tt := range tests {
		k := KindSpecFor(tt.kind)
		if k.Allows(tt.action) != tt.allows || k.CanWork(tt.role) != tt.work {
			t.Errorf("%s/%s/%s: allows %v works %v, want %v %v", tt.kind, tt.action, tt.role, k.Allows(tt.action), k.CanWork(tt.role), tt.allows, tt.work)
		}
	}
	if got := KindsOwnedBy(RoleAssociate); !slices.Equal(got, []string{KindItemNotFound, KindPickupOverdue, KindPickupLocationChange}) {
		t.Errorf("associate owns %v", got)
	}
	if code, st := ActionResolution(ActionRequestRecount); st != ExceptionOpen || code != "recount_requested" {
		t.Errorf("request_recount: %s %s", code, st)
	}
}

func TestSLAState(t *testing.T) {
	now := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		due   time.Time
		state string
	}{
		{now.Add(12*time.Minute + 30*time.Second), SLADueSoon},
		{now.Add(-38 * time.Minute), SLAOverdue},
		{now, SLAOverdue},
		{now.Add(time.Hour), SLADueSoon},
		{now.Add(90 * time.Minute), SLAOnTime},
		{now.Add(72 * time.Hour), SLAOnTime},
		{time.Time{}, SLAOnTime},
	}
	for _, tt := range tests {
		if s := SLAState(now, tt.due); s != tt.state {
			t.Errorf("%v: state %s, want %s", tt.due, s, tt.state)
		}
	}
}

func TestSLAValidateAndAlertLimit(t *testing.T) {
	for _, tt := range []struct {
		s     SLA
		field string
	}{
		{SLA{Kind: KindOversell, Severity: "high", DueMinutes: 60}, ""},
		{SLA{Kind: "nope", Severity: "high", DueMinutes: 60}, "kind"},
		{SLA{Kind: KindOversell, Severity: "urgent", DueMinutes: 60}, "severity"},
		{SLA{Kind: KindOversell, Severity: "low", DueMinutes: 0}, "due_minutes"},
		{SLA{Kind: KindOversell, Severity: "low", DueMinutes: 43201}, "due_minutes"},
	} {
		got := ""
		if e := AsError(tt.s.Validate()); e != nil {
			got = e.Field
		}
		if got != tt.field {
			t.Errorf("%+v: field %q, want %q", tt.s, got, tt.field)
		}
	}
	l := AlertLimit{Window: 10 * time.Minute, PerKey: 2, Global: 5}
	for _, tt := range []struct {
		key, global int
		send        bool
	}{{0, 0, true}, {1, 4, true}, {2, 0, false}, {0, 5, false}, {1, 9, false}} {
		if ok, why := l.AlertDecision(tt.key, tt.global); ok != tt.send || (ok == (why != "")) {
			t.Errorf("%d/%d: send %v (%q), want %v", tt.key, tt.global, ok, why, tt.send)
		}
	}
}
