package store

// The availability read model's invalidation hook. Every change to a
// position calls touchStock inside its transaction; DB.InTx (through
// committing, which the batcher's self-committing statement uses too)
// collects the product ids per transaction and, once the commit has
// succeeded, drops them from this instance's availability cache at once
// and queues one notification for the other instances
// (availability_listen.go).
//
// touchStock takes only the context, so the collector is found by the
// context InTx was given: InTx registers one collector under that context
// value for the transaction's life, and every transaction body in store/
// passes the same context on to the helpers that move stock. A touch that
// finds no collector (a helper given a derived context) is not lost: it
// invalidates every listening instance's cache at once and counts a miss,
// which the tests require to stay zero.

import (
	"context"
	"reflect"
	"sync"
	"sync/atomic"
)

// touchSet is one transaction's touched product ids.
type touchSet struct {
	mu  sync.Mutex
	ids []int64
}

var touchReg = struct {
	mu sync.Mutex
	m  map[context.Context][]*touchSet
}{m: map[context.Context][]*touchSet{}}

// touchMisses counts touches made outside any InTx collector.
var touchMisses atomic.Int64

// beginTouch registers a collector for one transaction under ctx.
func beginTouch(ctx context.Context) *touchSet {
	t := &touchSet{}
	if ctx == nil || !reflect.TypeOf(ctx).Comparable() {
		return t
	}
	touchReg.mu.Lock()
	touchReg.m[ctx] = append(touchReg.m[ctx], t)
	touchReg.mu.Unlock()
	return t
}

// endTouch removes the collector beginTouch registered.
func endTouch(ctx context.Context, t *touchSet) {
	if ctx == nil || !reflect.TypeOf(ctx).Comparable() {
		return
	}
	touchReg.mu.Lock()
	list := touchReg.m[ctx]
	for i, x := range list {
		if x == t {
			list = append(list[:i:i], list[i+1:]...)
			break
		}
	}
	if len(list) == 0 {
		delete(touchReg.m, ctx)
	} else {
		touchReg.m[ctx] = list
	}
	touchReg.mu.Unlock()
}

// touchStock records that the current transaction changed the positions
// of productIDs. Call it from inside the transaction that changes them.
func touchStock(ctx context.Context, productIDs ...int64) {
	if len(productIDs) == 0 {
		return
	}
	var list []*touchSet
	if ctx != nil && reflect.TypeOf(ctx).Comparable() {
		touchReg.mu.Lock()
		list = touchReg.m[ctx]
		touchReg.mu.Unlock()
	}
	if len(list) == 0 {
		touchMisses.Add(1)
		invalidateEverywhere(productIDs)
		return
	}
	// Several transactions on one context (rare) all get the ids: dropping
	// a cache entry too often is safe, too rarely is not.
	for _, t := range list {
		t.mu.Lock()
		t.ids = append(t.ids, productIDs...)
		t.mu.Unlock()
	}
}

// committing runs fn, whose work has committed once it returns nil (a
// transaction, or one statement outside any), collecting touchStock's
// product ids under ctx; after a nil return the availability cache learns
// of them (stockCommitted).
func (db *DB) committing(ctx context.Context, fn func() error) error {
	touched := beginTouch(ctx)
	defer endTouch(ctx, touched)
	if err := fn(); err != nil {
		return err
	}
	db.stockCommitted(touched)
	return nil
}

// stockCommitted runs after a successful commit: this instance's cache
// forgets the touched SKUs now, the other instances are told.
func (db *DB) stockCommitted(t *touchSet) {
	t.mu.Lock()
	ids := t.ids
	t.ids = nil
	t.mu.Unlock()
	if len(ids) > 0 {
		db.avail.invalidate(ids)
		db.avail.announce(ids)
	}
}
