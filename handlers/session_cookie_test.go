package handlers

import (
	"bytes"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
)

// TestSessionCookieMemo: a session cookie that decoded to a session id and
// a CSRF token is answered from memory with the same values; a tampered
// cookie, or one holding a flash, is never remembered.
func TestSessionCookieMemo(t *testing.T) {
	s := New(nil, slog.New(slog.NewTextHandler(io.Discard, nil)), Options{SessionSecret: bytes.Repeat([]byte("k"), 64)})
	cookie := func(values map[any]any) *http.Cookie {
		req, rec := httptest.NewRequest(http.MethodGet, "/", nil), httptest.NewRecorder()
		sess, _ := s.cookies.New(req, sessionName)
		for k, v := range values {
			sess.Values[k] = v
		}
		if err := s.cookies.Save(req, rec, sess); err != nil {
			t.Fatal(err)
		}
		return rec.Result().Cookies()[0]
	}
	with := func(c *http.Cookie) *http.Request {
		req := httptest.NewRequest(http.MethodGet, "/", nil)
		req.AddCookie(c)
		return req
	}
	signedIn := cookie(map[any]any{"sid": "s1", "csrf": "t1"})
	for i := range 2 { // decoded, then remembered
		sess := s.session(with(signedIn))
		if sess.IsNew || sess.Values["sid"] != "s1" || sess.Values["csrf"] != "t1" || len(sess.Values) != 2 {
			t.Fatalf("read %d: new %v, values %v", i, sess.IsNew, sess.Values)
		}
		if _, ok := s.cookieMemo.get(signedIn.Value); !ok {
			t.Fatalf("read %d: the signed-in cookie is not remembered", i)
		}
	}
	tampered := *signedIn
	tampered.Value = signedIn.Value[:len(signedIn.Value)-2] + "AA"
	if sess := s.session(with(&tampered)); !sess.IsNew || len(sess.Values) != 0 {
		t.Fatalf("tampered cookie: new %v, values %v", sess.IsNew, sess.Values)
	}
	flash := cookie(map[any]any{"csrf": "t2", "_flash": []any{"Saved."}})
	if sess := s.session(with(flash)); sess.IsNew || len(sess.Flashes()) != 1 {
		t.Fatalf("flash cookie: new %v, values %v", sess.IsNew, sess.Values)
	}
	if _, ok := s.cookieMemo.get(tampered.Value); ok {
		t.Fatal("a tampered cookie was remembered")
	}
	if _, ok := s.cookieMemo.get(flash.Value); ok {
		t.Fatal("a cookie holding a flash was remembered")
	}
}
