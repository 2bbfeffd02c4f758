package handlers_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/PuerkitoBio/goquery"

	"stockline/domain"
)

// TestNavigationAndHomePerRole pins what each role sees: where sign-in
// lands it (its work queue) and the top navigation, link by link in
// order. The navigation and the homes are derived from the route table,
// so this is what changing a row does to the product.
func TestNavigationAndHomePerRole(t *testing.T) {
	app := newApp(t)
	want := map[domain.Role]struct {
		home string
		nav  []string
	}{
		domain.RoleAssociate: {"/pickups", []string{
			"Pickups /pickups", "Returns /returns", "Exceptions /exceptions", "Transfers /transfers", "Inventory /inventory", "Locations /locations",
			"Reservations /reservations", "Counts /counts", "My store /dashboards/store"}},
		domain.RoleSupport: {"/orders", []string{
			"Orders /orders", "Exceptions /exceptions", "Inventory /inventory", "Locations /locations",
			"Reservations /reservations", "Fulfilment /dashboards/fulfilment", "Customer messages /notifications"}},
		domain.RoleManager: {"/exceptions", []string{
			"Pickups /pickups", "Orders /orders", "Returns /returns", "Exceptions /exceptions", "Transfers /transfers", "Approvals /transfers/approvals", "Inventory /inventory", "Locations /locations",
			"Reservations /reservations", "Reconciliation /reconciliation", "Operations /dashboards/operations", "My store /dashboards/store", "Fulfilment /dashboards/fulfilment"}},
		domain.RoleInventoryLead: {"/exceptions", []string{
			"Orders /orders", "Returns /returns", "Exceptions /exceptions", "Transfers /transfers", "Inventory /inventory", "Locations /locations",
			"Reservations /reservations", "Channel policies /policies", "Counts /counts", "Reconciliation /reconciliation", "Connectors /connectors", "Accuracy /dashboards/inventory-accuracy"}},
		domain.RoleAdmin: {"/admin/users", []string{
			"Pickups /pickups", "Orders /orders", "Returns /returns", "Exceptions /exceptions", "Transfers /transfers", "Approvals /transfers/approvals", "Inventory /inventory", "Locations /locations",
			"Reservations /reservations", "Channel policies /policies", "Counts /counts", "Reconciliation /reconciliation", "Connectors /connectors",
			"Operations /dashboards/operations", "My store /dashboards/store", "Accuracy /dashboards/inventory-accuracy", "Fulfilment /dashboards/fulfilment",
			"Users /admin/users", "API tokens /admin/tokens", "Audit /admin/audit", "Customer messages /notifications"}},
	}
	if len(want) != len(domain.Roles) {
		t.Fatalf("the test covers %d of %d roles", len(want), len(domain.Roles))
	}
	for _, role := range domain.Roles {
		w := want[role]
		b := app.login(role)
		res, _ := b.get("/")
		if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != w.home {
			t.Errorf("%s: / goes to %d %q, want %q", role, res.StatusCode, res.Header.Get("Location"), w.home)
		}
		res, body := b.get(w.home)
		if res.StatusCode != http.StatusOK {
			t.Errorf("%s: home %s is %d", role, w.home, res.StatusCode)
			continue
		}
		doc, err := goquery.NewDocumentFromReader(strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		doc.Find(`nav ul.navlinks a`).Each(func(_ int, a *goquery.Selection) {
			href, _ := a.Attr("href")
			got = append(got, strings.TrimSpace(a.Text())+" "+href)
		})
		if !slices.Equal(got, w.nav) {
			t.Errorf("%s: navigation\n got %q\nwant %q", role, got, w.nav)
		}
		if cur := doc.Find(`nav ul.navlinks a[aria-current="page"]`); cur.Length() != 1 || cur.AttrOr("href", "") != w.home {
			t.Errorf("%s: the home's link is not the one marked current (%d marked)", role, cur.Length())
		}
	}
}

// TestNoInitTimeWiring keeps the wiring explicit: routes, navigation and
// role homes come from the route table, workers from the list in
// cmd/stockline/main.go, and the feed order sink from store.Open. No
// production file may register anything from an init function.
func TestNoInitTimeWiring(t *testing.T) {
	root := ".."
	checked := 0
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
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		checked++
		for _, decl := range f.Decls {
			if fn, ok := decl.(*ast.FuncDecl); ok && fn.Recv == nil && fn.Name.Name == "init" {
				t.Errorf("%s declares func init(); wire it explicitly instead (route table, worker list, constructor)", path)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if checked < 50 {
		t.Fatalf("only %d Go files checked; is the walk rooted at the module?", checked)
	}
}
