package store

import (
	"testing"

	"stockline/domain"
)

func TestUnpackPositions(t *testing.T) {
	got, err := unpackPositions([]byte("3:12:2:1:0:0:4,17:-5:0:0:0:0:0"))
	if err != nil {
		t.Fatal(err)
	}
	want := map[int64]domain.Position{
		3:  {OnHand: 12, Reserved: 2, Damaged: 1, InTransitIn: 4},
		17: {OnHand: -5},
	}
	if len(got) != len(want) || got[3] != want[3] || got[17] != want[17] {
		t.Fatalf("got %+v", got)
	}
	if got, err := unpackPositions(nil); err != nil || len(got) != 0 {
		t.Fatalf("empty: %v %v", got, err)
	}
	for _, bad := range []string{"1:2:3", "1:2:3:4:5:6:7:8", "1;2:3:4:5:6:7", "1:2:3:4:5:6:7,"} {
		if _, err := unpackPositions([]byte(bad)); err == nil {
			t.Errorf("%q should be refused", bad)
		}
	}
}
