package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"stockline/domain"
	"stockline/store"
	"stockline/store/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// testEnv points the configuration at a fresh database of this test's own
// and returns its URL. LoadConfig (and run) read it from the environment,
// as the real program does.
func testEnv(t *testing.T) string {
	t.Helper()
	store.BcryptCost = 4 // fast hashing in tests; production keeps the default
	dsn := pgtest.FreshDSN(t)
	t.Setenv("DATABASE_URL", dsn)
	t.Setenv("HTTP_ADDR", "127.0.0.1:0")
	t.Setenv("LOG_FORMAT", "text")
	t.Setenv("LOG_LEVEL", "warn")
	t.Setenv("SIMULATORS", "false")
	t.Setenv("SESSION_SECRET", "e2e-session-secret-e2e-session-secret-0001")
	return dsn
}

// lockedWriter lets the program's goroutines log into one buffer.
type lockedWriter struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (w *lockedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

func (w *lockedWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.String()
}

// startProgram runs the real program on a loopback port over a fresh,
// migrated and seeded database, and stops it when the test ends.
func startProgram(t *testing.T) (*Main, string) {
	t.Helper()
	testEnv(t)
	cfg, err := LoadConfig()
	if err != nil {
		t.Fatal(err)
	}
	logs := &lockedWriter{}
	m := NewMain(cfg, logs)
	ctx := context.Background()
	if err := m.Run(ctx); err != nil {
		m.Close()
		t.Fatalf("run: %v\n%s", err, logs)
	}
	t.Cleanup(func() {
		if err := m.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
		if t.Failed() {
			t.Logf("program output:\n%s", logs)
		}
	})
	if err := seedDemo(ctx, m.DB, io.Discard, store.HistoryOptions{}); err != nil {
		t.Fatalf("seed: %v", err)
	}
	return m, "http://" + m.Addr
}

// chromiumPath finds Debian's chromium. The browser test never skips: a
// missing browser fails it with the command that installs one.
func chromiumPath(t *testing.T) string {
	t.Helper()
	for _, p := range []string{"/usr/bin/chromium", "/usr/bin/chromium-browser"} {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	if p, err := exec.LookPath("chromium"); err == nil {
		return p
	}
	t.Fatal("the browser test needs Chromium and none is installed (/usr/bin/chromium). Install it with:\n" +
		"    sudo apt-get update && sudo apt-get install -y chromium\n(`make test` does this itself when run as root.)")
	return ""
}

// newBrowser starts headless Chromium with a fresh profile (and any extra
// options).
func newBrowser(t *testing.T, extra ...chromedp.ExecAllocatorOption) context.Context {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromiumPath(t)),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 1000),
	)
	opts = append(opts, extra...)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	bctx, cancelBrowser := chromedp.NewContext(actx)
	t.Cleanup(func() { cancelBrowser(); cancelAlloc() })
	if err := chromedp.Do(bctx); err != nil { // start the browser now, so a start failure is named as such
		t.Fatalf("start Chromium (%s): %v", chromiumPath(t), err)
	}
	return bctx
}

// stepTimeout bounds each browser step, so a stuck page fails the test
// with a description of where it was instead of hanging it.
const stepTimeout = 30 * time.Second

// step runs browser actions and, on failure, shows where the page was.
func step(t *testing.T, ctx context.Context, what string, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	sctx, cancel := context.WithTimeout(ctx, stepTimeout)
	defer cancel()
	if err := chromedp.Do(sctx, steps...); err != nil {
		t.Fatalf("%s: %v%s", what, err, whereAmI(ctx))
	}
}

// read runs one browser action that returns a value.
func read[T any](t *testing.T, ctx context.Context, what string, a chromedp.Action[T]) T {
	t.Helper()
	sctx, cancel := context.WithTimeout(ctx, stepTimeout)
	defer cancel()
	v, err := chromedp.Run(sctx, a)
	if err != nil {
		t.Fatalf("%s: %v%s", what, err, whereAmI(ctx))
	}
	return v
}

// whereAmI describes the page for a failure message.
func whereAmI(ctx context.Context) string {
	dctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	loc, _ := chromedp.Run(dctx, chromedp.Location())
	html, _ := chromedp.Run(dctx, chromedp.OuterHTML(chromedp.CSS("main")))
	return "\nat " + loc + "\n" + html
}

func atoi(t *testing.T, what, s string) int {
	t.Helper()
	n, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil {
		t.Fatalf("%s: %q is not a number", what, s)
	}
	return n
}

// TestBrowserJourney drives the real program in headless Chromium the way
// an inventory lead works: sign in, scan a SKU, read its availability,
// record an adjustment and find it in the ledger.
func TestBrowserJourney(t *testing.T) {
	m, base := startProgram(t)
	ctx := newBrowser(t)
	lead := store.DemoUsers[3]
	if lead.Role != domain.RoleInventoryLead {
		t.Fatalf("demo user 3 is %s", lead.Role)
	}
	const sku = "FOO-10000"
	css := func(s string) chromedp.CSS { return chromedp.CSS(s) }

	// Sign in: the form posts and the lead lands on their home page,
	// signed in; the navigation leads to the inventory search, where the
	// cursor starts in the scan field.
	step(t, ctx, "sign in",
		chromedp.Navigate(base+"/login"),
		chromedp.WaitVisible(css(`#email`)),
		chromedp.SendKeys(css(`#email`), lead.Email),
		chromedp.SendKeys(css(`#password`), lead.Password),
		chromedp.Click(css(`form[action="/login"] button[type="submit"]`)),
		chromedp.WaitVisible(css(`[data-testid="whoami"]`)),
	)
	if who := read(t, ctx, "who is signed in", chromedp.Text(css(`[data-testid="whoami"]`))); who != lead.Email {
		t.Fatalf("signed in as %q", who)
	}
	step(t, ctx, "open the inventory search",
		chromedp.Click(css(`nav a[href="/inventory"]`)),
		chromedp.WaitVisible(css(`input[name="q"][data-autofocus-scan]`)),
	)
	loc := read(t, ctx, "location", chromedp.Location())
	if !strings.HasSuffix(loc, "/inventory") {
		t.Fatalf("the Inventory link went to %s", loc)
	}
	read(t, ctx, "the cursor starts in the scan field", chromedp.Poll[bool](
		`document.activeElement !== null && document.activeElement.name === "q"`, chromedp.WithPollingTimeout(5*time.Second)))

	// Scan the SKU: a scanner types it and presses Enter; an exact SKU
	// opens its page.
	step(t, ctx, "search the SKU",
		chromedp.SendKeys(css(`input[name="q"]`), sku+kb.Enter),
		chromedp.WaitVisible(css(`[data-testid="stock-table"]`)),
	)
	if loc = read(t, ctx, "location", chromedp.Location()); !strings.HasSuffix(loc, "/inventory/"+sku) {
		t.Fatalf("the scan went to %s", loc)
	}

	// Availability: the page shows S01's buckets and network ATP, and they
	// agree with the store.
	header := read(t, ctx, "product header", chromedp.Text(css(`[data-testid="product-header"] h1`)))
	if !strings.Contains(header, sku) {
		t.Fatalf("SKU page header %q", header)
	}
	onHand := atoi(t, "S01 on hand", read(t, ctx, "S01 on hand", chromedp.Text(css(`[data-testid="S01-on_hand"]`))))
	network := atoi(t, "network ATP", read(t, ctx, "network ATP", chromedp.Text(css(`[data-testid="network-ecommerce_ship"]`))))
	bg := context.Background()
	prod, err := m.DB.ProductBySKU(bg, sku)
	if err != nil {
		t.Fatal(err)
	}
	s01, err := m.DB.LocationByCode(bg, "S01")
	if err != nil {
		t.Fatal(err)
	}
	pos, err := m.DB.PositionAt(bg, s01.ID, prod.ID)
	if err != nil {
		t.Fatal(err)
	}
	if onHand != pos.OnHand {
		t.Fatalf("page says S01 has %d on hand, the store %d", onHand, pos.OnHand)
	}
	if network <= 0 {
		t.Fatalf("network ATP for web shipping is %d; the DC holds stock", network)
	}

	// Adjust: +3 at S01 as a correction, with a note to find it by.
	note := fmt.Sprintf("found behind the till %d", time.Now().UnixNano()%1_000_000)
	step(t, ctx, "open the adjustment form",
		chromedp.Click(css(`[data-testid="adjust-link"]`)),
		chromedp.WaitVisible(css(`form[data-testid="adjust-form"]`)),
	)
	step(t, ctx, "record the adjustment",
		chromedp.SetValue(css(`#location`), "S01"),
		chromedp.SetValue(css(`#reason`), string(domain.ReasonCorrection)),
		chromedp.Click(css(`input[name="mode"][value="delta"]`)),
		chromedp.SendKeys(css(`#quantity`), "3"),
		chromedp.SendKeys(css(`#note`), note),
		chromedp.Click(css(`form[data-testid="adjust-form"] button[type="submit"]`)),
		chromedp.WaitVisible(css(`[data-testid="flash"]`)),
	)
	if loc = read(t, ctx, "location", chromedp.Location()); !strings.Contains(loc, "/inventory/"+sku) {
		t.Fatalf("after the adjustment the browser is at %s", loc)
	}

	// The confirmation, the new on-hand figure and the ledger row.
	if flash := read(t, ctx, "confirmation", chromedp.Text(css(`[data-testid="flash"]`))); flash == "" {
		t.Fatal("no confirmation after the adjustment")
	}
	after := atoi(t, "S01 on hand after", read(t, ctx, "S01 on hand after", chromedp.Text(css(`[data-testid="S01-on_hand"]`))))
	if after != onHand+3 {
		t.Fatalf("S01 on hand %d after +3 from %d", after, onHand)
	}
	row := read(t, ctx, "newest ledger row", chromedp.Text(css(`[data-testid="ledger-table"] tbody tr[data-testid="ledger-row"]`)))
	for _, want := range []string{"S01", "+3", note, "Correction", lead.Email} {
		if !strings.Contains(row, want) {
			t.Errorf("newest ledger row lacks %q: %q", want, row)
		}
	}
	rep, err := m.DB.Check(bg)
	if err != nil {
		t.Fatal(err)
	}
	if !rep.OK() {
		t.Fatalf("consistency check after the journey: %+v", rep)
	}
}

// runCLI runs the stockline command line in-process.
func runCLI(t *testing.T, stdin string, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	var out, errOut bytes.Buffer
	err = run(context.Background(), args, strings.NewReader(stdin), &out, &errOut)
	return out.String(), errOut.String(), err
}

func TestCLI(t *testing.T) {
	dsn := testEnv(t)
	ctx := context.Background()
	if out, _, err := runCLI(t, "", "migrate"); err != nil || !strings.Contains(out, "applied") {
		t.Fatalf("migrate: %v %q", err, out)
	}
	if out, _, err := runCLI(t, "", "seed", "--demo", "--history-days", "1"); err != nil || !strings.Contains(out, "seeded the demo retailer") ||
		!strings.Contains(out, "demo history: 1 days") {
		t.Fatalf("seed: %v %q", err, out)
	}
	if out, _, err := runCLI(t, "", "seed", "--demo"); err != nil || !strings.Contains(out, "already seeded") {
		t.Fatalf("second seed: %v %q", err, out)
	}
	db, err := store.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()

	t.Run("token create prints only the token", func(t *testing.T) {
		out, _, err := runCLI(t, "", "token", "create", "--name", "till feed", "--scopes", "availability,inventory")
		if err != nil {
			t.Fatal(err)
		}
		if !regexp.MustCompile(`^stk_[A-Za-z0-9_-]{20,}\n$`).MatchString(out) {
			t.Fatalf("stdout is not just the token: %q", out)
		}
		tok, err := db.TokenByRaw(ctx, strings.TrimSpace(out))
		if err != nil {
			t.Fatalf("the printed token does not work: %v", err)
		}
		if tok.Name != "till feed" || strings.Join(tok.Scopes, ",") != "availability,inventory" {
			t.Fatalf("stored token %+v", tok)
		}
		for _, bad := range [][]string{
			{"token", "create", "--name", "x", "--scopes", "availability,root"},
			{"token", "create", "--name", "", "--scopes", "availability"},
			{"token", "create", "--name", "x"},
		} {
			out, _, err := runCLI(t, "", bad...)
			if err == nil || out != "" {
				t.Errorf("%v: err %v, stdout %q", bad, err, out)
			}
		}
	})

	t.Run("user add generates and prints a password", func(t *testing.T) {
		out, _, err := runCLI(t, "", "user", "add", "--email", "new.associate@example.test", "--role", "associate", "--locations", "S01,S02")
		if err != nil {
			t.Fatal(err)
		}
		m := regexp.MustCompile(`(?m)^password: (\S+)$`).FindStringSubmatch(out)
		if m == nil {
			t.Fatalf("no password printed: %q", out)
		}
		u, err := db.Authenticate(ctx, "new.associate@example.test", m[1])
		if err != nil {
			t.Fatalf("the printed password does not sign in: %v", err)
		}
		if u.Role != domain.RoleAssociate || strings.Join(u.Locations, ",") != "S01,S02" {
			t.Fatalf("stored user %+v", u)
		}
	})

	t.Run("user add reads a password from stdin", func(t *testing.T) {
		out, _, err := runCLI(t, "chosen-password-1\n", "user", "add", "--email", "lead2@example.test", "--role", "inventory_lead", "--password-stdin")
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(out, "password:") || strings.Contains(out, "chosen-password-1") {
			t.Fatalf("a given password is echoed: %q", out)
		}
		if _, err := db.Authenticate(ctx, "lead2@example.test", "chosen-password-1"); err != nil {
			t.Fatalf("stdin password does not sign in: %v", err)
		}
		for _, bad := range [][]string{
			{"user", "add", "--email", "x@example.test", "--role", "overlord"},
			{"user", "add", "--email", "x@example.test", "--role", "associate"}, // no location
			{"user", "add", "--email", "lead2@example.test", "--role", "support"},
		} {
			if _, _, err := runCLI(t, "", bad...); err == nil {
				t.Errorf("%v accepted", bad)
			}
		}
	})

	t.Run("check passes after seed", func(t *testing.T) {
		out, _, err := runCLI(t, "", "check")
		if err != nil {
			t.Fatalf("check: %v\n%s", err, out)
		}
		if !strings.Contains(out, "ledger mismatches: 0") || !strings.HasSuffix(strings.TrimSpace(out), "OK") {
			t.Fatalf("check output %q", out)
		}
	})
}
