package store

import (
	"context"

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
