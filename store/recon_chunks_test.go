package store

import (
	"slices"
	"testing"
)

// A run's chunks: as many as the estimate of positions asks for (about
// reconChunkPositions each, at least 1, at most reconMaxChunks and the
// mapped locations), ranges of mapped locations in id order that cover
// each once, dense only when no unmapped location lies inside.
func TestChunkLocations(t *testing.T) {
	locs := func(mapped ...bool) []reconLocation {
		out := make([]reconLocation, len(mapped))
		for i, m := range mapped {
			out[i] = reconLocation{ID: int64(10 + i), Mapped: m}
		}
		return out
	}
	all := func(n int) []bool { return slices.Repeat([]bool{true}, n) }
	cases := []struct {
		name      string
		locs      []reconLocation
		positions float64
		want      []reconChunk
	}{
		{"none mapped", locs(false, false), 1e6, []reconChunk{}},
		{"small run, one chunk", locs(all(5)...), 1000, []reconChunk{{10, 14, true}}},
		{"no estimate yet", locs(all(3)...), 0, []reconChunk{{10, 12, true}}},
		{"1M positions over 8 locations", locs(all(8)...), 1e6, []reconChunk{{10, 11, true}, {12, 13, true}, {14, 15, true}, {16, 17, true}}},
		{"capped by the locations", locs(all(3)...), 1e7, []reconChunk{{10, 10, true}, {11, 11, true}, {12, 12, true}}},
		{"capped at the most chunks", locs(all(20)...), 1e8, nil},
		{"unmapped inside and at the ends", locs(false, true, false, true, true, false), 1e6,
			[]reconChunk{{11, 11, true}, {13, 13, true}, {14, 14, true}}},
		{"unmapped inside a chunk", locs(true, false, true, true), 1, []reconChunk{{10, 13, false}}},
	}
	for _, c := range cases {
		got := chunkLocations(c.locs, c.positions)
		if c.want == nil {
			if len(got) != reconMaxChunks {
				t.Errorf("%s: %d chunks, want %d", c.name, len(got), reconMaxChunks)
			}
			continue
		}
		if !slices.Equal(got, c.want) {
			t.Errorf("%s: %+v, want %+v", c.name, got, c.want)
		}
	}
}
