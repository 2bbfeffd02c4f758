package views

import (
	"go/parser"
	"go/token"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// stocklineImports returns the stockline/... packages the non-test Go
// files in dir import (generated *_templ.go files included), by file.
func stocklineImports(t *testing.T, dir string) map[string][]string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*.go"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no Go files in %s: %v", dir, err)
	}
	out := map[string][]string{}
	fset := token.NewFileSet()
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		ast, err := parser.ParseFile(fset, f, nil, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range ast.Imports {
			p, _ := strconv.Unquote(imp.Path.Value)
			if p == "stockline" || strings.HasPrefix(p, "stockline/") {
				out[f] = append(out[f], p)
			}
		}
	}
	return out
}

// TestViewsDependOnDomainOnly keeps the views on the domain's types: a
// view imports no stockline package but domain, and domain imports none,
// so `go list -deps ./views` never reaches stockline/store.
func TestViewsDependOnDomainOnly(t *testing.T) {
	for f, imps := range stocklineImports(t, ".") {
		for _, p := range imps {
			if p != "stockline/domain" {
				t.Errorf("%s imports %s; views may import only stockline/domain", f, p)
			}
		}
	}
	for f, imps := range stocklineImports(t, "../domain") {
		t.Errorf("%s imports %v; domain imports no other stockline package", f, imps)
	}
}
