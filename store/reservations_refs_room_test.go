package store

import (
	"fmt"
	"testing"

	"stockline/domain"
)

// A full cache makes room for what comes in by dropping as few entries as
// it needs, so it stays full rather than starting again empty.
func TestMakeRoomKeepsTheCacheFull(t *testing.T) {
	for _, tc := range []struct {
		name           string
		have, n, limit int
		want           int // entries left before the n are added
	}{
		{"empty", 0, 1, 3, 0},
		{"room left", 2, 1, 3, 2},
		{"full, one more", 3, 1, 3, 2},
		{"full, two more", 3, 2, 3, 1},
		{"over a lowered limit", 5, 1, 3, 2},
		{"more than the limit at once", 3, 4, 3, 0},
	} {
		m := map[int]bool{}
		for i := range tc.have {
			m[i] = true
		}
		makeRoom(m, tc.n, tc.limit)
		if len(m) != tc.want {
			t.Errorf("%s: %d entries left, want %d", tc.name, len(m), tc.want)
		}
	}
}

// The product cache at its limit keeps every product but the ones it
// dropped to make room, and holds the new one.
func TestProductCacheAtItsLimitStaysFull(t *testing.T) {
	var c refCache
	ps := make([]domain.Product, maxCachedSKUs)
	for i := range ps {
		ps[i] = domain.Product{ID: int64(i + 1), SKU: fmt.Sprintf("SKU-%06d", i)}
	}
	c.keep(ps...)
	c.keep(domain.Product{ID: -1, SKU: "NEW"})
	if len(c.products) != maxCachedSKUs {
		t.Fatalf("cache holds %d products, want %d", len(c.products), maxCachedSKUs)
	}
	if _, ok := c.products["NEW"]; !ok {
		t.Fatal("the new product is not cached")
	}
}
