package store

import (
	"context"
	"hash/maphash"
	"sync"
	"time"

	"stockline/domain"
)

// Tuning for the reservation path.
const (
	// maxReservationTx bounds the reservation transactions running at once,
	// below the pool's 40 connections, so a burst queues in memory instead
	// of failing, and sign-in, pages and token checks keep connections.
	maxReservationTx = 24
	// batchShards is how many batch pipelines run side by side. A position
	// always maps to the same shard, so two batches never contend for a
	// row, and requests for one hot position queue behind each other.
	batchShards = 8
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
}

func (rt *resvRuntime) init() {
	rt.once.Do(func() {
		rt.sem = make(chan struct{}, maxReservationTx)
		rt.seed = maphash.MakeSeed()
	})
}

// runLimited runs fn once a reservation transaction slot is free.
func (db *DB) runLimited(ctx context.Context, fn func() error) error {
	db.resv.init()
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
}

type batchReq struct {
	ctx  context.Context
	call ReserveCall
	rq   resolvedRequest
	done chan struct{}
	res  Response
	err  error
}

// reserveBatched answers a single-line, single-location request through
// its position's pipeline.
func (db *DB) reserveBatched(ctx context.Context, call ReserveCall, rq resolvedRequest) (Response, error) {
	db.resv.init()
	var h maphash.Hash
	h.SetSeed(db.resv.seed)
	var b [16]byte
	putInt64(b[:8], rq.fixed.ID)
	putInt64(b[8:], rq.products[0].ID)
	h.Write(b[:])
	sh := &db.resv.shards[h.Sum64()%batchShards]
	req := &batchReq{ctx: ctx, call: call, rq: rq, done: make(chan struct{})}
	sh.mu.Lock()
	sh.pending = append(sh.pending, req)
	start := !sh.running
	sh.running = true
	sh.mu.Unlock()
	if start {
		go db.drainShard(sh)
	}
	select {
	case <-req.done:
		return req.res, req.err
	case <-ctx.Done():
		// The batch may still hold the stock; the key records the answer,
		// so the client's retry with the same key gets it.
		return Response{}, ctx.Err()
	}
}

func putInt64(b []byte, v int64) {
	for i := range 8 {
		b[i] = byte(v >> (8 * i))
	}
}

// drainShard runs batches until the shard's queue is empty.
func (db *DB) drainShard(sh *batchShard) {
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
		db.runBatch(batch)
	}
}

// runBatch answers a batch of single-line requests in one transaction:
// claim their keys, lock their positions in order, admit requests in
// arrival order while each position has the units (exactly as if they had
// run one after another), write every admitted hold, store every answer,
// commit once.
func (db *DB) runBatch(batch []*batchReq) {
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
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	res := make([]Response, len(live))
	errs := make([]error, len(live))
	err := db.runLimited(ctx, func() error {
		return db.InTx(ctx, func(tx *Tx) error {
			clear(res)
			clear(errs)
			keys := make([]IdempotencyKey, len(live))
			for i, r := range live {
				keys[i] = r.call.Key
			}
			claimed, answers, err := claimKeys(ctx, tx, keys)
			if err != nil {
				return err
			}
			var want []posKey
			for i, r := range live {
				if claimed[i] {
					want = append(want, posKey{r.rq.fixed.ID, r.rq.products[0].ID})
				} else {
					res[i], errs[i] = answers[i].res, answers[i].err
				}
			}
			if len(want) == 0 {
				return nil
			}
			pos, err := lockPositions(ctx, tx, want)
			if err != nil {
				return err
			}
			var admitted []int
			for i, r := range live {
				if !claimed[i] {
					continue
				}
				k := posKey{r.rq.fixed.ID, r.rq.products[0].ID}
				p := pos[k]
				qty := r.rq.lines[0].Qty
				if avail := domain.Reservable(r.rq.policy, *r.rq.fixed, p); qty > avail {
					res[i] = r.call.Render(nil, domain.InsufficientStock("Not enough stock to hold this line; nothing was held.",
						[]domain.ShortLine{{SKU: r.rq.lines[0].SKU, Requested: qty, Available: avail, Location: r.rq.fixed.Code}}))
					continue
				}
				pos[k] = p.Apply(domain.Reserved, qty)
				admitted = append(admitted, i)
			}
			now := db.stamp()
			holds := make([]heldRes, 0, len(admitted))
			if len(admitted) > 0 {
				ids, err := nextReservationIDs(ctx, tx, len(admitted))
				if err != nil {
					return err
				}
				for j, i := range admitted {
					r := live[i]
					h := newReservation(ids[j], r.call.Actor, r.rq.req, r.rq.policy, now)
					h.Lines = []domain.ReservationLine{{LineNo: 1, SKU: r.rq.lines[0].SKU, Location: r.rq.fixed.Code, Qty: r.rq.lines[0].Qty,
						LocationID: r.rq.fixed.ID, ProductID: r.rq.products[0].ID}}
					holds = append(holds, heldRes{h, r.call.Actor, r.rq.policy})
					res[i] = r.call.Render(&h, nil)
				}
			}
			if err := writeHolds(ctx, tx, holds); err != nil {
				return err
			}
			var saveKeys []IdempotencyKey
			var saveRes []Response
			for i := range live {
				if claimed[i] {
					saveKeys, saveRes = append(saveKeys, keys[i]), append(saveRes, res[i])
				}
			}
			return saveResponses(ctx, tx, saveKeys, saveRes)
		})
	})
	for i, r := range live {
		if err != nil {
			r.err = err
		} else {
			r.res, r.err = res[i], errs[i]
		}
		close(r.done)
	}
}

// refCache keeps the lookups every reservation makes: locations (briefly,
// as their flags may change) and products by SKU (a SKU's id never
// changes).
type refCache struct {
	mu       sync.Mutex
	locs     []domain.Location
	locsAt   time.Time
	products map[string]domain.Product
}

const (
	locationCacheTTL = time.Second
	maxCachedSKUs    = 200_000
)

func (c *refCache) locations(ctx context.Context, db *DB) ([]domain.Location, error) {
	c.mu.Lock()
	if c.locs != nil && time.Since(c.locsAt) < locationCacheTTL {
		l := c.locs
		c.mu.Unlock()
		return l, nil
	}
	c.mu.Unlock()
	l, err := db.ListLocations(ctx)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	c.locs, c.locsAt = l, time.Now()
	c.mu.Unlock()
	return l, nil
}

func (c *refCache) product(ctx context.Context, db *DB, sku string) (domain.Product, error) {
	c.mu.Lock()
	p, ok := c.products[sku]
	c.mu.Unlock()
	if ok {
		return p, nil
	}
	p, err := db.ProductBySKU(ctx, sku)
	if err != nil {
		return p, err
	}
	c.mu.Lock()
	if c.products == nil || len(c.products) >= maxCachedSKUs {
		c.products = map[string]domain.Product{}
	}
	c.products[sku] = p
	c.mu.Unlock()
	return p, nil
}
