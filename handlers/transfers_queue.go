package handlers

// The manager's approval queue, suggested transfers and the approval
// rules editor.

import (
	"cmp"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"stockline/domain"
	"stockline/store"
	"stockline/views"
)

// handleTransferApprovals is GET /transfers/approvals: requests whose
// origin is in the manager's scope, needed soonest first, each with the
// stock at both ends and an approve and a reject button.
func (s *Server) handleTransferApprovals(c echo.Context) error {
	u := currentUser(c)
	rows, err := s.DB.ListTransfers(c.Request().Context(), store.TransferFilter{Status: string(domain.TransferRequested), FromAny: scopeOf(u), Limit: 50})
	if err != nil {
		return err
	}
	slices.SortStableFunc(rows, func(a, b domain.Transfer) int {
		switch {
		case a.NeededBy != nil && b.NeededBy == nil:
			return -1
		case a.NeededBy == nil && b.NeededBy != nil:
			return 1
		case a.NeededBy != nil && !a.NeededBy.Equal(*b.NeededBy):
			return a.NeededBy.Compare(*b.NeededBy)
		}
		return cmp.Compare(a.ID, b.ID)
	})
	stock, err := s.transferStock(c, rows)
	if err != nil {
		return err
	}
	m := views.ApprovalsView{Rows: rows, Stock: stock, SalesDays: store.SalesWindowDays}
	if m.Flash, err = takeFlash(c); err != nil {
		return err
	}
	return render(c, http.StatusOK, views.ApprovalsPage(s.viewCtx(c), m))
}

// handleTransferSuggested is GET /transfers/suggested: moves from excess
// or slow stock to stockouts and high demand, from the ledger's sales;
// a scoped user sees those with an end in their scope.
func (s *Server) handleTransferSuggested(c echo.Context) error {
	u := currentUser(c)
	p := domain.DefaultSuggestParams
	p.WindowDays = store.SalesWindowDays
	p.Limit = 0
	sig, err := s.DB.SuggestionSignals(c.Request().Context(), p.WindowDays)
	if err != nil {
		return err
	}
	var rows []domain.Suggestion
	for _, g := range domain.SuggestTransfers(sig, p) {
		if (u.CanSeeLocation(g.From) || u.CanSeeLocation(g.To)) && len(rows) < domain.DefaultSuggestParams.Limit {
			rows = append(rows, g)
		}
	}
	return render(c, http.StatusOK, views.SuggestedPage(s.viewCtx(c), views.SuggestedView{Rows: rows, Params: p}))
}

// handleTransferRules is GET /transfers/rules.
func (s *Server) handleTransferRules(c echo.Context) error {
	return s.renderRules(c, http.StatusOK, views.RulesView{})
}

func (s *Server) renderRules(c echo.Context, status int, m views.RulesView) error {
	var err error
	if m.Rules, err = s.DB.TransferRules(c.Request().Context()); err != nil {
		return err
	}
	if m.Flash == "" {
		if m.Flash, err = takeFlash(c); err != nil {
			return err
		}
	}
	return render(c, status, views.RulesPage(s.viewCtx(c), m))
}

// ruleFromForm reads a rule's fields; max_value is in currency units.
func ruleFromForm(c echo.Context) (domain.ApprovalRule, views.RuleInput, error) {
	in := views.RuleInput{Name: c.FormValue("name"), MaxUnits: strings.TrimSpace(c.FormValue("max_units")), MaxValue: strings.TrimSpace(c.FormValue("max_value")),
		SameRegion: c.FormValue("same_region") == "on", Enabled: c.FormValue("enabled") == "on"}
	r := domain.ApprovalRule{Name: in.Name, SameRegion: in.SameRegion, Enabled: in.Enabled}
	n, err := strconv.Atoi(in.MaxUnits)
	if err != nil {
		return r, in, domain.FieldError("max_units", "Units are a whole number, such as 10.")
	}
	r.MaxUnits = n
	v, err := strconv.ParseFloat(in.MaxValue, 64)
	if err != nil || math.IsNaN(v) || v > 1e10 {
		return r, in, domain.FieldError("max_value", "The value limit is an amount, such as 500 or 499.99.")
	}
	r.MaxValueCents = int64(math.Round(v * 100))
	return r, in, r.Validate()
}

// handleTransferRuleSave is POST /transfers/rules (a new rule) and POST
// /transfers/rules/{id} (a change); audited by the store.
func (s *Server) handleTransferRuleSave(c echo.Context) error {
	r, in, err := ruleFromForm(c)
	if c.Param("id") != "" {
		id, perr := strconv.ParseInt(c.Param("id"), 10, 64)
		if perr != nil {
			return domain.Errorf(domain.ENOTFOUND, "There is no approval rule %q.", c.Param("id"))
		}
		r.ID, in.ID = id, id
	}
	if err == nil {
		r, err = s.DB.SaveTransferRule(c.Request().Context(), actor(c), r)
	}
	if e := domain.AsError(err); e != nil && e.Code == domain.EINVALID {
		return s.renderRules(c, http.StatusUnprocessableEntity, views.RulesView{Err: e, Input: in})
	} else if err != nil {
		return err
	}
	state := "enabled"
	if !r.Enabled {
		state = "disabled"
	}
	if err := setFlash(c, "Approval rule “"+r.Name+"” saved ("+state+"); it applies to requests made from now on."); err != nil {
		return err
	}
	return c.Redirect(http.StatusSeeOther, "/transfers/rules")
}
