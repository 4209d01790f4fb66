// Package pgtest finds a PostgreSQL server for tests and gives each test its
// own schema.
//
// The server is, in order: the one at STRATA_TEST_POSTGRES_URL; the local
// one at 127.0.0.1:5432 (user postgres, database test or postgres, trust
// auth); or a throwaway server created with initdb/pg_ctl from
// /usr/lib/postgresql/*/bin in a temporary directory on a free port (run as
// the postgres OS user when the tests run as root). When none is available
// the test is skipped, unless CI is set, in which case it fails.
//
// A test binary that may start a throwaway server should call Main from its
// TestMain so the server is stopped and its directory removed at the end.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// EnvURL names the environment variable that points the tests at a server.
const EnvURL = "STRATA_TEST_POSTGRES_URL"

// EnvThrowaway, when set, skips the local server and starts a throwaway one
// (to test that path).
const EnvThrowaway = "STRATA_TEST_POSTGRES_THROWAWAY"

// server is the process-wide discovery result. Discovery runs once per test
// binary: this is the one piece of package state, and it only caches.
var server struct {
	once sync.Once
	url  string
	err  error
	stop func()
}

// Main runs the tests and then stops a throwaway server, if one was started.
// Use it as: func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }.
func Main(m *testing.M) int {
	code := m.Run()
	if server.stop != nil {
		server.stop()
	}
	return code
}

// ServerURL returns the URL of a server (its maintenance database), or skips
// or fails tb as described in the package comment.
func ServerURL(tb testing.TB) string {
	tb.Helper()
	server.once.Do(func() { server.url, server.stop, server.err = discover() })
	if server.err != nil {
		if os.Getenv("CI") != "" {
			tb.Fatalf("no PostgreSQL for tests (CI is set, so this fails): %v", server.err)
		}
		tb.Skipf("no PostgreSQL for tests (set %s, run one on 127.0.0.1:5432, or install postgresql): %v", EnvURL, server.err)
	}
	return server.url
}

// SchemaURL creates a fresh schema on the test server and returns a URL
// whose connections use it (search_path). The schema is dropped when tb ends.
func SchemaURL(tb testing.TB) string {
	tb.Helper()
	base := ServerURL(tb)
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	schema := "t_" + hex.EncodeToString(b)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		tb.Fatalf("connect to test postgres: %v", err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		tb.Fatalf("create schema %s: %v", schema, err)
	}
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, base)
		if err != nil {
			tb.Errorf("drop schema %s: %v", schema, err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			tb.Errorf("drop schema %s: %v", schema, err)
		}
	})
	return WithSearchPath(base, schema)
}

// WithSearchPath returns rawURL with its connections' search_path set.
func WithSearchPath(rawURL, schema string) string {
	u, err := url.Parse(rawURL)
	if err != nil {
		return rawURL
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

func discover() (string, func(), error) {
	if u := os.Getenv(EnvURL); u != "" {
		if err := ping(u); err != nil {
			return "", nil, fmt.Errorf("%s=%s: %w", EnvURL, u, err)
		}
		return u, nil, nil
	}
	var local error
	if os.Getenv(EnvThrowaway) == "" {
		for _, db := range []string{"test", "postgres"} {
			u := "postgres://postgres@127.0.0.1:5432/" + db + "?sslmode=disable"
			if local = ping(u); local == nil {
				return u, nil, nil
			}
		}
	}
	u, stop, err := throwaway()
	if err != nil && local != nil {
		err = fmt.Errorf("127.0.0.1:5432: %v; throwaway server: %w", local, err)
	}
	return u, stop, err
}

func ping(u string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, u)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	return conn.Ping(ctx)
}

// throwaway starts a private server with initdb and pg_ctl.
func throwaway() (string, func(), error) {
	bins, _ := filepath.Glob("/usr/lib/postgresql/*/bin/initdb")
	if len(bins) == 0 {
		if p, err := exec.LookPath("initdb"); err == nil {
			bins = []string{p}
		}
	}
	if len(bins) == 0 {
		return "", nil, fmt.Errorf("no server at 127.0.0.1:5432 and no initdb installed")
	}
	sort.Slice(bins, func(i, j int) bool { return version(bins[i]) < version(bins[j]) })
	bin := filepath.Dir(bins[len(bins)-1])
	dir, err := os.MkdirTemp("", "strata-pgtest-")
	if err != nil {
		return "", nil, err
	}
	var cred *syscall.Credential
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			os.RemoveAll(dir)
			return "", nil, fmt.Errorf("running as root needs a postgres OS user: %w", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
		if err := os.Chown(dir, uid, gid); err != nil {
			os.RemoveAll(dir)
			return "", nil, err
		}
	}
	run := func(name string, args ...string) error {
		cmd := exec.Command(filepath.Join(bin, name), args...)
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
		out, err := cmd.CombinedOutput()
		if err != nil {
			return fmt.Errorf("%s: %v: %s", name, err, out)
		}
		return nil
	}
	data := filepath.Join(dir, "data")
	if err := run("initdb", "--no-sync", "-A", "trust", "-U", "postgres", "-D", data); err != nil {
		os.RemoveAll(dir)
		return "", nil, err
	}
	port, err := freePort()
	if err != nil {
		os.RemoveAll(dir)
		return "", nil, err
	}
	opts := fmt.Sprintf("-p %d -k %s -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200", port, dir)
	if err := run("pg_ctl", "-D", data, "-o", opts, "-l", filepath.Join(dir, "log"), "-w", "-t", "60", "start"); err != nil {
		os.RemoveAll(dir)
		return "", nil, err
	}
	stop := func() {
		_ = run("pg_ctl", "-D", data, "-m", "immediate", "-w", "stop")
		os.RemoveAll(dir)
	}
	u := fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", port)
	if err := ping(u); err != nil {
		stop()
		return "", nil, err
	}
	return u, stop, nil
}

func version(initdb string) int {
	v, _ := strconv.Atoi(filepath.Base(filepath.Dir(filepath.Dir(initdb))))
	return v
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
