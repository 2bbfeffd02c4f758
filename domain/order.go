package domain

import "time"

// The order read model: what the store returns and the views show. Fields
// are plain Go values; a column that may be NULL reads as its zero value
// (0, "", the zero time), and each such field says so.

// Order is an order header with its lines.
type Order struct {
	ID                 int64       `db:"id" json:"id"`
	Number             string      `db:"number" json:"number"`
	Channel            string      `db:"channel" json:"channel"`
	Fulfilment         string      `db:"fulfilment" json:"fulfilment"`
	Source             string      `db:"source" json:"source"`
	ExternalRef        string      `db:"external_ref" json:"external_ref"`
	Status             string      `db:"status" json:"status"`
	HoldReason         string      `db:"hold_reason" json:"hold_reason,omitempty"`
	CustomerName       string      `db:"customer_name" json:"-"`
	CustomerEmail      string      `db:"customer_email" json:"-"`
	CustomerPhone      string      `db:"customer_phone" json:"-"`
	PaymentStatus      string      `db:"payment_status" json:"payment_status"`
	PickupLocationID   int64       `db:"pickup_location_id" json:"-"`   // 0 when the order ships
	PickupLocation     string      `db:"pickup_location" json:"-"`      // the pickup store's code, or ""
	PickupLocationName string      `db:"pickup_location_name" json:"-"` // its name, or ""
	PickupTimezone     string      `db:"pickup_timezone" json:"-"`      // its time zone, or ""
	PromisedAt         time.Time   `db:"promised_at" json:"-"`          // zero when nothing was promised
	PickupUntil        time.Time   `db:"pickup_until" json:"-"`         // zero until the order waits on the shelf
	PlacedAt           time.Time   `db:"placed_at" json:"placed_at"`
	CreatedAt          time.Time   `db:"created_at" json:"-"`
	UpdatedAt          time.Time   `db:"updated_at" json:"-"`
	ReadyAt            time.Time   `db:"ready_at" json:"-"`  // zero until ready
	ClosedAt           time.Time   `db:"closed_at" json:"-"` // zero while open
	Lines              []OrderLine `db:"-" json:"-"`
}

// Customer is the order's customer.
func (o Order) Customer() Customer {
	return Customer{Name: o.CustomerName, Email: o.CustomerEmail, Phone: o.CustomerPhone}
}

// Facts is what the order's status is derived from.
func (o Order) Facts() OrderFacts {
	f := OrderFacts{Fulfilment: o.Fulfilment, Hold: o.HoldReason != ""}
	for _, l := range o.Lines {
		f.Lines = append(f.Lines, l.LineQty)
	}
	return f
}

// Open reports whether the order still has work: not completed or cancelled.
func (o Order) Open() bool {
	return o.Status != OrderCompleted && o.Status != OrderCancelled
}

// HasPickup reports whether the order is collected at a store.
func (o Order) HasPickup() bool { return o.PickupLocation != "" }

// Line returns the line with id, or nil.
func (o Order) Line(id int64) *OrderLine {
	for i := range o.Lines {
		if o.Lines[i].ID == id {
			return &o.Lines[i]
		}
	}
	return nil
}

// OrderLine is one line: a SKU at one location, with its quantity states.
type OrderLine struct {
	ID                int64    `db:"id"`
	OrderID           int64    `db:"order_id"`
	LineNo            int      `db:"line_no"`
	ProductID         int64    `db:"product_id"`
	SKU               string   `db:"sku"`
	ProductName       string   `db:"product_name"`
	Barcode           string   `db:"barcode"`
	LocationID        int64    `db:"location_id"`           // 0 while no location is chosen
	Location          string   `db:"location"`              // its code, or ""
	ReservationID     int64    `db:"reservation_id"`        // 0 when nothing is held
	ReservationLineNo int      `db:"reservation_line_no"`   // 0 when nothing is held
	MovedFrom         int64    `db:"moved_from"`            // the line this one was split from, or 0
	RejectedAt        []string `db:"rejected_at"`           // codes of the stores that could not pick it
	RejectedIDs       []int64  `db:"rejected_location_ids"` // their ids
	RejectReason      string   `db:"reject_reason"`
	LineQty
}

// Allocated reports whether the line has a location.
func (l OrderLine) Allocated() bool { return l.Location != "" }

// Fulfilment is one shipment or in-store pickup of an order's units.
type Fulfilment struct {
	ID        int64            `db:"id"`
	Kind      string           `db:"kind"` // "shipment" or "pickup"
	Location  string           `db:"location"`
	Carrier   string           `db:"carrier"`
	Tracking  string           `db:"tracking"`
	CreatedAt time.Time        `db:"created_at"`
	CreatedBy string           `db:"created_by"`
	Lines     []FulfilmentLine `db:"-"`
}

// FulfilmentLine is how many units of one order line a fulfilment took.
type FulfilmentLine struct {
	OrderLineID int64  `db:"order_line_id"`
	SKU         string `db:"sku"`
	Qty         int    `db:"qty"`
}

// OrderSummary is one row of an order search.
type OrderSummary struct {
	ID             int64     `db:"id" json:"id"`
	Number         string    `db:"number" json:"number"`
	ExternalRef    string    `db:"external_ref" json:"external_ref"`
	Channel        string    `db:"channel" json:"channel"`
	Status         string    `db:"status" json:"status"`
	CustomerName   string    `db:"customer_name" json:"-"`
	CustomerEmail  string    `db:"customer_email" json:"-"`
	PickupLocation string    `db:"pickup_location" json:"-"` // "" when the order ships
	PlacedAt       time.Time `db:"placed_at" json:"-"`
	HoldReason     string    `db:"hold_reason" json:"-"`
	Units          int       `db:"units" json:"-"`
}

// TimelineEntry is one thing that happened to an order, from any record:
// who or what did it, when, from which system, and a link to the record.
type TimelineEntry struct {
	At      time.Time `json:"at"`
	Kind    string    `json:"kind"`
	Actor   string    `json:"actor"`
	Source  string    `json:"source"`
	Message string    `json:"message"`
	Link    string    `json:"-"`
}

// StoreATP is a store's available-to-promise for a SKU, as offered when a
// line must move: reallocation targets and pickup store alternatives.
type StoreATP struct {
	LocationID int64  `db:"id"`
	Code       string `db:"code"`
	Name       string `db:"name"`
	ATP        int    `db:"atp"`
}

// LineAllocation is part of a line's units sent to one location when a
// line is reallocated (or split).
type LineAllocation struct {
	Location string // code
	Qty      int
}
