package catalog

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect/pgdialect"
	"github.com/uptrace/bun/dialect/sqlitedialect"
	_ "modernc.org/sqlite" // registers the "sqlite" database/sql driver
)

// Catalog is a handle on the catalog database. It is safe for concurrent use.
type Catalog struct {
	log    *slog.Logger
	now    func() time.Time
	maxLog int
	drv    driver
	db     *bun.DB // writes (SQLite: the single writer connection)
	rdb    *bun.DB // reads (SQLite: a pool of read-only connections; PG: db)
	pool   *pgxpool.Pool
	// lock keys for PostgreSQL advisory locks, derived from the schema so
	// that catalogs in different schemas of one database do not contend.
	keyMigrate, keyApply, keyEvents int64
	closers                         []func() error
}

// Dialect returns "postgres" or "sqlite".
func (c *Catalog) Dialect() string { return c.drv.dialect() }

// Open opens the catalog at url and applies pending migrations. url is
// sqlite:///absolute/path/strata.db, sqlite://relative/path.db, or a
// postgres:// (postgresql://) connection URL.
func Open(ctx context.Context, rawURL string, opts Options) (*Catalog, error) {
	c := &Catalog{log: opts.Logger, now: opts.Now, maxLog: opts.MaxLogBytes}
	if c.log == nil {
		c.log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if c.now == nil {
		c.now = time.Now
	}
	if c.maxLog <= 0 {
		c.maxLog = 1 << 20
	}
	var err error
	switch {
	case strings.HasPrefix(rawURL, "sqlite://"):
		// The file lock covers opening (the switch to WAL needs an
		// exclusive lock) and migrating.
		var unlock func()
		unlock, err = c.openSQLite(ctx, strings.TrimPrefix(rawURL, "sqlite://"), opts)
		if unlock != nil {
			defer unlock()
		}
	case strings.HasPrefix(rawURL, "postgres://"), strings.HasPrefix(rawURL, "postgresql://"):
		err = c.openPostgres(ctx, rawURL, opts)
	default:
		return nil, fmt.Errorf("open catalog: %w: url must start with sqlite:// or postgres://", ErrInvalid)
	}
	if err != nil {
		c.Close()
		return nil, fmt.Errorf("open catalog: %w", translate(err))
	}
	if err := c.migrate(ctx); err != nil {
		c.Close()
		return nil, fmt.Errorf("open catalog: migrate: %w", translate(err))
	}
	return c, nil
}

// Close releases the catalog's connections.
func (c *Catalog) Close() error {
	var errs []error
	for i := len(c.closers) - 1; i >= 0; i-- {
		errs = append(errs, c.closers[i]())
	}
	c.closers = nil
	return errors.Join(errs...)
}

func (c *Catalog) openPostgres(ctx context.Context, rawURL string, opts Options) error {
	cfg, err := pgxpool.ParseConfig(rawURL)
	if err != nil {
		return fmt.Errorf("%w: postgres url: %v", ErrInvalid, err)
	}
	if opts.MaxConns > 0 {
		cfg.MaxConns = int32(opts.MaxConns)
	}
	// Queries are formatted by bun with inline literals; describing them
	// once per call (no server-side statement cache) is the cheapest mode.
	cfg.ConnConfig.DefaultQueryExecMode = pgx.QueryExecModeExec
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return err
	}
	c.pool = pool
	c.closers = append(c.closers, func() error { pool.Close(); return nil })
	sqldb := stdlib.OpenDBFromPool(pool)
	c.db = bun.NewDB(sqldb, pgdialect.New())
	c.rdb = c.db
	c.closers = append(c.closers, sqldb.Close)
	c.drv = &pgDriver{c: c}
	var schema string
	if err := c.db.QueryRowContext(ctx, "SELECT current_schema()").Scan(&schema); err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	c.keyMigrate, c.keyApply, c.keyEvents = lockKey(schema, "migrate"), lockKey(schema, "apply"), lockKey(schema, "events")
	var enc string
	if err := c.db.QueryRowContext(ctx, "SHOW server_encoding").Scan(&enc); err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	c.drv.(*pgDriver).packedLatest = enc == "UTF8" || enc == "SQL_ASCII"
	return nil
}

func lockKey(schema, what string) int64 {
	h := fnv.New64a()
	h.Write([]byte("strata/" + schema + "/" + what))
	return int64(h.Sum64())
}

var sqliteMagic = []byte("SQLite format 3\x00")

func (c *Catalog) openSQLite(ctx context.Context, path string, opts Options) (unlock func(), err error) {
	if path == "" || strings.ContainsAny(path, "?#") {
		return nil, fmt.Errorf("%w: sqlite url needs a file path without query", ErrInvalid)
	}
	if p, err := url.PathUnescape(path); err == nil {
		path = p
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("create data directory: %w", err)
	}
	unlock, err = lockPath(path + ".migrate-lock")
	if err != nil {
		return nil, err
	}
	return unlock, c.openSQLiteLocked(ctx, path, opts)
}

func (c *Catalog) openSQLiteLocked(ctx context.Context, path string, opts Options) error {
	if err := checkSQLiteFile(path); err != nil {
		return err
	}
	base := "file:" + path + "?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)&_pragma=foreign_keys(1)&_pragma=cache_size(-65536)&_pragma=temp_store(MEMORY)"
	wdb, err := sql.Open("sqlite", base+"&_txlock=immediate")
	if err != nil {
		return err
	}
	wdb.SetMaxOpenConns(1) // the single writer
	wdb.SetMaxIdleConns(1)
	wdb.SetConnMaxLifetime(0)
	c.closers = append(c.closers, wdb.Close)
	rdb, err := sql.Open("sqlite", base+"&_pragma=query_only(1)")
	if err != nil {
		return err
	}
	n := opts.MaxConns
	if n <= 0 {
		n = 4
	}
	rdb.SetMaxOpenConns(n)
	rdb.SetMaxIdleConns(n)
	c.closers = append(c.closers, rdb.Close)
	c.db = bun.NewDB(wdb, sqlitedialect.New())
	c.rdb = bun.NewDB(rdb, sqlitedialect.New())
	bulk := newBulkPool(path, 2)
	c.closers = append(c.closers, bulk.Close)
	c.drv = &sqliteDriver{c: c, path: path, bulk: bulk}
	// Reading the schema touches the first pages: a damaged file fails here.
	var n2 int
	if err := c.db.QueryRowContext(ctx, "SELECT count(*) FROM sqlite_master").Scan(&n2); err != nil {
		if errors.Is(translate(err), ErrCorrupt) {
			return fmt.Errorf("sqlite file %s: %w", path, translate(err))
		}
		return err
	}
	return nil
}

// checkSQLiteFile refuses an existing file that is not a SQLite database,
// rather than letting the driver treat it as empty or recreate it.
func checkSQLiteFile(path string) error {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return err
	}
	if st.IsDir() {
		return fmt.Errorf("%w: sqlite path %s is a directory", ErrInvalid, path)
	}
	if st.Size() == 0 {
		return nil
	}
	hdr := make([]byte, 100)
	if _, err := io.ReadFull(f, hdr); err != nil || !bytes.Equal(hdr[:16], sqliteMagic) {
		return fmt.Errorf("%w: %s is not a SQLite database (bad header); it was not modified", ErrCorrupt, path)
	}
	return nil
}

// txn is a write transaction. conn is the connection it runs on, for the
// drivers' native fast paths (COPY on PostgreSQL).
type txn struct {
	bun.Tx
	conn bun.Conn
}

// write runs fn in one write transaction and commits it; any error rolls
// everything back.
func (c *Catalog) write(ctx context.Context, fn func(tx *txn) error) error {
	conn, err := c.db.Conn(ctx)
	if err != nil {
		return translate(err)
	}
	defer conn.Close()
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return translate(err)
	}
	if err := fn(&txn{Tx: tx, conn: conn}); err != nil {
		_ = tx.Rollback()
		return translate(err)
	}
	return translate(tx.Commit())
}

// micros converts t to the stored form (microseconds since the epoch, UTC).
func micros(t time.Time) int64 { return t.UnixMicro() }

// fromMicros converts a stored timestamp back.
func fromMicros(us int64) time.Time { return time.UnixMicro(us).UTC() }

func fromMicrosPtr(us *int64) *time.Time {
	if us == nil {
		return nil
	}
	t := fromMicros(*us)
	return &t
}

func microsPtr(t *time.Time) *int64 {
	if t == nil {
		return nil
	}
	v := micros(*t)
	return &v
}

func (c *Catalog) nowOr(t time.Time) time.Time {
	if t.IsZero() {
		return c.now()
	}
	return t
}
