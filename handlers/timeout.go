package handlers

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"sync"
)

// serveWithTimeout runs one request under RequestTimeout. The handler's
// context ends at the deadline, but a database call blocked on a slow or
// stalled network does not return then (lib/pq sends a cancel and keeps
// waiting for the server's reply), so the handler runs in a goroutine of
// its own, writing into a buffer: if it has not answered by the deadline
// the client gets 503 with Retry-After at once and the late answer is
// dropped. The goroutine ends when the network gives its call back; the
// pool's size (and database/sql giving up on a full pool at the context's
// end) bounds how many can wait.
func (s *Server) serveWithTimeout(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), s.opts.RequestTimeout)
	defer cancel()
	bw := &bufferedWriter{h: http.Header{}, w: w}
	done := make(chan struct{})
	panicked := make(chan any, 1)
	go func() {
		defer func() {
			if p := recover(); p != nil {
				panicked <- p
			}
			close(done)
		}()
		s.Echo.ServeHTTP(bw, r.WithContext(ctx))
	}()
	select {
	case <-done:
		select {
		case p := <-panicked:
			panic(p)
		default:
		}
		bw.mu.Lock()
		defer bw.mu.Unlock()
		if bw.streaming {
			return // headers and body went out as they were written
		}
		for k, v := range bw.h {
			w.Header()[k] = v
		}
		if bw.code == 0 {
			bw.code = http.StatusOK
		}
		w.WriteHeader(bw.code)
		w.Write(bw.buf.Bytes())
	case <-ctx.Done():
		bw.mu.Lock()
		bw.timedOut = true
		streaming := bw.streaming
		bw.mu.Unlock()
		if streaming {
			// The status went out with the first flush: the body ends here,
			// short, and the handler's later writes fail.
			s.Log.WarnContext(r.Context(), "streamed answer cut at the request time-out", "path", r.URL.Path)
			return
		}
		s.Log.WarnContext(r.Context(), "request timed out", "path", r.URL.Path, "timeout", s.opts.RequestTimeout.String())
		h := w.Header()
		h.Set("Retry-After", retryAfterSeconds)
		h.Set("Cache-Control", "no-store")
		h.Set("X-Content-Type-Options", "nosniff")
		if strings.HasPrefix(r.URL.Path, "/api/") {
			h.Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusServiceUnavailable)
			json.NewEncoder(w).Encode(apiErrorBody(errUnavailable))
			return
		}
		h.Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(http.StatusServiceUnavailable)
		w.Write([]byte(errUnavailable.Message + "\n"))
	}
}

// bufferedWriter holds a handler's answer until serveWithTimeout sends it,
// unless the handler flushes (http.Flusher): a streamed answer (the
// availability feed) then goes to the client as it is written, and a
// time-out can only cut it short.
type bufferedWriter struct {
	mu        sync.Mutex
	w         http.ResponseWriter
	h         http.Header
	code      int
	buf       bytes.Buffer
	timedOut  bool
	streaming bool
}

// Flush sends the status, headers and what is buffered, and from then on
// passes every write straight through.
func (b *bufferedWriter) Flush() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.timedOut {
		return
	}
	if !b.streaming {
		b.streaming = true
		for k, v := range b.h {
			b.w.Header()[k] = v
		}
		if b.code == 0 {
			b.code = http.StatusOK
		}
		b.w.WriteHeader(b.code)
		b.w.Write(b.buf.Bytes())
		b.buf = bytes.Buffer{}
	}
	http.NewResponseController(b.w).Flush()
}

func (b *bufferedWriter) Header() http.Header { return b.h }

func (b *bufferedWriter) WriteHeader(code int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.code == 0 {
		b.code = code
	}
}

func (b *bufferedWriter) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.timedOut {
		return 0, http.ErrHandlerTimeout
	}
	if b.code == 0 {
		b.code = http.StatusOK
	}
	if b.streaming {
		return b.w.Write(p)
	}
	return b.buf.Write(p)
}
