package handlers

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"stockline/domain"
	"stockline/store"
	"stockline/views"
)

// adminUsersPerPage is how many users the users page lists at once.
const adminUsersPerPage = 50

// adminAuditPerPage is how many audit rows the audit page shows at once.
const adminAuditPerPage = 50

// adminFormStatus is the status a form re-rendered with err answers:
// 422 when the message belongs to a field, otherwise the code's status.
func adminFormStatus(e *domain.Error) int {
	if e.Field != "" {
		return http.StatusUnprocessableEntity
	}
	return statusFor(e)
}

// adminFormList returns every value of a repeated form field (a
// multi-select or a group of checkboxes), trimmed, empty ones dropped.
func adminFormList(c echo.Context, name string) ([]string, error) {
	form, err := c.FormParams()
	if err != nil {
		return nil, domain.Errorf(domain.EINVALID, "The form could not be read.")
	}
	var out []string
	for _, v := range form[name] {
		if v = strings.TrimSpace(v); v != "" {
			out = append(out, v)
		}
	}
	return out, nil
}

// adminID parses the :id path parameter; a malformed one is not found.
func adminID(c echo.Context, what string) (int64, error) {
	id, err := strconv.ParseInt(c.Param("id"), 10, 64)
	if err != nil || id <= 0 {
		return 0, domain.Errorf(domain.ENOTFOUND, "There is no %s %q.", what, c.Param("id"))
	}
	return id, nil
}

// noStore keeps a page that shows a secret out of every cache.
func noStore(c echo.Context) {
	c.Response().Header().Set("Cache-Control", "no-store")
}

func (s *Server) handleAdminUsers(c echo.Context) error {
	flash, err := takeFlash(c)
	if err != nil {
		return err
	}
	return s.renderAdminUsers(c, http.StatusOK, views.AdminUserForm{}, flash)
}

// renderAdminUsers renders the users page (the page number comes from
// ?page=) with the add form in the given state.
func (s *Server) renderAdminUsers(c echo.Context, status int, form views.AdminUserForm, flash string) error {
	ctx := c.Request().Context()
	page, _ := strconv.Atoi(c.QueryParam("page"))
	if page < 1 {
		page = 1
	}
	users, total, err := s.DB.ListUsersPage(ctx, (page-1)*adminUsersPerPage, adminUsersPerPage)
	if err != nil {
		return err
	}
	locs, err := s.DB.ListLocations(ctx)
	if err != nil {
		return err
	}
	return render(c, status, views.AdminUsers(s.viewCtx(c), views.AdminUserList{
		Users: users, Total: total, Page: page, PageSize: adminUsersPerPage, Locations: locs, Form: form, Flash: flash,
	}))
}

// handleAdminUserCreate adds a user. With no password given it generates
// one and shows it on the response, once; otherwise it redirects to the
// new user's page.
func (s *Server) handleAdminUserCreate(c echo.Context) error {
	locs, err := adminFormList(c, "locations")
	if err != nil {
		return err
	}
	form := views.AdminUserForm{
		Email: strings.TrimSpace(c.FormValue("email")), Name: strings.TrimSpace(c.FormValue("name")),
		Role: c.FormValue("role"), Locations: locs,
	}
	if form.Role == "" {
		form.Err = domain.FieldError("role", "Choose a role.")
		return s.renderAdminUsers(c, http.StatusUnprocessableEntity, form, "")
	}
	password := c.FormValue("password")
	generated := password == ""
	if generated {
		password = randomToken(15)
	}
	u, err := s.DB.CreateUser(c.Request().Context(), actor(c), store.NewUser{
		Email: form.Email, Name: form.Name, Role: domain.Role(form.Role), Locations: form.Locations, Password: password,
	})
	if e := domain.AsError(err); e != nil {
		form.Err = e
		return s.renderAdminUsers(c, adminFormStatus(e), form, "")
	} else if err != nil {
		return err
	}
	if generated {
		noStore(c)
		return render(c, http.StatusCreated, views.AdminUserCreated(s.viewCtx(c), u, password))
	}
	if err := setFlash(c, fmt.Sprintf("Added %s as %s. They can sign in now.", u.Email, u.Role.Label())); err != nil {
		return err
	}
	return c.Redirect(http.StatusSeeOther, fmt.Sprintf("/admin/users/%d", u.ID))
}

func (s *Server) handleAdminUser(c echo.Context) error {
	id, err := adminID(c, "user")
	if err != nil {
		return err
	}
	u, err := s.DB.UserSummaryByID(c.Request().Context(), id)
	if err != nil {
		return err
	}
	flash, err := takeFlash(c)
	if err != nil {
		return err
	}
	return s.renderAdminUser(c, http.StatusOK, u, views.AdminUserEdit{Role: string(u.Role), Locations: u.Locations, Disabled: u.Disabled}, flash)
}

func (s *Server) renderAdminUser(c echo.Context, status int, u domain.UserSummary, f views.AdminUserEdit, flash string) error {
	locs, err := s.DB.ListLocations(c.Request().Context())
	if err != nil {
		return err
	}
	if f.Lock, err = s.userLock(c, u.Email); err != nil {
		return err
	}
	return render(c, status, views.AdminUser(s.viewCtx(c), u, locs, f, flash))
}

// handleAdminUserUpdate changes a user's role, locations and status.
// Disabling a user or changing their role ends their sessions at once.
func (s *Server) handleAdminUserUpdate(c echo.Context) error {
	ctx := c.Request().Context()
	id, err := adminID(c, "user")
	if err != nil {
		return err
	}
	before, err := s.DB.UserSummaryByID(ctx, id)
	if err != nil {
		return err
	}
	locs, err := adminFormList(c, "locations")
	if err != nil {
		return err
	}
	f := views.AdminUserEdit{Role: c.FormValue("role"), Locations: locs}
	switch c.FormValue("status") {
	case "active":
	case "disabled":
		f.Disabled = true
	default:
		f.Err = domain.FieldError("status", "Choose Active or Disabled.")
		return s.renderAdminUser(c, http.StatusUnprocessableEntity, before, f, "")
	}
	after, err := s.DB.UpdateUser(ctx, actor(c), id, domain.Role(f.Role), f.Locations, f.Disabled)
	if e := domain.AsError(err); e != nil {
		f.Err = e
		return s.renderAdminUser(c, adminFormStatus(e), before, f, "")
	} else if err != nil {
		return err
	}
	if err := setFlash(c, adminUserChange(before, after)); err != nil {
		return err
	}
	return c.Redirect(http.StatusSeeOther, fmt.Sprintf("/admin/users/%d", id))
}

// adminUserChange says in one sentence what an update did.
func adminUserChange(before domain.UserSummary, after *domain.User) string {
	where := "all locations"
	if after.Role.Scoped() {
		where = strings.Join(after.Locations, ", ")
	}
	msg := fmt.Sprintf("Saved %s: %s at %s", after.Email, after.Role.Label(), where)
	switch {
	case after.Disabled && !before.Disabled:
		msg += fmt.Sprintf("; disabled, and %s ended", adminSessions(before.ActiveSessions))
	case after.Disabled:
		msg += "; still disabled"
	case before.Disabled:
		msg += "; enabled, they can sign in again"
	case after.Role != before.Role:
		msg += fmt.Sprintf("; %s ended so the new role applies at once", adminSessions(before.ActiveSessions))
	}
	return msg + "."
}

func adminSessions(n int) string {
	if n == 1 {
		return "their 1 open session"
	}
	return fmt.Sprintf("their %d open sessions", n)
}

func (s *Server) handleAdminTokens(c echo.Context) error {
	flash, err := takeFlash(c)
	if err != nil {
		return err
	}
	return s.renderAdminTokens(c, http.StatusOK, views.AdminTokenList{Flash: flash})
}

func (s *Server) renderAdminTokens(c echo.Context, status int, l views.AdminTokenList) error {
	toks, err := s.DB.ListTokens(c.Request().Context())
	if err != nil {
		return err
	}
	l.Tokens = toks
	return render(c, status, views.AdminTokens(s.viewCtx(c), l))
}

// handleAdminTokenCreate creates an API token and shows its secret on this
// one response; only its hash is stored.
func (s *Server) handleAdminTokenCreate(c echo.Context) error {
	scopes, err := adminFormList(c, "scopes")
	if err != nil {
		return err
	}
	form := views.AdminTokenForm{Name: strings.TrimSpace(c.FormValue("name")), Scopes: scopes}
	raw := "stk_" + randomToken(24)
	t, err := s.DB.CreateToken(c.Request().Context(), actor(c), form.Name, raw, form.Scopes)
	if e := domain.AsError(err); e != nil {
		form.Err = e
		return s.renderAdminTokens(c, adminFormStatus(e), views.AdminTokenList{Form: form})
	} else if err != nil {
		return err
	}
	noStore(c)
	return s.renderAdminTokens(c, http.StatusCreated, views.AdminTokenList{NewToken: raw, NewName: t.Name})
}

func (s *Server) handleAdminTokenRevoke(c echo.Context) error {
	ctx := c.Request().Context()
	id, err := adminID(c, "token")
	if err != nil {
		return err
	}
	t, err := s.DB.TokenByID(ctx, id)
	if err != nil {
		return err
	}
	if err := s.DB.RevokeToken(ctx, actor(c), id); err != nil {
		return err
	}
	if err := setFlash(c, fmt.Sprintf("Revoked token “%s” (%s…). Clients using it now get 401.", t.Name, t.Prefix)); err != nil {
		return err
	}
	return c.Redirect(http.StatusSeeOther, "/admin/tokens")
}

// handleAdminAudit shows the audit trail newest first, optionally for one
// entity kind or record, paging to older rows with ?before=.
func (s *Server) handleAdminAudit(c echo.Context) error {
	ctx := c.Request().Context()
	q := views.AdminAuditQuery{Entity: strings.TrimSpace(c.QueryParam("entity")), EntityID: strings.TrimSpace(c.QueryParam("entity_id"))}
	if b := c.QueryParam("before"); b != "" {
		n, err := strconv.ParseInt(b, 10, 64)
		if err != nil || n <= 0 {
			return domain.FieldError("before", "The page position %q is not valid.", b)
		}
		q.Before = n
	}
	rows, err := s.DB.ListAudit(ctx, store.AuditFilter{Entity: q.Entity, EntityID: q.EntityID, BeforeID: q.Before, Limit: adminAuditPerPage + 1})
	if err != nil {
		return err
	}
	if len(rows) > adminAuditPerPage {
		rows = rows[:adminAuditPerPage]
		q.Older = rows[len(rows)-1].ID
	}
	if q.Entities, err = s.DB.AuditEntities(ctx); err != nil {
		return err
	}
	return render(c, http.StatusOK, views.AdminAudit(s.viewCtx(c), rows, q))
}
