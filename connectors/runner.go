package connectors

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"stockline/domain"
	"stockline/store"
)

// Runner runs the connectors of one app instance: every ScanEvery it looks
// for enabled connectors it is not running, takes each one's lease if it
// is free, and runs it in a goroutine of its own until the context ends,
// the connector is paused, or the lease is lost. Several instances can
// run side by side: the lease makes sure each feed is pulled by one.
type Runner struct {
	DB        *store.DB
	Log       *slog.Logger
	Owner     string       // this instance's name on leases; must be unique per instance
	Client    *http.Client // default: 30 s timeout
	Sealer    *Sealer
	LookupEnv func(string) (string, bool)

	LeaseTTL  time.Duration // default 30s; renewed every third of it
	ScanEvery time.Duration // default 5s
	Backoff   Backoff
	BatchSize int // events per transaction; default 500

	// Simulators says the built-in simulators are running; connectors marked
	// simulated run only then.
	Simulators bool

	// AfterBatch, when set, is called after each batch commits (tests).
	AfterBatch func(connector string, res store.IngestResult)
	// OnRetry, when set, is told of each failed round and the wait chosen.
	OnRetry func(connector string, attempt int, wait time.Duration, err error)
	// Sleep waits d or until ctx ends (tests replace it); false means ctx ended.
	Sleep func(ctx context.Context, d time.Duration) bool

	mu      sync.Mutex
	running map[int64]context.CancelFunc
	wg      sync.WaitGroup
}

func (r *Runner) defaults() {
	if r.LeaseTTL <= 0 {
		r.LeaseTTL = 30 * time.Second
	}
	if r.ScanEvery <= 0 {
		r.ScanEvery = 5 * time.Second
	}
	if r.BatchSize <= 0 {
		r.BatchSize = 500
	}
	if r.Log == nil {
		r.Log = slog.New(slog.DiscardHandler)
	}
	if r.Sleep == nil {
		r.Sleep = sleepCtx
	}
	if r.Client == nil {
		r.Client = &http.Client{Timeout: 30 * time.Second}
	}
	if r.running == nil {
		r.running = map[int64]context.CancelFunc{}
	}
}

func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// Run supervises until ctx ends, then stops every connector goroutine,
// releases their leases and returns.
func (r *Runner) Run(ctx context.Context) {
	r.defaults()
	for {
		r.scan(ctx)
		if !r.Sleep(ctx, r.ScanEvery) {
			break
		}
	}
	r.mu.Lock()
	for _, cancel := range r.running {
		cancel()
	}
	r.mu.Unlock()
	r.wg.Wait()
}

// runs reports whether the connector should run on this instance.
func (r *Runner) runs(c store.Connector) bool {
	return c.Enabled && c.Adapter != "csv" && (!c.Simulated || r.Simulators)
}

func (r *Runner) scan(ctx context.Context) {
	conns, err := r.DB.ListConnectors(ctx)
	if err != nil {
		if ctx.Err() == nil {
			r.Log.Error("connectors: list", "err", err.Error())
		}
		return
	}
	for _, c := range conns {
		r.mu.Lock()
		cancel, running := r.running[c.ID]
		r.mu.Unlock()
		switch {
		case running && !r.runs(c):
			cancel()
		case !running && r.runs(c):
			ok, err := r.DB.AcquireLease(ctx, c.ID, r.Owner, r.LeaseTTL)
			if err != nil || !ok {
				continue
			}
			cctx, cancel := context.WithCancel(ctx)
			r.mu.Lock()
			r.running[c.ID] = cancel
			r.mu.Unlock()
			r.wg.Add(1)
			go func(id int64, name string) {
				defer r.wg.Done()
				defer func() {
					r.mu.Lock()
					delete(r.running, id)
					r.mu.Unlock()
					cancel()
				}()
				r.Log.Info("connector started", "connector", name, "owner", r.Owner)
				r.runConnector(cctx, id)
				r.Log.Info("connector stopped", "connector", name, "owner", r.Owner)
			}(c.ID, c.Name)
		}
	}
	if _, err := r.DB.MarkStaleFeeds(ctx, func(c store.Connector) bool { return c.Simulated && !r.Simulators }); err != nil && ctx.Err() == nil {
		r.Log.Error("connectors: stale check", "err", err.Error())
	}
}

// runConnector pulls one connector round after round while this instance
// holds its lease. A goroutine renews the lease; losing it stops the loop.
func (r *Runner) runConnector(ctx context.Context, id int64) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	defer func() {
		rctx, rcancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		r.DB.ReleaseLease(rctx, id, r.Owner)
		rcancel()
	}()
	go func() {
		for r.Sleep(ctx, r.LeaseTTL/3) {
			ok, err := r.DB.AcquireLease(ctx, id, r.Owner, r.LeaseTTL)
			if ctx.Err() != nil {
				return
			}
			if err != nil || !ok {
				r.Log.Warn("connector lease lost", "connector_id", id, "owner", r.Owner)
				cancel()
				return
			}
		}
	}()
	attempt := 0
	for ctx.Err() == nil {
		c, err := r.DB.ConnectorByID(ctx, id)
		if err != nil || !r.runs(c) {
			return
		}
		newest, err := r.Round(ctx, c)
		if ctx.Err() != nil || errors.Is(err, store.ErrLeaseLost) {
			return
		}
		if err != nil {
			wait := r.Backoff.Delay(attempt, retryAfterOf(err))
			attempt++
			if r.OnRetry != nil {
				r.OnRetry(c.Name, attempt, wait, err)
			}
			r.Log.Warn("connector pull failed", "connector", c.Name, "attempt", attempt, "retry_in", wait.String(), "err", err.Error())
			if rerr := r.DB.RecordPullError(ctx, c.ID, err.Error(), time.Now().Add(wait)); rerr != nil && ctx.Err() == nil {
				r.Log.Error("connector health", "connector", c.Name, "err", rerr.Error())
			}
			if !r.Sleep(ctx, wait) {
				return
			}
			continue
		}
		attempt = 0
		if err := r.DB.RecordPullSuccess(ctx, c.ID, newest); err != nil && ctx.Err() == nil {
			r.Log.Error("connector health", "connector", c.Name, "err", err.Error())
		}
		if !r.Sleep(ctx, c.PollInterval()) {
			return
		}
	}
}

// Round pulls every stream of connector c to its end, then applies what
// is waiting. Each page's events are applied in batches, each batch one
// transaction; the stream's cursor moves only after the page's batches
// have committed. It returns the newest source time it saw.
func (r *Runner) Round(ctx context.Context, c store.Connector) (time.Time, error) {
	r.defaults()
	var newest time.Time
	ad, err := NewAdapter(c, Deps{DB: r.DB, Client: r.Client, Sealer: r.Sealer, LookupEnv: r.LookupEnv,
		UserAgent: "stockline-connector/1 (" + r.Owner + ")"})
	if err != nil {
		return newest, err
	}
	applied := 0
	for _, stream := range ad.Streams() {
		cur, err := r.DB.Cursor(ctx, c.ID, stream)
		if err != nil {
			return newest, err
		}
		g := pageGuard{seen: map[string]bool{cur: true}}
		for pages := 0; ; pages++ {
			page, err := ad.Pull(ctx, stream, cur)
			if err != nil {
				return newest, fmt.Errorf("%s: %w", stream, err)
			}
			if err := g.check(page); err != nil {
				return newest, fmt.Errorf("%s: %w", stream, err)
			}
			for i := range page.Events {
				page.Events[i].Via = "pull"
			}
			for start := 0; start < len(page.Events); start += r.BatchSize {
				batch := page.Events[start:min(start+r.BatchSize, len(page.Events))]
				res, err := r.DB.Ingest(ctx, c, batch, r.Owner)
				if err != nil {
					return newest, err
				}
				applied += res.Applied
				if res.Newest.After(newest) {
					newest = res.Newest
				}
				if r.AfterBatch != nil {
					r.AfterBatch(c.Name, res)
				}
			}
			if page.Next != cur {
				if err := r.DB.SaveCursor(ctx, c.ID, stream, page.Next, r.Owner); err != nil {
					return newest, err
				}
				cur = page.Next
			}
			if !page.More || ctx.Err() != nil {
				break
			}
			if pages+1 >= MaxPagesPerRound {
				// A backlog this deep is taken MaxPagesPerRound pages a
				// round, a poll interval apart, never in one unbounded loop.
				r.Log.Warn("connector round stopped at the page limit; the next round goes on from the saved cursor",
					"connector", c.Name, "stream", stream, "pages", pages+1)
				break
			}
		}
	}
	if err := r.ApplyPending(ctx, c, applied > 0); err != nil {
		return newest, err
	}
	return newest, ctx.Err()
}

// MaxPagesPerRound bounds the requests of one round to one stream: a
// source that keeps saying there is more is read at most this many pages
// per poll interval.
const MaxPagesPerRound = 1000

// pageGuard catches a source that would keep the pull loop going without
// progress: a page cursor it already sent this round (the feed going in
// circles, or backwards), or pages that say there is more but carry
// nothing.
type pageGuard struct {
	seen  map[string]bool
	empty int
}

// emptyPagesAllowed is how many pages in a row may promise more and carry
// no events before the round stops as failing.
const emptyPagesAllowed = 3

func (g *pageGuard) check(p Page) error {
	if !p.More {
		return nil
	}
	if g.seen[p.Next] {
		return errors.New("the source sent a page cursor it had already sent in this round: its pagination goes in circles or backwards, so the round stopped rather than read the same pages again")
	}
	g.seen[p.Next] = true
	if len(p.Events) > 0 {
		g.empty = 0
		return nil
	}
	if g.empty++; g.empty >= emptyPagesAllowed {
		return fmt.Errorf("the source sent %d pages in a row that promised more but carried no changes: a page that never ends, so the round stopped", g.empty)
	}
	return nil
}

// ApplyPending applies a connector's waiting events that can now go
// through: orders once the DB has an OrderSink, anything parked while
// the connector was paused once it runs again, and cancels that arrived
// before their order (only when new events came in, since only they can
// have brought the order).
func (r *Runner) ApplyPending(ctx context.Context, c store.Connector, newEvents bool) error {
	var reasons []string
	if c.Enabled {
		reasons = append(reasons, store.PendingPaused)
	}
	if r.DB.OrderSink() != nil {
		reasons = append(reasons, store.PendingNoOrderSink)
		if newEvents {
			reasons = append(reasons, store.PendingOrderNotFound)
		}
	}
	if len(reasons) == 0 {
		return nil
	}
	for range 100 {
		pend, err := r.DB.PendingEvents(ctx, c.ID, reasons, r.BatchSize)
		if err != nil || len(pend) == 0 {
			return err
		}
		evs := make([]store.InboundEvent, len(pend))
		for i, p := range pend {
			evs[i] = ParseStored(c.Adapter, p.Type, []byte(p.Payload))
			evs[i].ID, evs[i].SourceEventID, evs[i].Via = p.ID, p.SourceEventID, p.Via
		}
		res, err := r.DB.ApplyStored(ctx, c, evs, domain.Actor{Kind: "connector", Name: c.Name})
		if err != nil {
			return err
		}
		if res.Applied+res.DeadLettered == 0 {
			return nil // all still waiting
		}
	}
	return nil
}
