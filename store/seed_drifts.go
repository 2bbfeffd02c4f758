package store

import (
	"context"
	"fmt"
	"time"

	"stockline/domain"
)

// demoDrift is one count the demo retailer's stores sent, off by a
// quarter of the position plus 4 units (short, or over), and whether late
// till sales from before the count explain the shortfall.
type demoDrift struct {
	sku, loc string
	over     bool
	ago      time.Duration // when the count was taken
	late     bool          // offline sales that sync after the count explain it
}

// demoDrifts give an inventory lead real work after `make run`: one drift
// already explained by late sales, one open with its shortfall held (at
// S01, the demo associate's store, so the recount can go there), one
// counted over.
var demoDrifts = []demoDrift{
	{sku: "HOM-10004", loc: "S02", ago: 2 * time.Hour, late: true},
	{sku: "OUT-10005", loc: "S01", ago: time.Hour},
	{sku: "HOM-10012", loc: "S03", ago: 3 * time.Hour, over: true},
}

// SeedDemoDrifts sends the demo counts through the counts connector and
// the late sales through an "offline-tills" POS connector (paused afterwards), so the
// drifts are opened, held and explained by the real code.
func (db *DB) SeedDemoDrifts(ctx context.Context) error {
	counts, err := db.CountsConnector(ctx)
	if err != nil {
		return err
	}
	tills, err := db.CreateConnector(ctx, domain.SystemActor("seed"), NewConnector{Name: "offline-tills", Kind: domain.ConnectorPOS,
		Adapter: "square", Enabled: true, PollSeconds: 300, StaleSeconds: 604800})
	if err != nil {
		return err
	}
	// It only carries the seeded sales: paused once they are in, so no
	// pull loop polls it.
	defer db.ExecContext(ctx, `UPDATE connectors SET enabled = false WHERE id = $1`, tills.ID)
	now := time.Now()
	for i, d := range demoDrifts {
		var pos struct {
			Loc    int64 `db:"location_id"`
			Prod   int64 `db:"product_id"`
			OnHand int   `db:"on_hand"`
		}
		if err := db.GetContext(ctx, &pos, `SELECT p.location_id, p.product_id, p.on_hand FROM positions p JOIN products pr ON pr.id = p.product_id
			JOIN locations l ON l.id = p.location_id WHERE pr.sku = $1 AND l.code = $2`, d.sku, d.loc); err != nil {
			return fmt.Errorf("store: demo drift position: %w", err)
		}
		countAt := now.Add(-d.ago)
		item, loc := domain.Ref{Kind: domain.RefSKU, ID: d.sku}, domain.Ref{Kind: domain.RefLocationCode, ID: d.loc}
		// A delivery earlier in the day, so every position has stock to count.
		recv := InboundEvent{SourceEventID: fmt.Sprintf("demo-delivery-%d", i+1), Type: "square.adjustment", OccurredAt: countAt.Add(-3 * time.Hour),
			Payload: []byte(`{"delivery":true}`), Changes: []domain.StockChange{{Item: item, Location: loc, Reason: domain.ReasonReceived,
				Moves: []domain.Movement{{Bucket: domain.OnHand, Delta: 24}}}}}
		if _, err := db.IngestAs(ctx, tills, []InboundEvent{recv}, domain.SystemActor("seed")); err != nil {
			return err
		}
		pos.OnHand += 24
		onHand, err := onHandAsOf(ctx, db, posKey{pos.Loc, pos.Prod}, countAt, pos.OnHand)
		if err != nil {
			return err
		}
		diff := -(onHand/4 + 4)
		if d.over {
			diff = -diff
		}
		if onHand+diff < 0 {
			diff = 5
		}
		n := onHand + diff
		ev := InboundEvent{SourceEventID: fmt.Sprintf("demo-count-%d", i+1), Type: "count.row", OccurredAt: countAt,
			Payload: []byte(fmt.Sprintf(`{"sku":%q,"location":%q,"quantity":%d}`, d.sku, d.loc, n)),
			Changes: []domain.StockChange{{Item: item, Location: loc, Count: &n}}}
		if _, err := db.IngestAs(ctx, counts, []InboundEvent{ev}, domain.SystemActor("seed")); err != nil {
			return err
		}
		var sales []InboundEvent
		var late []int
		if d.late && diff < 0 {
			late = []int{-diff / 2, -diff - (-diff / 2)}
		}
		for j, q := range late {
			sales = append(sales, InboundEvent{SourceEventID: fmt.Sprintf("demo-offline-sale-%d-%d", i+1, j+1), Type: "square.adjustment",
				OccurredAt: countAt.Add(-time.Duration(j+1) * 20 * time.Minute), Payload: []byte(`{"offline":true}`),
				Changes: []domain.StockChange{{Item: item, Location: loc, Reason: domain.ReasonSale,
					Moves: []domain.Movement{{Bucket: domain.OnHand, Delta: -q}}}}})
		}
		if len(sales) > 0 {
			res, err := db.IngestAs(ctx, tills, sales, domain.SystemActor("seed"))
			if err != nil {
				return err
			}
			if res.Applied != len(sales) {
				return fmt.Errorf("store: demo late sales: %+v", res)
			}
		}
	}
	return nil
}
