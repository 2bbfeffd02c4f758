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
	"stockline/static"
	"stockline/store"
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
	ShopifyWebhookSecret string // verifies X-Shopify-Hmac-Sha256 on POST /webhooks/shopify
	ConnectorSecretKey   string // seals connector credentials typed on the connector page (AES-256-GCM)
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
	Echo    *echo.Echo
	DB      *store.DB
	Log     *slog.Logger
	opts    Options
	cookies *sessions.CookieStore
	access  map[string]Access // "METHOD /path" -> access
	hooks   []func(s *Server) // route registrations added by other capabilities
}

// Every role, for routes any signed-in person may use.
var allRoles = domain.Roles

// New builds the server and registers every route.
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
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	s := &Server{Echo: e, DB: db, Log: log, opts: opts, access: map[string]Access{}}
	s.cookies = newCookieStore(opts)
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

	e.GET("/static/*", echo.WrapHandler(http.StripPrefix("/static/", static.Handler())))
	s.access["GET /static/*"] = Access{Public: true}
	e.GET("/healthz", func(c echo.Context) error { return c.String(http.StatusOK, "ok") })
	s.access["GET /healthz"] = Access{Public: true}

	s.registerAuthRoutes()
	s.registerInventoryRoutes()
	s.registerAdminRoutes()
	s.registerAPIRoutes()
	for _, r := range registrations {
		r(s)
	}
	return s
}

// registrations lets each capability's file add its routes from an init
// function, so server.go does not grow with every feature.
var registrations []func(s *Server)

// register adds a capability's route registration.
func register(fn func(s *Server)) { registrations = append(registrations, fn) }

// page registers a page or htmx route that requires a signed-in user with
// one of roles. Every page route goes through here, so none lacks a check.
func (s *Server) page(method, path string, h echo.HandlerFunc, roles ...domain.Role) {
	if len(roles) == 0 {
		panic("handlers: page route " + path + " has no roles")
	}
	s.access[method+" "+path] = Access{Roles: roles}
	s.Echo.Add(method, path, h, s.requireRole(roles...))
}

// public registers a route anyone may use (sign-in, static files).
func (s *Server) public(method, path string, h echo.HandlerFunc) {
	s.access[method+" "+path] = Access{Public: true}
	s.Echo.Add(method, path, h)
}

// api registers a JSON API route that requires a bearer token with one of
// scopes. The body is limited to 1 MiB.
func (s *Server) api(method, path string, h echo.HandlerFunc, scopes ...string) {
	if len(scopes) == 0 {
		panic("handlers: api route " + path + " has no scopes")
	}
	s.access[method+" "+path] = Access{Scopes: scopes}
	s.Echo.Add(method, path, h, s.requireToken(scopes...))
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
	Known        bool // false means the route was added without page/api/public
}

// ServeHTTP lets the server be used as an http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.Echo.ServeHTTP(w, r) }

// Shutdown stops accepting requests and waits for those in flight.
func (s *Server) Shutdown(ctx context.Context) error { return s.Echo.Shutdown(ctx) }
