package store

import (
	"context"
	"sync/atomic"

	"stockline/domain"
)

// OrderSink applies the orders ecommerce feeds deliver, inside the same
// transaction that stores the inbound event, so an order is created exactly
// when its event is recorded as applied.
//
// The orders capability implements it in this package and registers it with
// RegisterOrderSink from an init function. Until a sink is registered,
// order events are stored with status pending (pending_reason
// no_order_sink): not dead-lettered and not lost. Every connector round
// calls ApplyPending, so they are applied, in source order, as soon as a
// build with a sink runs.
//
// CreateOrder must be idempotent on (o.Source, o.ExternalRef) and should
// return an ENOTFOUND error from CancelOrder when the order is unknown; the
// cancel then stays pending until its order arrives. Any other error with a
// domain code dead-letters the event; an internal error fails the batch.
type OrderSink interface {
	CreateOrder(ctx context.Context, tx *Tx, o domain.ExternalOrder) error
	CancelOrder(ctx context.Context, tx *Tx, c domain.ExternalOrderCancel) error
}

type sinkBox struct{ s OrderSink }

var orderSink atomic.Pointer[sinkBox]

// RegisterOrderSink installs the sink order events are applied through.
// Pass nil to remove it.
func RegisterOrderSink(s OrderSink) {
	if s == nil {
		orderSink.Store(nil)
		return
	}
	orderSink.Store(&sinkBox{s})
}

// CurrentOrderSink returns the registered sink, or nil.
func CurrentOrderSink() OrderSink {
	if b := orderSink.Load(); b != nil {
		return b.s
	}
	return nil
}

// SwapOrderSinkForTest installs s and returns a function that restores the
// previous sink (tests only).
func SwapOrderSinkForTest(s OrderSink) (restore func()) {
	prev := orderSink.Load()
	RegisterOrderSink(s)
	return func() { orderSink.Store(prev) }
}

// Pending reasons are the domain's; the names stay here for the feed code.
const (
	PendingNoOrderSink   = domain.PendingNoOrderSink
	PendingPaused        = domain.PendingPaused
	PendingOrderNotFound = domain.PendingOrderNotFound
)
