package domain

import (
	"testing"
	"time"
)

func TestResolveCancelReason(t *testing.T) {
	for _, tc := range []struct {
		code, note string
		want       CancelReason
		bad        bool
	}{
		{"", "", CancelCustomerRequest, false},
		{"", "changed mind", CancelOther, false},
		{"out_of_stock", "", CancelOutOfStock, false},
		{"not_collected", "window passed", CancelNotCollected, false},
		{"bored", "", "", true},
	} {
		got, err := ResolveCancelReason(tc.code, tc.note)
		if tc.bad {
			if ErrorCode(err) != CodeUnknownReasonCode || err.(*Error).Field != "reason_code" {
				t.Fatalf("%q: want EINVALID on reason_code, got %v", tc.code, err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Fatalf("%q/%q: got %q, %v; want %q", tc.code, tc.note, got, err, tc.want)
		}
	}
	for _, r := range CancelReasons {
		if got, err := ResolveCancelReason(string(r), ""); err != nil || got != r || r.Label() == "" {
			t.Fatalf("code %s does not round-trip", r)
		}
	}
}

func TestShopifyCancelReason(t *testing.T) {
	for in, want := range map[string]CancelReason{"customer": CancelCustomerRequest, "inventory": CancelOutOfStock,
		"fraud": CancelFraud, "declined": CancelPaymentFailed, "other": CancelOther, "": CancelOther, "staff": CancelOther} {
		if got := ShopifyCancelReason(in); got != want {
			t.Fatalf("%q: got %s, want %s", in, got, want)
		}
	}
}

func TestUncollectedReason(t *testing.T) {
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	ready := Order{Fulfilment: FulfilPickup, ReadyAt: now.Add(-72 * time.Hour), PickupUntil: now.Add(-time.Hour)}
	if got := UncollectedReason(ready, now); got != CancelNotCollected {
		t.Fatalf("past the window: %q", got)
	}
	inWindow := ready
	inWindow.PickupUntil = now.Add(time.Hour)
	notReady := ready
	notReady.ReadyAt = time.Time{}
	shipped := ready
	shipped.Fulfilment = "ship"
	for _, o := range []Order{inWindow, notReady, shipped} {
		if got := UncollectedReason(o, now); got != "" {
			t.Fatalf("%+v: %q, want none", o, got)
		}
	}
}
