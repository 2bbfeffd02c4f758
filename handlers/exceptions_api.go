package handlers

// The exceptions JSON API (scope exceptions):
//
//	GET  /api/v1/exceptions?kind=&status=&location=&sku=&order=&limit=&cursor=
//	GET  /api/v1/exceptions/{id}
//	POST /api/v1/exceptions/{id}/resolve {"action": ..., "note": ...}
//
// A filter left out matches everything (every status included). An
// unknown kind or status is 400 with field; an action that does not fit
// the kind is 422 action_not_allowed; resolving a closed exception again
// with the same action is 200 and changes nothing, with another action
// 409 already_resolved.

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"stockline/domain"
	"stockline/store"
)

// apiException is one exception as the API shows it.
type apiException struct {
	ID         int64          `json:"id"`
	Kind       string         `json:"kind"`
	Severity   string         `json:"severity"`
	Status     string         `json:"status"`
	Location   *string        `json:"location"`
	SKU        *string        `json:"sku"`
	Order      *int64         `json:"order"`
	CreatedAt  time.Time      `json:"created_at"`
	DueAt      *time.Time     `json:"due_at"`
	Resolution *apiResolution `json:"resolution"`
	Detail     any            `json:"detail,omitempty"`
}

type apiResolution struct {
	Code string    `json:"code"`
	Note string    `json:"note"`
	By   string    `json:"by"`
	At   time.Time `json:"at"`
}

// apiDrift is a drift's detail.
type apiDrift struct {
	System          int                `json:"system"`
	Counted         int                `json:"counted"`
	Difference      int                `json:"difference"`
	ValueDifference string             `json:"value_difference"`
	CountedAt       time.Time          `json:"counted_at"`
	Held            int                `json:"held"`
	Explanation     []domain.ReplayRow `json:"explanation"`
}

// apiOtherDetail is the detail of kinds with no figures of their own.
type apiOtherDetail struct {
	Title       string          `json:"title"`
	Description string          `json:"description"`
	Ref         string          `json:"ref"`
	Assignee    *string         `json:"assignee"`
	Transfer    *int64          `json:"transfer"`
	Data        json.RawMessage `json:"data"`
}

func optString(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func optID(id int64) *int64 {
	if id == 0 {
		return nil
	}
	return &id
}

func toAPIException(e domain.ExceptionDetail) apiException {
	out := apiException{ID: e.ID, Kind: e.Kind, Severity: e.Severity, Status: e.Status, Location: optString(e.Location),
		SKU: optString(e.SKU), Order: optID(e.OrderID), CreatedAt: e.CreatedAt}
	if !e.DueAt.IsZero() {
		due := e.DueAt
		out.DueAt = &due
	}
	if e.Closed() {
		by := e.ResolvedBy
		if by == "" && e.Assignee != "" {
			by = "user:" + e.Assignee
		}
		out.Resolution = &apiResolution{Code: e.ResolutionCode, Note: e.ResolutionNote, By: by, At: e.ResolvedAt}
	}
	return out
}

// withDetail adds the kind's detail object.
func (s *Server) withDetail(c echo.Context, e domain.ExceptionDetail) (apiException, error) {
	out := toAPIException(e)
	if e.Kind == domain.KindReconciliationDrift {
		d, err := s.DB.DriftOf(c.Request().Context(), e)
		if err != nil {
			return out, err
		}
		ex := d.Explanation
		if ex == nil {
			ex = []domain.ReplayRow{}
		}
		out.Detail = apiDrift{System: d.System, Counted: d.Counted, Difference: d.Difference(), ValueDifference: d.ValueDifference(),
			CountedAt: d.CountedAt, Held: d.Held, Explanation: ex}
		return out, nil
	}
	data := e.Data
	if len(data) == 0 {
		data = json.RawMessage("{}")
	}
	out.Detail = apiOtherDetail{Title: e.Title, Description: e.Detail, Ref: e.Ref, Assignee: optString(e.Assignee),
		Transfer: optID(e.TransferID), Data: data}
	return out, nil
}

// handleExceptionsAPI answers GET /api/v1/exceptions, newest first, one
// page at a time: pass next_cursor back as cursor (null on the last page).
func (s *Server) handleExceptionsAPI(c echo.Context) error {
	f := store.ExceptionFilter{Statuses: domain.ExceptionStatuses, Limit: 50, SkipTotal: true,
		Kind: c.QueryParam("kind"), SKU: c.QueryParam("sku")}
	if f.Kind != "" && !domain.IsExceptionKind(f.Kind) {
		return domain.FieldError("kind", "Unknown exception kind %q.", f.Kind)
	}
	if st := c.QueryParam("status"); st != "" {
		if !domain.IsExceptionStatus(st) {
			return domain.FieldError("status", "Unknown status %q; use open, in_progress, resolved or dismissed.", st)
		}
		f.Statuses = []string{st}
	}
	if loc := c.QueryParam("location"); loc != "" {
		f.Locations = []string{loc}
	}
	if raw := c.QueryParam("order"); raw != "" {
		n, err := strconv.ParseInt(raw, 10, 64)
		if err != nil || n < 1 {
			return domain.FieldError("order", "order is an order id, a whole number.")
		}
		f.OrderID = n
	}
	if raw := c.QueryParam("limit"); raw != "" {
		n, err := strconv.Atoi(raw)
		if err != nil || n < 1 || n > 200 {
			return domain.FieldError("limit", "limit must be a whole number from 1 to 200.")
		}
		f.Limit = n
	}
	if raw := c.QueryParam("cursor"); raw != "" {
		n, err := strconv.ParseInt(raw, 10, 64)
		if err != nil || n < 1 {
			return domain.FieldError("cursor", "cursor is not one this API gave out.")
		}
		f.BeforeID = n
	}
	rows, _, err := s.DB.ListExceptions(c.Request().Context(), f)
	if err != nil {
		return err
	}
	out := struct {
		Exceptions []apiException `json:"exceptions"`
		NextCursor *string        `json:"next_cursor"`
	}{Exceptions: make([]apiException, len(rows))}
	for i, e := range rows {
		out.Exceptions[i] = toAPIException(e)
	}
	if len(rows) == f.Limit {
		next := fmt.Sprint(rows[len(rows)-1].ID)
		out.NextCursor = &next
	}
	return c.JSON(http.StatusOK, out)
}

func exceptionIDParam(c echo.Context) (int64, error) {
	id, err := strconv.ParseInt(c.Param("id"), 10, 64)
	if err != nil || id < 1 {
		return 0, domain.Errorf(domain.ENOTFOUND, "There is no exception %q.", c.Param("id"))
	}
	return id, nil
}

// handleExceptionGetAPI answers GET /api/v1/exceptions/{id}: the exception
// and its detail.
func (s *Server) handleExceptionGetAPI(c echo.Context) error {
	id, err := exceptionIDParam(c)
	if err != nil {
		return err
	}
	e, err := s.DB.ExceptionByID(c.Request().Context(), id)
	if err != nil {
		return err
	}
	out, err := s.withDetail(c, e)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, out)
}

// handleExceptionResolveAPI answers POST /api/v1/exceptions/{id}/resolve
// with 200 and the exception (detail included) after the action.
func (s *Server) handleExceptionResolveAPI(c echo.Context) error {
	id, err := exceptionIDParam(c)
	if err != nil {
		return err
	}
	var req struct {
		Action string `json:"action"`
		Note   string `json:"note"`
	}
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	e, err := s.DB.ResolveException(c.Request().Context(), actor(c), id, domain.ExceptionAction(req.Action), req.Note)
	if err != nil {
		return err
	}
	out, err := s.withDetail(c, e)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, out)
}
