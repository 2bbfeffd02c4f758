package store

import (
	"context"
	"fmt"

	"stockline/domain"
)

// SeedDemoReturns gives the demo retailer's returns desk work after
// `make run`: an order collected at S01 (the demo associate's store) with
// a return received there, one unit restocked and two on quality hold;
// and an online order shipped from the DC that the online store refunded
// without a restock, so its return waits (pending) for a store to receive
// it. It runs once, on a freshly seeded database.
func (db *DB) SeedDemoReturns(ctx context.Context) error {
	seed := domain.SystemActor("seed")
	web := domain.Actor{Kind: "connector", Name: "shopify-web"}
	pick := func(loc string) (string, error) {
		var sku string
		err := db.GetContext(ctx, &sku, `SELECT p.sku FROM positions s JOIN products p ON p.id = s.product_id JOIN locations l ON l.id = s.location_id
			WHERE l.code = $1 AND s.on_hand - s.reserved - s.damaged - s.quality_hold - s.transfer_out >= 12 ORDER BY p.sku DESC LIMIT 1`, loc)
		return sku, err
	}
	skuS01, err := pick("S01")
	if err != nil {
		return fmt.Errorf("store: seed returns: %w", err)
	}
	cr, err := db.CreateOrder(ctx, seed, domain.NewOrder{Channel: domain.BOPIS, PickupLocation: "S01",
		Customer: domain.Customer{Name: "Dana Okafor", Email: "dana.okafor@example.com"}, Lines: []domain.OrderLineInput{{SKU: skuS01, Qty: 3}}})
	if err != nil {
		return err
	}
	o := cr.Order
	if _, err := db.PickLine(ctx, seed, o.ID, o.Lines[0].ID, skuS01, 3); err != nil {
		return err
	}
	if _, err := db.HandOver(ctx, seed, o.ID); err != nil {
		return err
	}
	if _, err := db.CreateReturn(ctx, seed, domain.NewReturn{OrderID: o.ID, Location: "S01", Source: "stockline", Lines: []domain.ReturnLineInput{
		{SKU: skuS01, Qty: 1, Disposition: string(domain.DispositionRestock)},
		{SKU: skuS01, Qty: 2, Disposition: string(domain.DispositionQualityHold)}}}); err != nil {
		return err
	}
	skuDC, err := pick("DC1")
	if err != nil {
		return fmt.Errorf("store: seed returns: %w", err)
	}
	cr, err = db.CreateOrder(ctx, web, domain.NewOrder{Channel: domain.EcommerceShip, Source: "shopify-web", ExternalRef: "5550001",
		Customer: domain.Customer{Name: "Sam Reyes", Email: "sam.reyes@example.com"}, Lines: []domain.OrderLineInput{{SKU: skuDC, Qty: 2}}})
	if err != nil {
		return err
	}
	o = cr.Order
	if o.Lines[0].Location == "" {
		return fmt.Errorf("store: seed returns: the online order was not allocated")
	}
	if _, err := db.Ship(ctx, seed, o.ID, o.Lines[0].Location, []ShipLine{{o.Lines[0].ID, 2}}, "UPS", "1ZDEMO0001"); err != nil {
		return err
	}
	_, err = db.CreateReturn(ctx, web, domain.NewReturn{OrderID: o.ID, Pending: true, Source: "shopify-web", ExternalRef: "8880001",
		Lines: []domain.ReturnLineInput{{SKU: skuDC, Qty: 1}}})
	return err
}
