package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"strings"
	"time"

	"stockline/connectors"
	"stockline/connectors/sim"
	"stockline/domain"
	"stockline/handlers"
	"stockline/store"
	"stockline/store/pgcluster"
)

// world is what one soak run stands on: a throwaway cluster, the app's
// database reached through the disturbing proxy, the real handlers on a
// loopback port, the connector runner pulling a Square-shaped simulator,
// and signed-in clients.
type world struct {
	cfg     config
	cluster *pgcluster.Cluster
	tmp     string
	proxy   *proxy
	db      *store.DB
	srv     *handlers.Server
	hs      *http.Server
	base    string
	square  *sim.Square
	runner  *connectors.Runner
	stopRun context.CancelFunc
	runDone chan struct{}

	api       *http.Client
	pages     []rolePage
	skus      []string // SKUs the checkouts and the feed use
	storeLocs []string // Square location ids of the stores
	pickup    []string // codes of the stores that take pickup (BOPIS) holds
	sqItem    map[string]string
	transport []*http.Transport
}

// rolePage is one signed-in role and its home page.
type rolePage struct {
	role   domain.Role
	client *http.Client
	path   string
}

// newWorld builds everything; close it with w.close.
func newWorld(ctx context.Context, cfg config) (w *world, err error) {
	w = &world{cfg: cfg}
	defer func() {
		if err != nil {
			w.close()
		}
	}()
	if w.tmp, err = os.MkdirTemp("", "stockline-soak-"); err != nil {
		return w, err
	}
	os.Chmod(w.tmp, 0o755) // the postgres user must reach the cluster folder when run as root
	if w.cluster, err = pgcluster.Ensure(w.tmp + "/pg"); err != nil {
		return w, err
	}
	if err = pgcluster.Exec(w.cluster.DSN("postgres"), `CREATE DATABASE soak`); err != nil {
		return w, err
	}
	if w.proxy, err = newProxy(fmt.Sprintf("127.0.0.1:%d", w.cluster.Port)); err != nil {
		return w, err
	}
	dsn := strings.Replace(w.cluster.DSN("soak"), fmt.Sprintf("127.0.0.1:%d", w.cluster.Port), w.proxy.Addr(), 1)
	if w.db, err = store.Open(ctx, dsn); err != nil {
		return w, err
	}
	if _, err = w.db.Migrate(ctx); err != nil {
		return w, err
	}
	if _, err = w.db.SeedDemo(ctx); err != nil {
		return w, err
	}
	if err = w.feed(ctx); err != nil {
		return w, err
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if cfg.verbose {
		log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	w.srv = handlers.New(w.db, log, handlers.Options{SessionSecret: []byte(strings.Repeat("soak-session-secret-", 3)),
		RequestTimeout: cfg.requestTimeout})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return w, err
	}
	w.base = "http://" + ln.Addr().String()
	w.hs = &http.Server{Handler: w.srv, ReadHeaderTimeout: 10 * time.Second}
	go w.hs.Serve(ln)

	w.runner = &connectors.Runner{DB: w.db, Log: log, Owner: "soak", Simulators: true, ScanEvery: time.Second, BatchSize: cfg.feedBatch,
		Backoff: connectors.Backoff{Base: 200 * time.Millisecond, Max: 2 * time.Second}}
	rctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	w.stopRun, w.runDone = cancel, make(chan struct{})
	go func() { w.runner.Run(rctx); close(w.runDone) }()

	w.api = w.client()
	for _, role := range []domain.Role{domain.RoleAssociate, domain.RoleSupport, domain.RoleManager, domain.RoleInventoryLead} {
		c, home, err := w.login(role)
		for try := 0; err != nil && try < 5; try++ { // a short request time-out on a busy machine can cut a sign-in (bcrypt)
			time.Sleep(200 * time.Millisecond)
			c, home, err = w.login(role)
		}
		if err != nil {
			return w, err
		}
		w.pages = append(w.pages, rolePage{role: role, client: c, path: home})
	}
	return w, nil
}

// feed creates the Square connector (polled every second) on the
// simulator, with mappings for every store and the soak's SKUs.
func (w *world) feed(ctx context.Context) error {
	locs, err := w.db.ListLocations(ctx)
	if err != nil {
		return err
	}
	all, err := w.db.AllSKUs(ctx)
	if err != nil {
		return err
	}
	n := min(200, len(all))
	for i := range n {
		w.skus = append(w.skus, all[i*len(all)/n])
	}
	w.square = sim.NewSquare()
	w.square.PageSize = 1000
	sqURL, stop, err := sim.Serve(w.square)
	if err != nil {
		return err
	}
	_ = stop // the simulator lives as long as the process
	w.sqItem = map[string]string{}
	var maps []store.Mapping
	for _, l := range locs {
		if l.Pickup {
			w.pickup = append(w.pickup, l.Code)
		}
		if l.Kind == "store" {
			id := sim.DemoSquareLocationID(l.Code)
			w.storeLocs = append(w.storeLocs, id)
			maps = append(maps, store.Mapping{Kind: "location", ExternalID: id, Code: l.Code})
		}
	}
	for _, sku := range w.skus {
		w.sqItem[sku] = sim.DemoSquareItemID(sku)
		maps = append(maps, store.Mapping{Kind: "item", ExternalID: w.sqItem[sku], Code: sku})
	}
	return w.db.SeedDemoConnectors(ctx, []store.DemoConnector{{Name: "square-pos", Kind: "pos", Adapter: "square",
		BaseURL: sqURL, PollSeconds: 1, StaleSeconds: 180, Mappings: maps,
		Settings: json.RawMessage(fmt.Sprintf(`{"start_after":%q,"page_limit":1000}`, time.Now().Add(-time.Minute).UTC().Format(time.RFC3339)))}})
}

// client is an HTTP client of its own transport, so its idle connections
// can be closed before goroutines are counted.
func (w *world) client() *http.Client {
	t := &http.Transport{MaxIdleConnsPerHost: 256, IdleConnTimeout: 30 * time.Second}
	w.transport = append(w.transport, t)
	return &http.Client{Transport: t, Timeout: 60 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

// closeIdle drops every client's idle keep-alive connections.
func (w *world) closeIdle() {
	for _, t := range w.transport {
		t.CloseIdleConnections()
	}
}

// login signs in as the demo user of role and returns its client and the
// home page the sign-in redirected to.
func (w *world) login(role domain.Role) (*http.Client, string, error) {
	var u store.DemoUser
	for _, d := range store.DemoUsers {
		if d.Role == role {
			u = d
		}
	}
	c := w.client()
	c.Jar, _ = cookiejar.New(nil)
	res, err := c.Get(w.base + "/login")
	if err != nil {
		return nil, "", err
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	tok := ""
	if i := bytes.Index(body, []byte(`name="_csrf" value="`)); i >= 0 {
		rest := string(body[i+len(`name="_csrf" value="`):])
		tok = rest[:strings.IndexByte(rest, '"')]
	}
	res, err = c.PostForm(w.base+"/login", url.Values{"email": {u.Email}, "password": {u.Password}, "_csrf": {tok}})
	if err != nil {
		return nil, "", err
	}
	res.Body.Close()
	if res.StatusCode != http.StatusSeeOther {
		return nil, "", fmt.Errorf("sign in as %s: %d", role, res.StatusCode)
	}
	return c, res.Header.Get("Location"), nil
}

// call sends one API request with the demo token and returns the status,
// the Retry-After header and the body.
func (w *world) call(ctx context.Context, method, path, key string, body any) (int, string, []byte, error) {
	b, _ := json.Marshal(body)
	req, err := http.NewRequestWithContext(ctx, method, w.base+path, bytes.NewReader(b))
	if err != nil {
		return 0, "", nil, err
	}
	req.Header.Set("Authorization", "Bearer "+store.DemoToken)
	req.Header.Set("Content-Type", "application/json")
	if key != "" {
		req.Header.Set("Idempotency-Key", key)
	}
	res, err := w.api.Do(req)
	if err != nil {
		return 0, "", nil, err
	}
	defer res.Body.Close()
	out, err := io.ReadAll(res.Body)
	return res.StatusCode, res.Header.Get("Retry-After"), out, err
}

// addFeedEvents records n Square changes stamped at: mostly receipts (so
// the checkouts never run the shelves dry), some sales.
func (w *world) addFeedEvents(rng *rand.Rand, seq *int64, at time.Time, n int) {
	for range n {
		*seq++
		sku := w.skus[rng.IntN(len(w.skus))]
		loc := w.storeLocs[rng.IntN(len(w.storeLocs))]
		id := fmt.Sprintf("soak-%d", *seq)
		var raw json.RawMessage
		if rng.IntN(10) < 7 {
			raw = sim.SquareAdjustment(id, "NONE", "IN_STOCK", loc, w.sqItem[sku], 1+rng.IntN(3), at, at)
		} else {
			raw = sim.SquareAdjustment(id, "IN_STOCK", "SOLD", loc, w.sqItem[sku], 1, at, at)
		}
		w.square.Add(at, []string{loc}, raw)
	}
}

// close stops everything newWorld started and removes the cluster.
func (w *world) close() {
	if w.stopRun != nil {
		w.stopRun()
		<-w.runDone
	}
	if w.hs != nil {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		w.hs.Shutdown(sctx)
		cancel()
	}
	if w.db != nil {
		w.db.Close()
	}
	if w.proxy != nil {
		w.proxy.Close()
	}
	if w.cluster != nil && !w.cfg.keep {
		w.cluster.Stop()
	}
	if w.tmp != "" && !w.cfg.keep {
		os.RemoveAll(w.tmp)
	}
}
