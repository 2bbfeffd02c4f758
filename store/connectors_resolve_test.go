package store_test

import (
	"context"
	"testing"
	"time"

	"stockline/domain"
	"stockline/store"
)

// Ingest keeps the references it resolved; a change to the connector's
// mappings, whoever writes it, takes effect on the next batch.
func TestIngestSeesMappingChangesAtOnce(t *testing.T) {
	ctx := context.Background()
	w := newFeedWorld(t, 2, 2)
	ingest := func(ev store.InboundEvent) store.IngestResult {
		t.Helper()
		res, err := w.db.Ingest(ctx, w.conn, []store.InboundEvent{ev}, "")
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	steps := []struct {
		name   string
		change func() error // before the event
		ev     store.InboundEvent
		item   int // where the units must land (0: dead-lettered)
		loc    int
		onHand int
	}{
		{"first batch resolves I1 and L1", nil, receive("r1", 1, 1, 5, t0), 1, 1, 5},
		{"same references again", nil, receive("r2", 1, 1, 1, t0.Add(time.Minute)), 1, 1, 6},
		{"I1 remapped through the connector page", func() error {
			return w.db.SetMappings(ctx, domain.SystemActor("test"), w.conn.ID, []store.Mapping{{Kind: "item", ExternalID: "I1", Code: w.skus[1]}})
		}, receive("r3", 1, 1, 3, t0.Add(2*time.Minute)), 2, 1, 3},
		{"L1 remapped by another writer", func() error {
			_, err := w.db.ExecContext(ctx, `UPDATE connector_mappings SET location_id = (SELECT id FROM locations WHERE code = $1)
				WHERE connector_id = $2 AND kind = 'location' AND external_id = 'L1'`, w.locs[1], w.conn.ID)
			return err
		}, receive("r4", 1, 1, 2, t0.Add(3*time.Minute)), 2, 2, 2},
		{"I1 unmapped", func() error {
			_, err := w.db.ExecContext(ctx, `DELETE FROM connector_mappings WHERE connector_id = $1 AND kind = 'item' AND external_id = 'I1'`, w.conn.ID)
			return err
		}, receive("r5", 1, 1, 7, t0.Add(4*time.Minute)), 0, 0, 0},
	}
	for _, s := range steps {
		if s.change != nil {
			if err := s.change(); err != nil {
				t.Fatalf("%s: %v", s.name, err)
			}
		}
		res := ingest(s.ev)
		if s.item == 0 {
			if res.DeadLettered != 1 {
				t.Fatalf("%s: %+v, want the event dead-lettered", s.name, res)
			}
			continue
		}
		if res.Applied != 1 {
			t.Fatalf("%s: %+v", s.name, res)
		}
		if got := w.pos(t, s.item, s.loc).OnHand; got != s.onHand {
			t.Fatalf("%s: on hand at %s@%s = %d, want %d", s.name, w.skus[s.item-1], w.locs[s.loc-1], got, s.onHand)
		}
	}
	want := map[string]int{w.skus[0] + "@" + w.locs[0]: 6, w.skus[1] + "@" + w.locs[0]: 3, w.skus[1] + "@" + w.locs[1]: 2}
	for k, p := range w.positions(t) {
		if p.OnHand != want[k] {
			t.Fatalf("position %s on hand %d, want %d", k, p.OnHand, want[k])
		}
	}
	requireCheckOK(t, w.db)
}
