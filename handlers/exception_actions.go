package handlers

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"stockline/connectors"
	"stockline/domain"
	"stockline/store"
	"stockline/views"
)

// exceptionAction does the real work of one action on an exception and
// records its resolution (rec: the exception, the action and the person's
// note) in the same transaction, through one store call, and says what it
// did.
type exceptionAction func(c echo.Context, p views.ExceptionPage, rec store.ExceptionRecord) (effect string, err error)

// exceptionActions is the dispatch table from action to work. Dismiss
// and acknowledge only record the person's decision.
func (s *Server) exceptionActions() map[domain.ExceptionAction]exceptionAction {
	return map[domain.ExceptionAction]exceptionAction{
		domain.ActReallocate:  s.actReallocate,
		domain.ActCancelLine:  s.actCancelLine,
		domain.ActAdjust:      s.actAdjust,
		domain.ActRetry:       s.actRetry,
		domain.ActFixPayload:  s.actFixPayload,
		domain.ActPauseFeed:   s.actFeed(false),
		domain.ActResumeFeed:  s.actFeed(true),
		domain.ActFound:       s.actSettle(true),
		domain.ActLost:        s.actSettle(false),
		domain.ActRecheck:     s.actRecheck,
		domain.ActAcknowledge: s.actRecordOnly("Marked handled."),
		// Dismiss and reconciliation's actions go through the store's
		// dispatch, which does the kind's work (a drift's hold release,
		// the count applied) and records the resolution in one transaction.
		domain.ActionDismiss:        s.actResolve("Dismissed."),
		domain.ActionAcceptCount:    s.actResolve("The count is accepted and applied as of its time; the hold is released."),
		domain.ActionKeepSystem:     s.actResolve("The system figure stands; the hold is released."),
		domain.ActionRequestRecount: s.actResolve("A recount is requested; the exception went back to the store."),
	}
}

func (s *Server) actReallocate(c echo.Context, p views.ExceptionPage, rec store.ExceptionRecord) (string, error) {
	qty, err := formQty(c.FormValue("qty"))
	if err != nil {
		return "", err
	}
	if qty == 0 {
		qty = p.Line.Pending
	}
	loc := strings.TrimSpace(c.FormValue("location"))
	rec.Effect = fmt.Sprintf("%d × %s of order %s reallocated to %s and held there.", qty, p.Line.SKU, p.Order.Number, loc)
	if _, err := s.DB.ReallocateForException(c.Request().Context(), actor(c), rec, p.Order.ID, p.Line.ID, []store.Allocation{{Location: loc, Qty: qty}}); err != nil {
		return "", err
	}
	return rec.Effect, nil
}

func (s *Server) actCancelLine(c echo.Context, p views.ExceptionPage, rec store.ExceptionRecord) (string, error) {
	code := domain.CancelReasonForException(p.E.Kind)
	req, err := cancelRequest(string(code), "", firstNonBlank(rec.Note, code.Label()))
	if err != nil {
		return "", err
	}
	req.LineID = p.Line.ID
	rec.Effect = fmt.Sprintf("%d × %s of order %s cancelled; held units went back to stock and the customer is notified.", p.Line.Open(), p.Line.SKU, p.Order.Number)
	if _, err := s.DB.CancelForException(c.Request().Context(), actor(c), rec, p.Order.ID, req); err != nil {
		return "", err
	}
	return rec.Effect, nil
}

func (s *Server) actAdjust(c echo.Context, p views.ExceptionPage, rec store.ExceptionRecord) (string, error) {
	n, err := strconv.Atoi(strings.TrimSpace(c.FormValue("counted")))
	if err != nil || n < 0 {
		return "", domain.FieldError("counted", "Enter the counted units on hand, a whole number of 0 or more.")
	}
	rec.Effect = fmt.Sprintf("Counted %d on hand of %s at %s.", n, p.E.SKU, p.E.Location)
	res, err := s.DB.AdjustForException(c.Request().Context(), actor(c), rec, p.E.SKU, p.E.Location, domain.Adjustment{
		Reason: domain.ReasonCycleCount, Counted: &n, Note: firstNonBlank(rec.Note, fmt.Sprintf("counted for exception %d", p.E.ID))})
	if e := domain.AsError(err); e != nil && e.Field != "" {
		return "", domain.FieldError("counted", "%s", e.Message)
	} else if err != nil {
		return "", err
	}
	return adjustedMessage(res, domain.ReasonCycleCount), nil
}

// actRetry retries every open dead letter of the exception's connector;
// the events, the dead letters and the resolution commit together, or the
// exception stays open and the error names the ones that still fail.
func (s *Server) actRetry(c echo.Context, p views.ExceptionPage, rec store.ExceptionRecord) (string, error) {
	ids := make([]int64, len(p.Dead))
	for i, d := range p.Dead {
		ids[i] = d.ID
	}
	rec.Effect = fmt.Sprintf("%d dead-lettered event(s) retried and applied.", len(ids))
	if err := connectors.RetryDeadLettersForException(c.Request().Context(), s.DB, rec, ids, nil, actor(c)); err != nil {
		return "", err
	}
	return rec.Effect, nil
}

func (s *Server) actFixPayload(c echo.Context, p views.ExceptionPage, rec store.ExceptionRecord) (string, error) {
	id, _ := strconv.ParseInt(c.FormValue("dead_letter"), 10, 64)
	found := false
	for _, d := range p.Dead {
		found = found || d.ID == id
	}
	if !found {
		return "", domain.FieldError("dead_letter", "Choose one of this connector's open dead letters.")
	}
	payload := strings.TrimSpace(c.FormValue("payload"))
	if payload == "" {
		return "", domain.FieldError("payload", "Paste the corrected payload.")
	}
	rec.Effect = fmt.Sprintf("Dead letter %d applied with the corrected payload.", id)
	if err := connectors.RetryDeadLettersForException(c.Request().Context(), s.DB, rec, []int64{id}, []byte(payload), actor(c)); err != nil {
		return "", err
	}
	return rec.Effect, nil
}

func (s *Server) actFeed(enable bool) exceptionAction {
	return func(c echo.Context, p views.ExceptionPage, rec store.ExceptionRecord) (string, error) {
		rec.Effect = fmt.Sprintf("Connector %s paused; its webhooks wait as pending until it resumes.", p.Connector.Name)
		if enable {
			rec.Effect = fmt.Sprintf("Connector %s resumed; its next pull starts now.", p.Connector.Name)
		}
		if _, err := s.DB.SetConnectorEnabledForException(c.Request().Context(), actor(c), rec, p.Connector.ID, enable); err != nil {
			return "", err
		}
		return rec.Effect, nil
	}
}

func (s *Server) actSettle(found bool) exceptionAction {
	return func(c echo.Context, p views.ExceptionPage, rec store.ExceptionRecord) (string, error) {
		rec.Effect = fmt.Sprintf("The missing %s units of transfer %d were written off as lost.", p.E.SKU, p.Transfer.ID)
		if found {
			rec.Effect = fmt.Sprintf("The missing %s units of transfer %d were received at %s.", p.E.SKU, p.Transfer.ID, p.Transfer.To)
		}
		if _, err := s.DB.SettleVarianceForException(c.Request().Context(), actor(c), rec, p.Transfer.ID, p.E.SKU, found); err != nil {
			return "", err
		}
		return rec.Effect, nil
	}
}

func (s *Server) actRecheck(c echo.Context, p views.ExceptionPage, rec store.ExceptionRecord) (string, error) {
	rep, err := s.DB.Check(c.Request().Context())
	if err != nil {
		return "", err
	}
	if !rep.OK() {
		return "", domain.Errorf(domain.ECONFLICT, "The check still finds %d ledger mismatch(es), %d unexplained violation(s), %d reservation leak(s) and %d order mismatch(es).",
			len(rep.LedgerMismatch), len(rep.Unexplained), len(rep.ReservationLeak), len(rep.OrderMismatch))
	}
	// The check only reads: the record is the action's one write.
	return s.recordAction(c, rec, fmt.Sprintf("The consistency check is clean (%d positions).", rep.Positions))
}

func (s *Server) actRecordOnly(effect string) exceptionAction {
	return func(c echo.Context, p views.ExceptionPage, rec store.ExceptionRecord) (string, error) {
		return s.recordAction(c, rec, effect)
	}
}

// recordAction records an action whose only write is the record itself.
func (s *Server) recordAction(c echo.Context, rec store.ExceptionRecord, effect string) (string, error) {
	return effect, s.DB.RecordExceptionAction(c.Request().Context(), actor(c), rec.ID, rec.Action, effect, rec.Note)
}

func (s *Server) actResolve(effect string) exceptionAction {
	return func(c echo.Context, p views.ExceptionPage, rec store.ExceptionRecord) (string, error) {
		_, err := s.DB.ResolveException(c.Request().Context(), actor(c), rec.ID, rec.Action, rec.Note)
		return effect, err
	}
}

func firstNonBlank(s ...string) string {
	for _, x := range s {
		if strings.TrimSpace(x) != "" {
			return strings.TrimSpace(x)
		}
	}
	return ""
}
