package connectors_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"stockline/connectors"
	"stockline/connectors/sim"
	"stockline/domain"
	"stockline/store"
)

func mustLease(t *testing.T, w *world, c store.Connector, owner string) {
	t.Helper()
	// Longer than any test takes on a loaded machine.
	if ok, err := w.db.AcquireLease(context.Background(), c.ID, owner, 15*time.Minute); err != nil || !ok {
		t.Fatalf("lease: %v %v", ok, err)
	}
}

func TestSquareRoundAppliesEveryPageDeadLettersAndResumesFromCursor(t *testing.T) {
	ctx := context.Background()
	sq, url := squareServer(t)
	sq.Token = "sq-access-token-123456"
	sq.PageSize = 3
	w := newWorld(t, "square", url, 2, 3).applyEveryCount()
	if _, err := w.db.ExecContext(ctx, `UPDATE connectors SET credential_ref = 'env:SQ_TOKEN'`); err != nil {
		t.Fatal(err)
	}
	c, _ := w.db.ConnectorByID(ctx, w.conn.ID)
	at := func(m int) time.Time { return base.Add(time.Duration(m) * time.Minute) }
	dup := sim.SquareAdjustment("A2", "IN_STOCK", "SOLD", "LOC1", "ITEM1", 2, at(2), at(2))
	sq.Add(at(1), []string{"LOC1"}, sim.SquareAdjustment("A1", "NONE", "IN_STOCK", "LOC1", "ITEM1", 10, at(1), at(1)))
	sq.Add(at(2), []string{"LOC1"}, dup)
	sq.Add(at(3), []string{"LOC2"}, sim.SquareCount("C1", "LOC2", "ITEM2", 5, at(3), at(3)))
	sq.Add(at(4), []string{"LOC1", "LOC2"}, sim.SquareTransfer("X1", "LOC1", "LOC2", "ITEM1", 3, at(4), at(4)))
	sq.Add(at(5), []string{"LOC1"}, sim.SquareMalformed("BAD1", "LOC1", "ITEM1", at(5)))
	sq.Add(at(5), []string{"LOC1"}, dup) // delivered twice
	sq.Add(at(6), []string{"LOC1"}, sim.SquareAdjustment("A3", "IN_STOCK", "SOLD", "LOC1", "UNKNOWN-ITEM", 1, at(6), at(6)))
	sq.Add(at(7), []string{"LOC1"}, sim.SquareAdjustment("A4", "IN_STOCK", "RESERVED_FOR_SALE", "LOC1", "ITEM1", 1, at(7), at(7)))
	sq.Add(at(8), []string{"LOC2"}, sim.SquareAdjustment("A5", "SOLD", "IN_STOCK", "LOC2", "ITEM3", 4, at(8), at(8)))

	r := w.runner("a")
	r.LookupEnv = func(k string) (string, bool) {
		if k == "SQ_TOKEN" {
			return "sq-access-token-123456", true
		}
		return "", false
	}
	mustLease(t, w, c, "a")
	newest, err := r.Round(ctx, c)
	if err != nil {
		t.Fatal(err)
	}
	if !newest.Equal(at(8)) {
		t.Fatalf("newest source time %v, want %v", newest, at(8))
	}
	want := map[string]int{"TST-00001@T01": 5, "TST-00001@T02": 3, "TST-00002@T02": 5, "TST-00003@T02": 4}
	got := w.positions()
	for k, v := range want {
		if got[k].OnHand != v {
			t.Errorf("%s on hand %d, want %d", k, got[k].OnHand, v)
		}
	}
	if n := w.count(`SELECT count(*) FROM dead_letters WHERE status = 'open'`); n != 2 {
		t.Fatalf("open dead letters %d, want 2 (malformed, unmapped)", n)
	}
	if n := w.count(`SELECT count(*) FROM inbound_events WHERE status = 'applied'`); n != 6 {
		t.Fatalf("applied events %d, want 6", n)
	}
	cur, _ := w.db.Cursor(ctx, c.ID, "inventory")
	if !strings.Contains(cur, "after") {
		t.Fatalf("cursor not saved: %q", cur)
	}
	if reqs, _ := sq.Requests(); reqs != 3 { // 9 changes, 3 a page
		t.Fatalf("requests %d, want 3", reqs)
	}

	// New changes: the next round reads from the saved cursor, and what
	// it re-reads from the overlap is not applied again.
	sq.Add(at(20), []string{"LOC1"}, sim.SquareAdjustment("A6", "IN_STOCK", "SOLD", "LOC1", "ITEM1", 1, at(20), at(20)))
	if _, err := r.Round(ctx, c); err != nil {
		t.Fatal(err)
	}
	if got := w.positions()["TST-00001@T01"].OnHand; got != 4 {
		t.Fatalf("after the second round %d, want 4", got)
	}
	if n := w.count(`SELECT count(*) FROM ledger WHERE source_ref = 'square:adjustment:A2'`); n != 1 {
		t.Fatalf("A2 in the ledger %d times", n)
	}

	// A wrong token is a failure the loop reports, not a silent stop.
	r.LookupEnv = func(string) (string, bool) { return "wrong", true }
	if _, err := r.Round(ctx, c); err == nil || !strings.Contains(err.Error(), "401") {
		t.Fatalf("wrong token: %v", err)
	}
	w.checkOK()
}

// feedOp is one source event with the effect on on_hand of applying it
// in order.
type genEvent struct {
	raw  json.RawMessage
	locs []string
	at   time.Time
}

func genSquareFeed(rng *rand.Rand, n int) []genEvent {
	var out []genEvent
	at := base
	for i := range n {
		at = at.Add(time.Duration(1+rng.IntN(120)) * time.Second)
		id := fmt.Sprintf("E%04d", i)
		item := fmt.Sprintf("ITEM%d", 1+rng.IntN(4))
		loc := fmt.Sprintf("LOC%d", 1+rng.IntN(3))
		var raw json.RawMessage
		locs := []string{loc}
		switch r := rng.IntN(100); {
		case r < 45:
			raw = sim.SquareAdjustment(id, "IN_STOCK", "SOLD", loc, item, 1+rng.IntN(3), at, at)
		case r < 60:
			raw = sim.SquareAdjustment(id, "NONE", "IN_STOCK", loc, item, 1+rng.IntN(10), at, at)
		case r < 68:
			raw = sim.SquareAdjustment(id, "RETURNED_BY_CUSTOMER", "IN_STOCK", loc, item, 1, at, at)
		case r < 72:
			raw = sim.SquareAdjustment(id, "IN_STOCK", "WASTE", loc, item, 1, at, at)
		case r < 85:
			to := fmt.Sprintf("LOC%d", 1+(rng.IntN(2)+int(loc[3]-'0'))%3)
			raw = sim.SquareTransfer(id, loc, to, item, 1+rng.IntN(4), at, at)
			locs = append(locs, to)
		default:
			raw = sim.SquareCount(id, loc, item, rng.IntN(25), at, at)
		}
		out = append(out, genEvent{raw, locs, at})
	}
	return out
}

// Every change delivered three times, shuffled across pages, with many
// arriving long after they happened (an offline POS catching up), gives
// the same positions as delivering each once in order.
func TestSquareTripleShuffledLateDeliveryEqualsSequentialReplay(t *testing.T) {
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(7, 7))
	feed := genSquareFeed(rng, 160)

	seqSrc, seqURL := squareServer(t)
	seqSrc.PageSize = 50
	seq := newWorld(t, "square", seqURL, 3, 4).applyEveryCount()
	for _, e := range feed {
		seqSrc.Add(e.at, e.locs, e.raw)
	}
	mustLease(t, seq, seq.conn, "a")
	if _, err := seq.runner("a").Round(ctx, seq.conn); err != nil {
		t.Fatal(err)
	}
	want := seq.positions()

	shufSrc, shufURL := squareServer(t)
	shuf := newWorld(t, "square", shufURL, 3, 4).applyEveryCount()
	var deliveries []genEvent
	for range 3 {
		deliveries = append(deliveries, feed...)
	}
	rng.Shuffle(len(deliveries), func(i, j int) { deliveries[i], deliveries[j] = deliveries[j], deliveries[i] })
	mustLease(t, shuf, shuf.conn, "a")
	r := shuf.runner("a")
	r.BatchSize = 7
	created := base.Add(48 * time.Hour) // Square records them late
	for len(deliveries) > 0 {
		n := min(len(deliveries), 1+rng.IntN(60))
		for _, e := range deliveries[:n] {
			created = created.Add(time.Second)
			shufSrc.Add(created, e.locs, e.raw)
		}
		deliveries = deliveries[n:]
		shufSrc.PageSize = 1 + rng.IntN(25)
		if _, err := r.Round(ctx, shuf.conn); err != nil {
			t.Fatal(err)
		}
	}
	got := shuf.positions()
	if len(got) != len(want) {
		t.Errorf("positions: %d shuffled, %d sequential", len(got), len(want))
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s: shuffled %+v, sequential %+v", k, got[k], v)
		}
	}
	if n := shuf.count(`SELECT count(*) FROM inbound_events`); n != len(feed) {
		t.Fatalf("stored events %d, want %d", n, len(feed))
	}
	seq.checkOK()
	shuf.checkOK()
}

// A source outage: the loop backs off exponentially (honouring
// Retry-After), reports the failures in the feed's health, and once the
// source is back applies every change, none missing.
func TestSquareOutageBacksOffThenRecoversWithNoGap(t *testing.T) {
	sq, url := squareServer(t)
	sq.PageSize = 4
	w := newWorld(t, "square", url, 1, 1)
	for i := range 10 {
		at := base.Add(time.Duration(i) * time.Minute)
		sq.Add(at, []string{"LOC1"}, sim.SquareAdjustment(fmt.Sprint("R", i), "NONE", "IN_STOCK", "LOC1", "ITEM1", 1, at, at))
	}
	sq.Fail(sim.Fault{Status: 503}, sim.Fault{Status: 502}, sim.Fault{Status: 503}, sim.Fault{Status: 429, RetryAfter: "1"})
	r := w.runner("a")
	var mu sync.Mutex
	var waits []time.Duration
	r.OnRetry = func(_ string, _ int, d time.Duration, _ error) {
		mu.Lock()
		waits = append(waits, d)
		mu.Unlock()
	}
	r.Sleep = func(ctx context.Context, d time.Duration) bool {
		select {
		case <-ctx.Done():
			return false
		case <-time.After(min(d, 20*time.Millisecond)):
			return true
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	done := make(chan struct{})
	go func() { r.Run(ctx); close(done) }()
	for w.count(`SELECT count(*) FROM inbound_events`) < 10 {
		if ctx.Err() != nil {
			t.Fatal("the feed never recovered")
		}
		time.Sleep(10 * time.Millisecond)
	}
	// A change that happens during recovery is not lost either.
	at := base.Add(time.Hour)
	sq.Add(at, []string{"LOC1"}, sim.SquareAdjustment("R-late", "NONE", "IN_STOCK", "LOC1", "ITEM1", 5, at, at))
	for w.count(`SELECT count(*) FROM inbound_events`) < 11 && ctx.Err() == nil {
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(100 * time.Millisecond)
	cancel()
	<-done
	if got := w.positions()["TST-00001@T01"].OnHand; got != 15 {
		t.Fatalf("on hand %d, want 15: a change went missing or doubled", got)
	}
	c, _ := w.db.ConnectorByID(context.Background(), w.conn.ID)
	if c.ErrorsTotal != 4 || c.ErrorCount != 0 || c.LastSuccessAt.IsZero() || !strings.Contains(c.LastError, "429") {
		t.Fatalf("health: errors_total %d, error_count %d, last_success %v, last_error %q", c.ErrorsTotal, c.ErrorCount, c.LastSuccessAt, c.LastError)
	}
	// The backoff grew between failures (base 5 ms, equal jitter) and
	// honoured Retry-After: 1.
	mu.Lock()
	defer mu.Unlock()
	if len(waits) != 4 {
		t.Fatalf("waits %v, want 4", waits)
	}
	for i, hi := range []time.Duration{5 * time.Millisecond, 10 * time.Millisecond, 20 * time.Millisecond} {
		if waits[i] < hi/2 || waits[i] > hi {
			t.Fatalf("retry %d waited %v, want within [%v, %v]; all: %v", i+1, waits[i], hi/2, hi, waits)
		}
	}
	if waits[3] < time.Second || waits[3] > 1100*time.Millisecond {
		t.Fatalf("Retry-After: 1 not honoured: %v", waits)
	}
	w.checkOK()
}

// A crash in the middle of a page (the context cancelled after some of its
// batches committed, before the cursor moved) loses nothing and doubles
// nothing: the next run re-reads the page and dedupe skips what was in.
func TestSquareCrashMidPageLosesNothingDoublesNothing(t *testing.T) {
	sq, url := squareServer(t)
	sq.PageSize = 10
	w := newWorld(t, "square", url, 2, 2)
	total := 0
	for i := range 25 {
		at := base.Add(time.Duration(i) * time.Minute)
		q := 1 + i%4
		total += q
		sq.Add(at, []string{"LOC1"}, sim.SquareAdjustment(fmt.Sprint("R", i), "NONE", "IN_STOCK", "LOC1", "ITEM1", q, at, at))
	}
	mustLease(t, w, w.conn, "a")
	r := w.runner("a")
	r.BatchSize = 3
	ctx, crash := context.WithCancel(context.Background())
	batches := 0
	r.AfterBatch = func(string, store.IngestResult) {
		if batches++; batches == 2 {
			crash()
		}
	}
	if _, err := r.Round(ctx, w.conn); err == nil {
		t.Fatal("the crashed round should fail")
	}
	if n := w.count(`SELECT count(*) FROM inbound_events`); n != 6 {
		t.Fatalf("after the crash %d events stored, want the 2 committed batches of 3", n)
	}
	if cur, _ := w.db.Cursor(context.Background(), w.conn.ID, "inventory"); cur != "" {
		t.Fatalf("the cursor moved past a page that did not finish: %q", cur)
	}
	r2 := w.runner("a")
	r2.BatchSize = 3
	if _, err := r2.Round(context.Background(), w.conn); err != nil {
		t.Fatal(err)
	}
	if n := w.count(`SELECT count(*) FROM inbound_events`); n != 25 {
		t.Fatalf("events %d, want 25", n)
	}
	if n := w.count(`SELECT count(*) FROM ledger WHERE source = $1`, w.conn.Name); n != 25 {
		t.Fatalf("ledger rows %d, want 25", n)
	}
	if got := w.positions()["TST-00001@T01"].OnHand; got != total {
		t.Fatalf("on hand %d, want %d", got, total)
	}
	w.checkOK()
}

// Two app instances run side by side: each connector is pulled by exactly
// one of them, every change is applied once, and when an instance stops
// the other takes its feed over.
func TestTwoInstancesPullEachConnectorOnce(t *testing.T) {
	ctx := context.Background()
	sq1, url1 := squareServer(t)
	w := newWorld(t, "square", url1, 2, 2)
	sq2, url2 := squareServer(t)
	c2, err := w.db.CreateConnector(ctx, domain.SystemActor("test"), store.NewConnector{Name: "square-two", Kind: "pos", Adapter: "square",
		BaseURL: url2, PollSeconds: 1, Enabled: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.db.SetMappings(ctx, domain.SystemActor("test"), c2.ID, []store.Mapping{
		{Kind: "location", ExternalID: "LOC2", Code: "T02"}, {Kind: "item", ExternalID: "ITEM2", Code: "TST-00002"}}); err != nil {
		t.Fatal(err)
	}
	add := func(sq *sim.Square, prefix, loc, item string, n int, from time.Time) {
		for i := range n {
			at := from.Add(time.Duration(i) * time.Second)
			sq.Add(at, []string{loc}, sim.SquareAdjustment(fmt.Sprintf("%s%d", prefix, i), "NONE", "IN_STOCK", loc, item, 1, at, at))
		}
	}
	add(sq1, "a", "LOC1", "ITEM1", 30, base)
	add(sq2, "b", "LOC2", "ITEM2", 30, base)

	ctxA, stopA := context.WithCancel(ctx)
	ctxB, stopB := context.WithCancel(ctx)
	defer stopB()
	ra, rb := w.runner("instance-a"), w.runner("instance-b")
	doneA, doneB := make(chan struct{}), make(chan struct{})
	go func() { ra.Run(ctxA); close(doneA) }()
	go func() { rb.Run(ctxB); close(doneB) }()
	wait := func(n int) {
		t.Helper()
		deadline := time.Now().Add(15 * time.Second)
		for w.count(`SELECT count(*) FROM inbound_events`) < n {
			if time.Now().After(deadline) {
				t.Fatalf("only %d of %d events arrived", w.count(`SELECT count(*) FROM inbound_events`), n)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	wait(60)
	time.Sleep(1500 * time.Millisecond) // a few more polls
	for i, sq := range []*sim.Square{sq1, sq2} {
		_, agents := sq.Requests()
		if len(agents) != 1 {
			t.Fatalf("source %d was pulled by %d instances: %v", i+1, len(agents), agents)
		}
	}
	// Stop whichever instance holds the first feed: the other takes over.
	holder, _ := w.db.LeaseHolder(ctx, w.conn.ID)
	if holder == "instance-a" {
		stopA()
		<-doneA
	} else {
		stopB()
		<-doneB
	}
	add(sq1, "late", "LOC1", "ITEM1", 5, base.Add(time.Hour))
	wait(65)
	if h, _ := w.db.LeaseHolder(ctx, w.conn.ID); h == holder || h == "" {
		t.Fatalf("lease holder after failover %q (was %q)", h, holder)
	}
	stopA()
	stopB()
	<-doneA
	<-doneB
	if n := w.count(`SELECT count(*) FROM ledger`); n != 65 {
		t.Fatalf("ledger rows %d, want 65: something applied twice or not at all", n)
	}
	got := w.positions()
	if got["TST-00001@T01"].OnHand != 35 || got["TST-00002@T02"].OnHand != 30 {
		t.Fatalf("positions %v", got)
	}
	w.checkOK()
}

func TestRetryDeadLetterWithFixedPayload(t *testing.T) {
	ctx := context.Background()
	sq, url := squareServer(t)
	w := newWorld(t, "square", url, 1, 1)
	sq.Add(base, []string{"LOC1"}, sim.SquareMalformed("BAD", "LOC1", "ITEM1", base))
	mustLease(t, w, w.conn, "a")
	if _, err := w.runner("a").Round(ctx, w.conn); err != nil {
		t.Fatal(err)
	}
	dls, _, _ := w.db.DeadLetters(ctx, w.conn.ID, "open", 0, 10)
	if len(dls) != 1 || !strings.Contains(dls[0].Error, "two") {
		t.Fatalf("dead letters %+v", dls)
	}
	actor := domain.Actor{Kind: "user", Name: "lead@example.com"}
	// Retrying as is fails again, and says why.
	if _, err := connectors.RetryDeadLetter(ctx, w.db, dls[0].ID, nil, actor); domain.ErrorCode(err) != "still_failing" {
		t.Fatalf("retry as is: %v", err)
	}
	fixed := strings.Replace(dls[0].Payload, `"two"`, `"2"`, 1)
	dl, err := connectors.RetryDeadLetter(ctx, w.db, dls[0].ID, []byte(fixed), actor)
	if err != nil || dl.Status != "retried" || dl.Attempts != 2 {
		t.Fatalf("retry fixed: %+v %v", dl, err)
	}
	if got := w.positions()["TST-00001@T01"].OnHand; got != -2 {
		t.Fatalf("on hand %d, want -2", got)
	}
	if _, err := connectors.RetryDeadLetter(ctx, w.db, dls[0].ID, nil, actor); domain.ErrorCode(err) != domain.ECONFLICT {
		t.Fatalf("retrying a retried letter: %v", err)
	}
	w.checkOK()
}
