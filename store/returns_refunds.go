package store

import (
	"context"
	"fmt"
	"strings"

	"stockline/domain"
)

// RefundOrder records an ecommerce platform's refund through the one
// return path: restocked lines become a received return per location
// (disposition restock; its external_ref is "<refund id>@<location>"),
// and lines refunded without a restock become one pending return
// (external_ref the refund id) that a store receives later with
// dispositions. A refund without a restock for units the order never
// delivered is money only: the timeline notes it and nothing else
// changes. Redeliveries find the returns already recorded. An unknown
// order is ENOTFOUND, so the refund waits for its order.
func (feedOrderSink) RefundOrder(ctx context.Context, tx *Tx, r domain.ExternalRefund) error {
	db, err := txScopedDB(ctx, tx)
	if err != nil {
		return err
	}
	var id int64
	if err := tx.GetContext(ctx, &id, `SELECT id FROM orders WHERE source = $1 AND external_ref = $2`, r.Source, r.OrderRef); err != nil {
		return notFound(err, "There is no order from %s with external ref %s.", r.Source, r.OrderRef)
	}
	actor := domain.Actor{Kind: "connector", Name: r.Source}
	byLoc, pending := map[string][]domain.ReturnLineInput{}, []domain.ReturnLineInput(nil)
	var locs []string
	for _, l := range r.Lines {
		in := domain.ReturnLineInput{SKU: l.SKU, Qty: l.Quantity, Disposition: string(domain.DispositionRestock)}
		if !l.Restock {
			pending = append(pending, in)
			continue
		}
		if _, ok := byLoc[l.LocationCode]; !ok {
			locs = append(locs, l.LocationCode)
		}
		byLoc[l.LocationCode] = append(byLoc[l.LocationCode], in)
	}
	var done []string
	for _, loc := range locs {
		ret, err := db.CreateReturnTx(ctx, tx, actor, domain.NewReturn{OrderID: id, Location: loc, Lines: byLoc[loc],
			Source: r.Source, ExternalRef: r.RefundID + "@" + loc})
		if err != nil {
			return err
		}
		done = append(done, fmt.Sprintf("return %d restocked at %s", ret.ID, loc))
	}
	if len(pending) > 0 {
		ret, err := db.CreateReturnTx(ctx, tx, actor, domain.NewReturn{OrderID: id, Lines: pending, Pending: true,
			Source: r.Source, ExternalRef: r.RefundID})
		switch {
		case domain.ErrorCode(err) == domain.CodeExceedsFulfilled:
			done = append(done, "no units to come back for the lines refunded without a restock ("+domain.ErrorMessage(err)+")")
		case err != nil:
			return err
		default:
			done = append(done, fmt.Sprintf("return %d waits for a store to receive the units", ret.ID))
		}
	}
	if len(done) == 0 {
		done = append(done, "nothing to return")
	}
	return insertOrderEvents(ctx, tx, id, actor, r.Source, []orderEvent{{"connector",
		fmt.Sprintf("%s refunded (refund id %s, event %s)%s: %s.", r.Source, r.RefundID, firstNonEmpty(r.SourceEventID, "unknown"), via(r.Via),
			strings.Join(done, "; ")), ""}}, db.stamp())
}
