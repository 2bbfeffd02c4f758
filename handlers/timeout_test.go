package handlers

import (
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
)

// TestBufferedWriterKeepsSharedBytesInOrder: serveWithTimeout's writer
// holds copied writes and shared (uncopied) slices in the order written,
// sends them whole with a Content-Length where a body is allowed, and
// never keeps a shared slice after a time-out.
func TestBufferedWriterKeepsSharedBytesInOrder(t *testing.T) {
	shared1, shared2 := []byte(`{"sku":"A"}`), []byte(`{"sku":"B"}`)
	cases := []struct {
		name       string
		method     string
		code       int
		wantLength bool
	}{
		{"GET 200", http.MethodGet, http.StatusOK, true},
		{"GET 404", http.MethodGet, http.StatusNotFound, true},
		{"HEAD 200", http.MethodHead, http.StatusOK, false},
		{"GET 304", http.MethodGet, http.StatusNotModified, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			bw := &bufferedWriter{h: http.Header{}, w: rec}
			bw.WriteHeader(tc.code)
			bw.Write([]byte(`{"items":[`))
			if !bw.WriteShared(shared1) {
				t.Fatal("WriteShared refused before any time-out")
			}
			bw.Write([]byte(`,`))
			bw.WriteShared(shared2)
			bw.Write([]byte("]}\n"))
			// The shared slices are held, not copied.
			if len(bw.segs) < 4 || &bw.segs[1][0] != &shared1[0] || &bw.segs[3][0] != &shared2[0] {
				t.Fatalf("shared slices were copied or misplaced: %q", bw.segs)
			}
			bw.send(tc.method)
			want := `{"items":[{"sku":"A"},{"sku":"B"}]}` + "\n"
			if got := rec.Body.String(); got != want && tc.code != http.StatusNotModified { // a 304 carries no body
				t.Fatalf("body %q, want %q", got, want)
			}
			if rec.Code != tc.code {
				t.Fatalf("status %d, want %d", rec.Code, tc.code)
			}
			cl := rec.Header().Get("Content-Length")
			if tc.wantLength && cl != strconv.Itoa(len(want)) {
				t.Fatalf("Content-Length %q, want %d", cl, len(want))
			}
			if !tc.wantLength && cl != "" {
				t.Fatalf("Content-Length %q on %s %d", cl, tc.method, tc.code)
			}
		})
	}
	t.Run("after the time-out", func(t *testing.T) {
		bw := &bufferedWriter{h: http.Header{}, w: httptest.NewRecorder()}
		bw.timedOut = true
		if bw.WriteShared(shared1) || len(bw.segs) != 0 {
			t.Fatal("a timed-out answer kept a shared slice")
		}
	})
	t.Run("streaming passes through", func(t *testing.T) {
		rec := httptest.NewRecorder()
		bw := &bufferedWriter{h: http.Header{}, w: rec}
		bw.Write([]byte("a"))
		bw.WriteShared([]byte("b"))
		bw.Flush()
		bw.WriteShared([]byte("c"))
		if got := rec.Body.String(); got != "abc" || len(bw.segs) != 0 {
			t.Fatalf("streamed body %q, held %q", got, bw.segs)
		}
	})
}
