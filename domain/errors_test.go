package domain

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestDomainImportsNeitherHTTPNorSQL: the business rules know nothing of
// transport or storage, directly or through anything they import.
func TestDomainImportsNeitherHTTPNorSQL(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").Output()
	if err != nil {
		t.Fatalf("go list -deps: %v", err)
	}
	deps := strings.Fields(string(out))
	if !slices.Contains(deps, "stockline/domain") {
		t.Fatalf("go list -deps did not list the package itself: %q", deps)
	}
	for _, banned := range []string{"net/http", "database/sql"} {
		if slices.Contains(deps, banned) {
			t.Errorf("stockline/domain depends on %s", banned)
		}
	}
}

// TestErrorCodesAreConstantsAndMessagesAreNotBranchedOn walks every
// production Go file in the module. An Error's code is always one of the
// constants in domain/errors.go, never a string literal at the point of
// use; and no code decides anything by reading an error's text (the
// message is for people; branch on the code).
func TestErrorCodesAreConstantsAndMessagesAreNotBranchedOn(t *testing.T) {
	root := ".."
	files := 0
	err := filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if n := d.Name(); path != root && (strings.HasPrefix(n, ".") || n == "testdata" || n == "node_modules") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") || strings.HasSuffix(path, "_templ.go") {
			return nil
		}
		fset := token.NewFileSet()
		f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		files++
		ast.Inspect(f, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.CompositeLit:
				if isErrorType(n.Type) {
					for _, el := range n.Elts {
						if kv, ok := el.(*ast.KeyValueExpr); ok && isIdent(kv.Key, "Code") && isStringLit(kv.Value) {
							t.Errorf("%s: an Error with a bare string code; add a constant to domain/errors.go", fset.Position(kv.Pos()))
						}
					}
				}
			case *ast.CallExpr:
				if isFunc(n.Fun, "Errorf") && isDomainCall(n.Fun) && len(n.Args) > 0 && isStringLit(n.Args[0]) {
					t.Errorf("%s: Errorf with a bare string code; add a constant to domain/errors.go", fset.Position(n.Pos()))
				}
				if isFunc(n.Fun, "Contains", "HasPrefix", "HasSuffix", "EqualFold", "Index") && len(n.Args) > 0 && readsErrorText(n.Args[0]) {
					t.Errorf("%s: branches on an error's text; branch on its code", fset.Position(n.Pos()))
				}
			case *ast.BinaryExpr:
				if (n.Op == token.EQL || n.Op == token.NEQ) && (readsErrorText(n.X) || readsErrorText(n.Y)) {
					t.Errorf("%s: compares an error's text; compare its code", fset.Position(n.Pos()))
				}
			}
			return true
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if files < 50 {
		t.Fatalf("only %d files checked; is the walk rooted at the module?", files)
	}
}

// isErrorType matches Error and domain.Error (and their pointers).
func isErrorType(e ast.Expr) bool {
	if s, ok := e.(*ast.StarExpr); ok {
		e = s.X
	}
	switch e := e.(type) {
	case *ast.Ident:
		return e.Name == "Error"
	case *ast.SelectorExpr:
		return e.Sel.Name == "Error" && isIdent(e.X, "domain")
	}
	return false
}

func isIdent(e ast.Expr, name string) bool {
	id, ok := e.(*ast.Ident)
	return ok && id.Name == name
}

func isStringLit(e ast.Expr) bool {
	lit, ok := e.(*ast.BasicLit)
	return ok && lit.Kind == token.STRING
}

// isFunc matches a call target named one of names, bare or qualified.
func isFunc(e ast.Expr, names ...string) bool {
	switch e := e.(type) {
	case *ast.Ident:
		return slices.Contains(names, e.Name)
	case *ast.SelectorExpr:
		return slices.Contains(names, e.Sel.Name)
	}
	return false
}

// isDomainCall is a call of domain.X, or of X inside package domain.
func isDomainCall(e ast.Expr) bool {
	switch e := e.(type) {
	case *ast.Ident:
		return true // bare Errorf: this package's
	case *ast.SelectorExpr:
		return isIdent(e.X, "domain")
	}
	return false
}

// readsErrorText matches ErrorMessage(x) and x.Error().
func readsErrorText(e ast.Expr) bool {
	c, ok := e.(*ast.CallExpr)
	if !ok {
		return false
	}
	if isFunc(c.Fun, "ErrorMessage") {
		return true
	}
	s, ok := c.Fun.(*ast.SelectorExpr)
	return ok && s.Sel.Name == "Error" && len(c.Args) == 0
}
