package domain

import (
	"fmt"
	"math"
	"strings"
	"testing"
)

func sig(loc, region string, onHand, transit, sold int) StockSignal {
	kind := Store
	if strings.HasPrefix(loc, "DC") {
		kind = DC
	}
	return StockSignal{Location: loc, Region: region, Kind: kind, SKU: "A", Name: "Alpha", Position: Position{OnHand: onHand, InTransitIn: transit}, Sold: sold}
}

func TestSuggestTransfersTable(t *testing.T) {
	p := SuggestParams{WindowDays: 28, ExcessWeeks: 12, SlowSellThrough: 0.10, LowWeeks: 1, TargetWeeks: 4, Limit: 50}
	// 28 days: sold 8 is 2 a week, so a target of 4 weeks is 8 units.
	cases := []struct {
		name string
		rows []StockSignal
		p    SuggestParams
		want []string // "FROM>TO qty"
	}{
		{"dead stock to a stockout", []StockSignal{sig("S01", "N", 30, 0, 0), sig("S02", "N", 0, 0, 8)}, p, []string{"S01>S02 8"}},
		{"excess cover: donor keeps its own four weeks", []StockSignal{sig("S01", "N", 34, 0, 4), sig("S02", "N", 0, 0, 8)}, p, []string{"S01>S02 8"}},
		{"donor gives only what is above its target", []StockSignal{sig("S01", "N", 3, 0, 0), sig("S02", "N", 0, 0, 8)}, p, []string{"S01>S02 3"}},
		{"healthy cover is no donor", []StockSignal{sig("S01", "N", 20, 0, 20), sig("S02", "N", 0, 0, 8)}, p, nil},
		{"no demand, no receiver", []StockSignal{sig("S01", "N", 30, 0, 0), sig("S02", "N", 0, 0, 0)}, p, nil},
		{"in transit counts toward the need", []StockSignal{sig("S01", "N", 30, 0, 0), sig("S02", "N", 0, 1, 8)}, p, []string{"S01>S02 7"}},
		{"enough on the way is no receiver", []StockSignal{sig("S01", "N", 30, 0, 0), sig("S02", "N", 0, 3, 8)}, p, nil},
		{"low cover, not out: topped up to target", []StockSignal{sig("S01", "N", 40, 0, 0), sig("S02", "N", 1, 0, 8)}, p, []string{"S01>S02 7"}},
		{"same region first, even when smaller", []StockSignal{sig("S07", "S", 50, 0, 0), sig("S01", "N", 10, 0, 0), sig("S02", "N", 0, 0, 8)}, p,
			[]string{"S01>S02 8"}},
		{"split across donors when one is short", []StockSignal{sig("S01", "N", 5, 0, 0), sig("S07", "S", 50, 0, 0), sig("S02", "N", 0, 0, 8)}, p,
			[]string{"S01>S02 5", "S07>S02 3"}},
		{"a donor is not drained twice; stockouts first", []StockSignal{sig("S01", "N", 10, 0, 0), sig("S02", "N", 1, 0, 8), sig("S03", "N", 0, 0, 8)}, p,
			[]string{"S01>S03 8", "S01>S02 2"}},
		{"slow sell-through donor", []StockSignal{sig("S01", "N", 100, 0, 8), sig("S02", "N", 0, 0, 8)}, p, []string{"S01>S02 8"}},
		{"a DC gives but never receives", []StockSignal{sig("DC1", "N", 200, 0, 0), sig("DC2", "N", 0, 0, 8), sig("S02", "N", 0, 0, 8)}, p, []string{"DC1>S02 8"}},
		{"reserved and damaged units are not given", []StockSignal{{Location: "S01", Region: "N", Kind: Store, SKU: "A", Position: Position{OnHand: 10, Reserved: 4, Damaged: 3}},
			sig("S02", "N", 0, 0, 8)}, p, []string{"S01>S02 3"}},
		{"limit", []StockSignal{sig("S01", "N", 50, 0, 0), sig("S02", "N", 0, 0, 8), sig("S03", "N", 0, 0, 4)}, SuggestParams{WindowDays: 28, ExcessWeeks: 12, SlowSellThrough: 0.1, LowWeeks: 1, TargetWeeks: 4, Limit: 1},
			[]string{"S01>S02 8"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := SuggestTransfers(c.rows, c.p)
			var s []string
			for _, g := range got {
				s = append(s, fmt.Sprintf("%s>%s %d", g.From, g.To, g.Qty))
				if g.From == g.To || g.Qty <= 0 || g.SKU != "A" {
					t.Errorf("bad suggestion %+v", g)
				}
			}
			if fmt.Sprint(s) != fmt.Sprint(c.want) {
				t.Fatalf("got %v, want %v", s, c.want)
			}
		})
	}
}

func TestSuggestionNumbers(t *testing.T) {
	p := DefaultSuggestParams
	got := SuggestTransfers([]StockSignal{sig("S01", "N", 30, 0, 0), sig("S02", "N", 0, 0, 8), {Location: "S03", Region: "N", Kind: Store, SKU: "B", Position: Position{OnHand: 9}}}, p)
	if len(got) != 1 {
		t.Fatalf("%+v", got)
	}
	g := got[0]
	if g.FromATP != 30 || g.FromSold != 0 || !math.IsInf(g.FromCover, 1) || g.ToSold != 8 || !g.Stockout || !g.SameRegion || g.ToCover != 0 {
		t.Fatalf("numbers %+v", g)
	}
	if w := g.Why(28); !strings.Contains(w, "S01 has 30 available, sold 0 in 28 days (no sales: dead stock)") || !strings.Contains(w, "S02 has 0 available and 0 in transit, sold 8 (out of stock)") {
		t.Fatalf("why %q", w)
	}
	s := sig("S01", "N", 6, 0, 4)
	if s.WeeklyRate(28) != 1 || s.CoverWeeks(28) != 6 || s.SellThrough() != 0.4 {
		t.Fatalf("rate %v cover %v st %v", s.WeeklyRate(28), s.CoverWeeks(28), s.SellThrough())
	}
}
