package main

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"stockline/connectors"
	"stockline/connectors/sim"
	"stockline/domain"
	"stockline/store"
	"stockline/store/pgtest"
)

// The crash test's feed: Square-style changes at four stores over 60
// SKUs, served by a simulator in the test process that the binary's own
// connector runner pulls. Reservations go to other pickup stores and other
// SKUs, so the two streams touch disjoint positions and the final state
// does not depend on how they interleave.
const (
	crashEvents    = 4000 // distinct changes; redeliveries come on top
	crashPage      = 200  // changes per page, one transaction each
	crashKillPage  = 6    // the feed's SIGKILL lands while this page is applied
	crashFeedSKUs  = 60
	crashClients   = 8   // concurrent API clients in the reservation burst
	crashKillAfter = 80  // the burst's SIGKILL comes after this many answers
	crashSpread    = 200 // reservations on positions with stock to spare
)

var (
	crashFeedStores = []string{"S01", "S02", "S03", "S04"}
	crashResvStores = []string{"S07", "S08", "S09", "S10", "S11"} // pickup stores the feed does not touch
)

// crashFeed serves the feed and lets the test act after a page is served.
type crashFeed struct {
	sq     *sim.Square
	pages  atomic.Int64
	onPage atomic.Pointer[func(page int)]
}

func (f *crashFeed) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.sq.ServeHTTP(w, r)
	n := int(f.pages.Add(1))
	if fn := f.onPage.Load(); fn != nil {
		go (*fn)(n) // after the handler returns, so the page reaches the binary whole
	}
}

// newCrashFeed fills the simulator: sales, receipts, returns, waste,
// transfers and counts, some arriving long after they happened, one in 40
// redelivered, a few malformed or for an unmapped item (dead letters).
func newCrashFeed(t *testing.T) (*crashFeed, string) {
	rng := rand.New(rand.NewPCG(9, 9))
	sq := sim.NewSquare()
	sq.PageSize = crashPage
	start := time.Now().Add(-4 * time.Hour).Truncate(time.Second)
	type change struct {
		locs []string
		raw  json.RawMessage
	}
	var sent []change
	for i := range crashEvents {
		created := start.Add(time.Duration(i) * time.Second)
		occurred := created
		if rng.IntN(100) < 5 { // an offline till catching up
			occurred = created.Add(-time.Duration(30+rng.IntN(60)) * time.Minute)
		}
		id, li := fmt.Sprintf("K%05d", i), rng.IntN(len(crashFeedStores))
		loc, item := fmt.Sprintf("LOC%d", li+1), fmt.Sprintf("ITEM%d", 1+rng.IntN(crashFeedSKUs))
		c := change{locs: []string{loc}}
		switch r := rng.IntN(100); {
		case i%997 == 500:
			c.raw = sim.SquareMalformed(id, loc, item, created)
		case i%1499 == 700:
			c.raw = sim.SquareAdjustment(id, "IN_STOCK", "SOLD", loc, "ITEM-UNMAPPED", 1, occurred, created)
		case r < 40:
			c.raw = sim.SquareAdjustment(id, "IN_STOCK", "SOLD", loc, item, 1+rng.IntN(3), occurred, created)
		case r < 55:
			c.raw = sim.SquareAdjustment(id, "NONE", "IN_STOCK", loc, item, 1+rng.IntN(10), occurred, created)
		case r < 63:
			c.raw = sim.SquareAdjustment(id, "RETURNED_BY_CUSTOMER", "IN_STOCK", loc, item, 1, occurred, created)
		case r < 68:
			c.raw = sim.SquareAdjustment(id, "IN_STOCK", "WASTE", loc, item, 1, occurred, created)
		case r < 85:
			to := fmt.Sprintf("LOC%d", 1+(li+1+rng.IntN(len(crashFeedStores)-1))%len(crashFeedStores))
			c.raw = sim.SquareTransfer(id, loc, to, item, 1+rng.IntN(4), occurred, created)
			c.locs = append(c.locs, to)
		default:
			c.raw = sim.SquareCount(id, loc, item, rng.IntN(30), occurred, created)
		}
		sq.Add(created, c.locs, c.raw)
		sent = append(sent, c)
		if i%40 == 39 { // Square sends an earlier change again
			again := sent[i-1-rng.IntN(30)]
			sq.Add(created, again.locs, again.raw)
		}
	}
	f := &crashFeed{sq: sq}
	ts := httptest.NewServer(f)
	t.Cleanup(ts.Close)
	return f, ts.URL
}

// addCrashConnector adds the feed's connector and its mappings: LOC<n> to
// the feed stores, ITEM<n> to the first SKUs.
func addCrashConnector(t *testing.T, db *store.DB, url string) store.Connector {
	t.Helper()
	ctx := context.Background()
	c, err := db.CreateConnector(ctx, domain.SystemActor("test"), store.NewConnector{Name: "crash-pos", Kind: "pos", Adapter: "square",
		BaseURL: url, PollSeconds: 1, Enabled: true})
	if err != nil {
		t.Fatal(err)
	}
	skus, err := db.AllSKUs(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var maps []store.Mapping
	for i, code := range crashFeedStores {
		maps = append(maps, store.Mapping{Kind: "location", ExternalID: fmt.Sprintf("LOC%d", i+1), Code: code})
	}
	for i := range crashFeedSKUs {
		maps = append(maps, store.Mapping{Kind: "item", ExternalID: fmt.Sprintf("ITEM%d", i+1), Code: skus[i]})
	}
	if err := db.SetMappings(ctx, domain.SystemActor("test"), c.ID, maps); err != nil {
		t.Fatal(err)
	}
	return c
}

// crashDB is a fresh migrated database being seeded with the demo
// retailer in the background (in process, with fast password hashing, as
// the other tests do), so the crash run's database, the replay's and the
// binary's build proceed side by side; wait returns once it is ready.
func crashDB(t *testing.T) (dsn string, wait func() *store.DB) {
	t.Helper()
	store.BcryptCost = 4
	dsn = pgtest.FreshDSN(t)
	db, err := store.Open(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	done := make(chan error, 1)
	go func() { _, err := db.SeedDemo(context.Background()); done <- err }()
	return dsn, func() *store.DB {
		t.Helper()
		if err := <-done; err != nil {
			t.Fatalf("seed: %v", err)
		}
		return db
	}
}

// releaseDeadLease frees the lease a killed process left on the
// connector, as its 30 s expiry would, so the restarted binary takes the
// feed over at once. It refuses a lease held by anyone else.
func releaseDeadLease(t *testing.T, db *store.DB, c store.Connector, dead *crashProc) {
	t.Helper()
	ctx := context.Background()
	owner, err := db.LeaseHolder(ctx, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	if owner == "" {
		return
	}
	if !strings.Contains(owner, fmt.Sprintf("-%d-", dead.cmd.Process.Pid)) {
		t.Fatalf("the connector's lease is held by %q, not the killed pid %d", owner, dead.cmd.Process.Pid)
	}
	if err := db.ReleaseLease(ctx, c.ID, owner); err != nil {
		t.Fatal(err)
	}
}

func crashCount(t *testing.T, db *store.DB, q string, args ...any) int {
	t.Helper()
	var n int
	if err := db.GetContext(context.Background(), &n, q, args...); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestCrashKill9MidIngestAndMidReservations runs the real binary and
// kills it with SIGKILL twice: while it applies a feed page, then in a
// burst of reservations over the API. Restarted on the same database, it
// finishes the feed and answers every reservation retried with its
// Idempotency-Key. Then the consistency check is clean, every inbound
// event is stored once with the ledger rows of one application, every key
// has one effect, and the positions, the feed's ledger rows, the events'
// outcomes and the negative-stock exceptions equal those of a sequential
// replay of the same feed and reservations on a fresh database.
func TestCrashKill9MidIngestAndMidReservations(t *testing.T) {
	ctx := context.Background()
	began := time.Now()
	phase := func(what string) { t.Logf("%6.1fs  %s", time.Since(began).Seconds(), what) }
	dsn, seeded := crashDB(t)
	rdsn, rseeded := crashDB(t)
	feed, feedURL := newCrashFeed(t)
	bin := crashBuild(t)
	db := seeded()
	phase("built the binary, seeded the database")
	out, err := crashCmd(bin, dsn, "token", "create", "--name", "crash test", "--scopes", "reservations")
	if err != nil {
		t.Fatal(err)
	}
	token := strings.TrimSpace(out)
	conn := addCrashConnector(t, db, feedURL)
	plan := planCrashReservations(t, db)
	events := func() int {
		return crashCount(t, db, `SELECT count(*) FROM inbound_events WHERE connector_id = $1`, conn.ID)
	}

	// 1. SIGKILL in the middle of the feed: a moment after page
	// crashKillPage is served, while its batch is being applied.
	p1 := startCrashProc(t, bin, dsn)
	killAt := func(page int) {
		if page == crashKillPage {
			time.Sleep(time.Duration(rand.IntN(60)) * time.Millisecond)
			p1.kill()
		}
	}
	feed.onPage.Store(&killAt)
	select {
	case <-p1.done:
	case <-time.After(30 * time.Second):
		t.Fatalf("the feed did not reach page %d in 30 s (%d pages served)", crashKillPage, feed.pages.Load())
	}
	feed.onPage.Store(nil)
	if !p1.killed() {
		t.Fatalf("the first process ended by %v, not SIGKILL", p1.err)
	}
	if n := events(); n < (crashKillPage-1)*crashPage*9/10 || n >= crashEvents {
		t.Fatalf("after the kill %d events are stored; want the committed pages' share of %d", n, crashEvents)
	}
	phase(fmt.Sprintf("feed: SIGKILL after page %d was served; %d of %d events were stored", crashKillPage, events(), crashEvents))

	// 2. Restart; SIGKILL in a burst of reservations (the feed resumes
	// beside it and may be cut again).
	releaseDeadLease(t, db, conn, p1)
	p2 := startCrashProc(t, bin, dsn)
	first := crashBurst(t, p2, token, plan, crashClients, crashKillAfter)
	if !p2.killed() {
		t.Fatalf("the second process ended by %v, not SIGKILL", p2.err)
	}
	if len(first) < crashKillAfter || len(first) >= len(plan) {
		t.Fatalf("%d of %d reservations answered before the kill", len(first), len(plan))
	}
	phase(fmt.Sprintf("reservations: SIGKILL after %d of %d answers", len(first), len(plan)))

	// 3. Restart; retry every reservation with its key; let the feed end.
	releaseDeadLease(t, db, conn, p2)
	p3 := startCrashProc(t, bin, dsn)
	final := crashBurst(t, p3, token, plan, crashClients, 0)
	if !crashWaitFor(40*time.Second, func() bool { return events() >= crashEvents }) {
		t.Fatalf("the feed did not finish after the restarts: %d of %d events stored in 40 s", events(), crashEvents)
	}
	p3.stop()
	phase("restarted: every reservation retried, the feed finished")
	if out, err := crashCmd(bin, dsn, "check"); err != nil || !strings.HasSuffix(strings.TrimSpace(out), "OK") {
		t.Fatalf("stockline check after the crashes: %v\n%s", err, out)
	}
	checkCrashAnswers(t, db, plan, first, final)
	phase("checked")

	// The sequential replay: the same reservations one at a time through
	// the binary, then the same feed in one uninterrupted round.
	rdb := rseeded()
	rp := startCrashProc(t, bin, rdsn)
	replayed := crashBurst(t, rp, store.DemoToken, plan, 1, 0)
	rp.stop()
	phase("replay: reservations one at a time")
	rconn := addCrashConnector(t, rdb, feedURL)
	r := &connectors.Runner{DB: rdb, Owner: "replay"}
	if ok, err := rdb.AcquireLease(ctx, rconn.ID, "replay", 15*time.Minute); err != nil || !ok {
		t.Fatalf("replay lease: %v %v", ok, err)
	}
	if _, err := r.Round(ctx, rconn); err != nil {
		t.Fatalf("replay round: %v", err)
	}
	if rep, err := rdb.Check(ctx); err != nil || !rep.OK() {
		t.Fatalf("the replay's consistency check: %+v %v", rep, err)
	}
	phase("replay: the feed in one round")
	compareWithReplay(t, db, rdb, conn, rconn, final, replayed, plan)
}
