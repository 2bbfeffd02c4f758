// Package handlers is Stockline's HTTP layer: pages (templ + htmx) and the
// JSON API on one Echo instance. Handlers parse the request, call the
// domain or the store, and render; they hold no SQL and no business rules.
package handlers

import (
	"context"
	"log/slog"
	"net/http"
	"net/netip"
	"sort"
	"time"

	"github.com/gorilla/sessions"
	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"

	"stockline/domain"
	"stockline/store"
	"stockline/views"
)

// Options configures the HTTP layer. cmd/stockline fills it from the
// environment once at start-up.
type Options struct {
	SessionSecret        []byte         // 32+ bytes; signs and encrypts the session cookie
	IdleTimeout          time.Duration  // a session unused this long ends
	AbsoluteTimeout      time.Duration  // a session ends this long after sign-in, used or not
	TLS                  bool           // served over TLS: Secure cookies and HSTS
	TrustedProxies       []netip.Prefix // X-Forwarded-For is believed only from these peers
	LoginMaxPerAccount   int            // failed sign-ins per account per LoginWindow
	LoginMaxPerIP        int            // failed sign-ins per client IP per LoginWindow
	LoginWindow          time.Duration
	ShopifyWebhookSecret string        // verifies X-Shopify-Hmac-Sha256 on POST /webhooks/shopify
	ConnectorSecretKey   string        // seals connector credentials typed on the connector page (AES-256-GCM)
	RequestTimeout       time.Duration // every request answers within this (503 past it); default 1 minute (timeout.go)
	TransferOverdueDays  int           // a transfer in transit longer than this many days is flagged on /transfers; default 3
	FeedInStockMin       int           // the availability feed's in_stock: network ATP at least this (default 1)
	FeedLowStock         int           // Google local feed: limited_availability below this ATP (default 3)
}

// Access is who may use a route: signed-in roles for pages, token scopes
// for the API, or Public for the few routes anyone may reach.
type Access struct {
	Public bool
	Roles  []domain.Role // pages: any of these roles
	Scopes []string      // API: a token with any of these scopes
}

// Server holds the Echo instance and what handlers need.
type Server struct {
	Echo       *echo.Echo
	DB         *store.DB
	Log        *slog.Logger
	opts       Options
	cookies    *sessions.CookieStore
	cookieMemo cookieMemo                      // session cookies recently decoded (session_cookie.go)
	runners    *runners                        // the goroutines handlers run on (workers.go)
	access     map[string]Access               // "METHOD /path" -> access, from the route table
	nav        map[domain.Role][]views.NavItem // each role's top navigation, from the route table
	home       map[domain.Role]string          // each role's first screen, from the route table
}

// New builds the server and mounts the route table (routes.go).
func New(db *store.DB, log *slog.Logger, opts Options) *Server {
	if opts.IdleTimeout == 0 {
		opts.IdleTimeout = 30 * time.Minute
	}
	if opts.AbsoluteTimeout == 0 {
		opts.AbsoluteTimeout = 12 * time.Hour
	}
	if opts.LoginWindow == 0 {
		opts.LoginWindow = 15 * time.Minute
	}
	if opts.LoginMaxPerAccount == 0 {
		opts.LoginMaxPerAccount = 5
	}
	if opts.LoginMaxPerIP == 0 {
		opts.LoginMaxPerIP = 30
	}
	if opts.RequestTimeout == 0 {
		opts.RequestTimeout = time.Minute
	}
	if opts.TransferOverdueDays <= 0 {
		opts.TransferOverdueDays = 3
	}
	if opts.FeedInStockMin == 0 {
		opts.FeedInStockMin = domain.DefaultFeedInStockMin
	}
	if opts.FeedLowStock == 0 {
		opts.FeedLowStock = domain.DefaultFeedLowStock
	}
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	s := &Server{Echo: e, DB: db, Log: log, opts: opts, access: map[string]Access{}}
	s.cookies = newCookieStore(opts)
	s.runners = newRunners()
	e.IPExtractor = s.clientIP
	e.HTTPErrorHandler = s.handleError
	e.Use(middleware.RequestIDWithConfig(middleware.RequestIDConfig{}))
	e.Use(s.logRequests)
	e.Use(middleware.RecoverWithConfig(middleware.RecoverConfig{
		// A panic is logged through slog with its request id and stack,
		// then answered by the one error handler as an internal error.
		LogErrorFunc: func(c echo.Context, err error, stack []byte) error {
			s.Log.ErrorContext(c.Request().Context(), "panic", "request_id", c.Response().Header().Get(echo.HeaderXRequestID),
				"err", err.Error(), "stack", string(stack))
			return err
		},
	}))
	e.Use(s.securityHeaders)
	e.Use(s.loadSession)
	e.Use(s.noStoreSignedIn)
	e.Use(s.limitBody) // before anything reads a body
	e.Use(s.csrf)
	e.Use(s.guardText) // the one place that refuses NUL and invalid UTF-8

	s.mount(s.routes())
	return s
}

// RouteAccess lists every registered route with its access rule, sorted.
// The role-matrix test walks it.
func (s *Server) RouteAccess() []RouteRule {
	var out []RouteRule
	for _, r := range s.Echo.Routes() {
		a, ok := s.access[r.Method+" "+r.Path]
		out = append(out, RouteRule{Method: r.Method, Path: r.Path, Access: a, Known: ok})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Path+out[i].Method < out[j].Path+out[j].Method })
	return out
}

// RouteRule is one route and who may use it.
type RouteRule struct {
	Method, Path string
	Access       Access
	Known        bool // false means the route was added to Echo outside the route table
}

// ServeHTTP lets the server be used as an http.Handler. Each request
// answers within RequestTimeout: a database that stopped answering fails
// it with 503 in bounded time instead of holding it open (timeout.go).
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.serveWithTimeout(w, r) }

// Shutdown stops accepting requests and waits for those in flight.
func (s *Server) Shutdown(ctx context.Context) error { return s.Echo.Shutdown(ctx) }
