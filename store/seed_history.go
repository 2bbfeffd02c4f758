package store

// The demo retailer's 90 days of history, for `stockline seed --demo`:
// orders on every channel (picked, handed over, shipped, cancelled for
// mixed reasons, some BOPIS orders ready late and some never collected),
// cycle counts with some drift, a few transfers, and a few returns (mixed
// dispositions, quality holds released later, one still waiting). Everything goes
// through the real write paths with the store's clock set to each event's
// time, so the ledger, reservations and `stockline check` stay exactly as
// live use would leave them. The database's own now() stamps (ledger
// recorded_at, created_at columns, audit rows, outbox, events) are then
// moved to the event times in one seed-only step, backdateHistory.

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/lib/pq"

	"stockline/domain"
)

// HistoryOptions sizes the demo history.
type HistoryOptions struct {
	Days         int // days back from now
	OrdersPerDay int // on average
}

// DefaultHistory is what `stockline seed --demo` loads.
var DefaultHistory = HistoryOptions{Days: 90, OrdersPerDay: 10}

// HistoryResult counts what SeedHistory made.
type HistoryResult struct {
	Orders, Cancelled, Counts, Transfers, Returns int
	Took, Backdating                              time.Duration
}

// historyTables are the tables whose database-stamped times (now() at the
// write) backdateHistory moves to the simulated event's time: every
// timestamptz column of each, except the derived future times in
// historyDerived. A table added here is backdated with the rest.
var historyTables = []string{
	"ledger", "orders", "order_events", "fulfilments", "reservations", "exceptions", "audit_log", "outbox",
	"notifications", "transfers", "transfer_events", "idempotency_keys", "count_snapshots", "line_cancellations", "pick_rejections",
	"returns",
}

// historyDerived are columns that hold a time computed ahead of an event
// (a promise, a window's end, an expiry, a due time), never a write's now().
var historyDerived = []string{"promised_at", "pickup_until", "expires_at", "due_at", "needed_by"}

var historyFirst = []string{
	"Amara", "Liam", "Sofia", "Mateo", "Aisha", "Noah", "Mei", "Hiroshi", "Priya", "Arjun", "Fatima", "Omar", "Chloé", "Lucas",
	"Ingrid", "Lars", "Nkechi", "Kwame", "Yuki", "Sakura", "Ji-woo", "Min-jun", "Valentina", "Diego", "Olga", "Dmitri", "Siobhán",
	"Cormac", "Zainab", "Tariq", "Ana", "João", "Leilani", "Kai", "Maya", "Ethan", "Grace", "Wei", "Lin", "Emeka", "Zeynep", "Emre",
	"Aroha", "Tane", "Nadia", "Karim", "Elena", "Marco", "Hannah", "Jonas", "Ximena", "Santiago", "Thandiwe", "Sipho", "Anjali", "Rohan",
}

var historyLast = []string{
	"Okafor", "Nguyen", "García", "Kowalski", "Tanaka", "Patel", "Haddad", "Müller", "O'Brien", "Johansson", "Mensah", "Kim", "Rossi",
	"Silva", "Ivanova", "Dubois", "Cohen", "Yilmaz", "Chen", "Wang", "Singh", "Hernández", "Adeyemi", "Nakamura", "Park", "Lindqvist",
	"Murphy", "Schmidt", "Kaur", "Al-Sayed", "Ndlovu", "Fernández", "Kahale", "Walker", "Thompson", "Moreau", "Costa", "Novak", "Ramírez",
	"Ahmed", "Sato", "Jensen", "Ó Súilleabháin", "Te Rangi", "Mbeki", "Popescu", "Andersen", "Lopez", "Gupta", "Brown",
}

// historyCustomer draws a customer: a name from the mix above, an email
// made from it (ASCII, lower case) and a phone number to match the region.
func historyCustomer(rng *rand.Rand) domain.Customer {
	first, last := historyFirst[rng.IntN(len(historyFirst))], historyLast[rng.IntN(len(historyLast))]
	local := asciiName(first) + []string{".", "_", ""}[rng.IntN(3)] + asciiName(last)
	if rng.IntN(3) == 0 {
		local += fmt.Sprint(rng.IntN(90) + 10)
	}
	domains := []string{"example.com", "example.net", "example.org", "mail.example"}
	return domain.Customer{Name: first + " " + last, Email: local + "@" + domains[rng.IntN(len(domains))],
		Phone: fmt.Sprintf("+1%d555%04d", 200+rng.IntN(700), rng.IntN(10000))}
}

// withSessionSetting adds a run-time setting to a DSN (URL or key=value form).
func withSessionSetting(dsn, key, value string) string {
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		u, err := url.Parse(dsn)
		if err != nil {
			return dsn
		}
		q := u.Query()
		q.Set(key, value)
		u.RawQuery = q.Encode()
		return u.String()
	}
	return strings.TrimSpace(dsn + " " + key + "=" + value)
}

// asciiName folds a name to lower-case ASCII letters for an email address.
func asciiName(s string) string {
	fold := strings.NewReplacer("é", "e", "á", "a", "í", "i", "ó", "o", "ú", "u", "ü", "u", "ã", "a", "ç", "c", "Ó", "o", "Ú", "u")
	var b strings.Builder
	for _, r := range strings.ToLower(fold.Replace(s)) {
		if r >= 'a' && r <= 'z' {
			b.WriteRune(r)
		}
	}
	return b.String()
}

// historyEvent is one thing that happens at a time in the simulation.
type historyEvent struct {
	at  time.Time
	seq int // creation order, to keep ties stable
	run func(ctx context.Context) error
}

// historyRun is the simulation's state.
type historyRun struct {
	db     *DB
	rng    *rand.Rand
	now    time.Time // the simulation's now (real time when it started)
	events []historyEvent
	skus   []string
	stores []string // pickup stores
	clock  []time.Time
	sims   []time.Time
	res    HistoryResult
	actor  domain.Actor
	// returnSeq counts the planned returns (their dispositions in turn).
	returnSeq int
}

func (h *historyRun) at(t time.Time, fn func(ctx context.Context) error) {
	if t.After(h.now) {
		return // still to happen
	}
	h.events = append(h.events, historyEvent{at: t, seq: len(h.events), run: fn})
}

// SeedHistory loads the demo history on a freshly seeded demo retailer
// (SeedDemo). It is deterministic for the same options, apart from the
// times, which end at the moment it runs.
func (db *DB) SeedHistory(ctx context.Context, opt HistoryOptions) (HistoryResult, error) {
	start := time.Now()
	h := &historyRun{db: db, rng: rand.New(rand.NewPCG(2026, 90)), now: start.Truncate(time.Second), actor: domain.SystemActor("demo-history")}
	if err := db.SelectContext(ctx, &h.skus, `SELECT sku FROM products ORDER BY sku`); err != nil {
		return h.res, err
	}
	if err := db.SelectContext(ctx, &h.stores, `SELECT code FROM locations WHERE pickup ORDER BY code`); err != nil {
		return h.res, err
	}
	if len(h.skus) == 0 || len(h.stores) == 0 {
		return h.res, fmt.Errorf("store: seed history: seed the demo retailer first")
	}
	h.plan(opt)
	slices.SortStableFunc(h.events, func(a, b historyEvent) int {
		if c := a.at.Compare(b.at); c != 0 {
			return c
		}
		return a.seq - b.seq
	})
	// A handle of its own with synchronous_commit off (lib/pq sends DSN
	// keys it does not know as session settings): thousands of small
	// commits need not each wait for the disk, and a crash mid-seed loses
	// only demo data. Its clock is the simulation's.
	bulk, err := Open(ctx, withSessionSetting(db.dsn, "synchronous_commit", "off"))
	if err != nil {
		return h.res, err
	}
	defer bulk.Close()
	h.db = bulk
	for _, e := range h.events {
		at := e.at
		bulk.now = func() time.Time { return at }
		h.clock, h.sims = append(h.clock, time.Now()), append(h.sims, at)
		if err := e.run(ctx); err != nil {
			return h.res, fmt.Errorf("store: seed history at %s: %w", at.Format(time.RFC3339), err)
		}
	}
	bd := time.Now()
	if err := h.backdate(ctx, start, bd); err != nil {
		return h.res, err
	}
	h.res.Backdating = time.Since(bd)
	h.res.Took = time.Since(start)
	return h.res, nil
}

// plan lays out every day's events, then the waiting pickups at S01.
func (h *historyRun) plan(opt HistoryOptions) {
	first := h.now.AddDate(0, 0, -opt.Days).Truncate(24 * time.Hour)
	for d := 0; d < opt.Days; d++ {
		day := first.AddDate(0, 0, d)
		n := opt.OrdersPerDay/2 + h.rng.IntN(opt.OrdersPerDay+1)
		if wd := day.Weekday(); wd == time.Saturday || wd == time.Sunday {
			n += n / 3 // weekends are busier
		}
		for range n {
			placed := day.Add(time.Duration(13*60+h.rng.IntN(11*60)) * time.Minute) // 08:00–19:00 US Central, in UTC
			h.order(placed, "")
		}
		for range 3 {
			h.count(day.Add(time.Duration(12*60+h.rng.IntN(8*60)) * time.Minute))
		}
		if d%6 == 3 {
			h.transfer(day.Add(15 * time.Hour))
		}
	}
	// The demo associate's store has pickups waiting now: to pick, ready
	// and overdue (placed past the two-hour promise and not picked).
	for _, ago := range []time.Duration{20 * time.Minute, 45 * time.Minute, 70 * time.Minute, 3 * time.Hour, 5 * time.Hour} {
		h.order(h.now.Add(-ago), "S01:wait")
	}
	for _, ago := range []time.Duration{90 * time.Minute, 4 * time.Hour, 26 * time.Hour} {
		h.order(h.now.Add(-ago), "S01:ready")
	}
	// And a return waiting on its returns desk: collected five days ago,
	// brought back yesterday, on quality hold.
	h.order(h.now.Add(-5*24*time.Hour), "S01:return")
}

func (h *historyRun) pickSKUs(n int) []domain.OrderLineInput {
	var lines []domain.OrderLineInput
	for len(lines) < n {
		sku := h.skus[h.rng.IntN(len(h.skus))]
		if !slices.ContainsFunc(lines, func(l domain.OrderLineInput) bool { return l.SKU == sku }) {
			lines = append(lines, domain.OrderLineInput{SKU: sku, Qty: 1 + h.rng.IntN(4)/3})
		}
	}
	return lines
}

// order plans one order and what becomes of it. mode "S01:wait" and
// "S01:ready" make the associate's waiting pickups.
func (h *historyRun) order(placed time.Time, mode string) {
	ch := []domain.Channel{domain.BOPIS, domain.BOPIS, domain.BOPIS, domain.EcommerceShip, domain.EcommerceShip, domain.EcommerceShip,
		domain.ShipFromStore, domain.Marketplace, domain.LocalDelivery}[h.rng.IntN(9)]
	if mode != "" {
		ch = domain.BOPIS
	}
	in := domain.NewOrder{Channel: ch, Customer: historyCustomer(h.rng), Lines: h.pickSKUs(1 + h.rng.IntN(3)*h.rng.IntN(2)),
		PaymentStatus: []string{domain.PaymentAuthorized, domain.PaymentCaptured}[h.rng.IntN(2)], Source: "demo-history"}
	if ch == domain.BOPIS {
		in.PickupLocation = h.stores[h.rng.IntN(len(h.stores))]
		if mode != "" {
			in.PickupLocation = "S01"
		}
	}
	fate := h.rng.IntN(100)
	var id int64
	var created Order
	h.at(placed, func(ctx context.Context) error {
		in.PlacedAt = placed
		cr, err := h.db.CreateOrder(ctx, h.actor, in)
		if err != nil {
			return err
		}
		h.res.Orders++
		id, created = cr.Order.ID, cr.Order
		if cr.Order.Status == domain.OrderOnHold {
			// Oversold: nobody can fill it; support cancels it within the hour.
			return h.later(placed.Add(time.Duration(20+h.rng.IntN(40))*time.Minute), func(ctx context.Context) error {
				return h.cancel(ctx, id, domain.CancelOutOfStock)
			})
		}
		return nil
	})
	switch {
	case mode == "S01:wait":
		return
	case fate < 4 && mode == "":
		code := []domain.CancelReason{domain.CancelCustomerRequest, domain.CancelCustomerRequest, domain.CancelPaymentFailed, domain.CancelFraud, domain.CancelOther}[h.rng.IntN(5)]
		h.at(placed.Add(time.Duration(10+h.rng.IntN(90))*time.Minute), func(ctx context.Context) error { return h.cancel(ctx, id, code) })
		return
	}
	if ch != domain.BOPIS {
		shipAt := placed.Add(time.Duration(2*60+h.rng.IntN(26*60)) * time.Minute)
		h.at(shipAt, func(ctx context.Context) error { return h.ship(ctx, created) })
		if fate >= 14 && fate < 17 { // about one in thirty comes back to a store
			h.giveBack(shipAt.Add(time.Duration(3*24+h.rng.IntN(7*24))*time.Hour), &created, h.stores[h.rng.IntN(len(h.stores))], "", true)
		}
		return
	}
	// BOPIS: most are ready within the two-hour promise, about one in six late.
	readyIn := time.Duration(25+h.rng.IntN(90)) * time.Minute
	if h.rng.IntN(6) == 0 {
		readyIn = time.Duration(130+h.rng.IntN(300)) * time.Minute
	}
	if mode == "S01:ready" || mode == "S01:return" {
		readyIn = 15 * time.Minute
	}
	reject := mode == "" && fate >= 4 && fate < 7
	h.at(placed.Add(readyIn), func(ctx context.Context) error { return h.pick(ctx, created, reject) })
	if mode == "S01:return" {
		h.at(placed.Add(readyIn+time.Hour), func(ctx context.Context) error { return h.handOver(ctx, id) })
		h.giveBack(placed.Add(4*24*time.Hour), &created, "S01", domain.DispositionQualityHold, false)
	}
	if mode != "" {
		return
	}
	switch {
	case reject: // item not found at pick: the line is cancelled
		h.at(placed.Add(readyIn+40*time.Minute), func(ctx context.Context) error { return h.cancel(ctx, id, domain.CancelItemNotFound) })
	case fate >= 7 && fate < 14: // never collected: cancelled once the window has passed
		h.at(placed.Add(readyIn+75*time.Hour), func(ctx context.Context) error { return h.cancel(ctx, id, domain.CancelNotCollected) })
	default:
		handAt := placed.Add(readyIn + time.Duration(1+h.rng.IntN(40))*time.Hour)
		h.at(handAt, func(ctx context.Context) error { return h.handOver(ctx, id) })
		if fate >= 14 && fate < 17 { // about one in thirty comes back to the store
			h.giveBack(handAt.Add(time.Duration(1+h.rng.IntN(10*24))*time.Hour), &created, in.PickupLocation, "", true)
		}
	}
}

// later schedules an event from inside another (it runs in time order
// with the rest only if it is not earlier than what already ran).
func (h *historyRun) later(t time.Time, fn func(ctx context.Context) error) error {
	if t.After(h.now) {
		return nil
	}
	at := t
	h.db.now = func() time.Time { return at }
	h.clock, h.sims = append(h.clock, time.Now()), append(h.sims, at)
	return fn(context.Background())
}

func (h *historyRun) cancel(ctx context.Context, id int64, code domain.CancelReason) error {
	if id == 0 {
		return nil
	}
	if _, err := h.db.CancelOrder(ctx, h.actor, id, CancelRequest{Reason: code.Label(), ReasonCode: code}); err != nil {
		return tolerated(err) // already completed or cancelled: nothing left to cancel
	}
	h.res.Cancelled++
	return nil
}

// tolerated drops the refusals a planned step may meet when an earlier one
// changed the order (a conflict or a state that no longer allows it).
func tolerated(err error) error {
	if c := domain.ErrorCode(err); c == domain.ECONFLICT || c == domain.EINVALID || c == domain.CodeInsufficientStock {
		return nil
	}
	return err
}

func (h *historyRun) pick(ctx context.Context, o Order, reject bool) error {
	if o.ID == 0 || o.Status == domain.OrderOnHold {
		return nil
	}
	for i, l := range o.Lines {
		if l.Reserved == 0 {
			continue
		}
		var err error
		if reject && i == 0 {
			_, err = h.db.RejectLine(ctx, h.actor, o.ID, l.ID, domain.RejectNotFound, "", 0, "not on the shelf")
		} else {
			_, err = h.db.PickLine(ctx, h.actor, o.ID, l.ID, l.SKU, l.Reserved)
		}
		if err = tolerated(err); err != nil {
			return err
		}
	}
	return nil
}

func (h *historyRun) handOver(ctx context.Context, id int64) error {
	if id == 0 {
		return nil
	}
	_, err := h.db.HandOver(ctx, h.actor, id)
	return tolerated(err)
}

func (h *historyRun) ship(ctx context.Context, o Order) error {
	if o.ID == 0 || o.Status == domain.OrderOnHold {
		return nil
	}
	byLoc := map[string][]ShipLine{}
	var locs []string
	for _, l := range o.Lines {
		if l.Reserved > 0 {
			if byLoc[l.Location] == nil {
				locs = append(locs, l.Location)
			}
			byLoc[l.Location] = append(byLoc[l.Location], ShipLine{LineID: l.ID, Qty: l.Reserved})
		}
	}
	for _, loc := range locs {
		if _, err := h.db.Ship(ctx, h.actor, o.ID, loc, byLoc[loc], "UPS", fmt.Sprintf("1Z%08d", h.rng.IntN(1e8))); tolerated(err) != nil {
			return err
		}
	}
	return nil
}

// count is a cycle count at a store: mostly the ledger was right, some
// counts find a unit or two more or fewer.
func (h *historyRun) count(t time.Time) {
	sku, loc := h.skus[h.rng.IntN(len(h.skus))], h.stores[h.rng.IntN(len(h.stores))]
	drift := []int{0, 0, 0, 0, -1, -1, -2, 1}[h.rng.IntN(8)]
	h.at(t, func(ctx context.Context) error {
		stock, err := h.db.StockForSKU(ctx, sku)
		if err != nil {
			return err
		}
		var p domain.Position
		for _, s := range stock {
			if s.Code == loc {
				p = s.Position
			}
		}
		n := max(0, p.OnHand+drift, p.Reserved+p.Damaged+p.QualityHold+p.TransferOut)
		h.res.Counts++
		if n == p.OnHand {
			return nil // the count agreed: nothing to adjust
		}
		if _, err := h.db.Adjust(ctx, h.actor, sku, loc, domain.Adjustment{Reason: domain.ReasonCycleCount, Counted: &n, Note: "weekly cycle count"}); err != nil {
			return err
		}
		return nil
	})
}

// transfer moves a few units from the DC to a store: requested, approved,
// shipped the next morning and received two days later (now and then one
// short, which stays in a variance exception).
func (h *historyRun) transfer(t time.Time) {
	to := h.stores[h.rng.IntN(len(h.stores))]
	lines := h.pickSKUs(2)
	var id int64
	h.at(t, func(ctx context.Context) error {
		tr, err := h.db.CreateTransfer(ctx, h.actor, domain.NewTransfer{From: "DC1", To: to, Lines: []domain.TransferLineInput{
			{SKU: lines[0].SKU, Qty: 4}, {SKU: lines[1].SKU, Qty: 6}}, Reason: "replenish fast sellers"})
		if err != nil {
			return err
		}
		id = tr.ID
		h.res.Transfers++
		if _, err = h.db.ApproveTransfer(ctx, domain.SystemActor("manager"), id, "ok"); err != nil {
			id = 0 // the DC was short: the transfer stays requested, for a manager
			return tolerated(err)
		}
		return nil
	})
	h.at(t.Add(18*time.Hour), func(ctx context.Context) error {
		if id == 0 {
			return nil
		}
		_, err := h.db.ShipTransfer(ctx, h.actor, id, []domain.TransferLineInput{{SKU: lines[0].SKU, Qty: 4}, {SKU: lines[1].SKU, Qty: 6}}, "FREIGHT-"+fmt.Sprint(id))
		return err
	})
	short := h.rng.IntN(3) == 0
	h.at(t.Add(66*time.Hour), func(ctx context.Context) error {
		if id == 0 {
			return nil
		}
		got := 6
		if short {
			got = 5
		}
		_, err := h.db.ReceiveTransfer(ctx, h.actor, id, []domain.ReceiptLine{{SKU: lines[0].SKU, Qty: 4}, {SKU: lines[1].SKU, Qty: got}}, true)
		return err
	})
}

// backdate moves every database-stamped time written between from and to
// (real time, while the history ran) to the simulated time of the event
// that wrote it. The event times (h.clock real, h.sims simulated) go into a
// temporary table; each stamp x takes sim + (x - real) of the last event
// that started at or before it. Seed-only: live code never rewrites times.
func (h *historyRun) backdate(ctx context.Context, from, to time.Time) error {
	return h.db.InTx(ctx, func(tx *Tx) error {
		if _, err := tx.ExecContext(ctx, `CREATE TEMP TABLE history_clock (real timestamptz PRIMARY KEY, sim timestamptz NOT NULL) ON COMMIT DROP`); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO history_clock SELECT DISTINCT ON (r) r, s FROM unnest($1::timestamptz[], $2::timestamptz[]) x(r, s) ORDER BY r`,
			pq.Array(h.clock), pq.Array(h.sims)); err != nil {
			return err
		}
		var cols []struct {
			Table  string `db:"table_name"`
			Column string `db:"column_name"`
		}
		if err := tx.SelectContext(ctx, &cols, `SELECT table_name, column_name FROM information_schema.columns
			WHERE table_schema = current_schema() AND data_type = 'timestamp with time zone'
			  AND table_name = ANY($1) AND NOT column_name = ANY($2) ORDER BY table_name, ordinal_position`,
			pq.Array(historyTables), pq.Array(historyDerived)); err != nil {
			return err
		}
		for _, c := range cols {
			col := pq.QuoteIdentifier(c.Column)
			if _, err := tx.ExecContext(ctx, `UPDATE `+pq.QuoteIdentifier(c.Table)+` t SET `+col+` = (SELECT k.sim + (t.`+col+` - k.real)
				FROM history_clock k WHERE k.real <= t.`+col+` ORDER BY k.real DESC LIMIT 1)
				WHERE t.`+col+` BETWEEN $1 AND $2 AND EXISTS (SELECT 1 FROM history_clock k WHERE k.real <= t.`+col+`)`, from, to); err != nil {
				return fmt.Errorf("store: backdate %s.%s: %w", c.Table, c.Column, err)
			}
		}
		// The past's messages and events were delivered at the time: the
		// relay and the sender start with nothing from the history queued.
		if _, err := tx.ExecContext(ctx, `UPDATE outbox SET published_at = created_at WHERE published_at IS NULL AND created_at < $1`, from); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `UPDATE notifications SET status = 'sent', sent_at = created_at WHERE status = 'queued' AND created_at < $1`, from)
		return err
	})
}
