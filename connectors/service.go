package connectors

import (
	"context"
	"fmt"
	"strings"

	"stockline/domain"
	"stockline/store"
)

// RetryDeadLetter re-reads an open dead letter's event, with fixed as its
// payload when an operator corrected it, and applies it as if it had just
// arrived. It returns the dead letter afterwards: status retried when the
// event went through. When it fails again the dead letter stays open with
// the new error and attempts counted, and the error says why (422).
func RetryDeadLetter(ctx context.Context, db *store.DB, id int64, fixed []byte, actor domain.Actor) (domain.DeadLetter, error) {
	dl, c, ev, err := storedEvent(ctx, db, id, fixed)
	if err != nil {
		return dl, err
	}
	if _, err := db.ApplyStored(ctx, c, []store.InboundEvent{ev}, actor); err != nil {
		return dl, err
	}
	after, err := db.DeadLetterByID(ctx, id)
	if err != nil {
		return after, err
	}
	return after, stillOpen(ctx, db, []domain.DeadLetter{after})
}

// RetryDeadLettersForException is a dead-letter exception's action: retry
// (ids: the connector's open dead letters) or fix the payload (one id,
// fixed its corrected payload). The events apply, the dead letters close
// and the exception's resolution (rec) is recorded in one transaction
// (store.ApplyStoredForException). When one still cannot be applied the
// others stay applied, the exception stays open and the error says which
// (422 still_failing, or 409 when the connector is paused); any other
// error leaves everything as it was.
func RetryDeadLettersForException(ctx context.Context, db *store.DB, rec store.ExceptionRecord, ids []int64, fixed []byte,
	actor domain.Actor) error {
	if fixed != nil && len(ids) != 1 {
		return domain.FieldError("dead_letter", "A corrected payload is for one dead letter.")
	}
	var c store.Connector
	events := make([]store.InboundEvent, 0, len(ids))
	for _, id := range ids {
		_, cn, ev, err := storedEvent(ctx, db, id, fixed)
		if err != nil {
			return err
		}
		if len(events) > 0 && cn.ID != c.ID {
			return domain.Errorf(domain.EINVALID, "Dead letter %d is another connector's.", id)
		}
		c = cn
		events = append(events, ev)
	}
	if _, err := db.ApplyStoredForException(ctx, c, events, actor, rec); err != nil {
		return err
	}
	after := make([]domain.DeadLetter, 0, len(ids))
	for _, id := range ids {
		dl, err := db.DeadLetterByID(ctx, id)
		if err != nil {
			return err
		}
		after = append(after, dl)
	}
	return stillOpen(ctx, db, after)
}

// storedEvent reads an open dead letter, its connector and its event,
// parsed again (from fixed when an operator corrected the payload).
func storedEvent(ctx context.Context, db *store.DB, id int64, fixed []byte) (domain.DeadLetter, store.Connector, store.InboundEvent, error) {
	dl, err := db.DeadLetterByID(ctx, id)
	if err != nil {
		return dl, store.Connector{}, store.InboundEvent{}, err
	}
	if dl.Status != "open" {
		return dl, store.Connector{}, store.InboundEvent{}, domain.Errorf(domain.ECONFLICT, "Dead letter %d is already %s.", id, dl.Status)
	}
	c, err := db.ConnectorByID(ctx, dl.ConnectorID)
	if err != nil {
		return dl, c, store.InboundEvent{}, err
	}
	payload := []byte(dl.Payload)
	if fixed != nil {
		payload = fixed
	}
	ev := ParseStored(c.Adapter, dl.Type, payload)
	ev.ID, ev.SourceEventID, ev.Via = dl.EventID, dl.SourceEventID, dl.Via
	return dl, c, ev, nil
}

// stillOpen says why dead letters a retry left open were not applied: the
// connector is paused (their events wait as pending), or they still fail.
func stillOpen(ctx context.Context, db *store.DB, after []domain.DeadLetter) error {
	var open []domain.DeadLetter
	for _, dl := range after {
		if dl.Status == "open" {
			open = append(open, dl)
		}
	}
	if len(open) == 0 {
		return nil
	}
	if e, err := db.EventByID(ctx, open[0].EventID); err == nil && e.Status == "pending" {
		return &domain.Error{Code: domain.ECONFLICT, Message: "The connector is paused, so the event now waits as pending; it applies when the connector resumes."}
	}
	if len(after) == 1 {
		return &domain.Error{Code: domain.CodeStillFailing, Field: "payload", Message: "It still cannot be applied: " + open[0].Error}
	}
	ids := make([]string, len(open))
	for i, dl := range open {
		ids[i] = fmt.Sprint(dl.ID)
	}
	return domain.Errorf(domain.CodeStillFailing, "%d event(s) went through; dead letter(s) %s still cannot be applied: fix their payload or map what they name.",
		len(after)-len(open), strings.Join(ids, ", "))
}
