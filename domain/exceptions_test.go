package domain

import (
	"slices"
	"testing"
)

// The whole exception transition table, every allowed and forbidden move.
func TestExceptionTransitions(t *testing.T) {
	allowed := map[[2]string]bool{
		{"open", "in_progress"}: true, {"open", "resolved"}: true, {"open", "dismissed"}: true,
		{"in_progress", "open"}: true, {"in_progress", "resolved"}: true, {"in_progress", "dismissed"}: true,
	}
	for _, from := range ExceptionStatuses {
		for _, to := range ExceptionStatuses {
			err := CheckExceptionMove(from, to)
			if allowed[[2]string{from, to}] != (err == nil) {
				t.Errorf("%s → %s: allowed=%v, got err=%v", from, to, allowed[[2]string{from, to}], err)
			}
			if err != nil && ErrorCode(err) != ECONFLICT {
				t.Errorf("%s → %s: code %s, want conflict", from, to, ErrorCode(err))
			}
		}
	}
}

func TestExceptionResolutionValidate(t *testing.T) {
	tests := []struct {
		r     ExceptionResolution
		field string // "" means valid
	}{
		{ExceptionResolution{To: "resolved", Code: "adjusted_count"}, ""},
		{ExceptionResolution{To: "resolved", Code: ""}, "code"},
		{ExceptionResolution{To: "resolved", Code: "made_up"}, "code"},
		{ExceptionResolution{To: "dismissed", Note: "duplicate of 12"}, ""},
		{ExceptionResolution{To: "dismissed", Note: ""}, "note"},
		{ExceptionResolution{To: "open"}, "to"},
	}
	for _, tt := range tests {
		err := tt.r.Validate()
		got := ""
		if e := AsError(err); e != nil {
			got = e.Field
		}
		if got != tt.field {
			t.Errorf("%+v: field %q, want %q (%v)", tt.r, got, tt.field, err)
		}
	}
	if !slices.Contains(ResolutionCodes, "reallocated") {
		t.Error("reallocated must be a resolution code")
	}
}
