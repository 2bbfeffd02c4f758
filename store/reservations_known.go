package store

// The batcher's known way. A hot position's holds queue on one pipeline,
// which commits one batch after another, so each batch's time is the
// position's throughput. The locked way costs three round trips with the
// row locked: read and lock the positions (with the keys' answers and the
// ids), write, commit. But the pipeline already knows what its own last
// batch left in those positions. The known way decides against that
// instead, and writes the batch as one statement that commits on its own;
// under the row locks the statement checks that every position it moves is
// still exactly what the decision saw, and that every other candidate it
// decided on reads the same in its snapshot, and aborts as a whole
// otherwise (stockBatch.expect, migration 0015). So a decision is only ever
// kept if it is the one the locked way would have made on the same stock.
//
// A batch whose positions the pipeline does not know (a spread load meets
// most positions for the first time) reads them first, without a lock,
// and then goes the same way: the read and the self-committing write are
// two round trips, where the locked way holds row locks across a lock
// read, a write and a commit.
//
// Whatever makes the known way fail (a position another writer changed, a
// key already answered, an error) costs one statement that kept nothing:
// the pipeline forgets those positions and runs the batch the locked way,
// which reads them afresh. Stock is never taken on the known state alone:
// the primitive's take guard still runs inside the statement.

import (
	"context"
	"errors"
	"maps"
	"sync"
	"sync/atomic"

	"stockline/domain"
)

// maxKnownPositions bounds a pipeline's known state; past it the state is
// dropped and learnt again from the next batches. A hot position is learnt
// back by its next batch.
const maxKnownPositions = 100_000

// knownPositions is one pipeline's positions as its last committed batches
// left them. It may be out of date (other writers); the known way's
// statement finds out.
type knownPositions struct {
	m map[posKey]domain.Position
	// absent are positions a read found no row for. A batch with one of
	// them goes the locked way (which may create it) without reading
	// first, until a committed batch shows the row exists.
	absent map[posKey]struct{}
}

// remember records positions a committed batch locked, read and moved,
// as it left them.
func (k *knownPositions) remember(pos map[posKey]domain.Position) {
	if k.m == nil || len(k.m)+len(pos) > maxKnownPositions {
		k.m = make(map[posKey]domain.Position, len(pos))
	}
	maps.Copy(k.m, pos)
	for key := range pos {
		delete(k.absent, key)
	}
}

// markAbsent records which of keys a read found no row for (those not in
// found).
func (k *knownPositions) markAbsent(keys []posKey, found map[posKey]domain.Position) {
	if k.absent == nil || len(k.absent)+len(keys) > maxKnownPositions {
		k.absent = map[posKey]struct{}{}
	}
	for _, key := range keys {
		if _, ok := found[key]; !ok {
			k.absent[key] = struct{}{}
		}
	}
}

// anyAbsent reports whether a read found no row for one of keys.
func (k *knownPositions) anyAbsent(keys []posKey) bool {
	for _, key := range keys {
		if _, ok := k.absent[key]; ok {
			return true
		}
	}
	return false
}

// forget drops keys, after the known way found one of them changed.
func (k *knownPositions) forget(keys []posKey) {
	for _, key := range keys {
		delete(k.m, key)
	}
}

// lookup copies the known positions for keys, and reports whether every
// one is known.
func (k *knownPositions) lookup(keys []posKey) (map[posKey]domain.Position, bool) {
	out := make(map[posKey]domain.Position, len(keys))
	for _, key := range keys {
		p, ok := k.m[key]
		if !ok {
			return nil, false
		}
		out[key] = p
	}
	return out, true
}

// idPool holds reservation ids taken from the sequence ahead of use, for
// batches that go the known way and so read no ids. The locked way tops it
// up in the round trip it makes anyway. Ids are handed out in the order
// the sequence gave them; an id a failed batch took is never reused (a
// sequence leaves gaps anyway).
type idPool struct {
	mu  sync.Mutex
	ids []int64
}

// Pool sizes: the locked way tops the pool up to idPoolFill once it has
// fewer than idPoolLow.
const (
	idPoolLow  = 64
	idPoolFill = 256
)

// shortfall is how many ids the next locked batch should add.
func (p *idPool) shortfall() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.ids) >= idPoolLow {
		return 0
	}
	return idPoolFill - len(p.ids)
}

func (p *idPool) give(ids []int64) {
	p.mu.Lock()
	p.ids = append(p.ids, ids...)
	p.mu.Unlock()
}

// take hands out n ids, or reports that the pool has fewer.
func (p *idPool) take(n int) ([]int64, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.ids) < n {
		return nil, false
	}
	out := p.ids[:n:n]
	p.ids = p.ids[n:]
	return out, true
}

// knownWays and knownMisses count batches the known way answered and
// batches it handed to the locked way after its statement failed;
// readWays and readMisses count the same for batches it decided against
// positions it read first (runKnown).
var knownWays, knownMisses, readWays, readMisses atomic.Int64

// errNoIDs sends a batch the locked way when the id pool is short; the
// locked way tops it up.
var errNoIDs = errors.New("store: reservation id pool short")

// runKnown answers live the known way, if the pool has the ids. When the
// pipeline does not know every candidate position (a spread load meets
// most of them for the first time), it reads them first, without a lock,
// and decides against what it read: two round trips, the write committing
// on its own, against the locked way's lock read, write and commit in a
// transaction. The statement checks the read state under lock as it
// checks the known state. ok false means nothing was kept and the caller
// runs the batch the locked way.
func (db *DB) runKnown(ctx context.Context, sh *batchShard, live []*batchReq, keys []IdempotencyKey, want []posKey) (plan batchPlan, ok bool) {
	pos, known := sh.known.lookup(want)
	ways, misses := &knownWays, &knownMisses
	if !known {
		if sh.known.anyAbsent(want) {
			return batchPlan{}, false
		}
		ways, misses = &readWays, &readMisses
	}
	prep := &db.resv.stmts
	err := db.runLimited(ctx, func() error {
		var err error
		if !known {
			if pos, err = readStock(ctx, prep, want); errors.Is(err, errStockUnknown) {
				sh.known.markAbsent(want, pos)
			}
			if err != nil {
				return err
			}
		}
		ids, enough := db.resv.ids.take(len(live))
		if !enough {
			return errNoIDs
		}
		expect := maps.Clone(pos)
		// No answer is read first: a key already answered makes the
		// statement's insert of it fail, and the locked way replays it.
		if plan, err = decideBatch(live, keys, nil, ids, pos, db.stamp()); err != nil {
			return err
		}
		return db.committing(ctx, func() error { return plan.write(ctx, nil, prep, expect) })
	})
	switch {
	case errors.Is(err, errNoIDs) || errors.Is(err, errStockUnknown):
		return batchPlan{}, false // nothing was tried
	case err != nil:
		sh.known.forget(want)
		misses.Add(1)
		return batchPlan{}, false
	}
	ways.Add(1)
	sh.known.remember(pos)
	return plan, true
}
