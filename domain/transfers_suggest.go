package domain

import (
	"cmp"
	"fmt"
	"math"
	"slices"
)

// StockSignal is one location's stock of one SKU and what it sold over a
// window: the input of suggested transfers and the stock context of an
// approval.
type StockSignal struct {
	Location   string       `db:"location"`
	Region     string       `db:"region"`
	Kind       LocationKind `db:"kind"`
	SKU        string       `db:"sku"`
	Name       string       `db:"name"`
	PriceCents int64        `db:"price_cents"`
	Position
	Sold int `db:"sold"` // units sold in the window (ledger sales and fulfilments)
}

// ATP is what the location could give a transfer now.
func (s StockSignal) ATP() int { return TransferAvailable(s.Position) }

// WeeklyRate is units sold per week over a window of days.
func (s StockSignal) WeeklyRate(days int) float64 {
	if days <= 0 {
		return 0
	}
	return float64(s.Sold) * 7 / float64(days)
}

// CoverWeeks is how many weeks the location's ATP lasts at its rate of
// sale; +Inf when it sells nothing but holds stock, 0 when it holds none.
func (s StockSignal) CoverWeeks(days int) float64 {
	r := s.WeeklyRate(days)
	switch {
	case s.ATP() == 0:
		return 0
	case r == 0:
		return math.Inf(1)
	}
	return float64(s.ATP()) / r
}

// SellThrough is sold / (sold + on hand) over the window, 0 to 1.
func (s StockSignal) SellThrough() float64 {
	if s.Sold+s.OnHand <= 0 {
		return 0
	}
	return float64(s.Sold) / float64(s.Sold+s.OnHand)
}

// SuggestParams tunes suggested transfers.
type SuggestParams struct {
	WindowDays      int     // the sales window
	ExcessWeeks     float64 // a location with more weeks of cover than this has excess
	SlowSellThrough float64 // … or one whose sell-through is below this is slow
	LowWeeks        float64 // a location with demand and less cover than this (in transit counted) is short
	TargetWeeks     float64 // a receiver is brought up to this cover; a donor keeps this much
	Limit           int     // at most this many suggestions
}

// DefaultSuggestParams are the page's settings.
var DefaultSuggestParams = SuggestParams{WindowDays: 28, ExcessWeeks: 12, SlowSellThrough: 0.10, LowWeeks: 1, TargetWeeks: 4, Limit: 50}

// Suggestion is one proposed move and the numbers behind it.
type Suggestion struct {
	SKU, Name string
	From, To  string
	Qty       int
	// The origin: what it could give, holds, sold, its cover and sell-through.
	FromATP, FromOnHand, FromSold int
	FromCover, FromSellThrough    float64
	// The destination: the same, and what is already on its way.
	ToATP, ToOnHand, ToSold, ToInTransit int
	ToCover, ToSellThrough               float64
	SameRegion                           bool
	Stockout                             bool // the destination has no ATP and nothing on the way
}

// Why is the suggestion in one sentence.
func (s Suggestion) Why(days int) string {
	from := fmt.Sprintf("%s has %d available, sold %d in %d days", s.From, s.FromATP, s.FromSold, days)
	if math.IsInf(s.FromCover, 1) {
		from += " (no sales: dead stock)"
	} else {
		from += fmt.Sprintf(" (%.0f weeks of cover, %.0f%% sell-through)", s.FromCover, s.FromSellThrough*100)
	}
	to := fmt.Sprintf("%s has %d available and %d in transit, sold %d", s.To, s.ToATP, s.ToInTransit, s.ToSold)
	if s.Stockout {
		to += " (out of stock)"
	} else {
		to += fmt.Sprintf(" (%.1f weeks of cover)", s.ToCover)
	}
	return from + "; " + to + "."
}

type suggestDonor struct {
	s    StockSignal
	give int
}

type suggestReceiver struct {
	s     StockSignal
	need  int
	cover float64
}

// SuggestTransfers proposes moves of a SKU from locations with excess or
// slow stock (weeks of cover above ExcessWeeks, or sell-through below
// SlowSellThrough) to locations of the same SKU that are out of stock or
// short for their demand. A donor keeps TargetWeeks of its own sales; a
// receiver is brought up to TargetWeeks, in-transit units counted. Donors
// in the receiver's region come first, then the largest. Suggestions are
// ordered stockouts first, then shortest cover, then most units.
func SuggestTransfers(rows []StockSignal, p SuggestParams) []Suggestion {
	bySKU := map[string][]StockSignal{}
	var skus []string
	for _, r := range rows {
		if _, ok := bySKU[r.SKU]; !ok {
			skus = append(skus, r.SKU)
		}
		bySKU[r.SKU] = append(bySKU[r.SKU], r)
	}
	var out []Suggestion
	for _, sku := range skus {
		out = append(out, suggestSKU(bySKU[sku], p)...)
	}
	slices.SortStableFunc(out, func(a, b Suggestion) int {
		if a.Stockout != b.Stockout {
			if a.Stockout {
				return -1
			}
			return 1
		}
		if c := cmp.Compare(a.ToCover, b.ToCover); c != 0 {
			return c
		}
		if c := cmp.Compare(b.Qty, a.Qty); c != 0 {
			return c
		}
		return cmp.Compare(a.SKU+a.To+a.From, b.SKU+b.To+b.From)
	})
	if p.Limit > 0 && len(out) > p.Limit {
		out = out[:p.Limit]
	}
	return out
}

func suggestSKU(rows []StockSignal, p SuggestParams) []Suggestion {
	var donors []*suggestDonor
	var receivers []suggestReceiver
	for _, r := range rows {
		rate := r.WeeklyRate(p.WindowDays)
		target := int(math.Ceil(rate * p.TargetWeeks))
		cover := r.CoverWeeks(p.WindowDays)
		if atp := r.ATP(); atp > 0 && (cover > p.ExcessWeeks || r.SellThrough() < p.SlowSellThrough) {
			if give := atp - target; give > 0 {
				donors = append(donors, &suggestDonor{s: r, give: give})
				continue
			}
		}
		if r.Kind == DC || rate == 0 {
			continue // a DC is replenished by purchasing; no sales, no evidence of demand
		}
		have := r.ATP() + r.InTransitIn
		if float64(have) < rate*p.LowWeeks {
			if need := target - have; need > 0 {
				receivers = append(receivers, suggestReceiver{s: r, need: need, cover: float64(have) / rate})
			}
		}
	}
	if len(donors) == 0 || len(receivers) == 0 {
		return nil
	}
	slices.SortStableFunc(receivers, func(a, b suggestReceiver) int {
		if c := cmp.Compare(a.cover, b.cover); c != 0 {
			return c
		}
		return cmp.Compare(a.s.Location, b.s.Location)
	})
	var out []Suggestion
	for _, rc := range receivers {
		order := slices.Clone(donors)
		slices.SortStableFunc(order, func(a, b *suggestDonor) int {
			as, bs := a.s.Region == rc.s.Region, b.s.Region == rc.s.Region
			if as != bs {
				if as {
					return -1
				}
				return 1
			}
			if c := cmp.Compare(b.give, a.give); c != 0 {
				return c
			}
			return cmp.Compare(a.s.Location, b.s.Location)
		})
		need := rc.need
		for _, d := range order {
			if need == 0 {
				break
			}
			n := min(need, d.give)
			if n <= 0 {
				continue
			}
			d.give -= n
			need -= n
			out = append(out, Suggestion{SKU: rc.s.SKU, Name: rc.s.Name, From: d.s.Location, To: rc.s.Location, Qty: n,
				FromATP: d.s.ATP(), FromOnHand: d.s.OnHand, FromSold: d.s.Sold, FromCover: d.s.CoverWeeks(p.WindowDays), FromSellThrough: d.s.SellThrough(),
				ToATP: rc.s.ATP(), ToOnHand: rc.s.OnHand, ToSold: rc.s.Sold, ToInTransit: rc.s.InTransitIn, ToCover: rc.cover, ToSellThrough: rc.s.SellThrough(),
				SameRegion: d.s.Region == rc.s.Region, Stockout: rc.s.ATP()+rc.s.InTransitIn == 0})
		}
	}
	return out
}
