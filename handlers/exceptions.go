package handlers

import (
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"stockline/domain"
	"stockline/store"
	"stockline/views"
)

// scopeOf is the location codes a user is limited to, or nil for all.
func scopeOf(u *domain.User) []string {
	if u.Role.Scoped() {
		if u.Locations == nil {
			return []string{}
		}
		return u.Locations
	}
	return nil
}

// queueFilter reads the queue's filter from the query string into the
// view's form and the store's filter.
func queueFilter(c echo.Context, u *domain.User) (views.QueueFilter, store.ExceptionFilter, error) {
	q := func(k string) string { return strings.TrimSpace(c.QueryParam(k)) }
	vf := views.QueueFilter{Kind: q("kind"), Location: q("location"), Region: q("region"), Severity: q("severity"),
		Status: q("status"), Assignee: q("assignee"), Age: q("age"), SLA: q("sla"), After: q("after")}
	f := store.ExceptionFilter{Kind: vf.Kind, Locations: scopeOf(u), Location: vf.Location, Region: vf.Region,
		Severity: vf.Severity, SLA: vf.SLA, Limit: 50, DueOrder: true}
	if vf.Status != "" {
		if !slices.Contains(domain.ExceptionStatuses, vf.Status) {
			return vf, f, domain.FieldError("status", "Unknown status %q.", vf.Status)
		}
		f.Statuses = []string{vf.Status}
	}
	switch vf.Assignee {
	case "":
	case "me":
		f.AssigneeID = u.ID
	case "none":
		f.AssigneeID = store.UnassignedID
	default:
		id, err := strconv.ParseInt(vf.Assignee, 10, 64)
		if err != nil || id <= 0 {
			return vf, f, domain.FieldError("assignee", "Unknown assignee %q.", vf.Assignee)
		}
		f.AssigneeID = id
	}
	if vf.Age != "" {
		d, err := time.ParseDuration(vf.Age)
		if err != nil || d <= 0 {
			return vf, f, domain.FieldError("age", "Unknown age %q.", vf.Age)
		}
		f.OlderThan = d
	}
	if vf.After != "" {
		cur, err := parseCursor(vf.After)
		if err != nil {
			return vf, f, err
		}
		f.After = cur
	}
	return vf, f, nil
}

// The queue's keyset cursor is "<due unix nanoseconds>.<id>".
func parseCursor(s string) (store.ExceptionCursor, error) {
	due, id, ok := strings.Cut(s, ".")
	ns, err1 := strconv.ParseInt(due, 10, 64)
	n, err2 := strconv.ParseInt(id, 10, 64)
	if !ok || err1 != nil || err2 != nil || n <= 0 {
		return store.ExceptionCursor{}, domain.FieldError("after", "That page link is broken; start from the first page.")
	}
	return store.ExceptionCursor{DueAt: time.Unix(0, ns), ID: n}, nil
}

func formatCursor(c store.ExceptionCursor) string {
	return fmt.Sprintf("%d.%d", c.DueAt.UnixNano(), c.ID)
}

// queueView builds the queue page (or its list partial).
func (s *Server) queueView(c echo.Context) (views.QueueView, error) {
	ctx := c.Request().Context()
	u := currentUser(c)
	vf, f, err := queueFilter(c, u)
	if err != nil {
		return views.QueueView{}, err
	}
	rows, total, err := s.DB.ListExceptions(ctx, f)
	if err != nil {
		return views.QueueView{}, err
	}
	m := views.QueueView{Filter: vf, Rows: rows, Total: total, Now: time.Now(), CanWork: map[string]bool{}}
	if len(rows) == f.Limit {
		v := vf.Values()
		v.Set("after", formatCursor(store.CursorOf(rows[len(rows)-1])))
		m.Next = "/exceptions?" + v.Encode()
	}
	if keep, _ := strconv.ParseInt(c.QueryParam("keep"), 10, 64); keep > 0 && !slices.ContainsFunc(rows, func(e domain.ExceptionDetail) bool { return e.ID == keep }) {
		// The row someone is working on stays until they move on, even
		// when it no longer matches (assigned, resolved meanwhile).
		if e, err := s.DB.ExceptionByID(ctx, keep); err == nil && exceptionVisible(u, e) {
			m.Rows, m.Kept = append([]domain.ExceptionDetail{e}, rows...), keep
		}
	}
	for _, k := range domain.KindsOwnedBy(u.Role) {
		m.CanWork[k] = true
	}
	if u.Role.Scoped() {
		m.ScopeNames = strings.Join(u.Locations, ", ")
	}
	return m, nil
}

func (s *Server) handleExceptionQueue(c echo.Context) error {
	ctx := c.Request().Context()
	u := currentUser(c)
	m, err := s.queueView(c)
	if err != nil {
		return err
	}
	_, f, _ := queueFilter(c, u)
	counts, err := s.DB.ExceptionCounts(ctx, f)
	if err != nil {
		return err
	}
	m.Counts = views.QueueCounts{Total: counts.Total, ByKind: counts.ByKind, BySeverity: counts.BySeverity, BySLA: counts.BySLA}
	locs, err := s.DB.ListLocations(ctx)
	if err != nil {
		return err
	}
	regions := map[string]bool{}
	for _, l := range locs {
		if u.CanSeeLocation(l.Code) {
			m.Locations = append(m.Locations, views.Option{Value: l.Code, Label: l.Code + " " + l.Name})
			if !regions[l.Region] {
				regions[l.Region] = true
				m.Regions = append(m.Regions, l.Region)
			}
		}
	}
	slices.Sort(m.Regions)
	if m.Assignees, err = s.assignees(c); err != nil {
		return err
	}
	if m.Flash, err = takeFlash(c); err != nil {
		return err
	}
	return render(c, http.StatusOK, views.ExceptionQueue(s.viewCtx(c), m))
}

// handleExceptionList is the list partial the queue polls.
func (s *Server) handleExceptionList(c echo.Context) error {
	m, err := s.queueView(c)
	if err != nil {
		return err
	}
	return render(c, http.StatusOK, views.ExceptionList(s.viewCtx(c), m))
}

// assignees are the people an exception can be given to: associates may
// only take work themselves; other roles may give it to anyone who works
// exceptions.
func (s *Server) assignees(c echo.Context) ([]views.Option, error) {
	u := currentUser(c)
	if u.Role == domain.RoleAssociate {
		return []views.Option{{Value: fmt.Sprint(u.ID), Label: u.Email}}, nil
	}
	users, err := s.DB.ListUsers(c.Request().Context())
	if err != nil {
		return nil, err
	}
	var out []views.Option
	for _, x := range users {
		if !x.Disabled && len(domain.KindsOwnedBy(x.Role)) > 0 {
			out = append(out, views.Option{Value: fmt.Sprint(x.ID), Label: fmt.Sprintf("%s (%s)", x.Email, x.Role.Label())})
		}
	}
	return out, nil
}

// exceptionVisible reports whether the user may see the exception: scoped
// users only their stores' (never one with no location).
func exceptionVisible(u *domain.User, e domain.ExceptionDetail) bool {
	return !u.Role.Scoped() || e.Location != "" && u.CanSeeLocation(e.Location)
}

// exceptionInScope loads an exception and refuses one outside the user's
// locations: 404, exactly like one that does not exist.
func (s *Server) exceptionInScope(c echo.Context) (domain.ExceptionDetail, error) {
	id, err := strconv.ParseInt(c.Param("id"), 10, 64)
	if err != nil {
		return domain.ExceptionDetail{}, domain.Errorf(domain.ENOTFOUND, "There is no exception %q.", c.Param("id"))
	}
	e, err := s.DB.ExceptionByID(c.Request().Context(), id)
	if err != nil {
		return e, err
	}
	if !exceptionVisible(currentUser(c), e) {
		return e, domain.Errorf(domain.ENOTFOUND, "There is no exception %q.", c.Param("id"))
	}
	return e, nil
}

// exceptionToWork is exceptionInScope for a change: the user's role must
// work the exception's kind (its owners and admins).
func (s *Server) exceptionToWork(c echo.Context) (domain.ExceptionDetail, error) {
	e, err := s.exceptionInScope(c)
	if err != nil {
		return e, err
	}
	if k := domain.KindSpecFor(e.Kind); !k.CanWork(currentUser(c).Role) {
		return e, domain.Errorf(domain.EFORBIDDEN, "%s exceptions are worked by %s; ask one of them.", k.Label, strings.ToLower(ownerList(k)))
	}
	return e, nil
}

func ownerList(k domain.KindSpec) string {
	var s []string
	for _, r := range k.Owners {
		s = append(s, r.Label()+"s")
	}
	return strings.Join(append(s, "admins"), ", ")
}

// backTo is where a queue form returns: its "back" field when it is a
// queue URL, else the exception's page.
func backTo(c echo.Context, fallback string) string {
	if b := safeNext(c.FormValue("back")); strings.HasPrefix(b, "/exceptions") {
		return b
	}
	return fallback
}

func (s *Server) handleExceptionTake(c echo.Context) error {
	e, err := s.exceptionToWork(c)
	if err != nil {
		return err
	}
	if err := s.DB.TakeException(c.Request().Context(), actor(c), e.ID); err != nil {
		return err
	}
	if err := setFlash(c, fmt.Sprintf("Exception %d is assigned to you and in progress.", e.ID)); err != nil {
		return err
	}
	return c.Redirect(http.StatusSeeOther, backTo(c, fmt.Sprintf("/exceptions/%d", e.ID)))
}

// handleExceptionBulk assigns (to me or to someone) or dismisses the
// selected exceptions, all or nothing.
func (s *Server) handleExceptionBulk(c echo.Context) error {
	u := currentUser(c)
	form, err := c.FormParams()
	if err != nil {
		return domain.FieldError("ids", "Choose at least one exception.")
	}
	t := store.BulkTarget{Locations: scopeOf(u), Kinds: domain.KindsOwnedBy(u.Role)}
	for _, v := range form["ids"] {
		id, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return domain.FieldError("ids", "Unknown exception %q.", v)
		}
		t.IDs = append(t.IDs, id)
	}
	ctx := c.Request().Context()
	var n int
	var msg string
	switch c.FormValue("op") {
	case "assign_me":
		n, err = s.DB.AssignExceptions(ctx, actor(c), t, u.ID)
		msg = "%d exception(s) assigned to you."
	case "assign":
		id, _ := strconv.ParseInt(c.FormValue("assignee"), 10, 64)
		if u.Role == domain.RoleAssociate && id != u.ID {
			return domain.FieldError("assignee", "Associates can assign exceptions only to themselves.")
		}
		n, err = s.DB.AssignExceptions(ctx, actor(c), t, id)
		msg = "%d exception(s) assigned."
	case "dismiss":
		n, err = s.DB.DismissExceptions(ctx, actor(c), t, c.FormValue("reason"))
		msg = "%d exception(s) dismissed."
	default:
		return domain.FieldError("op", "Choose what to do with the selected exceptions.")
	}
	if err != nil {
		return err
	}
	if err := setFlash(c, fmt.Sprintf(msg, n)); err != nil {
		return err
	}
	return c.Redirect(http.StatusSeeOther, backTo(c, "/exceptions"))
}
