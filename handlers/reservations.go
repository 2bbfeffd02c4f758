package handlers

import (
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"stockline/domain"
	"stockline/store"
	"stockline/views"
)

// maxIdempotencyKey is the longest Idempotency-Key accepted.
const maxIdempotencyKey = 255

// idempotencyKey reads the Idempotency-Key header that creating calls
// require: 400 idempotency_key_required when missing, 400
// idempotency_key_invalid when longer than 255 characters or not
// printable ASCII.
func idempotencyKey(c echo.Context) (string, error) {
	k := c.Request().Header.Get("Idempotency-Key")
	if strings.TrimSpace(k) == "" {
		return "", &domain.Error{Code: domain.CodeIdempotencyKeyRequired, Field: "Idempotency-Key",
			Message: "Send an Idempotency-Key header (a unique value per checkout attempt, at most 255 characters) so a retry cannot hold stock twice."}
	}
	if len(k) > maxIdempotencyKey {
		return "", &domain.Error{Code: domain.CodeIdempotencyKeyInvalid, Field: "Idempotency-Key",
			Message: fmt.Sprintf("The Idempotency-Key is %d characters; the most is %d.", len(k), maxIdempotencyKey)}
	}
	for i := 0; i < len(k); i++ {
		if k[i] < 0x20 || k[i] > 0x7e {
			return "", &domain.Error{Code: domain.CodeIdempotencyKeyInvalid, Field: "Idempotency-Key",
				Message: "The Idempotency-Key may hold printable ASCII characters only."}
		}
	}
	return k, nil
}

// idempotencyScope keeps each API client's keys apart.
func idempotencyScope(c echo.Context) string {
	if t, _ := c.Get(ctxToken).(*domain.APIToken); t != nil {
		return fmt.Sprintf("token:%d", t.ID)
	}
	return "anonymous"
}

// requestHash is what "the same request" means for a key: the method, the
// path and the decoded body re-encoded, so whitespace and key order in the
// client's JSON do not matter but every value does.
func requestHash(c echo.Context, decoded any) []byte {
	b, _ := json.Marshal(decoded)
	h := sha256.New()
	h.Write([]byte(c.Request().Method + " " + c.Path() + "\n"))
	h.Write(b)
	return h.Sum(nil)
}

// handleReserve is POST /api/v1/reservations.
func (s *Server) handleReserve(c echo.Context) error {
	key, err := idempotencyKey(c)
	if err != nil {
		return err
	}
	var req domain.ReservationRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	res, err := s.DB.Reserve(c.Request().Context(), store.ReserveCall{
		Actor:   actor(c),
		Key:     store.IdempotencyKey{Scope: idempotencyScope(c), Key: key, Hash: requestHash(c, req)},
		Request: req,
		Render:  renderReservation,
	})
	if err != nil {
		return err
	}
	return c.Blob(res.Status, echo.MIMEApplicationJSON, res.Body)
}

// renderReservation is the stored, replayable answer to a reservation
// request: 201 with the hold, or 409 insufficient_stock.
func renderReservation(r *domain.Reservation, short *domain.Error) store.Response {
	if short != nil {
		return store.Response{Status: statusFor(short), Body: jsonLine(apiErrorBody(short))}
	}
	return store.Response{Status: http.StatusCreated, Body: jsonLine(reservationJSON(*r))}
}

func jsonLine(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err) // only our own plain structs and maps get here
	}
	return append(b, '\n')
}

// ReservationJSON is a reservation as the API shows it.
type ReservationJSON struct {
	ID            int64                 `json:"id"`
	Status        string                `json:"status"`
	Channel       string                `json:"channel"`
	CheckoutRef   string                `json:"checkout_ref"`
	OrderRef      string                `json:"order_ref,omitempty"`
	ExpiresAt     time.Time             `json:"expires_at"`
	CreatedAt     time.Time             `json:"created_at"`
	CommittedAt   *time.Time            `json:"committed_at,omitempty"`
	ClosedAt      *time.Time            `json:"closed_at,omitempty"`
	ReleaseReason string                `json:"release_reason,omitempty"`
	Lines         []ReservationLineJSON `json:"lines"`
}

// ReservationLineJSON is one held line: a SKU, its quantity and where.
type ReservationLineJSON struct {
	SKU      string `json:"sku"`
	Qty      int    `json:"qty"`
	Location string `json:"location"`
}

func reservationJSON(r domain.Reservation) ReservationJSON {
	out := ReservationJSON{ID: r.ID, Status: string(r.Status), Channel: string(r.Channel), CheckoutRef: r.CheckoutRef, OrderRef: r.OrderRef,
		ExpiresAt: r.ExpiresAt, CreatedAt: r.CreatedAt, CommittedAt: r.CommittedAt, ClosedAt: r.ClosedAt, ReleaseReason: r.ReleaseReason,
		Lines: make([]ReservationLineJSON, len(r.Lines))}
	for i, l := range r.Lines {
		out.Lines[i] = ReservationLineJSON{SKU: l.SKU, Qty: l.Qty, Location: l.Location}
	}
	return out
}

func reservationID(c echo.Context) (int64, error) {
	id, err := strconv.ParseInt(c.Param("id"), 10, 64)
	if err != nil || id <= 0 {
		return 0, domain.Errorf(domain.ENOTFOUND, "Reservation %q does not exist.", c.Param("id"))
	}
	return id, nil
}

// handleReservationGet is GET /api/v1/reservations/{id}.
func (s *Server) handleReservationGet(c echo.Context) error {
	id, err := reservationID(c)
	if err != nil {
		return err
	}
	r, err := s.DB.Reservation(c.Request().Context(), id)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, reservationJSON(r))
}

// handleReservationCommit is POST /api/v1/reservations/{id}/commit with
// {"order_ref"}.
func (s *Server) handleReservationCommit(c echo.Context) error {
	id, err := reservationID(c)
	if err != nil {
		return err
	}
	var body struct {
		OrderRef string `json:"order_ref"`
	}
	if err := decodeJSON(c, &body); err != nil {
		return err
	}
	r, err := s.DB.CommitReservation(c.Request().Context(), actor(c), id, body.OrderRef)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, reservationJSON(r))
}

// handleReservationRelease is POST /api/v1/reservations/{id}/release with
// {"reason"}.
func (s *Server) handleReservationRelease(c echo.Context) error {
	id, err := reservationID(c)
	if err != nil {
		return err
	}
	var body struct {
		Reason string `json:"reason"`
	}
	if err := decodeJSON(c, &body); err != nil {
		return err
	}
	r, err := s.DB.ReleaseReservation(c.Request().Context(), actor(c), id, body.Reason)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, reservationJSON(r))
}

const reservationPageSize = 50

// reservationsView reads the page's filters from q and loads the page.
func (s *Server) reservationsView(c echo.Context, q url.Values) (views.ReservationsView, error) {
	ctx := c.Request().Context()
	u := currentUser(c)
	scope := scopeOf(u)
	v := views.ReservationsView{Location: q.Get("location"), SKU: strings.TrimSpace(q.Get("sku")), Ref: strings.TrimSpace(q.Get("ref")),
		PageSize: reservationPageSize, Now: time.Now()}
	if ch, err := domain.ParseChannel(q.Get("channel")); err == nil {
		v.Channel = string(ch)
	}
	if st := domain.ReservationStatus(q.Get("status")); slices.Contains(domain.ReservationStatuses, st) {
		v.Status = string(st)
	}
	v.Page, _ = strconv.Atoi(q.Get("page"))
	v.Page = max(1, min(v.Page, 10_000))
	locs, err := s.DB.ListLocations(ctx)
	if err != nil {
		return v, err
	}
	for _, l := range locs {
		if u.CanSeeLocation(l.Code) {
			v.Locations = append(v.Locations, l.Code)
		}
	}
	v.Rows, v.Total, err = s.DB.ListReservations(ctx, store.ReservationFilter{
		Scope: scope, Location: v.Location, SKU: v.SKU, Channel: domain.Channel(v.Channel), Status: domain.ReservationStatus(v.Status),
		Reference: v.Ref, Offset: (v.Page - 1) * reservationPageSize, Limit: reservationPageSize,
	})
	if err != nil {
		return v, err
	}
	v.Counts, err = s.DB.ReservationCounts(ctx, scope, v.Now)
	return v, err
}

// handleReservationsPage is GET /reservations: active holds by location,
// SKU and channel with their time left. Associates and managers see their
// own locations only.
func (s *Server) handleReservationsPage(c echo.Context) error {
	v, err := s.reservationsView(c, c.QueryParams())
	if err != nil {
		return err
	}
	if v.Done, err = takeFlash(c); err != nil {
		return err
	}
	return render(c, http.StatusOK, views.ReservationsPage(s.viewCtx(c), v))
}

// handleReservationReleaseForm is POST /reservations/{id}/release from the
// page: a reason (and a note, required for "other"); audited. A bad form
// re-renders the list with the message on that row.
func (s *Server) handleReservationReleaseForm(c echo.Context) error {
	ctx := c.Request().Context()
	id, err := reservationID(c)
	if err != nil {
		return err
	}
	r, err := s.DB.Reservation(ctx, id)
	if err != nil {
		return err
	}
	u := currentUser(c)
	for _, l := range r.Lines {
		if !u.CanSeeLocation(l.Location) {
			return domain.Errorf(domain.ENOTFOUND, "There is no reservation %d.", id)
		}
	}
	back := c.FormValue("back")
	if !strings.HasPrefix(back, "/reservations") || safeNext(back) == "" { // the one same-origin check, as after sign-in
		back = "/reservations"
	}
	form := views.ReleaseForm{ID: id, Reason: c.FormValue("reason"), Note: strings.TrimSpace(c.FormValue("note"))}
	reason, ferr := releaseReason(form)
	if ferr == nil {
		before := r.Status
		r, err = s.DB.ReleaseReservation(ctx, actor(c), id, reason)
		if err == nil {
			if err := setFlash(c, releasedMessage(r, before)); err != nil {
				return err
			}
			return c.Redirect(http.StatusSeeOther, back)
		}
		if ferr = domain.AsError(err); ferr == nil || ferr.Code != domain.EINVALID {
			return err
		}
	}
	form.Err = ferr
	q, _ := url.ParseQuery(strings.TrimPrefix(strings.TrimPrefix(back, "/reservations"), "?"))
	v, err := s.reservationsView(c, q)
	if err != nil {
		return err
	}
	v.Release = form
	return render(c, http.StatusBadRequest, views.ReservationsPage(s.viewCtx(c), v))
}

// releaseReason is the reason recorded for a release from the page: the
// chosen code, with the note after it.
func releaseReason(f views.ReleaseForm) (string, *domain.Error) {
	switch {
	case !slices.Contains(domain.ReleaseReasons, f.Reason):
		return "", domain.FieldError("reason", "Choose why the hold is released.")
	case f.Reason == "other" && f.Note == "":
		return "", domain.FieldError("note", "Say why in the note when the reason is “other”.")
	case len(f.Note) > 150:
		return "", domain.FieldError("note", "Keep the note under 150 characters.")
	case f.Note != "":
		return f.Reason + ": " + f.Note, nil
	}
	return f.Reason, nil
}

func releasedMessage(r domain.Reservation, before domain.ReservationStatus) string {
	if !before.Active() {
		return fmt.Sprintf("Reservation #%d was already %s; nothing changed.", r.ID, r.Status)
	}
	var parts []string
	for _, l := range r.Lines {
		parts = append(parts, fmt.Sprintf("%d × %s at %s", l.Qty, l.SKU, l.Location))
	}
	return fmt.Sprintf("Released reservation #%d: %s available again.", r.ID, strings.Join(parts, ", "))
}
