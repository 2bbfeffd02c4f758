package store

import (
	"context"

	"stockline/domain"
)

// OrderSink applies the orders ecommerce feeds deliver, inside the same
// transaction that stores the inbound event, so an order is created exactly
// when its event is recorded as applied.
//
// The orders capability implements it in this package (FeedOrderSink), and
// Open installs it on every DB; SetOrderSink replaces it. While a DB has no
// sink, order events are stored with status pending (pending_reason
// no_order_sink): not dead-lettered and not lost. Every connector round
// calls ApplyPending, so they are applied, in source order, as soon as a
// sink is installed.
//
// CreateOrder must be idempotent on (o.Source, o.ExternalRef) and should
// return an ENOTFOUND error from CancelOrder when the order is unknown; the
// cancel then stays pending until its order arrives. RefundOrder records a
// platform's refund as returns (see domain.ExternalRefund) and, like
// CancelOrder, answers ENOTFOUND for an order it does not know yet. Any other error with a
// domain code dead-letters the event; an internal error fails the batch.
type OrderSink interface {
	CreateOrder(ctx context.Context, tx *Tx, o domain.ExternalOrder) error
	CancelOrder(ctx context.Context, tx *Tx, c domain.ExternalOrderCancel) error
	RefundOrder(ctx context.Context, tx *Tx, r domain.ExternalRefund) error
}

type sinkBox struct{ s OrderSink }

// SetOrderSink installs the sink this DB applies feed orders through; Open
// installs the orders capability's (FeedOrderSink). Pass nil to remove it.
func (db *DB) SetOrderSink(s OrderSink) {
	if s == nil {
		db.sink.Store(nil)
		return
	}
	db.sink.Store(&sinkBox{s})
}

// OrderSink returns the installed sink, or nil.
func (db *DB) OrderSink() OrderSink {
	if b := db.sink.Load(); b != nil {
		return b.s
	}
	return nil
}

// SwapOrderSinkForTest installs s and returns a function that restores the
// previous sink (tests only).
func (db *DB) SwapOrderSinkForTest(s OrderSink) (restore func()) {
	prev := db.sink.Load()
	db.SetOrderSink(s)
	return func() { db.sink.Store(prev) }
}

// Pending reasons are the domain's; the names stay here for the feed code.
const (
	PendingNoOrderSink   = domain.PendingNoOrderSink
	PendingPaused        = domain.PendingPaused
	PendingOrderNotFound = domain.PendingOrderNotFound
)
