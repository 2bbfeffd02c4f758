package handlers

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/gorilla/securecookie"
	"github.com/gorilla/sessions"
	"github.com/labstack/echo/v4"

	"stockline/domain"
)

const (
	sessionName = "stockline_session"
	ctxUser     = "stockline.user"
	ctxToken    = "stockline.token"
	ctxCSRF     = "stockline.csrf"
	ctxSession  = "stockline.session"
)

func newCookieStore(opts Options) *sessions.CookieStore {
	secret := opts.SessionSecret
	if len(secret) < 32 {
		secret = securecookie.GenerateRandomKey(64)
	}
	// The first half signs, the second encrypts (AES-256 needs 32 bytes).
	cs := sessions.NewCookieStore(secret, deriveKey(secret))
	cs.Options = &sessions.Options{
		Path: "/", MaxAge: int(opts.AbsoluteTimeout / time.Second), HttpOnly: true,
		Secure: opts.TLS, SameSite: http.SameSiteLaxMode,
	}
	return cs
}

func deriveKey(secret []byte) []byte {
	k := make([]byte, 32)
	for i := range k {
		k[i] = secret[(i*7+3)%len(secret)] ^ byte(i*31)
	}
	return k
}

// clientIP is the socket's peer address, unless that peer is a configured
// trusted proxy, in which case the right-most untrusted X-Forwarded-For
// entry is used. With no trusted proxies, X-Forwarded-For is ignored.
func (s *Server) clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	if len(s.opts.TrustedProxies) == 0 || !s.trusted(host) {
		return host
	}
	parts := strings.Split(r.Header.Get("X-Forwarded-For"), ",")
	for i := len(parts) - 1; i >= 0; i-- {
		ip := strings.TrimSpace(parts[i])
		if ip == "" {
			continue
		}
		if !s.trusted(ip) {
			return ip
		}
	}
	return host
}

func (s *Server) trusted(ip string) bool {
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return false
	}
	for _, p := range s.opts.TrustedProxies {
		if p.Contains(a.Unmap()) {
			return true
		}
	}
	return false
}

// logRequests writes one slog line per request, with its request id.
func (s *Server) logRequests(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		start := time.Now()
		err := next(c)
		if err != nil {
			c.Error(err)
		}
		req, res := c.Request(), c.Response()
		lvl := slog.LevelInfo
		if res.Status >= 500 {
			lvl = slog.LevelError
		}
		if strings.HasPrefix(req.URL.Path, "/static/") || req.URL.Path == "/healthz" {
			lvl = slog.LevelDebug
		}
		s.Log.Log(req.Context(), lvl, "request", "request_id", res.Header().Get(echo.HeaderXRequestID),
			"method", req.Method, "path", req.URL.Path, "status", res.Status, "dur_ms", time.Since(start).Milliseconds(),
			"ip", c.RealIP())
		return nil
	}
}

// securityHeaders sets the CSP (no inline script or style), framing,
// sniffing and referrer rules on every response, and HSTS under TLS.
func (s *Server) securityHeaders(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		h := c.Response().Header()
		h.Set("Content-Security-Policy", "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "+
			"form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'")
		h.Set("X-Frame-Options", "DENY")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "same-origin")
		if s.opts.TLS {
			h.Set("Strict-Transport-Security", "max-age=63072000; includeSubDomains")
		}
		return next(c)
	}
}

func isAPI(c echo.Context) bool {
	p := c.Request().URL.Path
	return strings.HasPrefix(p, "/api/") || strings.HasPrefix(p, "/webhooks/")
}

func isHTMX(c echo.Context) bool { return c.Request().Header.Get("HX-Request") == "true" }

// loadSession reads the session cookie, looks up its server-side record
// and puts the user (if any) and the CSRF token in the context. The API
// uses bearer tokens and never reads cookies.
func (s *Server) loadSession(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if isAPI(c) || strings.HasPrefix(c.Request().URL.Path, "/static/") {
			return next(c)
		}
		sess := s.session(c.Request())
		c.Set(ctxSession, sess)
		dirty := false
		if sid, ok := sess.Values["sid"].(string); ok && sid != "" {
			u, err := s.DB.SessionUser(c.Request().Context(), sid, s.opts.IdleTimeout)
			if err == nil {
				c.Set(ctxUser, u)
			} else {
				if domain.ErrorCode(err) == domain.EINTERNAL {
					return err
				}
				delete(sess.Values, "sid")
				dirty = true
			}
		}
		tok, _ := sess.Values["csrf"].(string)
		if tok == "" {
			tok = randomToken(32)
			sess.Values["csrf"] = tok
			dirty = true
		}
		c.Set(ctxCSRF, tok)
		if dirty {
			if err := sess.Save(c.Request(), c.Response()); err != nil {
				return err
			}
		}
		return next(c)
	}
}

// csrf refuses every unsafe page request (htmx included) whose token, from
// the _csrf form field or the X-CSRF-Token header, does not match the
// session's. Missing and wrong tokens both get 403.
func (s *Server) csrf(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		switch c.Request().Method {
		case http.MethodGet, http.MethodHead, http.MethodOptions:
			return next(c)
		}
		if isAPI(c) {
			return next(c)
		}
		want, _ := c.Get(ctxCSRF).(string)
		got, err := csrfFromRequest(c)
		if err != nil {
			return err
		}
		if want == "" || got == "" || subtle.ConstantTimeCompare([]byte(want), []byte(got)) != 1 {
			return errCSRF()
		}
		return next(c)
	}
}

// errCSRF is the refusal of a request without the session's CSRF token.
func errCSRF() *domain.Error {
	return &domain.Error{Code: domain.CodeCSRFInvalid,
		Message: "This form has expired or did not come from Stockline. Reload the page and try again."}
}

// requireRole lets through a signed-in user whose role is one of roles.
// Others get 403 with an explanation; someone not signed in is sent to the
// sign-in page (htmx requests get an HX-Redirect).
func (s *Server) requireRole(roles ...domain.Role) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			u := currentUser(c)
			if u == nil {
				target := "/login"
				if c.Request().Method == http.MethodGet && c.Request().URL.Path != "/" {
					target += "?next=" + urlQueryEscape(c.Request().URL.RequestURI())
				}
				if isHTMX(c) {
					c.Response().Header().Set("HX-Redirect", target)
					return c.NoContent(http.StatusUnauthorized)
				}
				return c.Redirect(http.StatusSeeOther, target)
			}
			if !slices.Contains(roles, u.Role) {
				return &domain.Error{Code: domain.EFORBIDDEN, Message: "Your role (" + u.Role.Label() + ") cannot use this page. " +
					"It is for: " + roleList(roles) + ". Ask an admin if you need access."}
			}
			return next(c)
		}
	}
}

func roleList(roles []domain.Role) string {
	names := make([]string, len(roles))
	for i, r := range roles {
		names[i] = r.Label()
	}
	return strings.Join(names, ", ")
}

// requireToken checks the bearer token and that it carries one of scopes
// (or the admin scope, which opens every route).
func (s *Server) requireToken(scopes ...string) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			auth := c.Request().Header.Get("Authorization")
			raw, ok := strings.CutPrefix(auth, "Bearer ")
			if !ok || raw == "" {
				return domain.Errorf(domain.EUNAUTHORIZED, "Send an API token as Authorization: Bearer <token>.")
			}
			t, err := s.DB.TokenByRaw(c.Request().Context(), strings.TrimSpace(raw))
			if err != nil {
				return err
			}
			// The admin scope is the operator's master key: it opens every API route.
			if !slices.Contains(t.Scopes, domain.ScopeAdmin) && !slices.ContainsFunc(scopes, func(sc string) bool { return slices.Contains(t.Scopes, sc) }) {
				return domain.Errorf(domain.EFORBIDDEN, "This token lacks the %s scope.", strings.Join(scopes, " or "))
			}
			c.Set(ctxToken, &t)
			return next(c)
		}
	}
}

// currentUser is the signed-in user, or nil.
func currentUser(c echo.Context) *domain.User {
	u, _ := c.Get(ctxUser).(*domain.User)
	return u
}

// actor names who is making this request, for audit and ledger rows.
func actor(c echo.Context) domain.Actor {
	rid := c.Response().Header().Get(echo.HeaderXRequestID)
	if u := currentUser(c); u != nil {
		return domain.Actor{Kind: "user", Name: u.Email, UserID: u.ID, RequestID: rid}
	}
	if t, _ := c.Get(ctxToken).(*domain.APIToken); t != nil {
		return domain.Actor{Kind: "token", Name: t.Name, RequestID: rid}
	}
	return domain.Actor{Kind: "system", Name: "anonymous", RequestID: rid}
}

func randomToken(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return base64.RawURLEncoding.EncodeToString(b)
}
