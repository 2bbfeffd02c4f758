package handlers

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strconv"
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
	s.runners.run(func() { // a reused goroutine (workers.go)
		defer func() {
			if p := recover(); p != nil {
				panicked <- p
			}
			close(done)
		}()
		s.Echo.ServeHTTP(bw, r.WithContext(ctx))
	})
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
		bw.send(r.Method)
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
//
// Write copies, as io.Writer requires. WriteShared keeps the caller's
// slice instead: the cached availability answers are immutable and large
// (a 50-SKU batch is about 2 MB), and copying them into a growing buffer
// per request was most of the batch's allocation. The answer is held as
// segments, in order: shared slices and the writer's own copies.
type bufferedWriter struct {
	mu        sync.Mutex
	w         http.ResponseWriter
	h         http.Header
	code      int
	segs      [][]byte // the answer before buf, in order
	buf       bytes.Buffer
	timedOut  bool
	streaming bool
}

// WriteShared adds p to the answer without copying it: the caller
// promises never to modify p. It reports whether it could (false after a
// time-out).
func (b *bufferedWriter) WriteShared(p []byte) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.timedOut {
		return false
	}
	if b.code == 0 {
		b.code = http.StatusOK
	}
	if b.streaming {
		_, err := b.w.Write(p)
		return err == nil
	}
	if b.buf.Len() > 0 {
		b.segs = append(b.segs, b.buf.Bytes())
		b.buf = bytes.Buffer{}
	}
	b.segs = append(b.segs, p)
	return true
}

// body is the held answer's segments and their total length (b.mu held).
func (b *bufferedWriter) body() ([][]byte, int) {
	parts := b.segs
	if b.buf.Len() > 0 {
		parts = append(parts, b.buf.Bytes())
	}
	n := 0
	for _, p := range parts {
		n += len(p)
	}
	return parts, n
}

// send writes the held status, headers and body to the client (b.mu
// held). A body that may carry one gets its Content-Length, so the
// client reads it whole instead of in chunks.
func (b *bufferedWriter) send(method string) {
	for k, v := range b.h {
		b.w.Header()[k] = v
	}
	if b.code == 0 {
		b.code = http.StatusOK
	}
	parts, n := b.body()
	if n > 0 && method != http.MethodHead && b.code >= 200 && b.code != http.StatusNoContent && b.code != http.StatusNotModified &&
		b.w.Header().Get("Content-Length") == "" && b.w.Header().Get("Transfer-Encoding") == "" {
		b.w.Header().Set("Content-Length", strconv.Itoa(n))
	}
	b.w.WriteHeader(b.code)
	for _, p := range parts {
		if _, err := b.w.Write(p); err != nil {
			return
		}
	}
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
		parts, _ := b.body()
		for _, p := range parts {
			b.w.Write(p)
		}
		b.segs, b.buf = nil, bytes.Buffer{}
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
