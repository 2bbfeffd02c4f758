package connectors_test

import (
	"context"
	"encoding/base64"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"stockline/connectors/sim"
)

// simCursor is a page cursor the Square simulator accepts (from the start
// of its feed); x makes each one different.
func simCursor(x int) string {
	return base64.RawURLEncoding.EncodeToString([]byte(fmt.Sprintf(`{"a":"","o":0,"x":%d}`, x)))
}

// A source that misbehaves in each of the ways real ones do: the runner
// backs off (never a busy loop: requests in the faulty stretch stay
// bounded), records what is wrong in words on the connector's health
// (what /connectors/{id} shows as "Last error"), dead-letters nothing
// that was not an event, and recovers by itself once the source heals,
// with every change applied once.
func TestMisbehavingSourceBacksOffSaysWhatIsWrongAndRecovers(t *testing.T) {
	change := string(sim.SquareAdjustment("LOOP1", "NONE", "IN_STOCK", "LOC1", "ITEM1", 1, base, base))
	endless := make([]sim.Fault, 400)
	for i := range endless {
		endless[i] = sim.Fault{Body: fmt.Sprintf(`{"changes":[],"cursor":%q}`, simCursor(i))}
	}
	cases := []struct {
		name    string
		setup   func(sq *sim.Square)
		timeout time.Duration // the runner's HTTP client time-out
		words   string        // in the connector's last error
		maxReqs int           // requests in the 1.5 s faulty stretch
	}{
		{"slow answers", func(sq *sim.Square) { sq.FailAlways(sim.Fault{Delay: 2 * time.Second}) }, 100 * time.Millisecond,
			"did not answer within 100ms", 40},
		{"500s", func(sq *sim.Square) { sq.FailAlways(sim.Fault{Status: http.StatusInternalServerError}) }, 0,
			"source answered 500 Internal Server Error", 60},
		{"429 with Retry-After", func(sq *sim.Square) { sq.FailAlways(sim.Fault{Status: http.StatusTooManyRequests, RetryAfter: "1"}) }, 0,
			"source answered 429 Too Many Requests (retry after 1s)", 3},
		{"truncated JSON", func(sq *sim.Square) { sq.FailAlways(sim.Fault{Body: `{"changes":[{"type":"ADJUSTMENT","adjustm`}) }, 0,
			"not the JSON expected", 60},
		{"cursor going in circles", func(sq *sim.Square) {
			sq.FailAlways(sim.Fault{Body: fmt.Sprintf(`{"changes":[%s],"cursor":%q}`, change, simCursor(1))})
		}, 0, "page cursor it had already sent", 120},
		{"a page that never ends", func(sq *sim.Square) { sq.Fail(endless...) }, 0, "promised more but carried no changes", 180},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			sq, url := squareServer(t)
			w := newWorld(t, "square", url, 1, 1)
			for i := range 5 {
				at := base.Add(time.Duration(i) * time.Minute)
				sq.Add(at, []string{"LOC1"}, sim.SquareAdjustment(fmt.Sprint("M", i), "NONE", "IN_STOCK", "LOC1", "ITEM1", 1, at, at))
			}
			tc.setup(sq)
			r := w.runner("a")
			if tc.timeout > 0 {
				r.Client = &http.Client{Timeout: tc.timeout}
			}
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			done := make(chan struct{})
			go func() { r.Run(ctx); close(done) }()
			defer func() { cancel(); <-done }()

			time.Sleep(1500 * time.Millisecond)
			reqs, _ := sq.Requests()
			c, _ := w.db.ConnectorByID(ctx, w.conn.ID)
			if !strings.Contains(c.LastError, tc.words) || c.ErrorCount == 0 {
				t.Fatalf("health: error_count %d, last error %q; want words %q", c.ErrorCount, c.LastError, tc.words)
			}
			if reqs > tc.maxReqs {
				t.Fatalf("%d requests in 1.5 s of a faulty source (bound %d): the runner busy-loops", reqs, tc.maxReqs)
			}
			if n := w.count(`SELECT count(*) FROM dead_letters`); n != 0 {
				t.Fatalf("%d dead letters; only malformed events are dead-lettered", n)
			}

			sq.Heal()
			for w.count(`SELECT count(*) FROM inbound_events WHERE source_event_id LIKE 'square:adjustment:M%'`) < 5 {
				if ctx.Err() != nil {
					t.Fatal("the feed never recovered after the source healed")
				}
				time.Sleep(20 * time.Millisecond)
			}
			for {
				c, _ = w.db.ConnectorByID(ctx, w.conn.ID)
				if c.ErrorCount == 0 || ctx.Err() != nil {
					break
				}
				time.Sleep(20 * time.Millisecond)
			}
			if c.ErrorCount != 0 {
				t.Fatalf("health still failing after recovery: %q", c.LastError)
			}
			cancel()
			<-done
			if got := w.positions()["TST-00001@T01"].OnHand; got < 5 {
				t.Fatalf("on hand %d, want the 5 receipts applied", got)
			}
			w.checkOK()
		})
	}
}
