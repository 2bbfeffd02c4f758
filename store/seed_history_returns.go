package store

import (
	"context"
	"time"

	"stockline/domain"
)

// historyDispositions is the order the history's returns take their
// disposition in: mostly restocked, some damaged, some held for a quality
// check (released a day or two later, to sellable or damaged).
var historyDispositions = []domain.Disposition{domain.DispositionRestock, domain.DispositionQualityHold, domain.DispositionRestock,
	domain.DispositionDamaged, domain.DispositionRestock, domain.DispositionQualityHold}

// giveBack plans a return of one unit of o's first line at store loc at
// time at, through the returns desk's own write path (CreateReturn, and
// ReleaseHold for a quality hold when release is set). disp "" takes the
// next of historyDispositions. A return the order no longer allows (its
// pickup or shipment did not happen) is skipped.
func (h *historyRun) giveBack(at time.Time, o *Order, loc string, disp domain.Disposition, release bool) {
	if disp == "" {
		disp = historyDispositions[h.returnSeq%len(historyDispositions)]
		h.returnSeq++
	}
	releaseAt := at.Add(time.Duration(18+h.rng.IntN(30)) * time.Hour)
	toDamaged := h.rng.IntN(3) == 0
	var id int64
	h.at(at, func(ctx context.Context) error {
		if o.ID == 0 || len(o.Lines) == 0 {
			return nil
		}
		r, err := h.db.CreateReturn(ctx, h.actor, domain.NewReturn{OrderID: o.ID, Location: loc, Source: "stockline",
			Lines: []domain.ReturnLineInput{{SKU: o.Lines[0].SKU, Qty: 1, Disposition: string(disp)}}})
		if err != nil {
			return refused(err)
		}
		id = r.ID
		h.res.Returns++
		return nil
	})
	if disp != domain.DispositionQualityHold || !release {
		return
	}
	h.at(releaseAt, func(ctx context.Context) error {
		if id == 0 {
			return nil
		}
		_, err := h.db.ReleaseHold(ctx, h.actor, id, 1, 1, toDamaged)
		return refused(err)
	})
}

// refused drops any refusal (a domain error: the order's state no longer
// allows the step); other errors stop the seed.
func refused(err error) error {
	if c := domain.ErrorCode(err); c != "" && c != domain.EINTERNAL {
		return nil
	}
	return err
}
