package store

import (
	"bytes"
	"context"
	"fmt"
	"hash/maphash"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lib/pq"

	"stockline/domain"
)

// Tuning for the reservation path.
const (
	// maxReservationTx bounds the reservation transactions running at once,
	// below the pool's 40 connections, so a burst queues in memory instead
	// of failing, and sign-in, pages and token checks keep connections.
	maxReservationTx = 24
	// batchShards is how many batch pipelines run side by side. A product's
	// positions always map to the same shard (by the request's first
	// line), so two batches of single-line holds never contend for a row,
	// and requests for one hot position queue behind each other. Holds of
	// several lines may lock positions of another shard's products; every
	// batch locks in the one order, so they wait, never deadlock.
	// One pipeline: a spread load's batches are then twice as large, and
	// a batch's cost is mostly per batch (two round trips and a commit).
	// Measured on the spread run, 1 against 2 in ten alternated pairs:
	// median p99 36.7 against 43.5 ms located, 25.2 against 31.3 sourced
	// (lower in seven pairs of ten each), throughput no lower; 4 shards
	// halved the batches again and lost a third of the throughput, 8 were
	// no better than 2 (README, Performance, 2026-12-05 14:30-16:00).
	batchShards = 1
	// maxBatch bounds how many requests one batch transaction answers.
	maxBatch = 256
)

// resvRuntime is the reservation path's in-process state: flights for
// duplicate keys, the transaction limiter, the batch pipelines and the
// lookup caches. Its zero value is ready; the pieces start on first use.
type resvRuntime struct {
	once    sync.Once
	flights flightGroup
	sem     chan struct{}
	shards  [batchShards]batchShard
	seed    maphash.Seed
	refs    refCache
	stmts   stmtCache
	ids     idPool
}

func (rt *resvRuntime) init(db *DB) {
	rt.once.Do(func() {
		rt.sem = make(chan struct{}, maxReservationTx)
		rt.stmts.db = db
		rt.seed = maphash.MakeSeed()
	})
}

// runLimited runs fn once a reservation transaction slot is free.
func (db *DB) runLimited(ctx context.Context, fn func() error) error {
	db.resv.init(db)
	select {
	case db.resv.sem <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { <-db.resv.sem }()
	return fn()
}

// batchShard is one pipeline: requests queue while a batch runs, and the
// next batch takes everything queued. There is no waiting for a batch to
// fill: an idle pipeline runs a lone request at once, and under load the
// batches grow by themselves (group commit).
type batchShard struct {
	mu      sync.Mutex
	pending []*batchReq
	running bool
	// waitFor, while the pipeline lingers between batches, is the queue
	// length that ends the linger; the request that reaches it sends on
	// wake.
	waitFor int
	wake    chan struct{}
	// lingerScore learns whether lingering pays on this pipeline's load:
	// up when the answered requests came back in time, down when the wait
	// ran out. Below zero the pipeline lingers only on every
	// lingerProbe-th batch, to notice when the load changes.
	lingerScore int
	batches     int
	// known is the state this pipeline's batches left the positions in
	// (reservations_known.go); only the pipeline's running drainShard
	// touches it.
	known knownPositions
}

type batchReq struct {
	ctx  context.Context
	call ReserveCall
	rq   resolvedRequest
	keys []posKey // every candidate position, lines × locations
	done chan struct{}
	res  Response
	err  error
	// alone says the batch this request was in failed as a whole (nothing
	// it did was kept), so the request runs again in a transaction of its
	// own: one request's failure never fails another's.
	alone bool
}

// maxBatchedPositions bounds the candidate positions (lines × eligible
// locations) of a request the batcher takes; a larger one runs alone.
const maxBatchedPositions = 256

// batchable reports whether a resolved request goes through the batcher,
// and its candidate positions: any request, named location or sourced,
// single- or multi-line, with at most maxBatchedPositions candidates.
func batchable(rq resolvedRequest) ([]posKey, bool) {
	keys := rq.candidateKeys()
	return keys, len(keys) > 0 && len(keys) <= maxBatchedPositions
}

// reserveBatched answers a request through a pipeline, chosen by the
// first line's product, so every position of a single-line request's SKU
// (whichever location sourcing picks) is always locked by one pipeline.
func (db *DB) reserveBatched(ctx context.Context, call ReserveCall, rq resolvedRequest, keys []posKey) (Response, error) {
	db.resv.init(db)
	sh := &db.resv.shards[0]
	if batchShards > 1 {
		var h maphash.Hash
		h.SetSeed(db.resv.seed)
		var b [8]byte
		putInt64(b[:], rq.products[0].ID)
		h.Write(b[:])
		sh = &db.resv.shards[h.Sum64()%batchShards]
	}
	req := &batchReq{ctx: ctx, call: call, rq: rq, keys: keys, done: make(chan struct{})}
	if sh.enqueue(req) {
		go db.drainShard(sh)
	}
	select {
	case <-req.done:
		if req.alone {
			return db.reserveAlone(ctx, call, rq)
		}
		return req.res, req.err
	case <-ctx.Done():
		// The batch may still hold the stock; the key records the answer,
		// so the client's retry with the same key gets it.
		return Response{}, ctx.Err()
	}
}

// enqueue queues req, ends a linger the queue now satisfies, and reports
// whether the pipeline was idle (the caller then starts it).
func (sh *batchShard) enqueue(req *batchReq) (start bool) {
	sh.mu.Lock()
	defer sh.mu.Unlock()
	sh.pending = append(sh.pending, req)
	start = !sh.running
	sh.running = true
	if sh.waitFor > 0 && len(sh.pending) >= sh.waitFor {
		sh.waitFor = 0
		sh.wake <- struct{}{} // buffered, and armed once per linger
	}
	return start
}

func putInt64(b []byte, v int64) {
	for i := range 8 {
		b[i] = byte(v >> (8 * i))
	}
}

// drainShard runs batches until the shard's queue is empty. Under load
// (a batch of more than one request) that goes the locked way, it begins
// the next batch's transaction while the current batch runs, so the next
// batch starts with no BEGIN round trip of its own. A BEGIN takes no
// snapshot and no lock, so the open transaction waiting meanwhile holds
// nothing. Batches that go the known way (runKnown) need no transaction,
// so after one nothing is begun ahead.
func (db *DB) drainShard(sh *batchShard) {
	var ahead <-chan *Tx
	known := false
	defer func() {
		if ahead != nil {
			if tx := <-ahead; tx != nil {
				tx.Rollback()
			}
		}
	}()
	for {
		sh.mu.Lock()
		n := min(len(sh.pending), maxBatch)
		if n == 0 {
			sh.running = false
			sh.pending = nil
			sh.mu.Unlock()
			return
		}
		batch := make([]*batchReq, n)
		copy(batch, sh.pending)
		sh.pending = sh.pending[n:]
		sh.mu.Unlock()
		var begun *Tx
		if ahead != nil {
			begun, ahead = <-ahead, nil
		}
		if n > 1 && !known {
			ahead = db.beginAhead()
		}
		t0 := time.Now()
		known = db.runBatch(sh, batch, begun)
		took := time.Since(t0)
		batchCount.Add(1)
		batchRequests.Add(int64(n))
		if n > 1 && sharesPosition(batch) {
			sh.linger(n, min(max(took, minLinger), maxLinger))
		}
	}
}

// batchCount and batchRequests count the batches the pipelines have run
// and the requests they carried (BatchSizes).
var batchCount, batchRequests atomic.Int64

// BatchSizes reports how many batches the reservation pipelines have run
// since the process started, and how many requests those carried: the
// bench prints each run's mean batch from them.
func BatchSizes() (batches, requests int64) {
	return batchCount.Load(), batchRequests.Load()
}

// sharesPosition reports whether two requests of batch ask for the same
// position. Only then does a pipeline linger: requests for one hot
// position can only ever commit one batch after another, so a fuller batch
// is pure gain, while requests for many positions (a spread load) gain
// little from waiting (measured: 0.51x of the ceiling without, 0.46x with).
func sharesPosition(batch []*batchReq) bool {
	seen := make(map[posKey]struct{}, len(batch))
	for _, r := range batch {
		for _, k := range r.keys {
			if _, ok := seen[k]; ok {
				return true
			}
		}
		for _, k := range r.keys {
			seen[k] = struct{}{}
		}
	}
	return false
}

// Lingering bounds: a pipeline waits at most as long as the batch it just
// ran took, within these limits. The answered requests' round trip (the
// response, the client's next request, its parsing and resolving) does
// not shrink with the batch: a quarter of the batch's time was enough
// while every batch went the locked way, but a known-way batch is shorter
// than that round trip, so the wait ran out, the score fell, and the hot
// position's eight checkouts went back to two cohorts of four (measured:
// mean batch 4.0 of 8 clients, hot SKU 8 clients 0.78-1.01x of the
// ceiling; with the whole batch's time, 7.7-7.9 and 1.10-1.26x).
const (
	minLinger   = 200 * time.Microsecond
	maxLinger   = 2 * time.Millisecond
	lingerProbe = 8
)

// linger waits, after a batch of n requests, until the requests it
// answered have had the time to come back: until n more have queued than
// were waiting when it ended, or for at most wait (the batch's time,
// within minLinger and maxLinger). Without it, closed-loop callers settle
// into cohorts: the requests that queued during one batch run as the next
// while the answered ones make their round trip, so a hot position's eight
// checkouts commit as two batches of four and pay the per-batch cost (a
// statement and a commit: most of a batch's time) twice. A lone request
// (n = 1) never waits.
func (sh *batchShard) linger(n int, wait time.Duration) {
	sh.batches++
	if sh.lingerScore < 0 && sh.batches%lingerProbe != 0 {
		return
	}
	sh.mu.Lock()
	want := len(sh.pending) + n
	if len(sh.pending) >= maxBatch || want > maxBatch {
		want = maxBatch
	}
	if len(sh.pending) >= want {
		sh.mu.Unlock()
		return
	}
	if sh.wake == nil {
		sh.wake = make(chan struct{}, 1)
	}
	sh.waitFor = want
	sh.mu.Unlock()
	t := time.NewTimer(wait)
	select {
	case <-sh.wake:
		sh.lingerScore = min(sh.lingerScore+1, 4)
	case <-t.C:
		// The answered requests went elsewhere or come back slower than
		// the wait (many positions over several pipelines): lingering
		// would only add the wait to every batch.
		sh.lingerScore = max(sh.lingerScore-1, -4)
	}
	t.Stop()
	sh.mu.Lock()
	sh.waitFor = 0
	select { // a wake sent as the timer fired
	case <-sh.wake:
	default:
	}
	sh.mu.Unlock()
}

// beginAhead begins a transaction in the background; the channel yields
// it, or nil if it could not begin (the batch then begins its own).
func (db *DB) beginAhead() <-chan *Tx {
	ch := make(chan *Tx, 1)
	go func() {
		tx, err := db.BeginTxx(context.Background(), nil)
		if err != nil {
			tx = nil
		}
		ch <- tx
	}()
	return ch
}

// runBatch answers a batch of requests, on the same or different
// positions. It goes the known way first (runKnown: one self-committing
// statement, decided against the positions as the pipeline knows them or,
// when it does not, as it reads them) and reports known; when that kept
// nothing, or a position has no row yet, it goes the locked way, in one
// transaction of two statements (group commit): the
// first reads the keys' stored answers, takes a reservation id per request
// and locks every request's candidate positions in the one lock order
// (comparePos); then requests are decided in arrival order against that
// locked snapshot, each sourced by domain.Source and all lines or none,
// exactly as if they had run one after another, each answered on its own
// merits (201 or 409); the second statement writes every admitted hold and
// each new key with its answer, one row per key. One commit answers them
// all.
//
// A key another transaction is writing at the same time (a duplicate
// answered by another instance) makes the key's insert wait for it and,
// once it commits, fail on the key's unique index: the transaction then
// fails as a whole, nothing of it is kept, and every request in it runs
// again alone (reserveAlone, which claims its key first and so replays the
// other's answer). One request's failure never fails another's.
func (db *DB) runBatch(sh *batchShard, batch []*batchReq, begun *Tx) (known bool) {
	live := batch[:0:0]
	for _, r := range batch {
		if err := r.ctx.Err(); err != nil {
			r.err = err // its caller has gone; nothing was done for it
			close(r.done)
			continue
		}
		live = append(live, r)
	}
	if len(live) == 0 {
		if begun != nil {
			begun.Rollback()
		}
		return false
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	keys := make([]IdempotencyKey, len(live))
	var want []posKey
	for i, r := range live {
		keys[i] = r.call.Key
		want = append(want, r.keys...)
	}
	plan, known := db.runKnown(ctx, sh, live, keys, want)
	if known {
		if begun != nil {
			go begun.Rollback()
		}
		plan.answer(live, nil)
		return true
	}
	prep := &db.resv.stmts
	var decided map[posKey]domain.Position
	used := false
	err := db.runLimited(ctx, func() error {
		used = true
		return db.inTxOn(ctx, begun, func(tx *Tx) error {
			stored, ids, pos, err := lookupAndLock(ctx, tx, prep, &db.resv.ids, keys, want)
			if err != nil {
				return err
			}
			if plan, err = decideBatch(live, keys, stored, ids, pos, db.stamp()); err != nil {
				return err
			}
			decided = pos
			// Not a derived context: the stock primitive's touches are
			// collected under ctx itself (stock_touch.go). The wait on a key
			// another transaction holds is bounded by the lock_timeout
			// lookupAndLock set.
			return plan.write(ctx, tx, prep, nil)
		})
	})
	if !used && begun != nil {
		begun.Rollback()
	}
	if err == nil {
		sh.known.remember(decided)
	}
	plan.answer(live, err)
	return false
}

// batchPlan is what a batch decided: each request's answer, the holds to
// write, and the new keys with their answers.
type batchPlan struct {
	res      []Response
	errs     []error
	holds    []heldRes
	saveKeys []IdempotencyKey
	saveRes  []Response
}

// decideBatch decides live's requests in arrival order against pos (the
// positions as the batch found them; decideHold takes each admitted
// hold's units from it): a key already answered (stored) gets its
// answer, the same key twice gets in_progress for the second, every other
// request is sourced on its own merits and takes ids[i] if it is held.
func decideBatch(live []*batchReq, keys []IdempotencyKey, stored map[[2]string]keyRow, ids []int64, pos map[posKey]domain.Position, now time.Time) (batchPlan, error) {
	p := batchPlan{res: make([]Response, len(live)), errs: make([]error, len(live))}
	seen := make(map[[2]string]bool, len(live))
	for i, r := range live {
		id := [2]string{keys[i].Scope, keys[i].Key}
		if a, ok := stored[id]; ok {
			p.res[i], p.errs[i] = a.answerFor(keys[i])
			continue
		}
		if seen[id] { // the same key twice in one batch: the first one answers
			p.errs[i] = inProgress()
			continue
		}
		seen[id] = true
		h, short, err := decideHold(r.rq, pos, r.call.Actor, now)
		if err != nil {
			return batchPlan{}, err
		}
		if short != nil {
			p.res[i] = r.call.Render(nil, short)
		} else {
			h.ID = ids[i]
			p.holds = append(p.holds, heldRes{h, r.call.Actor, r.rq.policy})
			p.res[i] = r.call.Render(&h, nil)
		}
		p.saveKeys, p.saveRes = append(p.saveKeys, keys[i]), append(p.saveRes, p.res[i])
	}
	return p, nil
}

// write records the plan: the admitted holds through the stock primitive
// with the new keys' answers in the same statement, or the answers alone.
// expect is as writeHolds takes it.
func (p batchPlan) write(ctx context.Context, tx *Tx, prep *stmtCache, expect map[posKey]domain.Position) error {
	if len(p.holds) == 0 && expect == nil {
		return insertAnswers(ctx, tx, p.saveKeys, p.saveRes)
	}
	var answers []clause
	if len(p.saveKeys) > 0 {
		answers = append(answers, newAnswersClause(p.saveKeys, p.saveRes))
	}
	return writeHolds(ctx, tx, prep, p.holds, expect, answers...)
}

// answer hands each request its answer. A batch that failed (err) kept
// nothing, so every request in it runs again alone.
func (p batchPlan) answer(live []*batchReq, err error) {
	for i, r := range live {
		if err != nil {
			r.alone = true
		} else {
			r.res, r.err = p.res[i], p.errs[i]
		}
		close(r.done)
	}
}

// decideHold sources one request against the locked positions pos
// (domain.Source, all lines or none) and, when it fits, takes its units
// from pos, so the next request in the batch sees what is left; the hold
// it returns has no id yet. short is the 409 insufficient_stock error when
// it does not fit. The batcher and reserveInTx both decide here, so a
// request gets the same answer whichever path serves it.
func decideHold(rq resolvedRequest, pos map[posKey]domain.Position, actor domain.Actor, now time.Time) (domain.Reservation, *domain.Error, error) {
	cands := rq.candidates()
	stock := make([][]domain.SourceStock, len(rq.lines))
	for i, p := range rq.products {
		for _, l := range cands {
			stock[i] = append(stock[i], domain.SourceStock{Location: l, Reservable: domain.Reservable(rq.policy, l, pos[posKey{l.ID, p.ID}])})
		}
	}
	allocs, err := domain.Source(rq.policy, rq.lines, stock)
	if short := domain.AsError(err); short != nil && short.Code == domain.CodeInsufficientStock {
		if rq.fixed != nil && len(rq.lines) == 1 {
			// The batcher's answer for one line at a named location, as before.
			short = domain.InsufficientStock("Not enough stock to hold this line; nothing was held.",
				[]domain.ShortLine{{SKU: rq.lines[0].SKU, Requested: rq.lines[0].Qty, Available: stock[0][0].Reservable, Location: rq.fixed.Code}})
		}
		return domain.Reservation{}, short, nil
	} else if err != nil {
		return domain.Reservation{}, nil, err
	}
	h := newReservation(0, actor, rq.req, rq.policy, now)
	for i, a := range allocs {
		k := posKey{a.Location.ID, rq.products[a.Line].ID}
		pos[k] = pos[k].Apply(domain.Reserved, a.Qty)
		h.Lines = append(h.Lines, domain.ReservationLine{LineNo: i + 1, SKU: a.SKU, Location: a.Location.Code, Qty: a.Qty,
			LocationID: a.Location.ID, ProductID: rq.products[a.Line].ID})
	}
	return h, nil, nil
}

// keyRow is a recorded idempotency key.
type keyRow struct {
	Hash   []byte `db:"request_hash"`
	Status int    `db:"response_status"`
	Body   []byte `db:"response_body"`
}

// answerFor is the recorded answer for k: the stored response, or 422
// idempotency_mismatch when k asks something else.
func (r keyRow) answerFor(k IdempotencyKey) (Response, error) {
	switch {
	case !bytes.Equal(r.Hash, k.Hash):
		return Response{}, mismatch()
	case r.Status == 0:
		return Response{}, inProgress()
	}
	return Response{Status: r.Status, Body: r.Body}, nil
}

// lookupAndLock reads the keys already recorded (committed), takes a
// reservation id per key (and tops up pool, for the known way), and locks
// the positions in (location_id, product_id) order, in one statement. A
// position with no row is absent from pos. It sets the transaction's lock_timeout to idempotencyWait
// first, which bounds each wait: for a position, and for a key another
// transaction is recording when the batch writes its keys.
func lookupAndLock(ctx context.Context, tx *Tx, prep *stmtCache, pool *idPool, keys []IdempotencyKey, want []posKey) (map[[2]string]keyRow, []int64, map[posKey]domain.Position, error) {
	var a stmtArgs
	spare := pool.shortfall()
	scopes, names := make([]string, len(keys)), make([]string, len(keys))
	for i, k := range keys {
		scopes[i], names[i] = k.Scope, k.Key
	}
	query := `WITH ` + lockClause(want)(&a) + `
		SELECT 0 AS kind, nextval('reservations_id_seq') AS id, '' AS scope, '' AS key, ''::bytea AS request_hash, 0 AS response_status,
			''::bytea AS response_body, 0::bigint AS location_id, 0::bigint AS product_id,
			0 AS on_hand, 0 AS reserved, 0 AS damaged, 0 AS quality_hold, 0 AS transfer_out, 0 AS in_transit_in
		FROM generate_series(1, ` + a.p(len(keys)+spare) + `) WHERE set_config('lock_timeout', ` + a.p(strconv.FormatInt(idempotencyWait.Milliseconds(), 10)) + `, true) <> ''
		UNION ALL
		SELECT 1, 0, scope, key, request_hash, response_status, response_body, 0, 0, 0, 0, 0, 0, 0, 0 FROM idempotency_keys
		WHERE (scope, key) IN (SELECT * FROM unnest(` + a.p(pq.Array(scopes)) + `::text[], ` + a.p(pq.Array(names)) + `::text[]))
		UNION ALL
		SELECT 2, 0, '', '', '', 0, '', location_id, product_id, on_hand, reserved, damaged, quality_hold, transfer_out, in_transit_in FROM lp`
	var rows []struct {
		Kind  int    `db:"kind"`
		ID    int64  `db:"id"`
		Scope string `db:"scope"`
		Key   string `db:"key"`
		keyRow
		Loc  int64 `db:"location_id"`
		Prod int64 `db:"product_id"`
		domain.Position
	}
	if err := prep.selectIn(ctx, tx, &rows, query, a...); err != nil {
		return nil, nil, nil, fmt.Errorf("store: look up keys and lock: %w", err)
	}
	stored := map[[2]string]keyRow{}
	var ids []int64
	pos := map[posKey]domain.Position{}
	for _, r := range rows {
		switch r.Kind {
		case 0:
			ids = append(ids, r.ID)
		case 1:
			stored[[2]string{r.Scope, r.Key}] = r.keyRow
		default:
			pos[posKey{r.Loc, r.Prod}] = r.Position
		}
	}
	if len(ids) != len(keys)+spare {
		return nil, nil, nil, fmt.Errorf("store: look up keys and lock: %d ids for %d keys", len(ids), len(keys))
	}
	pool.give(ids[len(keys):])
	return stored, ids[:len(keys):len(keys)], pos, nil
}
