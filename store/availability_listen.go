package store

// Cross-instance invalidation of the availability cache through PostgreSQL
// LISTEN/NOTIFY on one channel. Payloads are "<instance>|<kind>|<data>":
// kind s carries comma-separated product ids whose stock changed, p says
// the channel policies changed, a says forget everything, h is a heartbeat
// (data: its send time in unix ns) that only its sender acts on.
//
// The notification is sent right after the stock transaction commits, by
// one notifier goroutine per instance that coalesces whatever queued while
// its previous notification was in flight. It is not sent from inside the
// stock transaction on purpose: PostgreSQL serialises the commits of
// notifying transactions on one lock held until their commit record is
// flushed, which would undo the reservation path's group commit. The
// notifier's own statement commits with synchronous_commit off.

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/lib/pq"
)

const (
	availChannel   = "stockline_availability"
	heartbeatEvery = 200 * time.Millisecond
	maxPendingIDs  = 20_000 // beyond this one "forget everything" is cheaper
	idsPerPayload  = 800    // keeps a payload under PostgreSQL's 8000 bytes
)

// notifier queues what this instance must tell the others.
type notifier struct {
	mu       sync.Mutex
	running  bool
	instance string
	ids      map[int64]struct{}
	all      bool
	policy   bool
	wake     chan struct{}
}

// announce queues a stock notification for ids (when listening).
func (c *availCache) announce(ids []int64) {
	n := &c.notifier
	n.mu.Lock()
	if n.running {
		if n.ids == nil {
			n.ids = map[int64]struct{}{}
		}
		for _, id := range ids {
			n.ids[id] = struct{}{}
		}
		if len(n.ids) > maxPendingIDs {
			n.ids, n.all = nil, true
		}
		n.poke()
	}
	n.mu.Unlock()
}

// policiesChanged tells the other instances to reload channel policies.
func (db *DB) policiesChanged() {
	n := &db.avail.notifier
	n.mu.Lock()
	if n.running {
		n.policy = true
		n.poke()
	}
	n.mu.Unlock()
}

func (n *notifier) poke() {
	select {
	case n.wake <- struct{}{}:
	default:
	}
}

// take returns the queued payloads and empties the queue.
func (n *notifier) take(beat bool) []string {
	n.mu.Lock()
	defer n.mu.Unlock()
	var out []string
	p := n.instance + "|"
	if n.all {
		out = append(out, p+"a|")
	} else if len(n.ids) > 0 {
		var b strings.Builder
		k := 0
		for id := range n.ids {
			if k > 0 {
				b.WriteByte(',')
			}
			b.WriteString(strconv.FormatInt(id, 10))
			if k++; k == idsPerPayload {
				out, k = append(out, p+"s|"+b.String()), 0
				b.Reset()
			}
		}
		if k > 0 {
			out = append(out, p+"s|"+b.String())
		}
	}
	if n.policy {
		out = append(out, p+"p|")
	}
	if beat {
		out = append(out, p+"h|"+strconv.FormatInt(time.Now().UnixNano(), 10))
	}
	n.ids, n.all, n.policy = nil, false, false
	return out
}

// listening DBs, for touches made outside a transaction collector.
var listeningDBs = struct {
	mu sync.Mutex
	m  map[*DB]struct{}
}{m: map[*DB]struct{}{}}

func invalidateEverywhere(ids []int64) {
	listeningDBs.mu.Lock()
	defer listeningDBs.mu.Unlock()
	for db := range listeningDBs.m {
		db.avail.invalidate(ids)
		db.avail.announce(ids)
	}
}

// TouchMisses reports how many stock changes were recorded outside a
// transaction's collector (tests require zero).
func TouchMisses() int64 { return touchMisses.Load() }

// ListenStock runs the availability cache's invalidation until ctx ends:
// it listens for other instances' changes (reconnecting on failure and
// forgetting the whole cache when it does, since notifications may have
// been missed) and sends this instance's. The cache answers only while
// ListenStock runs and its heartbeats come back. Run it once per DB.
func (db *DB) ListenStock(ctx context.Context, log *slog.Logger) error {
	c := &db.avail
	var rnd [6]byte
	rand.Read(rnd[:])
	n := &c.notifier
	n.mu.Lock()
	if n.running {
		n.mu.Unlock()
		return errors.New("store: ListenStock is already running")
	}
	n.running, n.instance, n.wake = true, hex.EncodeToString(rnd[:]), make(chan struct{}, 1)
	self := n.instance
	n.mu.Unlock()
	listeningDBs.mu.Lock()
	listeningDBs.m[db] = struct{}{}
	listeningDBs.mu.Unlock()
	defer func() {
		listeningDBs.mu.Lock()
		delete(listeningDBs.m, db)
		listeningDBs.mu.Unlock()
		c.mu.Lock()
		c.listening, c.entries = false, nil
		c.mu.Unlock()
		n.mu.Lock()
		n.running, n.ids = false, nil
		n.mu.Unlock()
	}()

	l := pq.NewListener(db.dsn, 50*time.Millisecond, 2*time.Second, func(ev pq.ListenerEventType, err error) {
		switch ev {
		case pq.ListenerEventDisconnected, pq.ListenerEventConnectionAttemptFailed:
			c.mu.Lock()
			c.listening, c.entries = false, nil
			c.mu.Unlock()
			if err != nil && ctx.Err() == nil {
				log.Warn("availability listener disconnected", "err", err.Error())
			}
		}
	})
	defer l.Close()
	if err := l.Listen(availChannel); err != nil {
		return fmt.Errorf("store: listen: %w", err)
	}
	c.mu.Lock()
	c.listening, c.entries = true, nil
	c.mu.Unlock()

	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); db.runNotifier(ctx, log) }()
	defer wg.Wait()
	for {
		select {
		case <-ctx.Done():
			return nil
		case m := <-l.Notify:
			if m == nil { // reconnected: anything may have been missed
				c.mu.Lock()
				c.listening, c.entries = true, nil
				c.mu.Unlock()
				continue
			}
			db.applyNotification(self, m.Extra)
		}
	}
}

// applyNotification acts on one payload.
func (db *DB) applyNotification(self, payload string) {
	inst, rest, _ := strings.Cut(payload, "|")
	kind, data, _ := strings.Cut(rest, "|")
	c := &db.avail
	switch kind {
	case "h":
		if inst == self {
			if t, err := strconv.ParseInt(data, 10, 64); err == nil && t > c.beat.Load() {
				c.beat.Store(t)
			}
		}
	case "s":
		if inst == self {
			return // invalidated at commit already
		}
		var ids []int64
		for f := range strings.SplitSeq(data, ",") {
			if id, err := strconv.ParseInt(f, 10, 64); err == nil {
				ids = append(ids, id)
			}
		}
		c.invalidate(ids)
	case "p":
		if inst != self {
			db.policies.invalidate()
		}
	default: // "a" and anything unknown
		if inst != self || kind == "a" {
			c.clear()
		}
	}
}

// runNotifier sends queued payloads as soon as they queue, and a heartbeat
// every heartbeatEvery, on a connection of its own.
func (db *DB) runNotifier(ctx context.Context, log *slog.Logger) {
	n := &db.avail.notifier
	tick := time.NewTicker(heartbeatEvery)
	defer tick.Stop()
	beat := true
	var failing bool
	// A connection of its own, so a pool busy with requests never delays
	// the heartbeat (which would turn the cache off exactly under load).
	var conn *sql.Conn
	defer func() {
		if conn != nil {
			conn.Close()
		}
	}()
	for {
		payloads := n.take(beat)
		if len(payloads) > 0 {
			var err error
			if conn == nil {
				conn, err = db.Conn(ctx)
			}
			if err == nil {
				_, err = conn.ExecContext(ctx, `SELECT set_config('synchronous_commit', 'off', true), pg_notify($1, p) FROM unnest($2::text[]) AS p`,
					availChannel, pq.Array(payloads))
				if err != nil {
					conn.Close()
					conn = nil
				}
			}
			if err != nil && ctx.Err() == nil {
				if !failing {
					log.Warn("availability notify failed; other instances fall back to the database", "err", err.Error())
				}
				failing = true
				// Other instances cannot learn what was lost: tell them to
				// forget everything once the database answers again.
				n.mu.Lock()
				n.all = true
				n.mu.Unlock()
				select {
				case <-ctx.Done():
					return
				case <-time.After(100 * time.Millisecond):
				}
				continue
			}
			failing = false
		}
		beat = false
		select {
		case <-ctx.Done():
			return
		case <-n.wake:
		case <-tick.C:
			beat = true
		}
	}
}
