package main

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"stockline/domain"
)

// The alert webhook posts one JSON message per alert to a local server,
// and a non-2xx answer is a failure the alert worker retries.
func TestWebhookAlertPostsJSON(t *testing.T) {
	var mu sync.Mutex
	var got []map[string]any
	fail := true
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		if fail {
			fail = false
			http.Error(w, "busy", http.StatusServiceUnavailable)
			return
		}
		var m map[string]any
		if r.Header.Get("Content-Type") != "application/json" || json.NewDecoder(r.Body).Decode(&m) != nil {
			t.Errorf("bad alert request")
		}
		got = append(got, m)
	}))
	defer srv.Close()
	send := alertSender(Config{AlertWebhookURL: srv.URL})
	if send == nil {
		t.Fatal("no sender with a webhook configured")
	}
	if alertSender(Config{}) != nil {
		t.Fatal("a sender with nothing configured")
	}
	a := domain.ExceptionAlert{ID: 1, ExceptionID: 42, Kind: domain.KindCheckFailed, Severity: "critical", Location: "S01", Title: "Consistency check found 2 violation(s)"}
	if _, err := send(context.Background(), a); err == nil || !strings.Contains(err.Error(), "503") {
		t.Fatalf("a 503 must fail the send: %v", err)
	}
	via, err := send(context.Background(), a)
	if err != nil || via != "webhook" || len(got) != 1 {
		t.Fatalf("send: %q %v %d", via, err, len(got))
	}
	text, _ := got[0]["text"].(string)
	ex, _ := got[0]["exception"].(map[string]any)
	if !strings.Contains(text, "Consistency check failed at S01") || ex["path"] != "/exceptions/42" || ex["severity"] != "critical" {
		t.Fatalf("alert body: %v", got[0])
	}
}
