// Command stockline serves Stockline's pages and JSON API, runs its
// background workers, and carries the operator subcommands:
//
//	stockline [serve]
//	stockline migrate
//	stockline seed --demo
//	stockline user add --email E --role R [--locations L1,L2] [--password-stdin]
//	stockline token create --name N --scopes a,b
//	stockline check
//	stockline db start|stop|url
package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"stockline/domain"
	"stockline/handlers"
	"stockline/store"
	"stockline/store/pgcluster"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "stockline:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	cmd := "serve"
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		cmd, args = args[0], args[1:]
	}
	cfg, err := LoadConfig()
	if err != nil {
		return err
	}
	switch cmd {
	case "serve":
		m := NewMain(cfg, stdout)
		if err := m.Run(ctx); err != nil {
			m.Close()
			return err
		}
		<-ctx.Done()
		return m.Close()
	case "migrate":
		return withDB(ctx, cfg, func(db *store.DB) error {
			n, err := db.Migrate(ctx)
			if err == nil {
				fmt.Fprintf(stdout, "applied %d migration(s)\n", n)
			}
			return err
		})
	case "seed":
		fs := flag.NewFlagSet("seed", flag.ContinueOnError)
		demo := fs.Bool("demo", false, "load the demo retailer")
		days := fs.Int("history-days", store.DefaultHistory.Days, "days of demo history (orders, pickups, counts, transfers) to generate; 0 for none")
		if err := fs.Parse(args); err != nil {
			return err
		}
		if !*demo {
			return errors.New("seed: pass --demo to load the demo retailer")
		}
		hist := store.DefaultHistory
		hist.Days = max(0, *days)
		return withDB(ctx, cfg, func(db *store.DB) error { return seedDemo(ctx, db, stdout, hist) })
	case "user":
		return withDB(ctx, cfg, func(db *store.DB) error { return userCmd(ctx, db, args, stdin, stdout) })
	case "token":
		return withDB(ctx, cfg, func(db *store.DB) error { return tokenCmd(ctx, db, args, stdout) })
	case "check":
		return withDB(ctx, cfg, func(db *store.DB) error { return checkCmd(ctx, db, stdout) })
	case "db":
		return dbCmd(cfg, args, stdout)
	case "help", "-h", "--help":
		fmt.Fprintln(stdout, usage)
		return nil
	}
	return fmt.Errorf("unknown command %q\n%s", cmd, usage)
}

const usage = `usage:
  stockline [serve]
  stockline migrate
  stockline seed --demo [--history-days N]
  stockline user add --email E --role R [--locations L1,L2] [--password-stdin]
  stockline token create --name N --scopes a,b
  stockline check
  stockline db start|stop|url`

// databaseURL is DATABASE_URL, or the private cluster under DATA_DIR,
// started (or reused) on the way.
func databaseURL(cfg Config) (string, error) {
	if cfg.DatabaseURL != "" {
		return cfg.DatabaseURL, nil
	}
	c, err := pgcluster.Ensure(filepath.Join(cfg.DataDir, "pg"))
	if err != nil {
		return "", err
	}
	if err := pgcluster.EnsureDatabase(c.DSN("postgres"), "stockline"); err != nil {
		return "", err
	}
	return c.DSN("stockline"), nil
}

func withDB(ctx context.Context, cfg Config, fn func(db *store.DB) error) error {
	url, err := databaseURL(cfg)
	if err != nil {
		return err
	}
	db, err := store.Open(ctx, url)
	if err != nil {
		return err
	}
	defer db.Close()
	return fn(db)
}

// seedDemo loads the demo retailer once, with hist.Days of history.
func seedDemo(ctx context.Context, db *store.DB, out io.Writer, hist store.HistoryOptions) error {
	if _, err := db.Migrate(ctx); err != nil {
		return err
	}
	res, err := db.SeedDemo(ctx)
	if err != nil {
		return err
	}
	if res.AlreadySeeded {
		fmt.Fprintln(out, "demo retailer already seeded; left as it is")
	} else {
		if err := db.SeedDemoReturns(ctx); err != nil {
			return err
		}
		fmt.Fprintf(out, "seeded the demo retailer: %d locations, %d SKUs, %d positions, two returns for the returns desk\n", res.Locations, res.Products, res.Positions)
	}
	if n, err := db.SeedDemoTransfers(ctx); err != nil {
		return err
	} else if n > 0 {
		fmt.Fprintf(out, "seeded %d demo transfers (one in every state)\n", n)
	}
	if !res.AlreadySeeded && hist.Days > 0 {
		h, err := db.SeedHistory(ctx, hist)
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "demo history: %d days, %d orders (%d cancelled), %d counts, %d transfers, %d returns, in %s (backdating %s)\n",
			hist.Days, h.Orders, h.Cancelled, h.Counts, h.Transfers, h.Returns, h.Took.Round(100*time.Millisecond), h.Backdating.Round(100*time.Millisecond))
	}
	fmt.Fprintln(out, "\nDemo logins (demo data only):")
	for _, u := range store.DemoUsers {
		fmt.Fprintf(out, "  %-15s %-28s password: %s\n", u.Role, u.Email, u.Password)
	}
	fmt.Fprintf(out, "\nDemo API token (all scopes): %s\n", store.DemoToken)
	return nil
}

func userCmd(ctx context.Context, db *store.DB, args []string, stdin io.Reader, out io.Writer) error {
	if len(args) == 0 || args[0] != "add" {
		return errors.New("user: usage: stockline user add --email E --role R [--locations L1,L2] [--password-stdin]")
	}
	fs := flag.NewFlagSet("user add", flag.ContinueOnError)
	email := fs.String("email", "", "the user's email")
	role := fs.String("role", "", "associate, support, manager, inventory_lead or admin")
	locs := fs.String("locations", "", "comma-separated location codes (associates and managers)")
	fromStdin := fs.Bool("password-stdin", false, "read the password from the first line of stdin")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	r, err := domain.ParseRole(*role)
	if err != nil {
		return errors.New(domain.ErrorMessage(err))
	}
	pw, generated := "", false
	if *fromStdin {
		line, err := bufio.NewReader(stdin).ReadString('\n')
		if err != nil && err != io.EOF {
			return err
		}
		pw = strings.TrimRight(line, "\r\n")
	} else {
		pw, generated = randomPassword(), true
	}
	var codes []string
	for _, l := range strings.Split(*locs, ",") {
		if l = strings.TrimSpace(l); l != "" {
			codes = append(codes, l)
		}
	}
	u, err := db.CreateUser(ctx, domain.SystemActor("cli"), store.NewUser{Email: *email, Role: r, Locations: codes, Password: pw})
	if err != nil {
		if e := domain.AsError(err); e != nil {
			return errors.New(e.Message)
		}
		return err
	}
	fmt.Fprintf(out, "added %s (%s)\n", u.Email, u.Role)
	if generated {
		fmt.Fprintf(out, "password: %s\n", pw)
	}
	return nil
}

func tokenCmd(ctx context.Context, db *store.DB, args []string, out io.Writer) error {
	if len(args) == 0 || args[0] != "create" {
		return errors.New("token: usage: stockline token create --name N --scopes a,b")
	}
	fs := flag.NewFlagSet("token create", flag.ContinueOnError)
	name := fs.String("name", "", "who the token is for")
	scopes := fs.String("scopes", "", "comma-separated: availability, inventory, reservations, orders, transfers, returns, exceptions, admin")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	var sc []string
	for _, s := range strings.Split(*scopes, ",") {
		if s = strings.TrimSpace(s); s != "" {
			sc = append(sc, s)
		}
	}
	raw := NewTokenSecret()
	if _, err := db.CreateToken(ctx, domain.SystemActor("cli"), *name, raw, sc); err != nil {
		if e := domain.AsError(err); e != nil {
			return errors.New(e.Message)
		}
		return err
	}
	fmt.Fprintln(out, raw) // only the token on stdout
	return nil
}

// NewTokenSecret returns a fresh API token secret.
func NewTokenSecret() string {
	b := make([]byte, 24)
	rand.Read(b)
	return "stk_" + base64.RawURLEncoding.EncodeToString(b)
}

func randomPassword() string {
	b := make([]byte, 15)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

func checkCmd(ctx context.Context, db *store.DB, out io.Writer) error {
	rep, err := db.Check(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "positions checked: %d\n", rep.Positions)
	fmt.Fprintf(out, "ledger mismatches: %d\n", len(rep.LedgerMismatch))
	for _, m := range rep.LedgerMismatch {
		fmt.Fprintln(out, "  ", m)
	}
	fmt.Fprintf(out, "unexplained invariant violations: %d\n", len(rep.Unexplained))
	for _, m := range rep.Unexplained {
		fmt.Fprintln(out, "  ", m)
	}
	fmt.Fprintf(out, "reservation leaks: %d\n", len(rep.ReservationLeak))
	for _, m := range rep.ReservationLeak {
		fmt.Fprintln(out, "  ", m)
	}
	fmt.Fprintf(out, "order/reservation mismatches: %d\n", len(rep.OrderMismatch))
	for _, m := range rep.OrderMismatch {
		fmt.Fprintln(out, "  ", m)
	}
	fmt.Fprintf(out, "violations explained by open exceptions: %d\n", rep.Explained)
	if !rep.OK() {
		return errors.New("consistency check failed")
	}
	fmt.Fprintln(out, "OK")
	return nil
}

func dbCmd(cfg Config, args []string, out io.Writer) error {
	dir := filepath.Join(cfg.DataDir, "pg")
	if len(args) == 0 {
		return errors.New("db: usage: stockline db start|stop|url")
	}
	switch args[0] {
	case "start", "url":
		url, err := databaseURL(cfg)
		if err != nil {
			return err
		}
		fmt.Fprintln(out, url)
		return nil
	case "stop":
		if cfg.DatabaseURL != "" {
			return errors.New("db stop: DATABASE_URL is set; Stockline did not start that database")
		}
		return pgcluster.Stop(dir)
	}
	return fmt.Errorf("db: unknown subcommand %q", args[0])
}

// Main is the running program: database, HTTP server and workers. Tests
// start it on port 0 and drive it like a user would.
type Main struct {
	Config Config
	DB     *store.DB
	Server *handlers.Server
	Log    *slog.Logger
	Addr   string // the address actually listened on

	out     io.Writer
	http    *http.Server
	cancel  context.CancelFunc
	workers sync.WaitGroup
}

// NewMain returns a program configured by cfg that prints to out.
func NewMain(cfg Config, out io.Writer) *Main {
	return &Main{Config: cfg, out: out}
}

// Run opens and migrates the database, starts the background workers and
// starts serving HTTP. It returns once the listener is open.
func (m *Main) Run(ctx context.Context) error {
	m.Log = newLogger(m.Config, m.out)
	url, err := databaseURL(m.Config)
	if err != nil {
		return err
	}
	if m.DB, err = store.Open(ctx, url); err != nil {
		return err
	}
	if n, err := m.DB.Migrate(ctx); err != nil {
		return err
	} else if n > 0 {
		m.Log.Info("migrated", "applied", n)
	}
	secret := []byte(m.Config.SessionSecret)
	if len(secret) == 0 {
		m.Log.Warn("SESSION_SECRET is not set: sessions end when the server restarts and do not work across instances")
	}
	m.Server = handlers.New(m.DB, m.Log, handlers.Options{
		SessionSecret: secret, IdleTimeout: m.Config.SessionIdle, AbsoluteTimeout: m.Config.SessionAbsolute,
		TLS: m.Config.TLSCertFile != "", TrustedProxies: m.Config.TrustedProxies,
		LoginMaxPerAccount: m.Config.LoginMaxPerAccount, LoginMaxPerIP: m.Config.LoginMaxPerIP, LoginWindow: m.Config.LoginWindow,
		ShopifyWebhookSecret: m.Config.ShopifyWebhookSecret,
		ConnectorSecretKey:   m.Config.ConnectorSecretKey,
		TransferOverdueDays:  m.Config.TransferOverdueDays,
		FeedInStockMin:       m.Config.FeedInStockMin, FeedLowStock: m.Config.FeedLowStock,
	})

	wctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	m.cancel = cancel
	for _, w := range backgroundWorkers {
		fn := w(m)
		if fn == nil {
			continue
		}
		m.workers.Add(1)
		go func() { defer m.workers.Done(); fn(wctx) }()
	}

	ln, err := net.Listen("tcp", m.Config.HTTPAddr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", m.Config.HTTPAddr, err)
	}
	m.Addr = ln.Addr().String()
	m.http = &http.Server{Handler: m.Server, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 120 * time.Second}
	scheme := "http"
	go func() {
		var err error
		if m.Config.TLSCertFile != "" {
			err = m.http.ServeTLS(ln, m.Config.TLSCertFile, m.Config.TLSKeyFile)
		} else {
			err = m.http.Serve(ln)
		}
		if err != nil && !errors.Is(err, http.ErrServerClosed) {
			m.Log.Error("http server stopped", "err", err.Error())
		}
	}()
	if m.Config.TLSCertFile != "" {
		scheme = "https"
	}
	_, port, _ := net.SplitHostPort(m.Addr)
	fmt.Fprintf(m.out, "\nStockline is running at %s://localhost:%s  (Ctrl-C stops it)\n\n", scheme, port)
	return nil
}

// backgroundWorkers are the background goroutines, each built from the running
// program; a builder returns the loop to run, or nil when it is switched
// off. To add a worker, add it here.
var backgroundWorkers = []func(m *Main) func(ctx context.Context){
	connectorWorker,    // connectors.go: feed pulls under leases, and the simulators
	notifyWorker,       // notify.go: outbox relay and customer messages
	sweeperWorker,      // sweeper.go: expired holds and old idempotency keys
	exceptionWorker,    // exceptions.go: overdue pickups become exceptions
	checkWorker,        // exceptions.go: the scheduled consistency check
	availabilityWorker, // availability.go: the availability cache's LISTEN/NOTIFY invalidation
	reconWorker,        // reconcile.go: scheduled and hand-started reconciliation runs
	metricsWorker,      // metrics.go: the metric rollups, rebuilt under an advisory lock
}

// Close shuts down in order: HTTP, then workers, then the database.
func (m *Main) Close() error {
	if m.http != nil {
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		m.http.Shutdown(sctx)
		cancel()
	}
	if m.cancel != nil {
		m.cancel()
		m.workers.Wait()
	}
	if m.DB != nil {
		return m.DB.Close()
	}
	return nil
}

func newLogger(cfg Config, out io.Writer) *slog.Logger {
	var lvl slog.Level
	lvl.UnmarshalText([]byte(cfg.LogLevel))
	opts := &slog.HandlerOptions{Level: lvl}
	if cfg.LogFormat == "text" {
		return slog.New(slog.NewTextHandler(out, opts))
	}
	return slog.New(slog.NewJSONHandler(out, opts))
}
