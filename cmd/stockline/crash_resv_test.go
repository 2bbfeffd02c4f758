package main

// The crash test's reservations (the plan, the burst over the API, the
// per-key checks) and its comparison with the sequential replay.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"math/rand/v2"
	"net/http"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lib/pq"

	"stockline/domain"
	"stockline/store"
)

// crashResv is one planned reservation: its Idempotency-Key (also its
// checkout_ref) and request body.
type crashResv struct {
	key, body string
	hot       bool // on the one position asked for more than it has
	lines     int
}

// crashAnswer is an API answer as received.
type crashAnswer struct {
	status int
	body   []byte
}

// planCrashReservations plans a hot position asked for 15 more units than
// it can give (so the burst sells it out) and crashSpread reservations of
// one or two lines on positions with stock to spare, each used once, so
// all of them succeed in any order. The plan is shuffled.
func planCrashReservations(t *testing.T, db *store.DB) []crashResv {
	t.Helper()
	ctx := context.Background()
	skus, err := db.AllSKUs(ctx)
	if err != nil {
		t.Fatal(err)
	}
	pol, err := db.Policy(ctx, domain.BOPIS)
	if err != nil {
		t.Fatal(err)
	}
	var rows []struct {
		Code string `db:"code"`
		SKU  string `db:"sku"`
		domain.Position
	}
	if err := db.SelectContext(ctx, &rows, `SELECT l.code, pr.sku, p.on_hand, p.reserved, p.damaged, p.quality_hold, p.transfer_out, p.in_transit_in
		FROM positions p JOIN locations l ON l.id = p.location_id JOIN products pr ON pr.id = p.product_id
		WHERE l.code = ANY($1) AND pr.sku = ANY($2) ORDER BY l.code, pr.sku`, pq.Array(crashResvStores), pq.Array(skus[1000:1400])); err != nil {
		t.Fatal(err)
	}
	body := func(key, loc string, skus ...string) string {
		var lines []string
		for _, s := range skus {
			lines = append(lines, fmt.Sprintf(`{"sku":%q,"qty":1}`, s))
		}
		return fmt.Sprintf(`{"channel":"bopis","location":%q,"checkout_ref":%q,"lines":[%s]}`, loc, key, strings.Join(lines, ","))
	}
	var plan []crashResv
	add := func(hot bool, loc string, skus ...string) {
		key := fmt.Sprintf("crash-%04d", len(plan))
		plan = append(plan, crashResv{key: key, body: body(key, loc, skus...), hot: hot, lines: len(skus)})
	}
	locs := map[string]domain.Location{}
	hotDone, spread := false, 0
	var pending string // a spare position waiting for a second line at the same store
	pendingAt := ""
	for _, r := range rows {
		loc, ok := locs[r.Code]
		if !ok {
			if loc, err = db.LocationByCode(ctx, r.Code); err != nil {
				t.Fatal(err)
			}
			locs[r.Code] = loc
		}
		n := domain.Reservable(pol, loc, r.Position)
		switch {
		case !hotDone && n >= 5 && n <= 30:
			for range n + 15 {
				add(true, r.Code, r.SKU)
			}
			hotDone = true
		case n >= 3 && spread < crashSpread:
			if pending != "" && pendingAt == r.Code {
				add(false, r.Code, pending, r.SKU)
				pending, spread = "", spread+1
			} else if spread%3 == 0 {
				pending, pendingAt = r.SKU, r.Code
			} else {
				add(false, r.Code, r.SKU)
				spread++
			}
		}
	}
	if !hotDone || spread < crashSpread {
		t.Fatalf("the demo retailer gave no hot position (%v) or only %d spare ones", hotDone, spread)
	}
	rng := rand.New(rand.NewPCG(3, 3))
	rng.Shuffle(len(plan), func(i, j int) { plan[i], plan[j] = plan[j], plan[i] })
	return plan
}

// crashBurst sends the plan's reservations from clients concurrent API
// clients and returns each answer by plan index. With killAfter > 0 the
// process gets SIGKILL as soon as that many answers are in; requests
// without an answer are left out.
func crashBurst(t *testing.T, p *crashProc, token string, plan []crashResv, clients, killAfter int) map[int]crashAnswer {
	t.Helper()
	client := &http.Client{Timeout: 20 * time.Second}
	var mu sync.Mutex
	answers := map[int]crashAnswer{}
	jobs := make(chan int)
	var wg sync.WaitGroup
	for range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				req, _ := http.NewRequest(http.MethodPost, p.base+"/api/v1/reservations", strings.NewReader(plan[i].body))
				req.Header.Set("Authorization", "Bearer "+token)
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set("Idempotency-Key", plan[i].key)
				res, err := client.Do(req)
				if err != nil {
					continue // the process was killed under it
				}
				b, err := io.ReadAll(res.Body)
				res.Body.Close()
				if err != nil {
					continue
				}
				mu.Lock()
				answers[i] = crashAnswer{res.StatusCode, b}
				kill := killAfter > 0 && len(answers) == killAfter
				mu.Unlock()
				if kill {
					p.kill()
				}
			}
		}()
	}
	for i := range plan {
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	for i, a := range answers {
		if a.status != http.StatusCreated && !(a.status == http.StatusConflict && plan[i].hot) {
			t.Errorf("%s answered %d: %s", plan[i].key, a.status, a.body)
		}
	}
	return answers
}

func reservationID(t *testing.T, a crashAnswer) int64 {
	t.Helper()
	var r struct {
		ID int64 `json:"id"`
	}
	if err := json.Unmarshal(a.body, &r); err != nil || r.ID == 0 {
		t.Fatalf("a 201 without a reservation id: %s", a.body)
	}
	return r.ID
}

// checkCrashAnswers: a key answered before the kill gets the same answer,
// byte for byte, when retried after it; every key has exactly one effect
// (one reservation with its lines for a 201, none for a 409); the hot
// position sold out and every spare one held.
func checkCrashAnswers(t *testing.T, db *store.DB, plan []crashResv, first, final map[int]crashAnswer) {
	t.Helper()
	var rows []struct {
		Ref   string `db:"checkout_ref"`
		ID    int64  `db:"id"`
		Lines int    `db:"lines"`
	}
	if err := db.SelectContext(context.Background(), &rows, `SELECT r.checkout_ref, r.id,
			(SELECT count(*) FROM reservation_lines l WHERE l.reservation_id = r.id) AS lines
		FROM reservations r WHERE r.checkout_ref LIKE 'crash-%'`); err != nil {
		t.Fatal(err)
	}
	byKey := map[string][]int64{}
	lines := map[int64]int{}
	for _, r := range rows {
		byKey[r.Ref] = append(byKey[r.Ref], r.ID)
		lines[r.ID] = r.Lines
	}
	held, sold := 0, false
	for i, p := range plan {
		a, ok := final[i]
		if !ok {
			t.Fatalf("%s got no answer after the restart", p.key)
		}
		if b, ok := first[i]; ok && (b.status != a.status || !bytes.Equal(b.body, a.body)) {
			t.Errorf("%s answered %d %s before the crash and %d %s after", p.key, b.status, b.body, a.status, a.body)
		}
		switch a.status {
		case http.StatusCreated:
			id := reservationID(t, a)
			if ids := byKey[p.key]; len(ids) != 1 || ids[0] != id || lines[id] != p.lines {
				t.Errorf("%s: reservations %v (lines %d) for one answered %d", p.key, ids, lines[id], id)
			}
			if p.hot {
				held++
			}
		default:
			if ids := byKey[p.key]; len(ids) != 0 {
				t.Errorf("%s answered %d but holds reservations %v", p.key, a.status, ids)
			}
			sold = true
		}
	}
	if !sold || held == 0 {
		t.Errorf("the hot position: %d held, sold out %v; the plan should sell it out", held, sold)
	}
}

// crashState is what the replay must reproduce.
type crashState struct {
	positions  map[string]domain.Position // code@sku, every position
	ledger     map[string]int             // the feed's ledger rows: ref|code|sku|bucket|delta → count
	outcomes   map[string]int             // inbound events: status → count
	exceptions map[string]int             // open negative_stock exceptions: code@sku → count
	held       int                        // reservations answered 201
}

func readCrashState(t *testing.T, db *store.DB, c store.Connector, answers map[int]crashAnswer) crashState {
	t.Helper()
	ctx := context.Background()
	st := crashState{positions: map[string]domain.Position{}, ledger: map[string]int{}, outcomes: map[string]int{}, exceptions: map[string]int{}}
	var pos []struct {
		Key string `db:"k"`
		domain.Position
	}
	if err := db.SelectContext(ctx, &pos, `SELECT l.code || '@' || pr.sku AS k, p.on_hand, p.reserved, p.damaged, p.quality_hold, p.transfer_out, p.in_transit_in
		FROM positions p JOIN locations l ON l.id = p.location_id JOIN products pr ON pr.id = p.product_id`); err != nil {
		t.Fatal(err)
	}
	for _, p := range pos {
		st.positions[p.Key] = p.Position
	}
	counts := []struct {
		into map[string]int
		q    string
		args []any
	}{
		{st.ledger, `SELECT g.source_ref || '|' || l.code || '|' || pr.sku || '|' || g.bucket || '|' || g.delta AS k, count(*) AS n
			FROM ledger g JOIN locations l ON l.id = g.location_id JOIN products pr ON pr.id = g.product_id
			WHERE g.source = $1 GROUP BY 1`, []any{c.Name}},
		{st.outcomes, `SELECT e.status AS k, count(*) AS n FROM inbound_events e JOIN connectors c ON c.id = e.connector_id
			WHERE c.name = $1 GROUP BY 1`, []any{c.Name}},
		{st.exceptions, `SELECT COALESCE(l.code, '') || '@' || COALESCE(pr.sku, '') AS k, count(*) AS n FROM exceptions x
			LEFT JOIN locations l ON l.id = x.location_id LEFT JOIN products pr ON pr.id = x.product_id
			WHERE x.kind = 'negative_stock' AND x.status = 'open' GROUP BY 1`, nil},
	}
	for _, c2 := range counts {
		var rows []struct {
			K string `db:"k"`
			N int    `db:"n"`
		}
		if err := db.SelectContext(ctx, &rows, c2.q, c2.args...); err != nil {
			t.Fatal(err)
		}
		for _, r := range rows {
			c2.into[r.K] = r.N
		}
	}
	for _, a := range answers {
		if a.status == http.StatusCreated {
			st.held++
		}
	}
	return st
}

// compareWithReplay checks the crashed database against the replay, and
// that each inbound event is stored once.
func compareWithReplay(t *testing.T, db, rdb *store.DB, c, rc store.Connector, final, replayed map[int]crashAnswer, plan []crashResv) {
	t.Helper()
	if n, d := crashCount(t, db, `SELECT count(*) FROM inbound_events WHERE connector_id = $1`, c.ID),
		crashCount(t, db, `SELECT count(DISTINCT source_event_id) FROM inbound_events WHERE connector_id = $1`, c.ID); n != crashEvents || d != n {
		t.Errorf("inbound events %d (%d distinct), want %d once each", n, d, crashEvents)
	}
	if len(replayed) != len(plan) {
		t.Fatalf("the replay answered %d of %d reservations", len(replayed), len(plan))
	}
	got, want := readCrashState(t, db, c, final), readCrashState(t, rdb, rc, replayed)
	if got.held != want.held {
		t.Errorf("reservations held: %d after the crashes, %d in the replay", got.held, want.held)
	}
	for _, m := range []struct {
		what      string
		got, want map[string]int
	}{{"feed ledger rows", got.ledger, want.ledger}, {"inbound event outcomes", got.outcomes, want.outcomes},
		{"open negative_stock exceptions", got.exceptions, want.exceptions}} {
		if !maps.Equal(m.got, m.want) {
			t.Errorf("%s differ from the replay's: %s", m.what, mapDiff(m.got, m.want))
		}
	}
	for k, rows := range got.ledger {
		if rows != 1 {
			t.Errorf("ledger row %s appears %d times", k, rows)
		}
	}
	if len(got.ledger) < crashEvents/2 || got.outcomes["applied"] < crashEvents*9/10 || got.outcomes["dead"] == 0 {
		t.Errorf("the feed did too little to prove anything: %d ledger rows, outcomes %v", len(got.ledger), got.outcomes)
	}
	var diff []string
	for k, p := range want.positions {
		if got.positions[k] != p {
			diff = append(diff, fmt.Sprintf("%s: %+v, replay %+v", k, got.positions[k], p))
		}
	}
	if len(got.positions) != len(want.positions) {
		diff = append(diff, fmt.Sprintf("%d positions, replay %d", len(got.positions), len(want.positions)))
	}
	if len(diff) > 0 {
		sort.Strings(diff)
		t.Errorf("%d positions differ from the replay's, e.g.\n%s", len(diff), strings.Join(diff[:min(10, len(diff))], "\n"))
	}
}

func mapDiff(got, want map[string]int) string {
	var out []string
	for k, v := range want {
		if got[k] != v {
			out = append(out, fmt.Sprintf("%s: %d, replay %d", k, got[k], v))
		}
	}
	for k, v := range got {
		if _, ok := want[k]; !ok {
			out = append(out, fmt.Sprintf("%s: %d, replay none", k, v))
		}
	}
	sort.Strings(out)
	return strings.Join(out[:min(10, len(out))], "; ")
}
