package store

import (
	"context"
	"time"

	"stockline/domain"
)

// Test hooks into the stock primitive.

// ReservableSQL is the SQL guard on a take.
var ReservableSQL = reservableSQL

// TestMove is one ledger row of a test batch.
type TestMove struct {
	LocationID, ProductID int64
	Bucket                domain.Bucket
	Delta                 int
	Take                  *domain.Policy // the rule a reserved rise is taken under
}

// ApplyTestBatch applies moves as one stock batch in one transaction and
// returns the positions after it.
func (db *DB) ApplyTestBatch(ctx context.Context, meta LedgerMeta, moves []TestMove) (map[[2]int64]domain.Position, error) {
	out := map[[2]int64]domain.Position{}
	err := db.InTx(ctx, func(tx *Tx) error {
		b := stockBatch{meta: meta, takes: map[posKey]stockTake{}}
		for _, m := range moves {
			k := posKey{m.LocationID, m.ProductID}
			b.add(stockRow{pos: k, bucket: m.Bucket, delta: m.Delta})
			if m.Take != nil {
				b.takes[k] = takeOf(*m.Take)
			}
		}
		after, err := applyStock(ctx, tx, nil, b)
		for k, p := range after {
			out[[2]int64{k.loc, k.prod}] = p
		}
		return err
	})
	return out, err
}

// ApplyTestMovements runs the single-position form of the primitive in
// one transaction.
func (db *DB) ApplyTestMovements(ctx context.Context, locationID, productID int64, moves []domain.Movement, meta LedgerMeta) (domain.Position, error) {
	var p domain.Position
	err := db.InTx(ctx, func(tx *Tx) error {
		var err error
		p, err = applyMovements(ctx, tx, locationID, productID, moves, meta)
		return err
	})
	return p, err
}

// ApplyTestMovementsHeld is ApplyTestMovements that, once its movements
// are written, closes written and waits for hold before it commits: a
// writer whose ledger rows (and ids) commit after later writers' do.
func (db *DB) ApplyTestMovementsHeld(ctx context.Context, locationID, productID int64, moves []domain.Movement, meta LedgerMeta,
	written chan<- struct{}, hold <-chan struct{}) error {
	return db.InTx(ctx, func(tx *Tx) error {
		if _, err := applyMovements(ctx, tx, locationID, productID, moves, meta); err != nil {
			return err
		}
		close(written)
		<-hold
		return nil
	})
}

// SetIdempotencyWait shortens how long a claim waits for a key another
// transaction holds; the returned func restores it.
func SetIdempotencyWait(d time.Duration) func() {
	old := idempotencyWait
	idempotencyWait = d
	return func() { idempotencyWait = old }
}

// ReserveTestBatch answers the calls as one batch of the reservation
// batcher (as if they had queued together), each request that the batch
// could not answer running alone as Reserve would. failed says the batch
// transaction failed as a whole.
func (db *DB) ReserveTestBatch(ctx context.Context, calls []ReserveCall) (res []Response, errs []error, failed bool, err error) {
	return db.reserveTestBatch(ctx, &batchShard{}, calls, false)
}

// TestPipeline is one batch pipeline for tests: the batches run on it
// keep what they learn of the positions, so the next may go the known way.
type TestPipeline struct{ sh batchShard }

// ReserveTestBatchOn is ReserveTestBatch on pipeline p.
func (db *DB) ReserveTestBatchOn(ctx context.Context, p *TestPipeline, calls []ReserveCall) (res []Response, errs []error, failed bool, err error) {
	return db.reserveTestBatch(ctx, &p.sh, calls, false)
}

// KnownWays counts the batches the known way answered, and those it handed
// to the locked way, since the process started.
func KnownWays() (ways, misses int64) { return knownWays.Load(), knownMisses.Load() }

// ReadWays counts the same for batches decided against positions read
// first, because the pipeline did not know them.
func ReadWays() (ways, misses int64) { return readWays.Load(), readMisses.Load() }

// ReserveTestBatchAhead is ReserveTestBatch on a transaction begun ahead,
// as the batcher runs a batch under load.
func (db *DB) ReserveTestBatchAhead(ctx context.Context, calls []ReserveCall) (res []Response, errs []error, failed bool, err error) {
	return db.reserveTestBatch(ctx, &batchShard{}, calls, true)
}

func (db *DB) reserveTestBatch(ctx context.Context, sh *batchShard, calls []ReserveCall, ahead bool) (res []Response, errs []error, failed bool, err error) {
	db.resv.init(db)
	batch := make([]*batchReq, len(calls))
	for i, c := range calls {
		if err := c.Request.Validate(); err != nil {
			return nil, nil, false, err
		}
		rq, err := db.resolveReservation(ctx, c.Request)
		if err != nil {
			return nil, nil, false, err
		}
		batch[i] = &batchReq{ctx: ctx, call: c, rq: rq, keys: rq.candidateKeys(), done: make(chan struct{})}
	}
	var begun *Tx
	if ahead {
		begun = <-db.beginAhead()
	}
	db.runBatch(sh, batch, begun)
	res, errs = make([]Response, len(calls)), make([]error, len(calls))
	for i, r := range batch {
		res[i], errs[i] = r.res, r.err
		if r.alone {
			failed = true
			res[i], errs[i] = db.reserveAlone(ctx, r.call, r.rq)
		}
	}
	return res, errs, failed, nil
}

// ProductForReservation looks a SKU up as the reservation path does,
// through its product cache.
func (db *DB) ProductForReservation(ctx context.Context, sku string) (domain.Product, error) {
	db.resv.init(db)
	return db.resv.refs.product(ctx, db, sku)
}

// CachedProducts is how many products the reservation path's cache holds.
func (db *DB) CachedProducts() int {
	db.resv.refs.mu.Lock()
	defer db.resv.refs.mu.Unlock()
	return len(db.resv.refs.products)
}

// TokenReads counts the token check's database reads.
func (db *DB) TokenReads() int64 { return db.tokens.reads.Load() }

// TokenCachedAt is when the read behind raw's cached entry began.
func (db *DB) TokenCachedAt(raw string) (time.Time, bool) {
	db.tokens.mu.Lock()
	defer db.tokens.mu.Unlock()
	e, ok := db.tokens.m[string(hashToken(raw))]
	return e.at, ok
}
