package handlers

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"stockline/connectors"
	"stockline/domain"
	"stockline/store"
	"stockline/views"
)

// connectorPages holds what the connector pages need beside the server:
// the sealer for credentials typed into them.
type connectorPages struct {
	s      *Server
	sealer *connectors.Sealer
}

// newConnectorPages builds the connector pages' handlers. A bad
// CONNECTOR_SECRET_KEY is logged; typed credentials then cannot be sealed.
func (s *Server) newConnectorPages() *connectorPages {
	sealer, err := connectors.NewSealer(s.opts.ConnectorSecretKey)
	if err != nil {
		s.Log.Error("connector credentials cannot be sealed", "err", err.Error())
	}
	return &connectorPages{s: s, sealer: sealer}
}

// rows works out each connector's health for display.
func (h *connectorPages) rows(c echo.Context, conns []domain.Connector) ([]views.ConnectorRow, error) {
	ctx := c.Request().Context()
	rates, err := h.s.DB.EventRates(ctx, 5*time.Minute)
	if err != nil {
		return nil, err
	}
	now := time.Now()
	out := make([]views.ConnectorRow, len(conns))
	for i, cn := range conns {
		counts, err := h.s.DB.ConnectorEventCounts(ctx, cn.ID)
		if err != nil {
			return nil, err
		}
		holder, err := h.s.DB.LeaseHolder(ctx, cn.ID)
		if err != nil {
			return nil, err
		}
		status := domain.FeedStatus(cn.Enabled, cn.LastSuccessAt, cn.CreatedAt, cn.StaleAfter(), cn.ErrorCount, now)
		if cn.Adapter == "csv" && status == domain.FeedStale || cn.Adapter == "csv" && status == domain.FeedStarting {
			status = domain.FeedHealthy // uploads come when stores count; silence is normal
		}
		out[i] = views.ConnectorRow{Connector: cn, Status: status, PerMinute: float64(rates[cn.ID]) / 5,
			OpenLetter: counts.OpenDeadLetters, Pending: counts.Pending, Holder: holder}
	}
	return out, nil
}

func (h *connectorPages) renderList(c echo.Context, status int, add views.ConnectorForm, flash string) error {
	conns, err := h.s.DB.ListConnectors(c.Request().Context())
	if err != nil {
		return err
	}
	rows, err := h.rows(c, conns)
	if err != nil {
		return err
	}
	return render(c, status, views.ConnectorsPage(h.s.viewCtx(c), rows, add, flash))
}

func (h *connectorPages) list(c echo.Context) error {
	flash, err := takeFlash(c)
	if err != nil {
		return err
	}
	return h.renderList(c, http.StatusOK, views.ConnectorForm{Kind: domain.ConnectorPOS, Adapter: "square", PollSeconds: "30", StaleSeconds: "900"}, flash)
}

// parseSettings reads the poll and stale fields of a connector form.
func parseSettings(c echo.Context) (poll, stale int, err error) {
	poll, perr := strconv.Atoi(strings.TrimSpace(c.FormValue("poll_interval")))
	if perr != nil {
		return 0, 0, domain.FieldError("poll_interval", "Poll interval must be a whole number of seconds.")
	}
	stale, serr := strconv.Atoi(strings.TrimSpace(c.FormValue("stale_after")))
	if serr != nil {
		return 0, 0, domain.FieldError("stale_after", "Stale threshold must be a whole number of seconds.")
	}
	return poll, stale, nil
}

func baseURLError(u string) error {
	if err := connectors.ValidateBaseURL(u); err != nil {
		return domain.FieldError("base_url", "Give the feed's address as an absolute http(s) URL, like https://connect.squareup.com.")
	}
	return nil
}

func (h *connectorPages) create(c echo.Context) error {
	f := views.ConnectorForm{Name: strings.TrimSpace(c.FormValue("name")), Kind: c.FormValue("kind"), Adapter: c.FormValue("adapter"),
		BaseURL: strings.TrimSpace(c.FormValue("base_url")), PollSeconds: c.FormValue("poll_interval"), StaleSeconds: c.FormValue("stale_after")}
	invalid := func(err error) error {
		if e := domain.AsError(err); e != nil && e.Code == domain.EINVALID {
			f.Err = e
			return h.renderList(c, http.StatusUnprocessableEntity, f, "")
		}
		return err
	}
	if f.Adapter == "csv" {
		return invalid(domain.FieldError("adapter", "Store counts arrive by upload on the Counts page, not through a new connector."))
	}
	if err := baseURLError(f.BaseURL); err != nil {
		return invalid(err)
	}
	poll, stale, err := parseSettings(c)
	if err != nil {
		return invalid(err)
	}
	ref, sealed, hint, err := h.sealer.CredentialInput(c.FormValue("credential"))
	if err != nil {
		return invalid(err)
	}
	cn, err := h.s.DB.CreateConnector(c.Request().Context(), actor(c), store.NewConnector{Name: f.Name, Kind: f.Kind, Adapter: f.Adapter,
		BaseURL: f.BaseURL, CredentialRef: ref, CredentialSealed: sealed, CredentialHint: hint, PollSeconds: poll, StaleSeconds: stale, Enabled: true})
	if err != nil {
		return invalid(err)
	}
	if err := setFlash(c, fmt.Sprintf("Added %s. It starts pulling within a few seconds; map its items and locations below.", cn.Name)); err != nil {
		return err
	}
	return c.Redirect(http.StatusSeeOther, fmt.Sprintf("/connectors/%d", cn.ID))
}

func (h *connectorPages) connector(c echo.Context) (domain.Connector, error) {
	id, err := strconv.ParseInt(c.Param("id"), 10, 64)
	if err != nil {
		return domain.Connector{}, domain.Errorf(domain.ENOTFOUND, "There is no connector %q.", c.Param("id"))
	}
	return h.s.DB.ConnectorByID(c.Request().Context(), id)
}

// detail gathers the connector page; edit and mapping carry form state
// when a form is being re-rendered.
func (h *connectorPages) detail(c echo.Context, cn domain.Connector) (views.ConnectorDetail, error) {
	ctx := c.Request().Context()
	var d views.ConnectorDetail
	rows, err := h.rows(c, []domain.Connector{cn})
	if err != nil {
		return d, err
	}
	d.Row = rows[0]
	if d.Counts, err = h.s.DB.ConnectorEventCounts(ctx, cn.ID); err != nil {
		return d, err
	}
	if d.Items, d.Locations, err = h.s.DB.MappingCounts(ctx, cn.ID); err != nil {
		return d, err
	}
	dlBefore, _ := strconv.ParseInt(c.QueryParam("dl_before"), 10, 64)
	if d.Letters, d.LettersNext, err = h.s.DB.DeadLetters(ctx, cn.ID, "open", dlBefore, 25); err != nil {
		return d, err
	}
	before, _ := strconv.ParseInt(c.QueryParam("before"), 10, 64)
	if d.Events, d.EventsNext, err = h.s.DB.RecentEvents(ctx, cn.ID, before, 25); err != nil {
		return d, err
	}
	d.Edit = views.ConnectorForm{BaseURL: cn.BaseURL, PollSeconds: fmt.Sprint(cn.PollSeconds), StaleSeconds: fmt.Sprint(cn.StaleSeconds)}
	return d, nil
}

func (h *connectorPages) show(c echo.Context) error {
	cn, err := h.connector(c)
	if err != nil {
		return err
	}
	d, err := h.detail(c, cn)
	if err != nil {
		return err
	}
	if d.Flash, err = takeFlash(c); err != nil {
		return err
	}
	return render(c, http.StatusOK, views.ConnectorPage(h.s.viewCtx(c), d))
}

func (h *connectorPages) done(c echo.Context, cn domain.Connector, anchor, msg string) error {
	if err := setFlash(c, msg); err != nil {
		return err
	}
	return c.Redirect(http.StatusSeeOther, fmt.Sprintf("/connectors/%d%s", cn.ID, anchor))
}

// update saves base URL, poll interval, stale threshold and (when one is
// typed) a new credential, sealed; the old one is never shown.
func (h *connectorPages) update(c echo.Context) error {
	cn, err := h.connector(c)
	if err != nil {
		return err
	}
	edit := views.ConnectorForm{BaseURL: strings.TrimSpace(c.FormValue("base_url")), PollSeconds: c.FormValue("poll_interval"), StaleSeconds: c.FormValue("stale_after")}
	invalid := func(err error) error {
		e := domain.AsError(err)
		if e == nil || e.Code != domain.EINVALID {
			return err
		}
		d, derr := h.detail(c, cn)
		if derr != nil {
			return derr
		}
		edit.Err = e
		d.Edit = edit
		return render(c, http.StatusUnprocessableEntity, views.ConnectorPage(h.s.viewCtx(c), d))
	}
	if err := baseURLError(edit.BaseURL); err != nil {
		return invalid(err)
	}
	poll, stale, err := parseSettings(c)
	if err != nil {
		return invalid(err)
	}
	e := store.ConnectorEdit{BaseURL: edit.BaseURL, PollSeconds: poll, StaleSeconds: stale}
	if cred := strings.TrimSpace(c.FormValue("credential")); cred != "" {
		e.SetCredential = true
		if e.CredentialRef, e.CredentialSealed, e.CredentialHint, err = h.sealer.CredentialInput(cred); err != nil {
			return invalid(err)
		}
	}
	cn, err = h.s.DB.UpdateConnector(c.Request().Context(), actor(c), cn.ID, e)
	if err != nil {
		return invalid(err)
	}
	msg := fmt.Sprintf("Saved %s: polls every %d s, stale after %d s.", cn.Name, cn.PollSeconds, cn.StaleSeconds)
	if e.SetCredential {
		msg += " New credential stored (" + cn.CredentialHint + ")."
	}
	return h.done(c, cn, "#settings", msg)
}

func (h *connectorPages) setEnabled(c echo.Context, enabled bool) error {
	cn, err := h.connector(c)
	if err != nil {
		return err
	}
	if cn.Adapter == "csv" {
		return domain.Errorf(domain.EINVALID, "Store counts are not pulled; there is nothing to pause.")
	}
	cn, err = h.s.DB.SetConnectorEnabled(c.Request().Context(), actor(c), cn.ID, enabled)
	if err != nil {
		return err
	}
	if enabled {
		return h.done(c, cn, "", cn.Name+" resumed: it is pulled again within a few seconds, and events that waited while paused are applied.")
	}
	return h.done(c, cn, "", cn.Name+" paused: nothing is pulled, and webhooks wait as pending until you resume.")
}

func (h *connectorPages) pause(c echo.Context) error  { return h.setEnabled(c, false) }
func (h *connectorPages) resume(c echo.Context) error { return h.setEnabled(c, true) }

func (h *connectorPages) addMapping(c echo.Context) error {
	cn, err := h.connector(c)
	if err != nil {
		return err
	}
	m := store.Mapping{Kind: c.FormValue("kind"), ExternalID: strings.TrimSpace(c.FormValue("external_id")), Code: strings.TrimSpace(c.FormValue("code"))}
	if err := h.s.DB.SetMappings(c.Request().Context(), actor(c), cn.ID, []store.Mapping{m}); err != nil {
		e := domain.AsError(err)
		if e == nil || e.Code != domain.EINVALID {
			return err
		}
		d, derr := h.detail(c, cn)
		if derr != nil {
			return derr
		}
		d.Mapping = views.MappingForm{Kind: m.Kind, ExternalID: m.ExternalID, Code: m.Code, Err: e}
		return render(c, http.StatusUnprocessableEntity, views.ConnectorPage(h.s.viewCtx(c), d))
	}
	what := "item"
	if m.Kind == "location" {
		what = "location"
	}
	return h.done(c, cn, "#mappings", fmt.Sprintf("Mapped the feed's %s %s to %s. Retry its dead letters to apply them.", what, m.ExternalID, m.Code))
}

// deadLetterOf loads the dead letter in the path, checking it belongs to
// the connector in the path.
func (h *connectorPages) deadLetterOf(c echo.Context) (domain.Connector, domain.DeadLetter, error) {
	cn, err := h.connector(c)
	if err != nil {
		return cn, domain.DeadLetter{}, err
	}
	id, err := strconv.ParseInt(c.Param("dl"), 10, 64)
	if err != nil {
		return cn, domain.DeadLetter{}, domain.Errorf(domain.ENOTFOUND, "There is no dead letter %q.", c.Param("dl"))
	}
	dl, err := h.s.DB.DeadLetterByID(c.Request().Context(), id)
	if err == nil && dl.ConnectorID != cn.ID {
		err = domain.Errorf(domain.ENOTFOUND, "Dead letter %d is not %s's.", id, cn.Name)
	}
	return cn, dl, err
}

func (h *connectorPages) deadLetter(c echo.Context) error {
	cn, dl, err := h.deadLetterOf(c)
	if err != nil {
		return err
	}
	return render(c, http.StatusOK, views.DeadLetterPage(h.s.viewCtx(c), views.DeadLetterForm{Connector: cn, Letter: dl, Payload: views.PrettyPayload(dl.Payload)}))
}

func retried(dl domain.DeadLetter) string {
	return fmt.Sprintf("Event %s applied; dead letter %d closed.", dl.SourceEventID, dl.ID)
}

func (h *connectorPages) retry(c echo.Context) error {
	cn, dl, err := h.deadLetterOf(c)
	if err != nil {
		return err
	}
	dl, err = connectors.RetryDeadLetter(c.Request().Context(), h.s.DB, dl.ID, nil, actor(c))
	if err != nil {
		if e := domain.AsError(err); e != nil && e.Code == "still_failing" {
			// Not a failure of the request: say so on the page, where the
			// fix-payload link is.
			return h.done(c, cn, "#dead-letters", fmt.Sprintf("Dead letter %d still cannot be applied: %s Fix its payload or map what it names, then retry.", dl.ID, dl.Error))
		}
		return err
	}
	return h.done(c, cn, "#dead-letters", retried(dl))
}

// fix retries a dead letter with the payload an operator edited; when it
// still fails the form comes back with the error and the edited payload.
func (h *connectorPages) fix(c echo.Context) error {
	cn, dl, err := h.deadLetterOf(c)
	if err != nil {
		return err
	}
	payload := c.FormValue("payload")
	form := views.DeadLetterForm{Connector: cn, Letter: dl, Payload: payload}
	if strings.TrimSpace(payload) == "" || len(payload) > 1<<20 {
		form.Err = domain.FieldError("payload", "Give the event's payload (at most 1 MiB).")
		return render(c, http.StatusUnprocessableEntity, views.DeadLetterPage(h.s.viewCtx(c), form))
	}
	if !json.Valid([]byte(payload)) {
		form.Err = domain.FieldError("payload", "That is not valid JSON; check brackets, quotes and commas.")
		return render(c, http.StatusUnprocessableEntity, views.DeadLetterPage(h.s.viewCtx(c), form))
	}
	after, err := connectors.RetryDeadLetter(c.Request().Context(), h.s.DB, dl.ID, []byte(payload), actor(c))
	if err != nil {
		if e := domain.AsError(err); e != nil && (e.Code == "still_failing" || e.Code == domain.ECONFLICT) {
			form.Letter = after
			if form.Letter.ID == 0 {
				form.Letter = dl
			}
			form.Err = &domain.Error{Code: e.Code, Field: "payload", Message: e.Message}
			return render(c, http.StatusUnprocessableEntity, views.DeadLetterPage(h.s.viewCtx(c), form))
		}
		return err
	}
	return h.done(c, cn, "#dead-letters", retried(after))
}

func (h *connectorPages) dismiss(c echo.Context) error {
	cn, dl, err := h.deadLetterOf(c)
	if err != nil {
		return err
	}
	note := strings.TrimSpace(c.FormValue("note"))
	if err := h.s.DB.DismissDeadLetter(c.Request().Context(), actor(c), dl.ID, note); err != nil {
		return err
	}
	return h.done(c, cn, "#dead-letters", fmt.Sprintf("Dismissed dead letter %d (%s); the event will not be applied.", dl.ID, dl.SourceEventID))
}
