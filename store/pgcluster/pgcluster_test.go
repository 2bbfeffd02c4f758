package pgcluster

import (
	"database/sql"
	"os"
	"path/filepath"
	"testing"
)

// A cluster starts, is reused while running, stops by a relative path (as
// `make db-stop` passes .data/pg), and starts again on the same data.
func TestEnsureReuseAndStopByRelativePath(t *testing.T) {
	// Not t.TempDir: its parent is private, and the server runs as the
	// postgres user when the tests run as root.
	base, err := os.MkdirTemp("", "stockline-pgcluster-test-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(base) })
	if err := os.Chmod(base, 0o755); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(base, "pg")
	c, err := Ensure(dir)
	if err != nil {
		t.Fatalf("ensure: %v", err)
	}
	t.Cleanup(func() { c.Stop() })
	if err := EnsureDatabase(c.DSN("postgres"), "probe"); err != nil {
		t.Fatal(err)
	}
	again, err := Ensure(dir)
	if err != nil || again.Port != c.Port {
		t.Fatalf("a running cluster should be reused: port %d then %d (%v)", c.Port, again.Port, err)
	}

	wd, _ := os.Getwd()
	if err := os.Chdir(base); err != nil {
		t.Fatal(err)
	}
	err = Stop("pg")
	os.Chdir(wd)
	if err != nil {
		t.Fatalf("stop by relative path: %v", err)
	}
	if _, running := c.runningPort(); running {
		t.Fatal("cluster still running after Stop")
	}

	c2, err := Ensure(dir)
	if err != nil {
		t.Fatalf("restart: %v", err)
	}
	db, err := sql.Open("postgres", c2.DSN("probe"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Ping(); err != nil {
		t.Fatalf("the database created before the restart is gone: %v", err)
	}
}
