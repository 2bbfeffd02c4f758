package store

import (
	"testing"

	"stockline/domain"
)

// A position a read found no row for sends its batches the locked way
// without another read, until a committed batch shows the row.
func TestKnownPositionsRememberAbsentRows(t *testing.T) {
	var k knownPositions
	a, b := posKey{1, 10}, posKey{1, 11}
	if k.anyAbsent([]posKey{a, b}) {
		t.Fatal("nothing read yet, yet a position is absent")
	}
	k.markAbsent([]posKey{a, b}, map[posKey]domain.Position{a: {OnHand: 3}})
	if k.anyAbsent([]posKey{a}) || !k.anyAbsent([]posKey{a, b}) {
		t.Fatalf("after a read that found only %v: absent %v", a, k.absent)
	}
	k.remember(map[posKey]domain.Position{b: {OnHand: 1}})
	if k.anyAbsent([]posKey{a, b}) {
		t.Fatalf("a committed batch showed %v, yet it is still absent", b)
	}
	if _, ok := k.lookup([]posKey{b}); !ok {
		t.Fatalf("%v is not known after the batch that showed it", b)
	}
}
