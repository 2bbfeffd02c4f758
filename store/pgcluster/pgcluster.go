// Package pgcluster runs a private PostgreSQL cluster from the server
// binaries installed on the machine (initdb, pg_ctl). `make run` keeps one
// under .data/ and reuses it; tests start throwaway ones. It is the one way
// Stockline starts PostgreSQL.
package pgcluster

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// InstallHint is printed when the server binaries are missing.
const InstallHint = "PostgreSQL server binaries (initdb, pg_ctl) were not found on PATH or under /usr/lib/postgresql/*/bin.\n" +
	"Install them with:\n\n    sudo apt-get update && sudo apt-get install -y postgresql\n"

// SuperUser is the database role initdb creates in a private cluster.
const SuperUser = "stockline"

// Cluster is a private PostgreSQL cluster in Dir, listening on 127.0.0.1:Port.
type Cluster struct {
	Dir    string // the data directory
	Port   int
	binDir string
	cred   *syscall.Credential // who runs initdb/pg_ctl; nil means the current user
}

// FindBinDir returns the directory holding initdb and pg_ctl: PATH first,
// then the newest /usr/lib/postgresql/*/bin.
func FindBinDir() (string, error) {
	if p, err := exec.LookPath("initdb"); err == nil {
		if _, err := exec.LookPath("pg_ctl"); err == nil {
			if real, err := filepath.EvalSymlinks(p); err == nil {
				return filepath.Dir(real), nil
			}
			return filepath.Dir(p), nil
		}
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool { return versionOf(dirs[i]) > versionOf(dirs[j]) })
	for _, d := range dirs {
		if fileExists(filepath.Join(d, "initdb")) && fileExists(filepath.Join(d, "pg_ctl")) {
			return d, nil
		}
	}
	return "", errors.New(InstallHint)
}

func versionOf(binDir string) int {
	v, _ := strconv.Atoi(filepath.Base(filepath.Dir(binDir)))
	return v
}

// Ensure returns a running cluster in dir: it runs initdb when dir holds no
// cluster yet, starts the server when it is not running (on a free port),
// and otherwise reuses the running one. When run as root the server runs as
// the unprivileged "postgres" user, because initdb refuses root.
func Ensure(dir string) (*Cluster, error) {
	binDir, err := FindBinDir()
	if err != nil {
		return nil, err
	}
	dir, err = filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	c := &Cluster{Dir: dir, binDir: binDir}
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			return nil, fmt.Errorf("pgcluster: running as root needs an unprivileged \"postgres\" user to own the cluster (it comes with the postgresql package): %w", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		c.cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
	}
	if !fileExists(filepath.Join(dir, "PG_VERSION")) {
		if err := c.initdb(); err != nil {
			return nil, err
		}
	}
	if port, ok := c.runningPort(); ok {
		c.Port = port
		return c, nil
	}
	return c, c.start()
}

func (c *Cluster) initdb() error {
	// The parent must be traversable by the server's user; the cluster
	// directory itself is private to it.
	if err := os.MkdirAll(filepath.Dir(c.Dir), 0o755); err != nil {
		return fmt.Errorf("pgcluster: %w", err)
	}
	if err := os.MkdirAll(c.Dir, 0o700); err != nil {
		return fmt.Errorf("pgcluster: %w", err)
	}
	if c.cred != nil {
		if err := os.Chown(c.Dir, int(c.cred.Uid), int(c.cred.Gid)); err != nil {
			return fmt.Errorf("pgcluster: %w", err)
		}
		if err := c.run("test", "-w", c.Dir); err != nil {
			return fmt.Errorf("pgcluster: the postgres user cannot reach %s (a parent folder is private); move the checkout or set DATABASE_URL: %w", c.Dir, err)
		}
	}
	return c.run(filepath.Join(c.binDir, "initdb"), "-D", c.Dir, "-U", SuperUser, "--auth=trust", "-E", "UTF8", "--locale=C", "--no-sync")
}

func (c *Cluster) start() error {
	port, err := freePort()
	if err != nil {
		return err
	}
	return c.startOn(port)
}

func (c *Cluster) startOn(port int) error {
	// shared_buffers holds a 4M-position retailer's hot set (positions and
	// their keys, the ledger's position index): at 256MB the reservation
	// path read index pages from the OS and evicted dirty buffers itself
	// (auto_explain, stockbench's spread run). max_wal_size keeps a bulk
	// load from forcing a checkpoint every few seconds.
	opts := fmt.Sprintf("-p %d -c listen_addresses=127.0.0.1 -c unix_socket_directories='%s' -c max_connections=200 -c shared_buffers=1GB -c max_wal_size=2GB -c fsync=on", port, c.Dir)
	logFile := filepath.Join(c.Dir, "server.log")
	if err := c.run(filepath.Join(c.binDir, "pg_ctl"), "-D", c.Dir, "-l", logFile, "-o", opts, "-w", "-t", "60", "start"); err != nil {
		return fmt.Errorf("pgcluster: start failed (see %s): %w", logFile, err)
	}
	c.Port = port
	return nil
}

// Stop stops the server if it is running, waiting for it to finish.
func (c *Cluster) Stop() error {
	if _, ok := c.runningPort(); !ok {
		return nil
	}
	return c.run(filepath.Join(c.binDir, "pg_ctl"), "-D", c.Dir, "-m", "fast", "-w", "stop")
}

// Restart stops the server (fast shutdown: open sessions are terminated,
// as in a real restart or failover), keeps it down for down, and starts it
// again on the same port. The fault tests and `make soak -faults` use it.
func (c *Cluster) Restart(down time.Duration) error {
	if err := c.Stop(); err != nil {
		return err
	}
	time.Sleep(down)
	return c.startOn(c.Port)
}

// Stop stops the cluster in dir, if there is one and it is running.
func Stop(dir string) error {
	binDir, err := FindBinDir()
	if err != nil {
		return err
	}
	if dir, err = filepath.Abs(dir); err != nil { // pg_ctl runs from /, so a relative path would miss
		return err
	}
	c := &Cluster{Dir: dir, binDir: binDir}
	if os.Geteuid() == 0 {
		if u, err := user.Lookup("postgres"); err == nil {
			uid, _ := strconv.Atoi(u.Uid)
			gid, _ := strconv.Atoi(u.Gid)
			c.cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
		}
	}
	return c.Stop()
}

// DSN returns a connection string for database db as the superuser.
func (c *Cluster) DSN(db string) string {
	return fmt.Sprintf("postgres://%s@127.0.0.1:%d/%s?sslmode=disable", SuperUser, c.Port, db)
}

// runningPort reads postmaster.pid: the server is running when the file
// exists and its pid is alive; line 4 holds the port.
func (c *Cluster) runningPort() (int, bool) {
	f, err := os.Open(filepath.Join(c.Dir, "postmaster.pid"))
	if err != nil {
		return 0, false
	}
	defer f.Close()
	var lines []string
	s := bufio.NewScanner(f)
	for s.Scan() {
		lines = append(lines, s.Text())
	}
	if len(lines) < 4 {
		return 0, false
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(lines[0]))
	port, _ := strconv.Atoi(strings.TrimSpace(lines[3]))
	if pid <= 0 || port <= 0 || syscall.Kill(pid, 0) != nil {
		return 0, false
	}
	conn, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), time.Second)
	if err != nil {
		return 0, false
	}
	conn.Close()
	return port, true
}

func (c *Cluster) run(name string, args ...string) error {
	cmd := exec.Command(name, args...)
	cmd.Dir = "/"
	cmd.Env = append(os.Environ(), "LC_ALL=C")
	if c.cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: c.cred}
	}
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s %s: %w\n%s", filepath.Base(name), strings.Join(args, " "), err, out)
	}
	return nil
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("pgcluster: no free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}
