package domain

import (
	"slices"
	"testing"
	"time"
)

// Which tabs an order sits in, case by case; the overdue tab measures a
// ready order by its pickup window, any other by its promise.
func TestQueueTabs(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	past, future := now.Add(-time.Hour), now.Add(time.Hour)
	cases := []struct {
		name string
		f    QueueFacts
		want []string
	}{
		{"pickup with units to pick", QueueFacts{Status: OrderAllocated, Fulfilment: FulfilPickup, ToPick: 2, PromisedAt: future}, []string{TabToPick}},
		{"late pickup", QueueFacts{Status: OrderAllocated, Fulfilment: FulfilPickup, ToPick: 2, PromisedAt: past}, []string{TabToPick, TabOverdue}},
		{"on hold at my store", QueueFacts{Status: OrderOnHold, Fulfilment: FulfilPickup, OnHold: true, AtMine: true}, []string{TabToPick}},
		{"on hold elsewhere", QueueFacts{Status: OrderOnHold, Fulfilment: FulfilPickup, OnHold: true, PromisedAt: past}, nil},
		{"ready here, window open", QueueFacts{Status: OrderReadyForPickup, Fulfilment: FulfilPickup, AtMine: true, Picked: 1, PromisedAt: past, PickupUntil: future}, []string{TabReady}},
		{"ready here, window closed", QueueFacts{Status: OrderReadyForPickup, Fulfilment: FulfilPickup, AtMine: true, Picked: 1, PickupUntil: past}, []string{TabReady, TabOverdue}},
		{"ready elsewhere", QueueFacts{Status: OrderReadyForPickup, Fulfilment: FulfilPickup, PickupUntil: past}, nil},
		{"ship with units held", QueueFacts{Status: OrderInFulfilment, Fulfilment: FulfilShip, Picked: 1}, []string{TabToShip}},
		{"ship nothing held here", QueueFacts{Status: OrderAllocated, Fulfilment: FulfilShip, PromisedAt: past}, nil},
	}
	for _, c := range cases {
		tabs := c.f.Tabs(now)
		var got []string
		for _, tab := range []string{TabToPick, TabReady, TabToShip, TabOverdue} {
			if tabs[tab] {
				got = append(got, tab)
			}
		}
		if !slices.Equal(got, c.want) {
			t.Errorf("%s: tabs %v, want %v", c.name, got, c.want)
		}
		var counts QueueCounts
		counts.Add(tabs)
		if n := counts.ToPick + counts.Ready + counts.ToShip + counts.Overdue; n != len(c.want) {
			t.Errorf("%s: counted %d tabs, want %d", c.name, n, len(c.want))
		}
	}
}
