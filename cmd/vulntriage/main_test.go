package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// govulncheck -format json, cut down: one called finding (a trace that
// reaches a function) and one imported-only finding (no function).
const stream = `{"config":{"protocol_version":"v1.0.0"}}
{"osv":{"id":"GO-2026-0001","summary":"called one"}}
{"osv":{"id":"GO-2026-0002","summary":"imported only"}}
{"finding":{"osv":"GO-2026-0001","fixed_version":"v1.2.3","trace":[{"module":"example.com/m","version":"v1.0.0","package":"example.com/m/p","function":"F"}]}}
{"finding":{"osv":"GO-2026-0002","trace":[{"module":"example.com/n","version":"v1.0.0","package":"example.com/n/p"}]}}
`

func TestTriage(t *testing.T) {
	for _, tc := range []struct {
		name, triage string
		wantErr      bool
		wantOut      []string
	}{
		{"untriaged called finding fails", "", true, []string{"UNTRIAGED GO-2026-0001 example.com/m@v1.0.0 (fixed in: v1.2.3): called one"}},
		{"triaged passes and says why", "GO-2026-0001 not reachable: we never call F with user input\n", false,
			[]string{"triaged   GO-2026-0001", "-> not reachable", "1 called vulnerabilities, all triaged"}},
		{"stale triage line is reported", "GO-2026-0001 why\nGO-2026-9999 gone since\n", false, []string{"stale     GO-2026-9999"}},
		{"imported-only finding needs no triage", "GO-2026-0001 why\n", false, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "triage.txt")
			os.WriteFile(path, []byte("# comment\n"+tc.triage), 0o644)
			var out bytes.Buffer
			err := run(strings.NewReader(stream), &out, path)
			if (err != nil) != tc.wantErr {
				t.Fatalf("err %v, want error %v; output:\n%s", err, tc.wantErr, out.String())
			}
			for _, w := range tc.wantOut {
				if !strings.Contains(out.String(), w) {
					t.Fatalf("output lacks %q:\n%s", w, out.String())
				}
			}
			if strings.Contains(out.String(), "GO-2026-0002") {
				t.Fatalf("imported-only finding listed:\n%s", out.String())
			}
		})
	}
	if err := run(strings.NewReader(""), &bytes.Buffer{}, filepath.Join(t.TempDir(), "none")); err == nil {
		t.Fatal("a missing triage file passed")
	}
}
