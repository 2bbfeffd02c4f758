// Package sim serves Square-shaped and Shopify-shaped feeds over HTTP on
// loopback, so the demo (make run) and the tests drive the real connector
// code. The servers keep their events in memory, answer the same requests
// and pagination the real APIs do, and can be told to fail (outages, rate
// limits) or to misbehave (duplicates, late and malformed events).
package sim

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"time"
)

// Fault is a canned failure the next request gets instead of an answer.
type Fault struct {
	Status     int    // e.g. 503, 429; 0 with Body means 200, 0 with neither means the normal answer
	RetryAfter string // Retry-After header value, if any
	// Delay holds the answer back this long (a slow source), or until the
	// client gives up.
	Delay time.Duration
	// Body, when set, is sent as the answer's body as it is (truncated or
	// otherwise broken JSON, a page whose cursor goes in circles).
	Body string
}

// Square serves POST /v2/inventory/changes/batch-retrieve over its
// changes, in the order they were recorded.
type Square struct {
	Token    string // when set, requests must carry Authorization: Bearer Token
	PageSize int    // the most changes per page (also bounded by the request's limit); default 100

	traffic
	mu      sync.Mutex
	changes []squareChange
}

type squareChange struct {
	created   time.Time
	locations []string
	raw       json.RawMessage
}

// NewSquare returns an empty Square feed.
func NewSquare() *Square { return &Square{} }

// Add records a change as Square would have it: raw is an InventoryChange
// JSON object; created is when Square recorded it (updated_after filters
// on it), locs the locations it concerns (location_ids filters on them).
func (s *Square) Add(created time.Time, locs []string, raw json.RawMessage) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.changes = append(s.changes, squareChange{created: created.UTC(), locations: locs, raw: raw})
}

// Forget drops the changes Square recorded before t, so a long soak's
// feed does not grow without bound (a real source keeps them; a consumer
// that is further behind than t would miss them).
func (s *Square) Forget(t time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	i := 0
	for i < len(s.changes) && s.changes[i].created.Before(t) {
		i++
	}
	s.changes = slices.Clone(s.changes[i:])
}

// Len is how many changes the feed holds.
func (s *Square) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.changes)
}

type squareRequest struct {
	LocationIDs  []string `json:"location_ids"`
	UpdatedAfter string   `json:"updated_after"`
	Cursor       string   `json:"cursor"`
	Limit        int      `json:"limit"`
}

type squareCursorState struct {
	After  string `json:"a"`
	Offset int    `json:"o"`
}

func squareErr(w http.ResponseWriter, status int, category, code, detail string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]any{"errors": []map[string]string{{"category": category, "code": code, "detail": detail}}})
}

// ServeHTTP answers the batch-retrieve endpoint.
func (s *Square) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if fault := s.arrive(w, r); fault != nil && fault.serve(w, r, func(status int) {
		squareErr(w, status, "API_ERROR", "SERVICE_UNAVAILABLE", "simulated outage")
	}) {
		return
	}
	if r.Method != http.MethodPost || r.URL.Path != "/v2/inventory/changes/batch-retrieve" {
		squareErr(w, http.StatusNotFound, "INVALID_REQUEST_ERROR", "NOT_FOUND", "no such endpoint")
		return
	}
	if s.Token != "" && r.Header.Get("Authorization") != "Bearer "+s.Token {
		squareErr(w, http.StatusUnauthorized, "AUTHENTICATION_ERROR", "UNAUTHORIZED", "bad access token")
		return
	}
	var req squareRequest
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20)).Decode(&req); err != nil {
		squareErr(w, http.StatusBadRequest, "INVALID_REQUEST_ERROR", "BAD_REQUEST", "invalid JSON")
		return
	}
	st := squareCursorState{After: req.UpdatedAfter}
	if req.Cursor != "" {
		b, err := base64.RawURLEncoding.DecodeString(req.Cursor)
		if err != nil || json.Unmarshal(b, &st) != nil {
			squareErr(w, http.StatusBadRequest, "INVALID_REQUEST_ERROR", "INVALID_CURSOR", "bad cursor")
			return
		}
	}
	after := time.Time{}
	if st.After != "" {
		t, err := time.Parse(time.RFC3339Nano, st.After)
		if err != nil {
			squareErr(w, http.StatusBadRequest, "INVALID_REQUEST_ERROR", "INVALID_TIME", "updated_after is not RFC 3339")
			return
		}
		after = t
	}
	limit := req.Limit
	if limit <= 0 || limit > 1000 {
		limit = 100
	}
	if s.PageSize > 0 && limit > s.PageSize {
		limit = s.PageSize
	}
	s.mu.Lock()
	var match []json.RawMessage
	for _, c := range s.changes {
		if !c.created.After(after) {
			continue
		}
		if len(req.LocationIDs) > 0 && !slices.ContainsFunc(c.locations, func(l string) bool { return slices.Contains(req.LocationIDs, l) }) {
			continue
		}
		match = append(match, c.raw)
	}
	s.mu.Unlock()
	out := map[string]any{"changes": []json.RawMessage{}}
	if st.Offset < len(match) {
		end := min(st.Offset+limit, len(match))
		out["changes"] = match[st.Offset:end]
		if end < len(match) {
			b, _ := json.Marshal(squareCursorState{After: st.After, Offset: end})
			out["cursor"] = base64.RawURLEncoding.EncodeToString(b)
		}
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(out)
}

// SquareTime formats a time as Square does.
func SquareTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }

// SquareAdjustment builds an ADJUSTMENT change.
func SquareAdjustment(id, from, to, loc, item string, qty int, occurred, created time.Time) json.RawMessage {
	b, _ := json.Marshal(map[string]any{"type": "ADJUSTMENT", "adjustment": map[string]any{
		"id": id, "from_state": from, "to_state": to, "location_id": loc, "catalog_object_id": item,
		"catalog_object_type": "ITEM_VARIATION", "quantity": strconv.Itoa(qty),
		"occurred_at": SquareTime(occurred), "created_at": SquareTime(created),
		"source": map[string]string{"product": "SQUARE_POS", "name": "Stockline simulator"},
	}})
	return b
}

// SquareCount builds a PHYSICAL_COUNT change.
func SquareCount(id, loc, item string, qty int, occurred, created time.Time) json.RawMessage {
	b, _ := json.Marshal(map[string]any{"type": "PHYSICAL_COUNT", "physical_count": map[string]any{
		"id": id, "state": "IN_STOCK", "location_id": loc, "catalog_object_id": item, "catalog_object_type": "ITEM_VARIATION",
		"quantity": strconv.Itoa(qty), "occurred_at": SquareTime(occurred), "created_at": SquareTime(created),
	}})
	return b
}

// SquareTransfer builds a TRANSFER change.
func SquareTransfer(id, from, to, item string, qty int, occurred, created time.Time) json.RawMessage {
	b, _ := json.Marshal(map[string]any{"type": "TRANSFER", "transfer": map[string]any{
		"id": id, "state": "IN_STOCK", "from_location_id": from, "to_location_id": to, "catalog_object_id": item,
		"catalog_object_type": "ITEM_VARIATION", "quantity": strconv.Itoa(qty),
		"occurred_at": SquareTime(occurred), "created_at": SquareTime(created),
	}})
	return b
}

// SquareMalformed is an ADJUSTMENT a real feed might send on a bad day: a
// quantity that is not a number.
func SquareMalformed(id, loc, item string, created time.Time) json.RawMessage {
	return json.RawMessage(fmt.Sprintf(`{"type":"ADJUSTMENT","adjustment":{"id":%q,"from_state":"IN_STOCK","to_state":"SOLD",`+
		`"location_id":%q,"catalog_object_id":%q,"quantity":"two","occurred_at":%q,"created_at":%q}}`,
		id, loc, item, SquareTime(created), SquareTime(created)))
}
