package store

import (
	"cmp"
	"context"
	"database/sql"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/lib/pq"

	"stockline/domain"
)

// Order and OrderLine are the domain's; the names stay here so the write
// paths read as before.
type (
	Order     = domain.Order
	OrderLine = domain.OrderLine
	StoreATP  = domain.StoreATP
)

// orderRow is an orders row as scanned: the nullable columns shadow the
// domain fields and become plain values in order().
type orderRow struct {
	domain.Order
	PickupLocationID   sql.NullInt64  `db:"pickup_location_id"`
	PickupLocation     sql.NullString `db:"pickup_location"`
	PickupLocationName sql.NullString `db:"pickup_location_name"`
	PickupTimezone     sql.NullString `db:"pickup_timezone"`
	PromisedAt         sql.NullTime   `db:"promised_at"`
	PickupUntil        sql.NullTime   `db:"pickup_until"`
	ReadyAt            sql.NullTime   `db:"ready_at"`
	ClosedAt           sql.NullTime   `db:"closed_at"`
}

func (r orderRow) order() domain.Order {
	o := r.Order
	o.PickupLocationID, o.PickupLocation, o.PickupLocationName, o.PickupTimezone =
		r.PickupLocationID.Int64, r.PickupLocation.String, r.PickupLocationName.String, r.PickupTimezone.String
	o.PromisedAt, o.PickupUntil, o.ReadyAt, o.ClosedAt = r.PromisedAt.Time, r.PickupUntil.Time, r.ReadyAt.Time, r.ClosedAt.Time
	return o
}

// orderLineRow is an order_lines row as scanned.
type orderLineRow struct {
	domain.OrderLine
	LocationID        sql.NullInt64  `db:"location_id"`
	Location          sql.NullString `db:"location"`
	ReservationID     sql.NullInt64  `db:"reservation_id"`
	ReservationLineNo sql.NullInt64  `db:"reservation_line_no"`
	MovedFrom         sql.NullInt64  `db:"moved_from"`
	RejectedAt        pq.StringArray `db:"rejected_at"`
	RejectedIDs       pq.Int64Array  `db:"rejected_location_ids"`
}

func (r orderLineRow) line() domain.OrderLine {
	l := r.OrderLine
	l.LocationID, l.Location = r.LocationID.Int64, r.Location.String
	l.ReservationID, l.ReservationLineNo, l.MovedFrom = r.ReservationID.Int64, int(r.ReservationLineNo.Int64), r.MovedFrom.Int64
	l.RejectedAt, l.RejectedIDs = []string(r.RejectedAt), []int64(r.RejectedIDs)
	return l
}

const orderSelect = `SELECT o.id, o.number, o.channel, o.fulfilment, o.source, o.external_ref, o.status, o.hold_reason,
	o.customer_name, o.customer_email, o.customer_phone, o.payment_status, o.pickup_location_id,
	pl.code AS pickup_location, pl.name AS pickup_location_name, pl.timezone AS pickup_timezone,
	o.promised_at, o.pickup_until, o.placed_at, o.created_at, o.updated_at, o.ready_at, o.closed_at
	FROM orders o LEFT JOIN locations pl ON pl.id = o.pickup_location_id`

const orderLineSelect = `SELECT ol.id, ol.order_id, ol.line_no, ol.product_id, p.sku, p.name AS product_name, p.barcode,
	ol.location_id, l.code AS location, ol.reservation_id, ol.reservation_line_no, ol.moved_from,
	ARRAY(SELECT rl.code FROM locations rl WHERE rl.id = ANY(ol.rejected_location_ids) ORDER BY rl.code) AS rejected_at, ol.rejected_location_ids,
	ol.reject_reason, ol.qty, ol.pending, ol.reserved, ol.picked, ol.shipped, ol.picked_up, ol.cancelled, ol.returned, ol.moved
	FROM order_lines ol JOIN products p ON p.id = ol.product_id LEFT JOIN locations l ON l.id = ol.location_id`

// queryer is what both *DB and *Tx offer for reads.
type queryer interface {
	GetContext(ctx context.Context, dest any, query string, args ...any) error
	SelectContext(ctx context.Context, dest any, query string, args ...any) error
}

func loadOrder(ctx context.Context, q queryer, where string, arg any, lock bool) (Order, error) {
	var r orderRow
	query := orderSelect + ` WHERE ` + where
	if lock {
		query += ` FOR UPDATE OF o`
	}
	if err := q.GetContext(ctx, &r, query, arg); err != nil {
		return Order{}, notFound(err, "There is no order %v.", arg)
	}
	o := r.order()
	var lines []orderLineRow
	if err := q.SelectContext(ctx, &lines, orderLineSelect+` WHERE ol.order_id = $1 ORDER BY ol.line_no`, o.ID); err != nil {
		return o, fmt.Errorf("store: order lines: %w", err)
	}
	for _, l := range lines {
		o.Lines = append(o.Lines, l.line())
	}
	return o, nil
}

// OrderByID returns one order with its lines, or ENOTFOUND.
func (db *DB) OrderByID(ctx context.Context, id int64) (Order, error) {
	return loadOrder(ctx, db, `o.id = $1`, id, false)
}

// OrderByNumber returns one order by its number (SL-100001), or ENOTFOUND.
func (db *DB) OrderByNumber(ctx context.Context, number string) (Order, error) {
	if !storable(number) { // cannot match, and PostgreSQL would refuse it as text
		return Order{}, domain.Errorf(domain.ENOTFOUND, "There is no order %v.", number)
	}
	return loadOrder(ctx, db, `o.number = $1`, NormalizeOrderNumber(number), false)
}

var orderNumberRe = regexp.MustCompile(`^(?i:SL)?-?\s*(\d{6,12})$`)

// NormalizeOrderNumber turns "sl-100001", "SL100001" or "100001" into
// "SL-100001"; anything else comes back unchanged.
func NormalizeOrderNumber(s string) string {
	s = strings.TrimSpace(s)
	if m := orderNumberRe.FindStringSubmatch(s); m != nil {
		return "SL-" + m[1]
	}
	return s
}

// orderSummaryRow is a search hit as scanned.
type orderSummaryRow struct {
	domain.OrderSummary
	PickupLocation sql.NullString `db:"pickup_location"`
}

// OrderQuery filters SearchOrders. Q is what a person types: an order
// number, an email, a phone number, a SKU or an external reference; the
// other fields narrow by one attribute each and combine with AND.
type OrderQuery struct {
	Q           string
	Number      string
	ExternalRef string
	Email       string
	Phone       string
	SKU         string
	Problems    bool  // only orders on hold
	BeforeID    int64 // page backwards from this id
	Limit       int   // 1..200, default 50
}

// SearchOrders finds orders newest first and returns the BeforeID of the
// next page (0 when this is the last). Every filter goes through an index,
// so a search over a million orders answers in milliseconds.
func (db *DB) SearchOrders(ctx context.Context, q OrderQuery) ([]domain.OrderSummary, int64, error) {
	if q.Limit <= 0 || q.Limit > 200 {
		q.Limit = 50
	}
	var sets []string // each yields candidate order ids through one index
	var conds []string
	args := []any{}
	arg := func(v any) string { args = append(args, v); return "$" + strconv.Itoa(len(args)) }
	if s := strings.TrimSpace(q.Q); s != "" {
		num := NormalizeOrderNumber(s)
		// Each set repeats its partial index's predicate, so the planner
		// uses the index whatever the parameter's value.
		sets = append(sets, `SELECT id FROM orders WHERE number = `+arg(num))
		if strings.Contains(s, "@") {
			sets = append(sets, `SELECT id FROM orders WHERE customer_email = `+arg(strings.ToLower(s))+` AND customer_email <> ''`)
		}
		if p := domain.NormalizePhone(s); len(p) >= 7 && len(p) >= len(strings.ReplaceAll(s, " ", ""))-6 {
			sets = append(sets, `SELECT id FROM orders WHERE customer_phone = `+arg(p)+` AND customer_phone <> ''`)
		}
		sets = append(sets, `SELECT id FROM orders WHERE external_ref = `+arg(s)+` AND external_ref <> ''`)
		sets = append(sets, `SELECT ol.order_id FROM order_lines ol WHERE ol.product_id IN (SELECT id FROM products WHERE sku = `+arg(strings.ToUpper(s))+
			` UNION SELECT id FROM products WHERE barcode = `+arg(s)+`)`)
	}
	if q.Number != "" {
		conds = append(conds, `o.number = `+arg(NormalizeOrderNumber(q.Number)))
	}
	if q.ExternalRef != "" {
		conds = append(conds, `o.external_ref = `+arg(strings.TrimSpace(q.ExternalRef))+` AND o.external_ref <> ''`)
	}
	if q.Email != "" {
		conds = append(conds, `o.customer_email = `+arg(strings.ToLower(strings.TrimSpace(q.Email)))+` AND o.customer_email <> ''`)
	}
	if q.Phone != "" {
		conds = append(conds, `o.customer_phone = `+arg(domain.NormalizePhone(q.Phone))+` AND o.customer_phone <> ''`)
	}
	if q.SKU != "" {
		conds = append(conds, `EXISTS (SELECT 1 FROM order_lines ol JOIN products p ON p.id = ol.product_id WHERE ol.order_id = o.id AND p.sku = `+
			arg(strings.TrimSpace(q.SKU))+`)`)
	}
	if q.Problems {
		conds = append(conds, `o.status = 'on_hold'`)
	}
	if q.BeforeID > 0 {
		conds = append(conds, `o.id < `+arg(q.BeforeID))
	}
	from := `orders o`
	if len(sets) > 0 {
		// The hits become an array first, so the orders are read by primary
		// key; a join lets the planner walk the whole table in id order.
		conds = append(conds, `o.id = ANY(ARRAY(`+strings.Join(sets, ` UNION `)+`))`)
	}
	where := "TRUE"
	if len(conds) > 0 {
		where = strings.Join(conds, " AND ")
	}
	query := `SELECT o.id, o.number, o.external_ref, o.channel, o.status, o.customer_name, o.customer_email,
			pl.code AS pickup_location, o.placed_at, o.hold_reason,
			(SELECT COALESCE(sum(qty - moved), 0) FROM order_lines x WHERE x.order_id = o.id) AS units
		FROM ` + from + ` LEFT JOIN locations pl ON pl.id = o.pickup_location_id
		WHERE ` + where + ` ORDER BY o.id DESC LIMIT ` + arg(q.Limit+1)
	var rows []orderSummaryRow
	if err := db.SelectContext(ctx, &rows, query, args...); err != nil {
		return nil, 0, fmt.Errorf("store: search orders: %w", err)
	}
	var out []domain.OrderSummary
	for _, r := range rows {
		o := r.OrderSummary
		o.PickupLocation = r.PickupLocation.String
		out = append(out, o)
	}
	var next int64
	if len(out) > q.Limit {
		out = out[:q.Limit]
		next = out[len(out)-1].ID
	}
	return out, next, nil
}

// pickupRow is a queue row as scanned.
type pickupRow struct {
	domain.PickupRow
	PickupLocation sql.NullString `db:"pickup_location"`
	PickupTZ       sql.NullString `db:"pickup_timezone"`
	PromisedAt     sql.NullTime   `db:"promised_at"`
	PickupUntil    sql.NullTime   `db:"pickup_until"`
}

func (r pickupRow) row() domain.PickupRow {
	p := r.PickupRow
	p.PickupLocation, p.PickupTZ, p.PromisedAt, p.PickupUntil = r.PickupLocation.String, r.PickupTZ.String, r.PromisedAt.Time, r.PickupUntil.Time
	return p
}

// queueCand is a candidate order with what its tabs are decided by.
type queueCand struct {
	ID          int64        `db:"id"`
	Status      string       `db:"status"`
	Fulfilment  string       `db:"fulfilment"`
	PromisedAt  sql.NullTime `db:"promised_at"`
	PickupUntil sql.NullTime `db:"pickup_until"`
	AtMine      bool         `db:"at_mine"` // its pickup store is in scope
	HoldReason  string       `db:"hold_reason"`
	ToPick      int          `db:"to_pick"` // reserved units at the stores in scope
	Picked      int          `db:"picked"`  // picked units at the stores in scope
}

func (c queueCand) facts() domain.QueueFacts {
	return domain.QueueFacts{Status: c.Status, Fulfilment: c.Fulfilment, PromisedAt: c.PromisedAt.Time, PickupUntil: c.PickupUntil.Time,
		AtMine: c.AtMine, OnHold: c.HoldReason != "", ToPick: c.ToPick, Picked: c.Picked}
}

// The queue's candidates: open pickup orders whose pickup store is in
// scope, and open orders with units held at a store in scope. Both come
// through partial indexes that hold only open work, and the orders are
// then read by primary key, so the queue costs the same with a million
// closed orders behind it as with none.
const queueCandidates = `
	WITH held AS (
		SELECT order_id, sum(reserved)::int AS to_pick, sum(picked)::int AS picked FROM order_lines
		WHERE location_id = ANY($1) AND reserved + picked > 0 GROUP BY order_id
	), cand AS (
		SELECT id FROM orders WHERE pickup_location_id = ANY($1) AND fulfilment = 'pickup' AND status NOT IN ('completed', 'cancelled')
		UNION
		SELECT order_id FROM held
	)
	SELECT o.id, o.status, o.fulfilment, o.promised_at, o.pickup_until, COALESCE(o.pickup_location_id = ANY($1), false) AS at_mine,
		o.hold_reason, COALESCE(h.to_pick, 0) AS to_pick, COALESCE(h.picked, 0) AS picked
	FROM orders o LEFT JOIN held h ON h.order_id = o.id
	WHERE o.id = ANY(ARRAY(SELECT id FROM cand)) AND o.status NOT IN ('completed', 'cancelled')`

// queueDetails reads what the queue shows of the page's orders.
const queueDetails = `
	SELECT o.id, o.number, o.status, o.channel, o.customer_name, pl.code AS pickup_location, pl.timezone AS pickup_timezone,
		o.promised_at, o.pickup_until, o.placed_at, o.hold_reason, q.units, 0 AS to_pick, 0 AS picked, q.lines
	FROM orders o LEFT JOIN locations pl ON pl.id = o.pickup_location_id
	CROSS JOIN LATERAL (
		SELECT COALESCE(sum(x.pending + x.reserved + x.picked), 0) AS units,
			COALESCE(string_agg((x.pending + x.reserved + x.picked) || ' × ' || p.sku, ', ' ORDER BY x.line_no)
				FILTER (WHERE x.pending + x.reserved + x.picked > 0), '') AS lines
		FROM order_lines x JOIN products p ON p.id = x.product_id WHERE x.order_id = o.id
	) q
	WHERE o.id = ANY($1)`

// PickupQueue returns one tab of the queue for the given location ids
// (domain.QueueFacts.Tabs decides which), the most urgent first (at most
// limit rows), and the counts of every tab.
func (db *DB) PickupQueue(ctx context.Context, locationIDs []int64, tab string, now time.Time, limit int) ([]domain.PickupRow, domain.QueueCounts, error) {
	var counts domain.QueueCounts
	if limit <= 0 || limit > 200 {
		limit = 100
	}
	if tab == "" {
		tab = domain.TabToPick
	}
	var cands []queueCand
	if err := db.SelectContext(ctx, &cands, queueCandidates, pq.Array(locationIDs)); err != nil {
		return nil, counts, fmt.Errorf("store: queue: %w", err)
	}
	type candFacts struct {
		queueCand
		f domain.QueueFacts
	}
	var page []candFacts
	for _, c := range cands {
		f := c.facts()
		tabs := f.Tabs(now)
		counts.Add(tabs)
		if tabs[tab] {
			page = append(page, candFacts{c, f})
		}
	}
	// Most urgent first: sort small keys, not the candidates themselves
	// (moving the large rows through sort's reflection was a fifth of the
	// queue's time at 5,000 open orders). Ids are unique, so the order is total.
	type queueKey struct {
		due    time.Time
		hasDue bool
		id     int64
		i      int
	}
	keys := make([]queueKey, len(page))
	for i, c := range page {
		d, ok := c.f.Due()
		keys[i] = queueKey{d, ok, c.ID, i}
	}
	slices.SortFunc(keys, func(a, b queueKey) int {
		if a.hasDue != b.hasDue {
			if a.hasDue {
				return -1
			}
			return 1
		}
		if c := a.due.Compare(b.due); c != 0 {
			return c
		}
		return cmp.Compare(a.id, b.id)
	})
	sorted := make([]candFacts, min(len(keys), limit))
	for i := range sorted {
		sorted[i] = page[keys[i].i]
	}
	page = sorted
	if len(page) == 0 {
		return nil, counts, nil
	}
	ids := make([]int64, len(page))
	for i, c := range page {
		ids[i] = c.ID
	}
	var details []pickupRow
	if err := db.SelectContext(ctx, &details, queueDetails, pq.Array(ids)); err != nil {
		return nil, counts, fmt.Errorf("store: queue details: %w", err)
	}
	byID := make(map[int64]domain.PickupRow, len(details))
	for _, d := range details {
		byID[d.ID] = d.row()
	}
	rows := make([]domain.PickupRow, 0, len(page))
	for _, c := range page {
		if r, ok := byID[c.ID]; ok {
			r.ToPickHere, r.PickedHere = c.ToPick, c.Picked
			rows = append(rows, r)
		}
	}
	return rows, counts, nil
}

// LocationIDs turns location codes into ids, skipping unknown codes.
func (db *DB) LocationIDs(ctx context.Context, codes []string) ([]int64, error) {
	var ids []int64
	if err := db.SelectContext(ctx, &ids, `SELECT id FROM locations WHERE code = ANY($1) ORDER BY code`, pq.Array(codes)); err != nil {
		return nil, fmt.Errorf("store: location ids: %w", err)
	}
	return ids, nil
}

// AlternativeStores lists the locations that could take qty units of the
// product for the channel, with their ATP, most first, leaving out the
// excluded location ids (the stores that already rejected the line). It
// uses the channel policy's eligibility and safety stock; at most limit
// rows come back, and a store short of qty still shows (so split is an
// option) when it has any ATP.
func (db *DB) AlternativeStores(ctx context.Context, channel domain.Channel, productID int64, exclude []int64, limit int) ([]StoreATP, error) {
	pol, err := db.CachedPolicy(ctx, channel)
	if err != nil {
		return nil, err
	}
	return alternativeStores(ctx, db, pol, productID, exclude, limit)
}

func alternativeStores(ctx context.Context, q queryer, pol domain.Policy, productID int64, exclude []int64, limit int) ([]StoreATP, error) {
	var stock []domain.LocationStock
	err := q.SelectContext(ctx, &stock, `SELECT l.id, l.code, l.name, l.kind, l.region, l.timezone, l.pickup, l.ship_from_store,
			COALESCE(p.on_hand, 0) AS on_hand, COALESCE(p.reserved, 0) AS reserved, COALESCE(p.damaged, 0) AS damaged,
			COALESCE(p.quality_hold, 0) AS quality_hold, COALESCE(p.transfer_out, 0) AS transfer_out,
			COALESCE(p.in_transit_in, 0) AS in_transit_in
		FROM locations l LEFT JOIN positions p ON p.location_id = l.id AND p.product_id = $1
		ORDER BY l.code`, productID)
	if err != nil {
		return nil, fmt.Errorf("store: alternative stores: %w", err)
	}
	var out []StoreATP
	for _, s := range stock {
		l := s.Location
		if containsID(exclude, l.ID) || !pol.Eligible(l) {
			continue
		}
		if n := domain.Reservable(pol, l, s.Position); n > 0 {
			out = append(out, StoreATP{LocationID: l.ID, Code: l.Code, Name: l.Name, ATP: n})
		}
	}
	sortStoreATP(out)
	if limit > 0 && len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}

func productBySKUIn(ctx context.Context, q queryer, sku string) (domain.Product, error) {
	var p domain.Product
	err := q.GetContext(ctx, &p, `SELECT `+productColumns+` FROM products WHERE sku = $1`, sku)
	if err != nil {
		return p, notFound(err, "SKU %q does not exist.", sku)
	}
	return p, nil
}

func locationByCodeIn(ctx context.Context, q queryer, code string) (domain.Location, error) {
	var l domain.Location
	if !storable(code) {
		return l, domain.Errorf(domain.ENOTFOUND, "Location %q does not exist.", code)
	}
	err := q.GetContext(ctx, &l, `SELECT id, code, name, kind, region, timezone, pickup, ship_from_store FROM locations WHERE code = $1`, code)
	if err != nil {
		return l, notFound(err, "Location %q does not exist.", code)
	}
	return l, nil
}

func listLocationsIn(ctx context.Context, q queryer) ([]domain.Location, error) {
	var out []domain.Location
	if err := q.SelectContext(ctx, &out, `SELECT id, code, name, kind, region, timezone, pickup, ship_from_store FROM locations ORDER BY code`); err != nil {
		return nil, fmt.Errorf("store: list locations: %w", err)
	}
	return out, nil
}

func sortStoreATP(s []StoreATP) {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && (s[j].ATP > s[j-1].ATP || s[j].ATP == s[j-1].ATP && s[j].Code < s[j-1].Code); j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
}

func containsID(ids []int64, id int64) bool {
	for _, x := range ids {
		if x == id {
			return true
		}
	}
	return false
}
