package handlers

import (
	"net/http"
	"sync"
	"time"

	"github.com/gorilla/sessions"
)

// Decoding the session cookie (HMAC, AES, then gob, which builds its type
// machinery afresh for every cookie) cost as much CPU per page as the
// session's database lookup. A cookie that decoded to nothing but a
// session id and a CSRF token is remembered by its exact bytes for
// cookieMemoTTL, so a person's next pages skip the decoding. Only bytes
// that passed the HMAC check are ever remembered, so no cookie is accepted
// that would not decode; the session behind it is still looked up in the
// database on every request (loadSession), which is what enforces sign-out
// and the idle and absolute time-outs. Cookies holding anything else (a
// flash message) are decoded every time.
const (
	cookieMemoTTL = time.Minute
	// maxMemoCookies bounds the memo; when full it starts again empty.
	maxMemoCookies = 10_000
)

type cookieMemo struct {
	mu sync.Mutex
	m  map[string]memoCookie // by the cookie's value
}

type memoCookie struct {
	sid, csrf string
	at        time.Time
}

func (m *cookieMemo) get(value string) (memoCookie, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	e, ok := m.m[value]
	if !ok || time.Since(e.at) >= cookieMemoTTL {
		return memoCookie{}, false
	}
	return e, true
}

func (m *cookieMemo) put(value string, e memoCookie) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.m == nil || len(m.m) >= maxMemoCookies {
		m.m = map[string]memoCookie{}
	}
	m.m[value] = e
}

// session returns the request's session, decoded from its cookie (or
// remembered, see cookieMemo); a missing or bad cookie yields a fresh one.
func (s *Server) session(r *http.Request) *sessions.Session {
	ck, err := r.Cookie(sessionName)
	if err == nil {
		if e, ok := s.cookieMemo.get(ck.Value); ok {
			sess := sessions.NewSession(s.cookies, sessionName)
			opts := *s.cookies.Options
			sess.Options, sess.IsNew = &opts, false
			if e.sid != "" {
				sess.Values["sid"] = e.sid
			}
			sess.Values["csrf"] = e.csrf
			return sess
		}
	}
	sess, _ := s.cookies.Get(r, sessionName) // a bad cookie yields a fresh session
	if err == nil && !sess.IsNew {
		if e, ok := memoOf(sess.Values); ok {
			e.at = time.Now()
			s.cookieMemo.put(ck.Value, e)
		}
	}
	return sess
}

// memoOf is the session's values as a memo entry, when they are only a
// CSRF token and perhaps a session id.
func memoOf(v map[any]any) (memoCookie, bool) {
	var e memoCookie
	for k, x := range v {
		str, ok := x.(string)
		switch {
		case !ok:
			return e, false
		case k == "sid":
			e.sid = str
		case k == "csrf":
			e.csrf = str
		default:
			return e, false
		}
	}
	return e, e.csrf != ""
}
