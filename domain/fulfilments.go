package domain

import "fmt"

// ShipPart is units of one order line in a shipment.
type ShipPart struct {
	LineID int64
	Qty    int
}

// PlanShipment turns a warehouse tool's shipment report ({"sku","qty"} per
// line, from one location) into units of the order's lines: each SKU's
// quantity is spread, in line order, over the lines of that SKU held at
// the location, at most what each holds (reserved or picked). Errors: 422
// with field naming the request line (unknown SKU on the order, a
// quantity not above zero, more than is held there).
func PlanShipment(o Order, location string, in []OrderLineInput) ([]ShipPart, error) {
	if len(in) == 0 {
		return nil, Unprocessable("lines", "Name at least one shipped line.")
	}
	taken := map[int64]int{}
	var parts []ShipPart
	for i, r := range in {
		if r.Qty <= 0 || r.Qty > MaxQuantity {
			return nil, Unprocessable(fmt.Sprintf("lines[%d].qty", i), "Quantity for %s must be between 1 and %d.", r.SKU, MaxQuantity)
		}
		found, held := false, 0
		for _, l := range o.Lines {
			if l.SKU == r.SKU {
				found = true
				if l.Location == location {
					held += l.Held() - taken[l.ID]
				}
			}
		}
		if !found {
			return nil, Unprocessable(fmt.Sprintf("lines[%d].sku", i), "Order %s has no line for SKU %q.", o.Number, r.SKU)
		}
		if r.Qty > held {
			return nil, Unprocessable(fmt.Sprintf("lines[%d].qty", i), "Order %s has %d unit(s) of %s ready to ship at %s; cannot ship %d.",
				o.Number, held, r.SKU, location, r.Qty)
		}
		left := r.Qty
		for _, l := range o.Lines {
			if l.SKU != r.SKU || l.Location != location || left == 0 {
				continue
			}
			if n := min(left, l.Held()-taken[l.ID]); n > 0 {
				taken[l.ID] += n
				left -= n
				parts = append(parts, ShipPart{LineID: l.ID, Qty: n})
			}
		}
	}
	return parts, nil
}
