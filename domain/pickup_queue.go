package domain

import "time"

// Tabs of a store's pickup (and ship) queue.
const (
	TabToPick  = "to_pick"
	TabReady   = "ready"
	TabOverdue = "overdue"
	TabToShip  = "to_ship"
)

// PickupRow is one order in a store's pickup (or ship) queue.
type PickupRow struct {
	ID             int64     `db:"id"`
	Number         string    `db:"number"`
	Status         string    `db:"status"`
	Channel        string    `db:"channel"`
	CustomerName   string    `db:"customer_name"`
	PickupLocation string    `db:"pickup_location"` // "" when the order ships
	PickupTZ       string    `db:"pickup_timezone"` // "" when the order ships
	PromisedAt     time.Time `db:"promised_at"`     // zero when nothing was promised
	PickupUntil    time.Time `db:"pickup_until"`    // zero until the order waits on the shelf
	PlacedAt       time.Time `db:"placed_at"`
	HoldReason     string    `db:"hold_reason"`
	Units          int       `db:"units"`   // open units of the order
	ToPickHere     int       `db:"to_pick"` // reserved units at the queue's stores
	PickedHere     int       `db:"picked"`  // picked units at the queue's stores
	Lines          string    `db:"lines"`   // "2 × FOO-10001, 1 × FOO-10002"
}

// Due is the time the row is measured against: the promised ready time,
// or for an order waiting on the shelf, the end of its pickup window.
func (r PickupRow) Due() (time.Time, bool) {
	return dueAt(r.Status, r.PromisedAt, r.PickupUntil)
}

func dueAt(status string, promised, until time.Time) (time.Time, bool) {
	if status == OrderReadyForPickup && !until.IsZero() {
		return until, true
	}
	return promised, !promised.IsZero()
}

// QueueCounts is how many orders each tab holds.
type QueueCounts struct {
	ToPick  int
	Ready   int
	Overdue int
	ToShip  int
}

// QueueFacts is what decides the tabs an open order sits in, seen from a
// set of stores (the queue's scope).
type QueueFacts struct {
	Status      string
	Fulfilment  string
	PromisedAt  time.Time // zero when nothing was promised
	PickupUntil time.Time // zero until the order waits on the shelf
	AtMine      bool      // its pickup store is in scope
	OnHold      bool
	ToPick      int // reserved units at the stores in scope
	Picked      int // picked units at the stores in scope
}

// Due is what the order is measured against (see PickupRow.Due).
func (f QueueFacts) Due() (time.Time, bool) {
	return dueAt(f.Status, f.PromisedAt, f.PickupUntil)
}

// Tabs says which tabs the order sits in:
//
//	to pick: a pickup order with units reserved at these stores, or on hold
//	         (units waiting for a decision) with its pickup store here;
//	ready:   a pickup order ready for pickup at these stores;
//	to ship: a ship order with units held at these stores;
//	overdue: any of those past its promise (ready ones: past the end of
//	         the pickup window).
func (f QueueFacts) Tabs(now time.Time) map[string]bool {
	pick := f.Fulfilment == FulfilPickup && (f.ToPick > 0 || f.OnHold && f.AtMine)
	ready := f.Fulfilment == FulfilPickup && f.Status == OrderReadyForPickup && f.AtMine
	ship := f.Fulfilment == FulfilShip && f.ToPick+f.Picked > 0
	d, ok := f.Due()
	overdue := ok && d.Before(now) && (pick || ready || ship)
	return map[string]bool{TabToPick: pick, TabReady: ready, TabToShip: ship, TabOverdue: overdue}
}

// Add counts an order's tabs.
func (c *QueueCounts) Add(tabs map[string]bool) {
	c.ToPick += b2i(tabs[TabToPick])
	c.Ready += b2i(tabs[TabReady])
	c.ToShip += b2i(tabs[TabToShip])
	c.Overdue += b2i(tabs[TabOverdue])
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}
