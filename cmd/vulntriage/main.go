// Command vulntriage reads `govulncheck -format json` on stdin and fails
// when the code calls a vulnerable symbol that is not triaged in the file
// named by -triage (one "GO-YYYY-NNNN reason" a line; # starts a comment).
// Triaged findings are listed with their reason, so the log shows every
// finding on each run; a triage line whose finding is gone is reported as
// stale (fix: delete the line). `make test` runs it (see `make vulncheck`).
package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
)

type message struct {
	OSV *struct {
		ID      string `json:"id"`
		Summary string `json:"summary"`
	} `json:"osv"`
	Finding *struct {
		OSV          string `json:"osv"`
		FixedVersion string `json:"fixed_version"`
		Trace        []struct {
			Module   string `json:"module"`
			Version  string `json:"version"`
			Package  string `json:"package"`
			Function string `json:"function"`
		} `json:"trace"`
	} `json:"finding"`
}

type finding struct {
	id, summary, module, version, fixed string
}

func main() {
	triagePath := flag.String("triage", "vulncheck-triage.txt", "triaged findings: one \"GO-ID reason\" a line")
	flag.Parse()
	if err := run(os.Stdin, os.Stdout, *triagePath); err != nil {
		fmt.Fprintln(os.Stderr, "vulncheck:", err)
		os.Exit(1)
	}
}

func run(in io.Reader, out io.Writer, triagePath string) error {
	triaged, err := readTriage(triagePath)
	if err != nil {
		return err
	}
	called, summaries, err := readFindings(in)
	if err != nil {
		return err
	}
	ids := make([]string, 0, len(called))
	for id := range called {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	var untriaged []string
	for _, id := range ids {
		f := called[id]
		fixed := f.fixed
		if fixed == "" {
			fixed = "no fix released"
		}
		line := fmt.Sprintf("%s %s@%s (fixed in: %s): %s", id, f.module, f.version, fixed, summaries[id])
		if reason, ok := triaged[id]; ok {
			fmt.Fprintf(out, "triaged   %s\n          -> %s\n", line, reason)
			continue
		}
		fmt.Fprintf(out, "UNTRIAGED %s\n", line)
		untriaged = append(untriaged, id)
	}
	for id := range triaged {
		if _, ok := called[id]; !ok {
			fmt.Fprintf(out, "stale     %s is triaged in %s but no longer found: delete the line\n", id, triagePath)
		}
	}
	if len(untriaged) > 0 {
		return fmt.Errorf("%d called vulnerabilities not triaged (%s): upgrade the module, or explain in %s and the README why it is unreachable",
			len(untriaged), strings.Join(untriaged, ", "), triagePath)
	}
	fmt.Fprintf(out, "vulncheck: %d called vulnerabilities, all triaged\n", len(called))
	return nil
}

// readFindings keeps the findings whose trace reaches a function (the code
// calls the vulnerable symbol); import- and module-level ones are not
// reachable and are left out, as govulncheck's own text output does.
func readFindings(in io.Reader) (map[string]finding, map[string]string, error) {
	called := map[string]finding{}
	summaries := map[string]string{}
	dec := json.NewDecoder(bufio.NewReader(in))
	n := 0
	for {
		var m message
		if err := dec.Decode(&m); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			return nil, nil, fmt.Errorf("reading govulncheck output: %w", err)
		}
		n++
		if m.OSV != nil {
			summaries[m.OSV.ID] = m.OSV.Summary
		}
		if f := m.Finding; f != nil && len(f.Trace) > 0 && f.Trace[0].Function != "" {
			called[f.OSV] = finding{id: f.OSV, module: f.Trace[0].Module, version: f.Trace[0].Version, fixed: f.FixedVersion}
		}
	}
	if n == 0 {
		return nil, nil, errors.New("govulncheck printed nothing: it did not run")
	}
	return called, summaries, nil
}

func readTriage(path string) (map[string]string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	for i, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		id, reason, _ := strings.Cut(line, " ")
		if !strings.HasPrefix(id, "GO-") || strings.TrimSpace(reason) == "" {
			return nil, fmt.Errorf("%s:%d: want \"GO-YYYY-NNNN reason\"", path, i+1)
		}
		out[id] = strings.TrimSpace(reason)
	}
	return out, nil
}
