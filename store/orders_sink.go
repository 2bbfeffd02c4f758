package store

import (
	"context"
	"fmt"
	"strings"
	"time"

	"stockline/domain"
)

// FeedOrderSink is the orders capability's OrderSink: ecommerce feeds'
// orders become Stockline orders, and their cancellations cancel them,
// inside the connector's transaction (connectors_orders.go). Open installs
// it on every DB.
func FeedOrderSink() OrderSink { return feedOrderSink{} }

type feedOrderSink struct{}

// CreateOrder creates the order a feed delivered; an order already known by
// its source and external reference is left as it is (redeliveries).
func (feedOrderSink) CreateOrder(ctx context.Context, tx *Tx, eo domain.ExternalOrder) error {
	db, err := txScopedDB(ctx, tx)
	if err != nil {
		return err
	}
	ch := eo.Channel
	if ch == "" {
		ch = domain.EcommerceShip
	}
	in := domain.NewOrder{
		Channel: ch, ExternalRef: eo.ExternalRef, PickupLocation: eo.PickupCode, Source: eo.Source, PlacedAt: eo.PlacedAt,
		Customer:      domain.Customer{Name: eo.CustomerName, Email: eo.CustomerEmail, Phone: eo.CustomerPhone},
		PaymentStatus: PaymentFromPlatform(eo.FinancialStatus),
	}
	byKey := map[string]int{}
	for _, l := range eo.Lines {
		sku := l.SKU
		if i, ok := byKey[sku]; ok {
			in.Lines[i].Qty += l.Quantity
			continue
		}
		byKey[sku] = len(in.Lines)
		in.Lines = append(in.Lines, domain.OrderLineInput{SKU: sku, Qty: l.Quantity})
	}
	if in.Customer.Email != "" && !strings.Contains(in.Customer.Email, "@") {
		in.Customer.Email = ""
	}
	for _, l := range in.Lines { // the reservation engine looks SKUs up in its cache
		if p, err := productBySKUIn(ctx, tx, strings.TrimSpace(l.SKU)); err == nil {
			db.resv.refs.products[p.SKU] = p
		}
	}
	actor := domain.Actor{Kind: "connector", Name: eo.Source}
	res, err := db.CreateOrderTx(ctx, tx, actor, in)
	if err != nil || res.Existing {
		return err
	}
	name := eo.Name
	if name == "" {
		name = eo.ExternalRef
	}
	return insertOrderEvents(ctx, tx, res.Order.ID, actor, eo.Source, []orderEvent{{"connector",
		fmt.Sprintf("Received from %s%s as order %s (order id %s, event %s).", eo.Source, via(eo.Via), name, eo.ExternalRef, firstNonEmpty(eo.SourceEventID, "unknown")),
		""}}, db.stamp())
}

// CancelOrder cancels every open unit of the order the platform cancelled;
// an unknown order is ENOTFOUND, so the cancel waits for its order.
func (feedOrderSink) CancelOrder(ctx context.Context, tx *Tx, c domain.ExternalOrderCancel) error {
	db, err := txScopedDB(ctx, tx)
	if err != nil {
		return err
	}
	actor := domain.Actor{Kind: "connector", Name: c.Source}
	o, err := db.CancelOrderTx(ctx, tx, actor, c.Source, c.ExternalRef, c.Reason, c.ReasonCode)
	if err != nil {
		return err
	}
	return insertOrderEvents(ctx, tx, o.ID, actor, c.Source, []orderEvent{{"connector",
		fmt.Sprintf("%s cancelled the order%s (order id %s, event %s): %s.", c.Source, via(c.Via), c.ExternalRef, firstNonEmpty(c.SourceEventID, "unknown"),
			firstNonEmpty(c.Reason, "no reason given")), ""}}, db.stamp())
}

// via says how a feed event arrived, for timeline messages.
func via(how string) string {
	if how == "" {
		return ""
	}
	return " by " + how
}

// PaymentFromPlatform maps an ecommerce platform's financial status
// (Shopify's names) to a Stockline payment status.
func PaymentFromPlatform(s string) string {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "paid", "partially_paid", "captured", "partially_refunded":
		return domain.PaymentCaptured
	case "authorized":
		return domain.PaymentAuthorized
	case "refunded":
		return domain.PaymentRefunded
	}
	return domain.PaymentPending
}

// txScopedDB is a DB for code that must run on the caller's transaction
// but is written as DB methods (order creation through the reservation
// engine): its caches are filled from tx, so nothing reaches for a pool
// connection. It serves the sink, which is handed a transaction only.
func txScopedDB(ctx context.Context, tx *Tx) (*DB, error) {
	db := &DB{now: time.Now}
	var rows []policyRow
	if err := tx.SelectContext(ctx, &rows, `SELECT `+policyColumns+` FROM channel_policies ORDER BY channel`); err != nil {
		return nil, fmt.Errorf("store: policies: %w", err)
	}
	m := make(map[domain.Channel]domain.Policy, len(rows))
	for _, r := range rows {
		m[domain.Channel(r.Channel)] = r.policy()
	}
	db.policies.byChan, db.policies.loaded = m, time.Now()
	locs, err := listLocationsIn(ctx, tx)
	if err != nil {
		return nil, err
	}
	db.resv.refs.locs, db.resv.refs.locsAt = locs, time.Now()
	db.resv.refs.products = map[string]domain.Product{}
	return db, nil
}
