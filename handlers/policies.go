package handlers

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"stockline/domain"
	"stockline/store"
	"stockline/views"
)

// handlePolicies is GET /policies: every channel's rules, each in its own
// form, and the recent changes.
func (s *Server) handlePolicies(c echo.Context) error {
	flash, err := takeFlash(c)
	if err != nil {
		return err
	}
	return s.renderPolicies(c, http.StatusOK, nil, flash)
}

// renderPolicies renders the page; failed, when set, replaces its
// channel's saved values with what was typed and its error.
func (s *Server) renderPolicies(c echo.Context, status int, failed *views.PolicyForm, flash string) error {
	ctx := c.Request().Context()
	pols, err := s.DB.Policies(ctx)
	if err != nil {
		return err
	}
	v := views.PoliciesView{Done: flash}
	for _, p := range pols {
		f := views.PolicyFormFrom(p)
		if failed != nil && failed.Channel == p.Channel {
			f = *failed
			f.UpdatedAt, f.Saved = p.UpdatedAt, p
		}
		v.Forms = append(v.Forms, f)
	}
	if v.History, err = s.DB.ListAudit(ctx, store.AuditFilter{Entity: "channel_policy", Limit: 10}); err != nil {
		return err
	}
	return render(c, status, views.PoliciesPage(s.viewCtx(c), v))
}

// handlePolicySave is POST /policies/{channel}. The store validates and
// audits; a bad value re-renders the form with the message beside it and
// the typed values kept.
func (s *Server) handlePolicySave(c echo.Context) error {
	ch, err := domain.ParseChannel(c.Param("channel"))
	if err != nil {
		return domain.Errorf(domain.ENOTFOUND, "There is no channel %q.", c.Param("channel"))
	}
	form, err := c.FormParams()
	if err != nil {
		return err
	}
	f := views.PolicyForm{
		Channel: ch, EligibleKinds: form["eligible_kinds"], ReserveAt: form.Get("reserve_at"),
		RequirePickup: form.Get("require_pickup") == "true", RequireShipFromStore: form.Get("require_ship_from_store") == "true",
		AllowSplit: form.Get("allow_split") == "true", PromiseIncoming: form.Get("promise_incoming") == "true",
		HoldTTL: strings.TrimSpace(form.Get("hold_ttl")), SafetyStock: strings.TrimSpace(form.Get("safety_stock")),
		MaxSplit: strings.TrimSpace(form.Get("max_split")), PickupWindow: strings.TrimSpace(form.Get("pickup_window")),
	}
	p, ferr := policyFromForm(f)
	if ferr == nil {
		err = s.DB.SavePolicy(c.Request().Context(), actor(c), p)
		if err == nil {
			msg := fmt.Sprintf("Saved the %s policy: %s. New holds and availability use it now.", views.ChannelLabel(ch), views.PolicySummary(p))
			if err := setFlash(c, msg); err != nil {
				return err
			}
			return c.Redirect(http.StatusSeeOther, "/policies#policy-"+string(ch))
		}
		if ferr = domain.AsError(err); ferr == nil || ferr.Code != domain.EINVALID {
			return err
		}
	}
	f.Err = ferr
	return s.renderPolicies(c, http.StatusBadRequest, &f, "")
}

// policyFromForm reads the form's numbers (minutes, units, hours) into a
// policy; domain.Policy.Validate, run by SavePolicy, judges the values.
func policyFromForm(f views.PolicyForm) (domain.Policy, *domain.Error) {
	p := domain.Policy{Channel: f.Channel, RequirePickup: f.RequirePickup, RequireShipFromStore: f.RequireShipFromStore,
		ReserveAt: f.ReserveAt, AllowSplit: f.AllowSplit, PromiseIncomingStock: f.PromiseIncoming}
	for _, k := range f.EligibleKinds {
		p.EligibleKinds = append(p.EligibleKinds, domain.LocationKind(k))
	}
	num := func(field, value, what string) (int, *domain.Error) {
		n, err := strconv.Atoi(value)
		if err != nil {
			return 0, domain.FieldError(field, "%s must be a whole number.", what)
		}
		return n, nil
	}
	ttl, err := num("hold_ttl", f.HoldTTL, "Hold TTL (minutes)")
	if err != nil {
		return p, err
	}
	if p.SafetyStock, err = num("safety_stock", f.SafetyStock, "Safety stock"); err != nil {
		return p, err
	}
	if p.MaxSplit, err = num("max_split", f.MaxSplit, "Maximum locations per order"); err != nil {
		return p, err
	}
	window, err := num("pickup_window", f.PickupWindow, "Pickup window (hours)")
	if err != nil {
		return p, err
	}
	// Bound before multiplying, so a huge number cannot overflow into a valid one.
	if ttl < 0 || ttl > 1_000_000 {
		return p, domain.FieldError("hold_ttl", "Hold TTL must be between 1 minute and 30 days.")
	}
	if window < 0 || window > 1_000_000 {
		return p, domain.FieldError("pickup_window", "Pickup window must be between 0 and 30 days.")
	}
	p.HoldTTL, p.PickupWindow = time.Duration(ttl)*time.Minute, time.Duration(window)*time.Hour
	return p, nil
}
