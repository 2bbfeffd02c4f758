package benchdata

import (
	"context"
	"fmt"
	"strings"
	"time"

	"stockline/store"
)

// OrdersDataset is what LoadOrdersDataset built.
type OrdersDataset struct {
	Orders    int   `db:"orders"` // orders in the table
	Open      int   `db:"open"`   // of them still open (allocated, with committed reservations)
	MinID     int64 `db:"minid"`  // the bench orders' id range
	MaxID     int64 `db:"maxid"`
	Lines     int   `db:"lines"`
	Events    int   `db:"events"`
	OpenAtS01 int   `db:"opens01"` // open pickup orders whose pickup store is S01
}

// LoadOrders adds n orders to a seeded demo database, set-based
// in SQL (the orders section of cmd/stockbench): two thirds bopis at the pickup stores, one third
// shipped from DC1; the newest one in 200 still open, as in a real shop
// where the old orders are done (allocated, held by a committed
// reservation per order, with the positions' reserved bucket and ledger
// rows to match, so the consistency check still passes), one in 50
// cancelled, the rest completed; one or two lines each; a created and a
// status event per order on the timeline; customers' emails and phones
// repeat across orders as real customers' do.
func LoadOrders(ctx context.Context, db *store.DB, n int, progress func(step string, took time.Duration)) (OrdersDataset, error) {
	var ds OrdersDataset
	steps := []struct{ what, sql string }{
		{"orders", `
			WITH st AS (SELECT array_agg(id ORDER BY code) AS a, count(*)::int AS n FROM locations WHERE pickup AND kind = 'store'),
			base AS (SELECT COALESCE(max(id), 0) AS off FROM orders),
			g AS (
				SELECT g, CASE WHEN g % 3 = 0 THEN 'ecommerce_ship' ELSE 'bopis' END AS ch,
					CASE WHEN g > $1::int - $1::int / 200 THEN 'allocated' WHEN g % 50 = 0 THEN 'cancelled' ELSE 'completed' END AS status,
					CASE WHEN g > $1::int - $1::int / 200 THEN now() - (($1::int - g) % 300) * interval '1 minute'
						ELSE now() - interval '6 hours' - ($1::int - g) * interval '30 seconds' END AS placed
				FROM generate_series(1, $1::int) AS g
			)
			INSERT INTO orders (number, channel, fulfilment, source, external_ref, status, customer_name, customer_email, customer_phone,
				payment_status, pickup_location_id, promised_at, pickup_until, placed_at, created_at, updated_at, ready_at, closed_at)
			SELECT 'SL-' || (900000000 + base.off + g.g), g.ch, CASE WHEN g.ch = 'bopis' THEN 'pickup' ELSE 'ship' END, 'bench',
				'bench-' || (base.off + g.g), g.status, 'Customer ' || (g.g % 250000), 'customer' || (g.g % 250000) || '@example.com',
				'+1555' || lpad((g.g % 250000)::text, 7, '0'), 'captured',
				CASE WHEN g.ch = 'bopis' THEN st.a[1 + (g.g / 3) % st.n] END,
				g.placed + CASE WHEN g.ch = 'bopis' THEN interval '2 hours' ELSE interval '24 hours' END,
				CASE WHEN g.ch = 'bopis' THEN g.placed + interval '74 hours' END,
				g.placed, g.placed, g.placed, NULL,
				CASE WHEN g.status <> 'allocated' THEN g.placed + interval '1 hour' END
			FROM g, st, base`},
		{"reservations for open orders", `
			INSERT INTO reservations (id, channel, status, checkout_ref, order_ref, expires_at, created_at, created_by, committed_at)
			SELECT nextval('reservations_id_seq'), channel, 'committed', number, number, now() + interval '3 days', placed_at, 'token:bench', placed_at
			FROM orders WHERE source = 'bench' AND status = 'allocated'
				AND id > @off`},
		{"order lines", `
			WITH pr AS (SELECT array_agg(id ORDER BY sku) AS a, count(*)::int AS n FROM products),
			dc AS (SELECT id FROM locations WHERE kind = 'dc' ORDER BY code LIMIT 1)
			INSERT INTO order_lines (order_id, line_no, product_id, location_id, reservation_id, reservation_line_no, qty,
				reserved, shipped, picked_up, cancelled)
			SELECT o.id, k, pr.a[1 + ((o.id * 7 + k * 131) % pr.n)], COALESCE(o.pickup_location_id, dc.id), r.id, CASE WHEN r.id IS NOT NULL THEN k END, 1,
				CASE WHEN o.status = 'allocated' THEN 1 ELSE 0 END,
				CASE WHEN o.status = 'completed' AND o.fulfilment = 'ship' THEN 1 ELSE 0 END,
				CASE WHEN o.status = 'completed' AND o.fulfilment = 'pickup' THEN 1 ELSE 0 END,
				CASE WHEN o.status = 'cancelled' THEN 1 ELSE 0 END
			FROM orders o CROSS JOIN pr CROSS JOIN dc
			CROSS JOIN LATERAL generate_series(1, 1 + (o.id % 2)::int) AS k
			LEFT JOIN reservations r ON r.order_ref = o.number AND o.status = 'allocated'
			WHERE o.source = 'bench' AND o.id > @off`},
		{"reservation lines", `
			WITH ol AS (
				SELECT * FROM order_lines ol WHERE ol.reserved > 0 AND ol.reservation_id IS NOT NULL AND ol.order_id > @off
			), pos AS (
				-- A reservation line references its position: create any missing one first.
				INSERT INTO positions (location_id, product_id) SELECT DISTINCT location_id, product_id FROM ol ON CONFLICT DO NOTHING
			)
			INSERT INTO reservation_lines (reservation_id, line_no, location_id, product_id, qty)
			SELECT ol.reservation_id, ol.reservation_line_no, ol.location_id, ol.product_id, ol.reserved FROM ol`},
		{"stock for the open orders", `
			WITH agg AS (
				SELECT rl.location_id, rl.product_id, sum(rl.qty)::int AS qty FROM reservation_lines rl
				JOIN reservations r ON r.id = rl.reservation_id JOIN orders o ON o.number = r.order_ref
				WHERE r.created_by = 'token:bench' AND o.id > @off
				GROUP BY rl.location_id, rl.product_id
			), pos AS (
				INSERT INTO positions (location_id, product_id) SELECT location_id, product_id FROM agg ON CONFLICT DO NOTHING
			), recv AS (
				INSERT INTO ledger (location_id, product_id, bucket, delta, reason, source, source_ref, actor, note, occurred_at)
				SELECT location_id, product_id, 'on_hand', qty, 'received', 'bench', 'bench-stock', 'system:bench', 'stock for open bench orders', now() FROM agg
			), held AS (
				INSERT INTO ledger (location_id, product_id, bucket, delta, reason, source, source_ref, actor, note, occurred_at)
				SELECT rl.location_id, rl.product_id, 'reserved', rl.qty, 'reservation', 'api', 'reservation:' || rl.reservation_id, 'token:bench', '', r.created_at
				FROM reservation_lines rl JOIN reservations r ON r.id = rl.reservation_id JOIN orders o ON o.number = r.order_ref
				WHERE r.created_by = 'token:bench' AND o.id > @off
			)
			UPDATE positions p SET on_hand = p.on_hand + agg.qty, reserved = p.reserved + agg.qty
			FROM agg WHERE p.location_id = agg.location_id AND p.product_id = agg.product_id`},
		{"timeline events", `
			INSERT INTO order_events (order_id, at, kind, actor, source, message)
			SELECT o.id, o.placed_at, 'created', 'token:bench', 'api', 'Order ' || o.number || ' placed via api (external ref ' || o.external_ref || ').'
			FROM orders o WHERE o.source = 'bench' AND o.id > @off
			UNION ALL
			SELECT o.id, o.placed_at, 'status', 'token:bench', 'api', 'Status: placed → allocated.'
			FROM orders o WHERE o.source = 'bench' AND o.id > @off`},
		{"statistics", `ANALYZE orders; ANALYZE order_lines; ANALYZE order_events; ANALYZE reservations; ANALYZE reservation_lines; ANALYZE positions; ANALYZE ledger`},
	}
	var off int64
	if err := db.GetContext(ctx, &off, `SELECT COALESCE(max(id), 0) FROM orders`); err != nil {
		return ds, err
	}
	for _, s := range steps {
		var args []any
		q := s.sql
		switch {
		case strings.Contains(q, "@off"):
			q, args = strings.ReplaceAll(q, "@off", "$1"), []any{off}
		case strings.Contains(q, "$1"):
			args = []any{n}
		}
		t := time.Now()
		if _, err := db.ExecContext(ctx, q, args...); err != nil {
			return ds, fmt.Errorf("benchdata: orders %s: %w", s.what, err)
		}
		if progress != nil {
			progress(s.what, time.Since(t))
		}
	}
	err := db.GetContext(ctx, &ds, `SELECT
			(SELECT count(*) FROM orders) AS orders,
			(SELECT count(*) FROM orders WHERE source = 'bench' AND status = 'allocated') AS open,
			(SELECT COALESCE(min(id), 0) FROM orders WHERE source = 'bench') AS minid,
			(SELECT COALESCE(max(id), 0) FROM orders WHERE source = 'bench') AS maxid,
			(SELECT count(*) FROM order_lines) AS lines,
			(SELECT count(*) FROM order_events) AS events,
			(SELECT count(*) FROM orders o JOIN locations l ON l.id = o.pickup_location_id
				WHERE l.code = 'S01' AND o.status NOT IN ('completed', 'cancelled')) AS opens01`)
	return ds, err
}
