package domain

import (
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// Bucket names one of the separate quantities kept for a (sku, location).
type Bucket string

// The six buckets of a position (DESIGN §2).
const (
	OnHand      Bucket = "on_hand"       // physical units, damaged and held ones included
	Reserved    Bucket = "reserved"      // promised to carts and orders, not yet picked or sold
	Damaged     Bucket = "damaged"       // on hand but not sellable
	QualityHold Bucket = "quality_hold"  // on hand, awaiting inspection
	TransferOut Bucket = "transfer_out"  // on hand, allocated to an approved outbound transfer
	InTransitIn Bucket = "in_transit_in" // shipped here by a transfer, not yet received
)

// Buckets lists every bucket in display order.
var Buckets = []Bucket{OnHand, Reserved, Damaged, QualityHold, TransferOut, InTransitIn}

// Position is the current quantity in each bucket for one SKU at one location.
type Position struct {
	OnHand      int `db:"on_hand" json:"on_hand"`
	Reserved    int `db:"reserved" json:"reserved"`
	Damaged     int `db:"damaged" json:"damaged"`
	QualityHold int `db:"quality_hold" json:"quality_hold"`
	TransferOut int `db:"transfer_out" json:"transfer_out"`
	InTransitIn int `db:"in_transit_in" json:"in_transit_in"`
}

// Get returns the quantity in bucket b.
func (p Position) Get(b Bucket) int {
	switch b {
	case OnHand:
		return p.OnHand
	case Reserved:
		return p.Reserved
	case Damaged:
		return p.Damaged
	case QualityHold:
		return p.QualityHold
	case TransferOut:
		return p.TransferOut
	case InTransitIn:
		return p.InTransitIn
	}
	panic(fmt.Sprintf("domain: unknown bucket %q", b))
}

// Apply returns the position with delta added to bucket b.
func (p Position) Apply(b Bucket, delta int) Position {
	switch b {
	case OnHand:
		p.OnHand += delta
	case Reserved:
		p.Reserved += delta
	case Damaged:
		p.Damaged += delta
	case QualityHold:
		p.QualityHold += delta
	case TransferOut:
		p.TransferOut += delta
	case InTransitIn:
		p.InTransitIn += delta
	default:
		panic(fmt.Sprintf("domain: unknown bucket %q", b))
	}
	return p
}

// ATP is available-to-promise at one location for a channel whose safety
// stock there is safety: on hand less everything already spoken for, never
// below zero. Incoming stock (in_transit_in) is never promised.
func ATP(p Position, safety int) int {
	return max(0, p.OnHand-p.Reserved-p.Damaged-p.QualityHold-p.TransferOut-safety)
}

// ATPSQL is the same formula as ATP for use in SQL listings, over columns
// of a positions row aliased p and a safety stock expression $safety.
// A store test checks that it agrees with ATP.
const ATPSQL = `GREATEST(0, p.on_hand - p.reserved - p.damaged - p.quality_hold - p.transfer_out - %s)`

// Violations lists the invariants a position breaks: reserved above
// on_hand, or any negative bucket. An empty result means it is sound.
func (p Position) Violations() []string {
	var v []string
	for _, b := range Buckets {
		if p.Get(b) < 0 {
			v = append(v, fmt.Sprintf("%s is negative (%d)", b, p.Get(b)))
		}
	}
	if p.Reserved > p.OnHand {
		v = append(v, fmt.Sprintf("reserved (%d) exceeds on_hand (%d)", p.Reserved, p.OnHand))
	}
	return v
}

// LocationKind is what a location is.
type LocationKind string

// The kinds of location.
const (
	Store     LocationKind = "store"
	Warehouse LocationKind = "warehouse"
	DC        LocationKind = "dc"
)

// LocationKinds lists every kind.
var LocationKinds = []LocationKind{Store, Warehouse, DC}

// Location is a store, warehouse or distribution centre.
type Location struct {
	ID            int64        `db:"id" json:"-"`
	Code          string       `db:"code" json:"code"`
	Name          string       `db:"name" json:"name"`
	Kind          LocationKind `db:"kind" json:"kind"`
	Region        string       `db:"region" json:"region"`
	Timezone      string       `db:"timezone" json:"-"`
	Pickup        bool         `db:"pickup" json:"pickup"`
	ShipFromStore bool         `db:"ship_from_store" json:"ship_from_store"`
}

// Product is a sellable SKU.
type Product struct {
	ID         int64  `db:"id" json:"-"`
	SKU        string `db:"sku" json:"sku"`
	Name       string `db:"name" json:"name"`
	Barcode    string `db:"barcode" json:"barcode"`
	Category   string `db:"category" json:"category"`
	PriceCents int64  `db:"price_cents" json:"-"`
}

// Price formats the product's price in major units, e.g. "12.99".
func (p Product) Price() string {
	return fmt.Sprintf("%d.%02d", p.PriceCents/100, p.PriceCents%100)
}

// Reason is a ledger reason code (DESIGN §2).
type Reason string

// Reason codes, after the industry's common set.
const (
	ReasonSale          Reason = "sale"
	ReasonReturnRestock Reason = "return_restock"
	ReasonReturnDamaged Reason = "return_damaged"
	ReasonReservation   Reason = "reservation"
	ReasonRelease       Reason = "release"
	ReasonCorrection    Reason = "correction"
	ReasonCycleCount    Reason = "cycle_count"
	ReasonDamaged       Reason = "damaged"
	ReasonShrinkage     Reason = "shrinkage"
	ReasonReceived      Reason = "received"
	ReasonTransferOut   Reason = "transfer_out"
	ReasonTransferIn    Reason = "transfer_in"
	ReasonQualityHold   Reason = "quality_hold"
	ReasonFulfilled     Reason = "fulfilled"
	ReasonMissing       Reason = "missing"
)

// AdjustmentReasons are the reasons a person may use on the adjustment form
// and POST /api/v1/adjustments, in the order the form lists them.
var AdjustmentReasons = []Reason{
	ReasonCycleCount, ReasonCorrection, ReasonReceived, ReasonDamaged,
	ReasonShrinkage, ReasonReturnRestock, ReasonReturnDamaged, ReasonQualityHold,
}

// ReasonLabel is the human name of a reason code.
func ReasonLabel(r Reason) string {
	switch r {
	case ReasonCycleCount:
		return "Cycle count"
	case ReasonCorrection:
		return "Correction"
	case ReasonReceived:
		return "Received"
	case ReasonDamaged:
		return "Damaged (move to damaged)"
	case ReasonShrinkage:
		return "Shrinkage (lost or stolen)"
	case ReasonReturnRestock:
		return "Customer return, restock"
	case ReasonReturnDamaged:
		return "Customer return, damaged"
	case ReasonQualityHold:
		return "Quality hold (+ hold, − release)"
	case ReasonReturnQualityHold:
		return "Customer return, quality hold"
	case ReasonReturnToVendor:
		return "Customer return, back to the vendor"
	case ReasonReturnDestroyed:
		return "Customer return, destroyed"
	case ReasonQualityRelease:
		return "Returned units released from quality hold"
	}
	return string(r)
}

// Movement is one ledger row to write: delta units into bucket.
type Movement struct {
	Bucket Bucket
	Delta  int
}

// Adjustment is a person's or system's request to change a position.
// Exactly one of Delta and Counted is set.
type Adjustment struct {
	Reason  Reason
	Delta   *int
	Counted *int
	Note    string
}

// MaxQuantity bounds any single quantity a request may carry; anything
// larger is a typo or an attack, not a real stock movement.
const MaxQuantity = 1_000_000

// MaxNoteLength bounds an adjustment's free-text note, in bytes.
const MaxNoteLength = 1000

// Validate checks the adjustment's own fields.
func (a Adjustment) Validate() error {
	if !slices.Contains(AdjustmentReasons, a.Reason) {
		codes := make([]string, len(AdjustmentReasons))
		for i, r := range AdjustmentReasons {
			codes[i] = string(r)
		}
		if a.Reason == "" {
			return FieldError("reason", "Choose a reason code: %s.", strings.Join(codes, ", "))
		}
		return FieldError("reason", "Reason %q is not an adjustment reason code; use one of %s.", a.Reason, strings.Join(codes, ", "))
	}
	if len(a.Note) > MaxNoteLength {
		return FieldError("note", "Keep the note under %d characters.", MaxNoteLength)
	}
	if !utf8.ValidString(a.Note) || strings.ContainsRune(a.Note, 0) {
		return FieldError("note", "The note has characters that cannot be stored; retype it as plain text.")
	}
	switch {
	case a.Delta == nil && a.Counted == nil:
		return FieldError("delta", "Give either a delta or a counted quantity.")
	case a.Delta != nil && a.Counted != nil:
		return FieldError("delta", "Give a delta or a counted quantity, not both.")
	case a.Counted != nil && (*a.Counted < 0 || *a.Counted > MaxQuantity):
		return FieldError("counted", "Counted quantity must be between 0 and %d.", MaxQuantity)
	case a.Delta != nil && (*a.Delta == 0 || *a.Delta > MaxQuantity || *a.Delta < -MaxQuantity):
		return FieldError("delta", "Delta must be a non-zero whole number between -%d and %d.", MaxQuantity, MaxQuantity)
	case a.Counted != nil && a.Reason != ReasonCycleCount && a.Reason != ReasonCorrection:
		return FieldError("counted", "A counted quantity goes with the cycle_count or correction reason.")
	}
	return nil
}

// Movements turns a validated adjustment against the current position into
// ledger movements. A count sets on_hand to the counted quantity. The other
// reasons say which buckets move:
//
//	correction, received, return_restock: on_hand += delta
//	shrinkage:                            on_hand -= |delta|
//	damaged:                              damaged += delta (units stay on hand)
//	return_damaged:                       on_hand += delta and damaged += delta
//	quality_hold:                         quality_hold += delta
func (a Adjustment) Movements(cur Position) ([]Movement, error) {
	if err := a.Validate(); err != nil {
		return nil, err
	}
	if a.Counted != nil {
		d := *a.Counted - cur.OnHand
		if d == 0 {
			return nil, nil
		}
		return []Movement{{OnHand, d}}, nil
	}
	d := *a.Delta
	var m []Movement
	switch a.Reason {
	case ReasonCorrection, ReasonReceived, ReasonReturnRestock, ReasonCycleCount:
		m = []Movement{{OnHand, d}}
	case ReasonShrinkage:
		m = []Movement{{OnHand, -abs(d)}}
	case ReasonDamaged:
		m = []Movement{{Damaged, d}}
	case ReasonReturnDamaged:
		m = []Movement{{OnHand, d}, {Damaged, d}}
	case ReasonQualityHold:
		m = []Movement{{QualityHold, d}}
	}
	next := cur
	for _, mv := range m {
		next = next.Apply(mv.Bucket, mv.Delta)
	}
	if next.OnHand < 0 {
		return nil, FieldError("delta", "That would leave on hand at %d; only %d are on hand.", next.OnHand, cur.OnHand)
	}
	for _, b := range []Bucket{Damaged, QualityHold} {
		if next.Get(b) < 0 {
			return nil, FieldError("delta", "That would leave %s at %d; there are only %d.", b, next.Get(b), cur.Get(b))
		}
	}
	if next.Damaged+next.QualityHold+next.TransferOut > max(next.OnHand, 0) && (a.Reason == ReasonDamaged || a.Reason == ReasonQualityHold) {
		return nil, FieldError("delta", "Only %d units are on hand; you cannot mark more than that.", cur.OnHand)
	}
	return m, nil
}

func abs(n int) int {
	if n < 0 {
		return -n
	}
	return n
}

// LedgerEntry is one append-only movement record.
type LedgerEntry struct {
	ID         int64     `db:"id"`
	SKU        string    `db:"sku"`
	Location   string    `db:"location"`
	Bucket     Bucket    `db:"bucket"`
	Delta      int       `db:"delta"`
	Reason     Reason    `db:"reason"`
	Source     string    `db:"source"`
	SourceRef  string    `db:"source_ref"`
	Actor      string    `db:"actor"`
	Note       string    `db:"note"`
	OccurredAt time.Time `db:"occurred_at"`
	RecordedAt time.Time `db:"recorded_at"`
}
