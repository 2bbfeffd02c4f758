package store_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"stockline/domain"
	"stockline/store"
	"stockline/store/pgtest"
)

// feedWorld is a fresh database with a few locations and SKUs, and one
// connector mapping ext ids L1..Ln and I1..Im onto them.
type feedWorld struct {
	db   *store.DB
	conn domain.Connector
	locs []string // our codes
	skus []string
}

func newFeedWorld(t *testing.T, nLocs, nSKUs int) *feedWorld {
	t.Helper()
	ctx := context.Background()
	db := pgtest.Fresh(t)
	w := &feedWorld{db: db}
	for i := range nLocs {
		code := fmt.Sprintf("T%02d", i+1)
		w.locs = append(w.locs, code)
		if _, err := db.ExecContext(ctx, `INSERT INTO locations (code, name, kind, region) VALUES ($1, $1, 'store', 'Test')`, code); err != nil {
			t.Fatal(err)
		}
	}
	for i := range nSKUs {
		sku := fmt.Sprintf("TST-%05d", i)
		w.skus = append(w.skus, sku)
		if _, err := db.ExecContext(ctx, `INSERT INTO products (sku, name, barcode, category, price_cents) VALUES ($1, $1, $2, 'Test', 100)`,
			sku, fmt.Sprintf("99%011d", i)); err != nil {
			t.Fatal(err)
		}
	}
	c, err := db.CreateConnector(ctx, domain.SystemActor("test"), store.NewConnector{Name: "pos-test", Kind: "pos", Adapter: "square", Enabled: true})
	if err != nil {
		t.Fatal(err)
	}
	w.conn = c
	var maps []store.Mapping
	for i, code := range w.locs {
		maps = append(maps, store.Mapping{Kind: "location", ExternalID: fmt.Sprintf("L%d", i+1), Code: code})
	}
	for i, sku := range w.skus {
		maps = append(maps, store.Mapping{Kind: "item", ExternalID: fmt.Sprintf("I%d", i+1), Code: sku})
	}
	if err := db.SetMappings(ctx, domain.SystemActor("test"), c.ID, maps); err != nil {
		t.Fatal(err)
	}
	return w
}

// positions returns every position as "SKU@LOC" -> position.
func (w *feedWorld) positions(t *testing.T) map[string]domain.Position {
	t.Helper()
	var rows []struct {
		SKU string `db:"sku"`
		Loc string `db:"code"`
		domain.Position
	}
	if err := w.db.SelectContext(context.Background(), &rows, `SELECT pr.sku, l.code, p.on_hand, p.reserved, p.damaged, p.quality_hold,
			p.transfer_out, p.in_transit_in
		FROM positions p JOIN products pr ON pr.id = p.product_id JOIN locations l ON l.id = p.location_id`); err != nil {
		t.Fatal(err)
	}
	out := map[string]domain.Position{}
	for _, r := range rows {
		if r.Position != (domain.Position{}) {
			out[r.SKU+"@"+r.Loc] = r.Position
		}
	}
	return out
}

func (w *feedWorld) pos(t *testing.T, item, loc int) domain.Position {
	return w.positions(t)[w.skus[item-1]+"@"+w.locs[loc-1]]
}

var t0 = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)

func sale(id string, item, loc, qty int, at time.Time) store.InboundEvent {
	return store.InboundEvent{SourceEventID: id, Type: "square.adjustment", OccurredAt: at, Payload: []byte(`{"id":"` + id + `"}`),
		Changes: []domain.StockChange{{Item: domain.ItemRef(fmt.Sprint("I", item)), Location: domain.LocationRef(fmt.Sprint("L", loc)),
			Reason: domain.ReasonSale, Moves: []domain.Movement{{Bucket: domain.OnHand, Delta: -qty}}}}}
}

func receive(id string, item, loc, qty int, at time.Time) store.InboundEvent {
	ev := sale(id, item, loc, -qty, at)
	ev.Changes[0].Reason = domain.ReasonReceived
	return ev
}

func count(id string, item, loc, qty int, at time.Time) store.InboundEvent {
	return store.InboundEvent{SourceEventID: id, Type: "square.physical_count", OccurredAt: at, Payload: []byte(`{"id":"` + id + `"}`),
		Changes: []domain.StockChange{{Item: domain.ItemRef(fmt.Sprint("I", item)), Location: domain.LocationRef(fmt.Sprint("L", loc)), Count: &qty}}}
}

func transfer(id string, item, from, to, qty int, at time.Time) store.InboundEvent {
	it := domain.ItemRef(fmt.Sprint("I", item))
	return store.InboundEvent{SourceEventID: id, Type: "square.transfer", OccurredAt: at, Payload: []byte(`{"id":"` + id + `"}`),
		Changes: []domain.StockChange{
			{Item: it, Location: domain.LocationRef(fmt.Sprint("L", from)), Reason: domain.ReasonTransferOut, Moves: []domain.Movement{{Bucket: domain.OnHand, Delta: -qty}}},
			{Item: it, Location: domain.LocationRef(fmt.Sprint("L", to)), Reason: domain.ReasonTransferIn, Moves: []domain.Movement{{Bucket: domain.OnHand, Delta: qty}}},
		}}
}

func TestIngestAppliesDedupesAndKeepsBothTimes(t *testing.T) {
	ctx := context.Background()
	w := newFeedWorld(t, 2, 3)
	evs := []store.InboundEvent{
		receive("r1", 1, 1, 10, t0),
		sale("s1", 1, 1, 3, t0.Add(time.Minute)),
		transfer("x1", 1, 1, 2, 2, t0.Add(2*time.Minute)),
		sale("s1", 1, 1, 3, t0.Add(time.Minute)), // redelivered in the same page
	}
	res, err := w.db.Ingest(ctx, w.conn, evs, "")
	if err != nil {
		t.Fatal(err)
	}
	if res.Applied != 3 || res.Duplicates != 1 || res.DeadLettered != 0 {
		t.Fatalf("result %+v", res)
	}
	// The whole page again: nothing is applied twice.
	res, err = w.db.Ingest(ctx, w.conn, evs, "")
	if err != nil {
		t.Fatal(err)
	}
	if res.Applied != 0 || res.Duplicates != 4 {
		t.Fatalf("redelivery result %+v", res)
	}
	if got := w.pos(t, 1, 1).OnHand; got != 5 {
		t.Fatalf("T01 on hand %d, want 5", got)
	}
	if got := w.pos(t, 1, 2).OnHand; got != 2 {
		t.Fatalf("T02 on hand %d, want 2", got)
	}
	// The ledger keeps the source's time and our own.
	var rows []struct {
		Reason     string    `db:"reason"`
		OccurredAt time.Time `db:"occurred_at"`
		RecordedAt time.Time `db:"recorded_at"`
		Actor      string    `db:"actor"`
		Source     string    `db:"source"`
	}
	if err := w.db.SelectContext(ctx, &rows, `SELECT reason, occurred_at, recorded_at, actor, source FROM ledger WHERE source_ref = 's1'`); err != nil {
		t.Fatal(err)
	}
	if len(rows) != 1 || !rows[0].OccurredAt.Equal(t0.Add(time.Minute)) || time.Since(rows[0].RecordedAt) > time.Minute ||
		rows[0].Actor != "connector:pos-test" || rows[0].Source != "pos-test" || rows[0].Reason != "sale" {
		t.Fatalf("ledger rows %+v", rows)
	}
	var outbox int
	w.db.GetContext(ctx, &outbox, `SELECT count(*) FROM outbox WHERE topic = 'inventory.feed_applied'`)
	if outbox != 3 {
		t.Fatalf("outbox rows %d, want 3", outbox)
	}
	requireCheckOK(t, w.db)
}

func TestIngestDeadLettersMalformedAndUnmappedAndGoesOn(t *testing.T) {
	ctx := context.Background()
	w := newFeedWorld(t, 1, 2)
	bad := store.InboundEvent{SourceEventID: "bad1", Type: "square.adjustment", Payload: []byte(`{"quantity":"x"}`), Err: `quantity "x" is not a decimal number`}
	unmapped := sale("s-unmapped", 9, 1, 1, t0)
	evs := []store.InboundEvent{receive("r1", 1, 1, 4, t0), bad, unmapped, sale("s2", 1, 1, 1, t0.Add(time.Minute))}
	res, err := w.db.Ingest(ctx, w.conn, evs, "")
	if err != nil {
		t.Fatal(err)
	}
	if res.Applied != 2 || res.DeadLettered != 2 {
		t.Fatalf("result %+v", res)
	}
	if got := w.pos(t, 1, 1).OnHand; got != 3 {
		t.Fatalf("on hand %d, want 3", got)
	}
	dls, _, err := w.db.DeadLetters(ctx, w.conn.ID, "open", 0, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(dls) != 2 || !slices.ContainsFunc(dls, func(d domain.DeadLetter) bool { return d.SourceEventID == "s-unmapped" && d.Error != "" }) {
		t.Fatalf("dead letters %+v", dls)
	}
	var exc int
	w.db.GetContext(ctx, &exc, `SELECT count(*) FROM exceptions WHERE kind = 'dead_letter' AND status = 'open'`)
	if exc != 1 {
		t.Fatalf("dead_letter exceptions %d, want 1", exc)
	}
	// Map the item, retry: the event applies and its dead letter closes.
	if err := w.db.SetMappings(ctx, domain.SystemActor("test"), w.conn.ID, []store.Mapping{{Kind: "item", ExternalID: "I9", Code: w.skus[1]}}); err != nil {
		t.Fatal(err)
	}
	var dl domain.DeadLetter
	for _, d := range dls {
		if d.SourceEventID == "s-unmapped" {
			dl = d
		}
	}
	retry := unmapped
	retry.ID = dl.EventID
	res, err = w.db.ApplyStored(ctx, w.conn, []store.InboundEvent{retry}, domain.Actor{Kind: "user", Name: "lead@example.com"})
	if err != nil || res.Applied != 1 {
		t.Fatalf("retry: %+v %v", res, err)
	}
	got, err := w.db.DeadLetterByID(ctx, dl.ID)
	if err != nil || got.Status != "retried" || got.ResolvedBy != "user:lead@example.com" {
		t.Fatalf("dead letter after retry %+v %v", got, err)
	}
	if p := w.pos(t, 2, 1).OnHand; p != -1 {
		t.Fatalf("on hand after retried sale %d, want -1", p)
	}
	// Retrying again does nothing: the event is applied already.
	res, err = w.db.ApplyStored(ctx, w.conn, []store.InboundEvent{retry}, domain.SystemActor("test"))
	if err != nil || res.Applied != 0 {
		t.Fatalf("second retry: %+v %v", res, err)
	}
	// Dismiss the other one.
	for _, d := range dls {
		if d.SourceEventID == "bad1" {
			if err := w.db.DismissDeadLetter(ctx, domain.SystemActor("test"), d.ID, "junk"); err != nil {
				t.Fatal(err)
			}
			if err := w.db.DismissDeadLetter(ctx, domain.SystemActor("test"), d.ID, "junk"); domain.ErrorCode(err) != domain.ECONFLICT {
				t.Fatalf("second dismiss: %v", err)
			}
		}
	}
	requireCheckOK(t, w.db)
}

func TestIngestNegativeSaleRaisesException(t *testing.T) {
	ctx := context.Background()
	w := newFeedWorld(t, 1, 1)
	if _, err := w.db.Ingest(ctx, w.conn, []store.InboundEvent{receive("r1", 1, 1, 1, t0), sale("s1", 1, 1, 3, t0.Add(time.Minute))}, ""); err != nil {
		t.Fatal(err)
	}
	if p := w.pos(t, 1, 1).OnHand; p != -2 {
		t.Fatalf("on hand %d, want -2 (the POS sold it; we record it)", p)
	}
	var n int
	w.db.GetContext(ctx, &n, `SELECT count(*) FROM exceptions WHERE kind = 'negative_stock' AND status = 'open'`)
	if n != 1 {
		t.Fatalf("negative_stock exceptions %d, want 1", n)
	}
	rep, err := w.db.Check(ctx)
	if err != nil || !rep.OK() || rep.Explained != 1 {
		t.Fatalf("check %+v %v", rep, err)
	}
}

func TestIngestLateMovementBeforeCountIsNotCountedTwice(t *testing.T) {
	ctx := context.Background()
	w := newFeedWorld(t, 1, 1)
	in := func(evs ...store.InboundEvent) {
		t.Helper()
		if _, err := w.db.Ingest(ctx, w.conn, evs, ""); err != nil {
			t.Fatal(err)
		}
	}
	in(receive("r1", 1, 1, 10, t0))
	in(count("c1", 1, 1, 7, t0.Add(10*time.Minute)))
	if p := w.pos(t, 1, 1).OnHand; p != 7 {
		t.Fatalf("after count %d, want 7", p)
	}
	// An offline sale from before the count arrives late: the count
	// already reflects it.
	in(sale("s-late", 1, 1, 2, t0.Add(5*time.Minute)))
	if p := w.pos(t, 1, 1).OnHand; p != 7 {
		t.Fatalf("after late sale %d, want 7", p)
	}
	// A sale after the count moves stock.
	in(sale("s-after", 1, 1, 1, t0.Add(12*time.Minute)))
	// A count older than the newest one changes nothing.
	in(count("c0", 1, 1, 50, t0.Add(8*time.Minute)))
	if p := w.pos(t, 1, 1).OnHand; p != 6 {
		t.Fatalf("after stale count %d, want 6", p)
	}
	// A newer count at +11 is measured against the ledger as of +11: the
	// sale at +12 still counts after it.
	in(count("c2", 1, 1, 9, t0.Add(11*time.Minute)))
	if p := w.pos(t, 1, 1).OnHand; p != 8 {
		t.Fatalf("after count at +11 %d, want 9-1 = 8", p)
	}
	var note string
	w.db.GetContext(ctx, &note, `SELECT note FROM inbound_events WHERE source_event_id = 's-late'`)
	if note == "" {
		t.Fatal("the late sale should say the count already includes it")
	}
	requireCheckOK(t, w.db)
}

// genFeed makes a random but valid feed: sales, receipts, transfers and
// counts over a few positions, with distinct times in source order.
func genFeed(rng *rand.Rand, n, items, locs int) []store.InboundEvent {
	var evs []store.InboundEvent
	at := t0
	for i := range n {
		at = at.Add(time.Duration(1+rng.IntN(90)) * time.Second)
		id := fmt.Sprintf("e%04d", i)
		it, lo := 1+rng.IntN(items), 1+rng.IntN(locs)
		switch r := rng.IntN(100); {
		case r < 50:
			evs = append(evs, sale(id, it, lo, 1+rng.IntN(3), at))
		case r < 70:
			evs = append(evs, receive(id, it, lo, 1+rng.IntN(12), at))
		case r < 85:
			to := 1 + (lo % locs)
			evs = append(evs, transfer(id, it, lo, to, 1+rng.IntN(4), at))
		default:
			evs = append(evs, count(id, it, lo, rng.IntN(30), at))
		}
	}
	return evs
}

// Every event delivered three times, shuffled, in random batches, with
// some arriving late, ends in the same positions as one sequential replay.
func TestIngestTripleShuffledDeliveryEqualsSequentialReplay(t *testing.T) {
	ctx := context.Background()
	for seed := uint64(1); seed <= 3; seed++ {
		rng := rand.New(rand.NewPCG(seed, 99))
		feed := genFeed(rng, 300, 4, 3)

		seq := newFeedWorld(t, 3, 4)
		for _, ev := range feed {
			if _, err := seq.db.Ingest(ctx, seq.conn, []store.InboundEvent{ev}, ""); err != nil {
				t.Fatal(err)
			}
		}
		want := seq.positions(t)

		shuf := newFeedWorld(t, 3, 4)
		var deliveries []store.InboundEvent
		for range 3 {
			deliveries = append(deliveries, feed...)
		}
		rng.Shuffle(len(deliveries), func(i, j int) { deliveries[i], deliveries[j] = deliveries[j], deliveries[i] })
		for len(deliveries) > 0 {
			n := min(len(deliveries), 1+rng.IntN(40))
			res, err := shuf.db.Ingest(ctx, shuf.conn, deliveries[:n], "")
			if err != nil {
				t.Fatal(err)
			}
			if res.DeadLettered != 0 {
				t.Fatalf("dead letters in a valid feed: %+v", res)
			}
			deliveries = deliveries[n:]
		}
		got := shuf.positions(t)
		for k, v := range want {
			if got[k] != v {
				t.Errorf("seed %d: %s shuffled %+v, sequential %+v", seed, k, got[k], v)
			}
		}
		for k, v := range got {
			if _, ok := want[k]; !ok {
				t.Errorf("seed %d: %s only in shuffled: %+v", seed, k, v)
			}
		}
		var applied int
		shuf.db.GetContext(ctx, &applied, `SELECT count(*) FROM inbound_events WHERE status = 'applied'`)
		if applied != len(feed) {
			t.Fatalf("seed %d: %d events applied, want %d", seed, applied, len(feed))
		}
		requireCheckOK(t, seq.db)
		requireCheckOK(t, shuf.db)
	}
}

// fakeSink records orders; cancels of unknown orders are ENOTFOUND.
type fakeSink struct {
	orders    map[string]domain.ExternalOrder
	cancelled map[string]bool
	failRef   string
}

func (f *fakeSink) CreateOrder(ctx context.Context, tx *store.Tx, o domain.ExternalOrder) error {
	if o.ExternalRef == f.failRef {
		return errors.New("database fell over")
	}
	if o.ExternalRef == "refuse" {
		return domain.Errorf(domain.EINVALID, "No such channel.")
	}
	f.orders[o.ExternalRef] = o
	return nil
}

func (f *fakeSink) CancelOrder(ctx context.Context, tx *store.Tx, c domain.ExternalOrderCancel) error {
	if _, ok := f.orders[c.ExternalRef]; !ok {
		return domain.Errorf(domain.ENOTFOUND, "Order %s not found.", c.ExternalRef)
	}
	f.cancelled[c.ExternalRef] = true
	return nil
}

func (f *fakeSink) RefundOrder(ctx context.Context, tx *store.Tx, r domain.ExternalRefund) error {
	if _, ok := f.orders[r.OrderRef]; !ok {
		return domain.Errorf(domain.ENOTFOUND, "Order %s not found.", r.OrderRef)
	}
	return nil
}

func orderEvent(ref string, item int, at time.Time) store.InboundEvent {
	return store.InboundEvent{SourceEventID: "order:" + ref + ":created", Type: "shopify.order", OccurredAt: at, Payload: []byte(`{}`),
		Order: &domain.ExternalOrder{ExternalRef: ref, Name: "#" + ref, Channel: domain.EcommerceShip, PlacedAt: at,
			Lines: []domain.ExternalOrderLine{{ExternalLineID: "1", Item: domain.ItemRef(fmt.Sprint("I", item)), Quantity: 1}}}}
}

func TestOrderEventsWaitForASinkThenApply(t *testing.T) {
	ctx := context.Background()
	w := newFeedWorld(t, 1, 1)
	restore := w.db.SwapOrderSinkForTest(nil)
	defer restore()
	cancel := store.InboundEvent{SourceEventID: "order:1001:cancelled", Type: "shopify.order_cancelled", OccurredAt: t0.Add(time.Hour),
		Payload: []byte(`{}`), Cancel: &domain.ExternalOrderCancel{ExternalRef: "1001", CancelledAt: t0.Add(time.Hour)}}
	res, err := w.db.Ingest(ctx, w.conn, []store.InboundEvent{cancel, orderEvent("1001", 1, t0), orderEvent("1002", 7, t0)}, "")
	if err != nil {
		t.Fatal(err)
	}
	if res.Pending != 2 || res.DeadLettered != 1 {
		t.Fatalf("without a sink: %+v (want 2 pending, the unmapped one dead)", res)
	}
	pend, err := w.db.PendingEvents(ctx, w.conn.ID, []string{domain.PendingNoOrderSink}, 0)
	if err != nil || len(pend) != 2 || pend[0].SourceEventID != "order:1001:created" {
		t.Fatalf("pending in source order: %+v %v", pend, err)
	}
	sink := &fakeSink{orders: map[string]domain.ExternalOrder{}, cancelled: map[string]bool{}}
	w.db.SetOrderSink(sink)
	// The adapter re-reads the stored payloads; here we hand back the parsed events.
	again := []store.InboundEvent{orderEvent("1001", 1, t0), cancel}
	again[0].ID, again[1].ID = pend[0].ID, pend[1].ID
	res, err = w.db.ApplyStored(ctx, w.conn, again, domain.SystemActor("test"))
	if err != nil || res.Applied != 2 {
		t.Fatalf("with a sink: %+v %v", res, err)
	}
	if o := sink.orders["1001"]; o.Source != "pos-test" || o.Lines[0].SKU != w.skus[0] || !sink.cancelled["1001"] {
		t.Fatalf("sink saw %+v cancelled=%v", o, sink.cancelled)
	}
	// A cancel ahead of its order waits; a refusal dead-letters; an internal
	// failure of one event does not stop the rest of the batch.
	sink.failRef = "boom"
	early := store.InboundEvent{SourceEventID: "order:2001:cancelled", Type: "shopify.order_cancelled", OccurredAt: t0,
		Payload: []byte(`{}`), Cancel: &domain.ExternalOrderCancel{ExternalRef: "2001"}}
	res, err = w.db.Ingest(ctx, w.conn, []store.InboundEvent{early, orderEvent("refuse", 1, t0), orderEvent("boom", 1, t0), orderEvent("3001", 1, t0)}, "")
	if err != nil {
		t.Fatal(err)
	}
	if res.Pending != 1 || res.DeadLettered != 2 || res.Applied != 1 {
		t.Fatalf("mixed batch: %+v", res)
	}
	if _, ok := sink.orders["3001"]; !ok {
		t.Fatal("order 3001 should have gone through")
	}
}

func TestLeaseIsHeldByOneOwnerAtATime(t *testing.T) {
	ctx := context.Background()
	w := newFeedWorld(t, 1, 1)
	ok, err := w.db.AcquireLease(ctx, w.conn.ID, "a", time.Minute)
	if err != nil || !ok {
		t.Fatalf("a: %v %v", ok, err)
	}
	if ok, _ := w.db.AcquireLease(ctx, w.conn.ID, "b", time.Minute); ok {
		t.Fatal("b took a held lease")
	}
	if ok, _ := w.db.AcquireLease(ctx, w.conn.ID, "a", time.Minute); !ok {
		t.Fatal("a could not renew")
	}
	// b cannot apply or move the cursor under a's lease.
	if _, err := w.db.Ingest(ctx, w.conn, []store.InboundEvent{receive("r1", 1, 1, 1, t0)}, "b"); !errors.Is(err, store.ErrLeaseLost) {
		t.Fatalf("ingest without the lease: %v", err)
	}
	if err := w.db.SaveCursor(ctx, w.conn.ID, "inventory", "x", "b"); !errors.Is(err, store.ErrLeaseLost) {
		t.Fatalf("cursor without the lease: %v", err)
	}
	// An expired lease can be taken over.
	if ok, _ := w.db.AcquireLease(ctx, w.conn.ID, "a", time.Millisecond); !ok {
		t.Fatal("a could not shorten its lease")
	}
	time.Sleep(20 * time.Millisecond)
	if ok, _ := w.db.AcquireLease(ctx, w.conn.ID, "b", time.Minute); !ok {
		t.Fatal("b could not take an expired lease")
	}
	if h, _ := w.db.LeaseHolder(ctx, w.conn.ID); h != "b" {
		t.Fatalf("holder %q", h)
	}
}

func TestStaleFeedRaisesAndRecoveryResolves(t *testing.T) {
	ctx := context.Background()
	w := newFeedWorld(t, 1, 1)
	if _, err := w.db.ExecContext(ctx, `UPDATE connectors SET stale_after_seconds = 1, created_at = now() - interval '1 hour'`); err != nil {
		t.Fatal(err)
	}
	names, err := w.db.MarkStaleFeeds(ctx, nil)
	if err != nil || len(names) != 1 {
		t.Fatalf("stale: %v %v", names, err)
	}
	w.db.MarkStaleFeeds(ctx, nil) // idempotent
	var open int
	w.db.GetContext(ctx, &open, `SELECT count(*) FROM exceptions WHERE kind = 'feed_stale' AND status = 'open'`)
	if open != 1 {
		t.Fatalf("open feed_stale %d, want 1", open)
	}
	if err := w.db.RecordPullSuccess(ctx, w.conn.ID, t0); err != nil {
		t.Fatal(err)
	}
	w.db.GetContext(ctx, &open, `SELECT count(*) FROM exceptions WHERE kind = 'feed_stale' AND status = 'open'`)
	if open != 0 {
		t.Fatal("recovery should resolve the feed_stale exception")
	}
}
