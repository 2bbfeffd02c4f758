package store

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/lib/pq"

	"stockline/domain"
)

// timelineEntry is an entry with its tie-break within one instant: the
// record it came from.
type timelineEntry struct {
	domain.TimelineEntry
	order int
}

// OrderTimeline merges everything that happened to an order into one list,
// oldest first:
//   - the order's own events (creation, status transitions, picks, rejects,
//     reallocations, shipments, pickups, cancellations, notes, exceptions
//     raised, notifications queued and delivered, connector deliveries);
//   - its reservations' holds, commits, splits and closes (reservations
//     whose order_ref is the order number);
//   - the ledger movements of those reservations and of the order itself
//     (source_ref "reservation:<id>" or the order number).
//
// Each source is read through an index on the order (order_events_order,
// reservations_order_ref, ledger_source_ref), so the page costs the same
// with a million orders as with ten.
func (db *DB) OrderTimeline(ctx context.Context, o domain.Order) ([]domain.TimelineEntry, error) {
	var out []timelineEntry
	var evs []struct {
		ID      int64     `db:"id"`
		At      time.Time `db:"at"`
		Kind    string    `db:"kind"`
		Actor   string    `db:"actor"`
		Source  string    `db:"source"`
		Message string    `db:"message"`
		Link    string    `db:"link"`
	}
	if err := db.SelectContext(ctx, &evs, `SELECT id, at, kind, actor, source, message, link FROM order_events WHERE order_id = $1 ORDER BY id`, o.ID); err != nil {
		return nil, fmt.Errorf("store: order events: %w", err)
	}
	for i, e := range evs {
		out = append(out, timelineEntry{domain.TimelineEntry{At: e.At, Kind: e.Kind, Actor: e.Actor, Source: e.Source, Message: e.Message, Link: e.Link}, 10 * i})
	}

	var res []struct {
		ID          int64      `db:"id"`
		Status      string     `db:"status"`
		CreatedAt   time.Time  `db:"created_at"`
		CreatedBy   string     `db:"created_by"`
		CommittedAt *time.Time `db:"committed_at"`
		ClosedAt    *time.Time `db:"closed_at"`
		Reason      string     `db:"release_reason"`
		Lines       string     `db:"lines"`
	}
	if err := db.SelectContext(ctx, &res, `SELECT r.id, r.status, r.created_at, r.created_by, r.committed_at, r.closed_at, r.release_reason,
			COALESCE((SELECT string_agg(rl.qty || ' × ' || p.sku || ' at ' || l.code, ', ' ORDER BY rl.line_no)
				FROM reservation_lines rl JOIN products p ON p.id = rl.product_id JOIN locations l ON l.id = rl.location_id
				WHERE rl.reservation_id = r.id), '') AS lines
		FROM reservations r WHERE r.order_ref = $1 ORDER BY r.id`, o.Number); err != nil {
		return nil, fmt.Errorf("store: order reservations: %w", err)
	}
	refs := []string{o.Number}
	for _, r := range res {
		link := reservationLink(o.Number, r.ID)
		refs = append(refs, fmt.Sprintf("reservation:%d", r.ID))
		out = append(out, timelineEntry{domain.TimelineEntry{At: r.CreatedAt, Kind: "reservation", Actor: r.CreatedBy, Source: "reservations",
			Message: fmt.Sprintf("Reservation %d held %s.", r.ID, r.Lines), Link: link}, 1})
		if r.CommittedAt != nil && !r.CommittedAt.Equal(r.CreatedAt) {
			out = append(out, timelineEntry{domain.TimelineEntry{At: *r.CommittedAt, Kind: "reservation", Actor: r.CreatedBy, Source: "reservations",
				Message: fmt.Sprintf("Reservation %d committed to %s.", r.ID, o.Number), Link: link}, 2})
		}
		if r.ClosedAt != nil {
			msg := fmt.Sprintf("Reservation %d %s (%s).", r.ID, r.Status, r.Lines)
			if r.Reason != "" {
				msg = fmt.Sprintf("Reservation %d %s (%s): %s.", r.ID, r.Status, r.Lines, r.Reason)
			}
			out = append(out, timelineEntry{domain.TimelineEntry{At: *r.ClosedAt, Kind: "reservation", Actor: "", Source: "reservations", Message: msg, Link: link}, 3})
		}
	}

	var led []domain.LedgerEntry
	if err := db.SelectContext(ctx, &led, `SELECT g.id, p.sku, l.code AS location, g.bucket, g.delta, g.reason, g.source, g.source_ref,
			g.actor, g.note, g.occurred_at, g.recorded_at
		FROM ledger g JOIN products p ON p.id = g.product_id JOIN locations l ON l.id = g.location_id
		WHERE (g.source_ref LIKE 'SL-%' OR g.source_ref LIKE 'reservation:%') AND g.source_ref = ANY($1)
		ORDER BY g.id LIMIT 500`, pq.Array(refs)); err != nil {
		return nil, fmt.Errorf("store: order ledger: %w", err)
	}
	for _, g := range led {
		out = append(out, timelineEntry{domain.TimelineEntry{At: g.OccurredAt, Kind: "ledger", Actor: g.Actor, Source: g.Source,
			Message: fmt.Sprintf("Ledger: %s %+d at %s for %s (%s, %s).", g.Bucket, g.Delta, g.Location, g.SKU, g.Reason, g.SourceRef),
			Link:    fmt.Sprintf("/inventory/%s?location=%s", g.SKU, g.Location)}, 4})
	}
	// Connector deliveries are order events of kind "connector", written by
	// the order sink with the feed's source event id and how it arrived.
	sort.SliceStable(out, func(i, j int) bool {
		if !out[i].At.Equal(out[j].At) {
			return out[i].At.Before(out[j].At)
		}
		return out[i].order < out[j].order
	})
	entries := make([]domain.TimelineEntry, len(out))
	for i, e := range out {
		entries[i] = e.TimelineEntry
	}
	return entries, nil
}
