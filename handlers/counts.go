package handlers

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"stockline/connectors"
	"stockline/domain"
	"stockline/views"
)

// countForm is the form state with the locations the user may count.
func (s *Server) countForm(c echo.Context) (views.CountForm, error) {
	u := currentUser(c)
	locs, err := s.DB.ListLocations(c.Request().Context())
	if err != nil {
		return views.CountForm{}, err
	}
	var f views.CountForm
	for _, l := range locs {
		if u.CanSeeLocation(l.Code) {
			f.Locations = append(f.Locations, l)
		}
	}
	if len(f.Locations) > 0 {
		f.Location = f.Locations[0].Code
	}
	return f, nil
}

func (s *Server) handleCountsPage(c echo.Context) error {
	f, err := s.countForm(c)
	if err != nil {
		return err
	}
	if l := c.QueryParam("location"); l != "" {
		f.Location = l
	}
	uploads, err := s.DB.RecentCountUploads(c.Request().Context(), scopeOf(currentUser(c)), 20)
	if err != nil {
		return err
	}
	return render(c, http.StatusOK, views.CountsPage(s.viewCtx(c), f, uploads))
}

// handleCountUpload checks the file line by line. A wholly valid file is
// applied at once (post/redirect/get with what moved); a file with line
// errors is stored unapplied and answered 422 with the errors and the
// choice to apply the valid lines only.
func (s *Server) handleCountUpload(c echo.Context) error {
	ctx := c.Request().Context()
	u := currentUser(c)
	f, err := s.countForm(c)
	if err != nil {
		return err
	}
	c.Request().Body = http.MaxBytesReader(c.Response().Writer, c.Request().Body, connectors.MaxCountFileBytes+1<<20)
	f.Location = c.FormValue("location")
	fail := func(status int, e *domain.Error) error {
		f.Err = e
		if isHTMX(c) {
			return render(c, status, views.CountFileError(e))
		}
		uploads, err := s.DB.RecentCountUploads(ctx, scopeOf(u), 20)
		if err != nil {
			return err
		}
		return render(c, status, views.CountsPage(s.viewCtx(c), f, uploads))
	}
	loc, err := s.DB.LocationByCode(ctx, f.Location)
	if err != nil || !u.CanSeeLocation(loc.Code) {
		return fail(http.StatusUnprocessableEntity, domain.FieldError("location", "Choose one of your stores."))
	}
	fh, err := c.FormFile("file")
	if err != nil {
		return fail(http.StatusUnprocessableEntity, domain.FieldError("file", "Choose a CSV file to upload (it may be at most 20 MiB)."))
	}
	file, err := fh.Open()
	if err != nil {
		return err
	}
	defer file.Close()
	sheet, err := connectors.CheckCountFile(ctx, s.DB, file, loc, time.Now())
	if e := domain.AsError(err); e != nil {
		return fail(http.StatusUnprocessableEntity, e)
	} else if err != nil {
		return err
	}
	if sheet.Lines == 0 {
		return fail(http.StatusUnprocessableEntity, domain.FieldError("file", "The file has a header but no lines to count."))
	}
	up, err := s.DB.SaveCountUpload(ctx, actor(c), loc.ID, fh.Filename, sheet.Lines, sheet.Rows, sheet.Errors)
	if err != nil {
		return err
	}
	if len(sheet.Errors) > 0 {
		r := views.CountResult{Upload: up, Errors: sheet.Errors}
		if isHTMX(c) {
			return render(c, http.StatusUnprocessableEntity, views.CountResultFragment(s.viewCtx(c), r))
		}
		return render(c, http.StatusUnprocessableEntity, views.CountsInvalidPage(s.viewCtx(c), f, r))
	}
	up, res, err := connectors.ApplyCountUpload(ctx, s.DB, up.ID, false, actor(c))
	if err != nil {
		return err
	}
	return s.countsApplied(c, up.ID, fmt.Sprintf("Applied %d counts at %s; on hand changed for %d SKUs.", up.AppliedRows, up.Location, res.Changed))
}

func (s *Server) countsApplied(c echo.Context, id int64, msg string) error {
	if err := setFlash(c, msg); err != nil {
		return err
	}
	target := fmt.Sprintf("/counts/%d", id)
	if isHTMX(c) {
		c.Response().Header().Set("HX-Redirect", target)
		return c.NoContent(http.StatusOK)
	}
	return c.Redirect(http.StatusSeeOther, target)
}

// countUpload loads the upload in the path, if the user may see its store.
func (s *Server) countUpload(c echo.Context) (views.CountResult, error) {
	var r views.CountResult
	id, err := strconv.ParseInt(c.Param("id"), 10, 64)
	if err != nil {
		return r, domain.Errorf(domain.ENOTFOUND, "There is no count upload %q.", c.Param("id"))
	}
	up, err := s.DB.CountUploadByID(c.Request().Context(), id)
	if err != nil {
		return r, err
	}
	if !currentUser(c).CanSeeLocation(up.Location) {
		return r, domain.Errorf(domain.ENOTFOUND, "There is no count upload %d.", id)
	}
	r.Upload = up
	if err := json.Unmarshal(up.Errors, &r.Errors); err != nil {
		return r, err
	}
	return r, nil
}

func (s *Server) handleCountUploadShow(c echo.Context) error {
	r, err := s.countUpload(c)
	if err != nil {
		return err
	}
	if r.Flash, err = takeFlash(c); err != nil {
		return err
	}
	return render(c, http.StatusOK, views.CountUploadPage(s.viewCtx(c), r))
}

// handleCountUploadApply is the explicit "apply the valid lines" choice
// for a file that had errors.
func (s *Server) handleCountUploadApply(c echo.Context) error {
	r, err := s.countUpload(c)
	if err != nil {
		return err
	}
	up, res, err := connectors.ApplyCountUpload(c.Request().Context(), s.DB, r.Upload.ID, c.FormValue("valid_only") == "1", actor(c))
	if err != nil {
		return err
	}
	return s.countsApplied(c, up.ID, fmt.Sprintf("Applied %d valid counts at %s (skipped %d lines with errors); on hand changed for %d SKUs.",
		up.AppliedRows, up.Location, up.ErrorCount, res.Changed))
}
