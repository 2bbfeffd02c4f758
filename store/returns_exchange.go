package store

import (
	"context"
	"strings"

	"stockline/domain"
)

// Exchanges for replacement units (issue 10): the return's transaction
// also reserves the replacement at the receiving store and creates the
// exchange order on that reservation, through the reservation engine and
// CreateOrderTx, so no rule of either is written twice here.

// resolveExchange looks up the replacement's SKUs and the receiving store
// as a bopis hold there, before any lock is taken (errors on the
// exchange's fields).
func (db *DB) resolveExchange(ctx context.Context, in domain.NewReturn) (*resolvedRequest, error) {
	lines := make([]domain.ReservationLineRequest, len(in.Exchange.Lines))
	for i, l := range in.Exchange.Lines {
		lines[i] = domain.ReservationLineRequest{SKU: strings.TrimSpace(l.SKU), Qty: l.Qty}
	}
	rq, err := db.resolveReservation(ctx, domain.ReservationRequest{Channel: domain.BOPIS, Location: in.Location, Lines: lines})
	if err != nil {
		return nil, domain.ExchangeField(err)
	}
	return &rq, nil
}

// createExchangeOrder reserves the replacement at the receiving store
// through the reservation engine and creates the exchange order on that
// reservation through the one order-creation path (CreateOrderTx), so
// the order is bopis at the store, for the original order's customer,
// reserved and in the store's pickup queue. A replacement the store
// cannot reserve is 409 insufficient_stock naming each short line.
func (db *DB) createExchangeOrder(ctx context.Context, tx *Tx, actor domain.Actor, in domain.NewReturn, o Order,
	rq resolvedRequest, returnID int64) (Order, error) {
	rq.req.CheckoutRef = returnRef(returnID)
	res, err := reserveInTx(ctx, tx, actor, rq, db.stamp())
	if isShort(err) {
		return Order{}, domain.ExchangeShort(in.Location, domain.AsError(err))
	} else if err != nil {
		return Order{}, domain.ExchangeField(err)
	}
	no := domain.ExchangeOrder(*in.Exchange, o, in.Location, in.Source)
	no.ReservationID = res.ID
	created, err := db.CreateOrderTx(ctx, tx, actor, no)
	if err != nil {
		return Order{}, domain.ExchangeField(err)
	}
	return created.Order, nil
}
