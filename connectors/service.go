package connectors

import (
	"context"

	"stockline/domain"
	"stockline/store"
)

// RetryDeadLetter re-reads an open dead letter's event, with fixed as its
// payload when an operator corrected it, and applies it as if it had just
// arrived. It returns the dead letter afterwards: status retried when the
// event went through. When it fails again the dead letter stays open with
// the new error and attempts counted, and the error says why (422).
func RetryDeadLetter(ctx context.Context, db *store.DB, id int64, fixed []byte, actor domain.Actor) (domain.DeadLetter, error) {
	dl, err := db.DeadLetterByID(ctx, id)
	if err != nil {
		return dl, err
	}
	if dl.Status != "open" {
		return dl, domain.Errorf(domain.ECONFLICT, "Dead letter %d is already %s.", id, dl.Status)
	}
	c, err := db.ConnectorByID(ctx, dl.ConnectorID)
	if err != nil {
		return dl, err
	}
	payload := []byte(dl.Payload)
	if fixed != nil {
		payload = fixed
	}
	ev := ParseStored(c.Adapter, dl.Type, payload)
	ev.ID, ev.SourceEventID, ev.Via = dl.EventID, dl.SourceEventID, dl.Via
	if _, err := db.ApplyStored(ctx, c, []store.InboundEvent{ev}, actor); err != nil {
		return dl, err
	}
	after, err := db.DeadLetterByID(ctx, id)
	if err != nil {
		return after, err
	}
	if after.Status == "open" {
		if e, err := db.EventByID(ctx, after.EventID); err == nil && e.Status == "pending" {
			return after, &domain.Error{Code: domain.ECONFLICT, Message: "The connector is paused, so the event now waits as pending; it applies when the connector resumes."}
		}
		return after, &domain.Error{Code: domain.CodeStillFailing, Field: "payload",
			Message: "It still cannot be applied: " + after.Error}
	}
	return after, nil
}
