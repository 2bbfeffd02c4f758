package fuzz

import (
	"bytes"
	"encoding/json"
	"mime/multipart"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"unicode/utf8"

	"stockline/handlers"
)

// The HTTP edge's parsers (handlers/edge.go): form decoding, the query
// string, the Idempotency-Key header, the sign-in ?next= and the webhook
// dead-letter escaping. Whatever the input, they never panic, refuse with
// a 4xx, and what they let through is text PostgreSQL can store.

func storableText(s string) bool { return utf8.ValidString(s) && !strings.ContainsRune(s, 0) }

func checkValues(t *testing.T, what string, vs url.Values) {
	t.Helper()
	for k, list := range vs {
		for _, v := range list {
			if !storableText(k) || !storableText(v) {
				t.Fatalf("%s let through %q=%q", what, k, v)
			}
		}
	}
}

func check4xx(t *testing.T, what string, err error) {
	t.Helper()
	if st := handlers.StatusOf(err); st < 400 || st >= 500 {
		t.Fatalf("%s refused with %d (%v), want a 4xx", what, st, err)
	}
}

func FuzzFormDecoding(f *testing.F) {
	f.Add("a=1&b=two", false)
	f.Add("note=a%00b", false)
	f.Add("q=%ff%fe&x", false)
	f.Add("_csrf=tok&qty=-1&qty=2.5&qty=9223372036854775808", false)
	f.Add("location=S01", true)
	f.Add("%zz=1;;&&==", false)
	f.Add("name=\xc3\x28", true)
	f.Fuzz(func(t *testing.T, body string, multi bool) {
		var req *http.Request
		if multi {
			var buf bytes.Buffer
			mw := multipart.NewWriter(&buf)
			vals, _ := url.ParseQuery(body)
			for k, vs := range vals {
				for _, v := range vs {
					mw.WriteField(k, v)
				}
			}
			fw, _ := mw.CreateFormFile("file", body)
			fw.Write([]byte(body))
			mw.Close()
			req, _ = http.NewRequest(http.MethodPost, "http://x/counts", &buf)
			req.Header.Set("Content-Type", mw.FormDataContentType())
		} else {
			req, _ = http.NewRequest(http.MethodPost, "http://x/orders/1/notes", strings.NewReader(body))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
		_, form, err := handlers.EdgeRequest(req)
		if err != nil {
			check4xx(t, "form", err)
			return
		}
		checkValues(t, "form", form)
	})
}

func FuzzQueryParams(f *testing.F) {
	f.Add("sku=FOO-10000&location=S01&channel=bopis")
	f.Add("q=%00")
	f.Add("q=%ff%fe&limit=2.5")
	f.Add("limit=-1&before=9223372036854775808&cursor=%27%3B--")
	f.Add("next=/%09/evil.example")
	f.Add("a=%zz&&;b")
	f.Fuzz(func(t *testing.T, raw string) {
		req, err := http.NewRequest(http.MethodGet, "http://x/inventory", nil)
		if err != nil {
			return
		}
		req.URL.RawQuery = raw
		query, _, err := handlers.EdgeRequest(req)
		if err != nil {
			check4xx(t, "query", err)
			return
		}
		checkValues(t, "query", query)
	})
}

func FuzzIdempotencyKey(f *testing.F) {
	f.Add("checkout-123")
	f.Add("")
	f.Add("   ")
	f.Add("a\x00b")
	f.Add("ключ")
	f.Add(strings.Repeat("k", 256))
	f.Fuzz(func(t *testing.T, key string) {
		req, _ := http.NewRequest(http.MethodPost, "http://x/api/v1/reservations", nil)
		req.Header["Idempotency-Key"] = []string{key}
		got, err := handlers.EdgeIdempotencyKey(req)
		if err != nil {
			check4xx(t, "key", err)
			return
		}
		if got != key || strings.TrimSpace(got) == "" || len(got) > 255 {
			t.Fatalf("accepted key %q as %q", key, got)
		}
		for i := 0; i < len(got); i++ {
			if got[i] < 0x20 || got[i] > 0x7e {
				t.Fatalf("accepted a key with byte %#x", got[i])
			}
		}
	})
}

func FuzzSafeNext(f *testing.F) {
	for _, s := range []string{"/orders/12", "//evil.example", "/\t/evil.example", "/%09/evil.example", "/\\evil.example",
		"/%2f%2fevil.example", "https://evil.example", "/a?b=//c#d", "/%252f/x", "\x00"} {
		f.Add(s)
	}
	base := &url.URL{Scheme: "https", Host: "stockline.invalid", Path: "/"}
	f.Fuzz(func(t *testing.T, p string) {
		got := handlers.EdgeSafeNext(p)
		if got == "" {
			return
		}
		if got != p {
			t.Fatalf("safeNext rewrote %q to %q", p, got)
		}
		// Read the way a browser would: tabs and newlines dropped,
		// backslashes as slashes, then every percent-decoding.
		forms := []string{got}
		b := strings.NewReplacer("\t", "", "\n", "", "\r", "", "\\", "/").Replace(got)
		for i := 0; i < 4; i++ {
			forms = append(forms, b)
			d, err := url.PathUnescape(b)
			if err != nil || d == b {
				break
			}
			b = d
		}
		for _, s := range forms {
			u, err := url.Parse(s)
			if err != nil {
				continue
			}
			if r := base.ResolveReference(u); r.Host != base.Host || r.Scheme != base.Scheme || strings.HasPrefix(s, "//") {
				t.Fatalf("safeNext kept %q, which a browser can read as %q", p, r)
			}
		}
	})
}

func FuzzCleanPayload(f *testing.F) {
	f.Add([]byte(`{"email":"a\u0000b"}`))
	f.Add([]byte("{\"email\":\"a\x00b\"}"))
	f.Add([]byte(`{"x":"\\u0000"}`))
	f.Add([]byte("{\"x\":\"\xe9\"}"))
	f.Add([]byte(`plain`))
	f.Fuzz(func(t *testing.T, in []byte) {
		out, changed := handlers.EdgeCleanPayload(in)
		if !storableText(string(out)) {
			t.Fatalf("cleaned payload is not storable: %q", out)
		}
		if !changed && !bytes.Equal(out, in) {
			t.Fatal("unchanged payload differs")
		}
		if again, ch := handlers.EdgeCleanPayload(out); ch || !bytes.Equal(again, out) {
			t.Fatalf("cleaning is not stable: %q -> %q", out, again)
		}
		if json.Valid(in) && !json.Valid(out) {
			t.Fatalf("valid JSON %q became invalid %q", in, out)
		}
		var v any
		if json.Unmarshal(out, &v) == nil && !jsonStorable(v) {
			t.Fatalf("cleaned JSON still decodes to a NUL: %q", out)
		}
	})
}

// jsonStorable reports whether every string (and key) in a decoded JSON
// value is storable text.
func jsonStorable(v any) bool {
	switch x := v.(type) {
	case string:
		return storableText(x)
	case []any:
		for _, e := range x {
			if !jsonStorable(e) {
				return false
			}
		}
	case map[string]any:
		for k, e := range x {
			if !storableText(k) || !jsonStorable(e) {
				return false
			}
		}
	}
	return true
}
