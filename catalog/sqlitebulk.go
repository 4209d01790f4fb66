package catalog

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"unsafe"

	"modernc.org/libc"
	sqlite3 "modernc.org/sqlite/lib"
)

// bulkReader is a read-only SQLite connection opened without SQLite's
// per-connection mutex, for the bulk reads that stream millions of rows.
//
// database/sql's driver opens every connection with SQLITE_OPEN_FULLMUTEX and
// asks each column's type before reading it, so one row of ten columns costs
// some thirty mutex round trips through the transpiled pthread emulation:
// three quarters of the time of streaming a million rows. A connection
// opened with SQLITE_OPEN_NOMUTEX and used by one goroutine only (SQLite's
// "multi-thread" mode) skips them, and the columns are read by their known
// types. A bulkReader is not safe for concurrent use: a bulkPool lends it
// to one stream at a time.
type bulkReader struct {
	tls   *libc.TLS
	db    uintptr
	stmts map[string]*bulkStmt // prepared once per connection
}

// openBulkReader opens path read-only. The database must already exist (the
// catalog's writer connection created it and keeps its WAL files).
func openBulkReader(path string) (*bulkReader, error) {
	r := &bulkReader{tls: libc.NewTLS()}
	name, err := libc.CString(path)
	if err != nil {
		r.tls.Close()
		return nil, err
	}
	defer libc.Xfree(r.tls, name)
	pdb := r.tls.Alloc(int(unsafe.Sizeof(uintptr(0))))
	defer r.tls.Free(int(unsafe.Sizeof(uintptr(0))))
	*(*uintptr)(cmem(pdb)) = 0
	rc := sqlite3.Xsqlite3_open_v2(r.tls, name, pdb, sqlite3.SQLITE_OPEN_READONLY|sqlite3.SQLITE_OPEN_NOMUTEX, 0)
	r.db = *(*uintptr)(cmem(pdb))
	if rc != sqlite3.SQLITE_OK {
		err := r.errorf(rc, "open %s", path)
		r.Close()
		return nil, err
	}
	// Wait out a writer's checkpoint like the pooled connections do.
	if err := r.exec("PRAGMA busy_timeout = 10000; PRAGMA query_only = 1"); err != nil {
		r.Close()
		return nil, err
	}
	return r, nil
}

// Close releases the connection.
func (r *bulkReader) Close() {
	for _, st := range r.stmts {
		st.close()
	}
	r.stmts = nil
	if r.db != 0 {
		sqlite3.Xsqlite3_close_v2(r.tls, r.db)
		r.db = 0
	}
	r.tls.Close()
}

// errorf is the error for result code rc, in the catalog's vocabulary
// (see translate): corruption and lock errors wrap their sentinels.
func (r *bulkReader) errorf(rc int32, format string, args ...any) error {
	msg := libc.GoString(sqlite3.Xsqlite3_errstr(r.tls, rc))
	if r.db != 0 {
		if m := libc.GoString(sqlite3.Xsqlite3_errmsg(r.tls, r.db)); m != "" {
			msg = m
		}
	}
	e := &dbError{msg: fmt.Sprintf("%s: %s (%d)", fmt.Sprintf(format, args...), msg, rc)}
	switch rc & 0xff {
	case sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB:
		e.sentinel = ErrCorrupt
	case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED:
		e.sentinel = ErrConflict
	}
	return e
}

func (r *bulkReader) exec(sql string) error {
	s, err := libc.CString(sql)
	if err != nil {
		return err
	}
	defer libc.Xfree(r.tls, s)
	if rc := sqlite3.Xsqlite3_exec(r.tls, r.db, s, 0, 0, 0); rc != sqlite3.SQLITE_OK {
		return r.errorf(rc, "%s", sql)
	}
	return nil
}

// cmem is C memory (allocated by libc, outside the Go heap) at address p.
func cmem(p uintptr) unsafe.Pointer { return unsafe.Add(unsafe.Pointer(nil), p) }

// bulkStmt is one prepared statement of a bulkReader.
type bulkStmt struct {
	r     *bulkReader
	p     uintptr
	texts []uintptr // C copies of bound text, freed by reset and close
}

// stmt is the connection's prepared statement for sql, prepared on first use.
func (r *bulkReader) stmt(sql string) (*bulkStmt, error) {
	if st, ok := r.stmts[sql]; ok {
		return st, nil
	}
	st, err := r.prepare(sql)
	if err != nil {
		return nil, err
	}
	if r.stmts == nil {
		r.stmts = map[string]*bulkStmt{}
	}
	r.stmts[sql] = st
	return st, nil
}

func (r *bulkReader) prepare(sql string) (*bulkStmt, error) {
	s, err := libc.CString(sql)
	if err != nil {
		return nil, err
	}
	defer libc.Xfree(r.tls, s)
	pp := r.tls.Alloc(int(unsafe.Sizeof(uintptr(0))))
	defer r.tls.Free(int(unsafe.Sizeof(uintptr(0))))
	*(*uintptr)(cmem(pp)) = 0
	if rc := sqlite3.Xsqlite3_prepare_v2(r.tls, r.db, s, -1, pp, 0); rc != sqlite3.SQLITE_OK {
		return nil, r.errorf(rc, "prepare")
	}
	return &bulkStmt{r: r, p: *(*uintptr)(cmem(pp))}, nil
}

func (s *bulkStmt) bindText(i int, v string) error {
	p, err := libc.CString(v)
	if err != nil {
		return err
	}
	s.texts = append(s.texts, p)
	if rc := sqlite3.Xsqlite3_bind_text(s.r.tls, s.p, int32(i), p, int32(len(v)), 0); rc != sqlite3.SQLITE_OK {
		return s.r.errorf(rc, "bind parameter %d", i)
	}
	return nil
}

// step advances to the next row: true on a row, false at the end.
func (s *bulkStmt) step() (bool, error) {
	switch rc := sqlite3.Xsqlite3_step(s.r.tls, s.p); rc {
	case sqlite3.SQLITE_ROW:
		return true, nil
	case sqlite3.SQLITE_DONE:
		return false, nil
	default:
		return false, s.r.errorf(rc, "step")
	}
}

func (s *bulkStmt) int64(i int) int64 {
	return sqlite3.Xsqlite3_column_int64(s.r.tls, s.p, int32(i))
}

// text reads column i as text; prev is returned unchanged when the value
// equals it, so repeated values (code versions, locations) share one string.
func (s *bulkStmt) text(i int, prev string) string {
	p := sqlite3.Xsqlite3_column_text(s.r.tls, s.p, int32(i))
	n := int(sqlite3.Xsqlite3_column_bytes(s.r.tls, s.p, int32(i)))
	if p == 0 || n == 0 {
		return ""
	}
	b := unsafe.Slice((*byte)(cmem(p)), n)
	if string(b) == prev {
		return prev
	}
	return string(b)
}

// reset ends the statement's current execution (and its read transaction)
// and frees its bound values, ready for the next bind.
func (s *bulkStmt) reset() {
	sqlite3.Xsqlite3_reset(s.r.tls, s.p)
	sqlite3.Xsqlite3_clear_bindings(s.r.tls, s.p)
	for _, p := range s.texts {
		libc.Xfree(s.r.tls, p)
	}
	s.texts = s.texts[:0]
}

func (s *bulkStmt) close() {
	sqlite3.Xsqlite3_finalize(s.r.tls, s.p)
	for _, p := range s.texts {
		libc.Xfree(s.r.tls, p)
	}
	s.texts = nil
}

var errBulkClosed = errors.New("catalog is closed")

// bulkPool keeps a few idle bulkReaders, so that streaming the latest
// materializations of thousands of small assets in a row does not open a
// connection (and parse the schema) for each.
type bulkPool struct {
	path string
	max  int

	mu     sync.Mutex
	idle   []*bulkReader
	closed bool
}

func newBulkPool(path string, maxIdle int) *bulkPool {
	return &bulkPool{path: path, max: maxIdle}
}

func (p *bulkPool) get() (*bulkReader, error) {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil, errBulkClosed
	}
	if n := len(p.idle); n > 0 {
		r := p.idle[n-1]
		p.idle = p.idle[:n-1]
		p.mu.Unlock()
		return r, nil
	}
	p.mu.Unlock()
	return openBulkReader(p.path)
}

// put returns r to the pool; a reader whose last use failed, or one
// returned after Close, is closed.
func (p *bulkPool) put(r *bulkReader, failed bool) {
	p.mu.Lock()
	keep := !failed && !p.closed && len(p.idle) < p.max
	if keep {
		p.idle = append(p.idle, r)
	}
	p.mu.Unlock()
	if !keep {
		r.Close()
	}
}

// Close closes the idle readers; readers in use are closed when returned.
func (p *bulkPool) Close() error {
	p.mu.Lock()
	idle := p.idle
	p.idle, p.closed = nil, true
	p.mu.Unlock()
	for _, r := range idle {
		r.Close()
	}
	return nil
}

// streamLatest is sqliteDriver.streamLatest over a pooled bulkReader.
func (p *bulkPool) streamLatest(ctx context.Context, assetKey string, fn func(*MaterializationSummary) error) (err error) {
	r, err := p.get()
	if err != nil {
		return err
	}
	st, err := r.stmt(latestSelect + "?")
	if err != nil {
		p.put(r, true)
		return err
	}
	var dbErr error // an error of the connection, which is then dropped
	defer func() {
		// A statement reset at the end of a read ends its read transaction.
		st.reset()
		p.put(r, dbErr != nil)
	}()
	if err := st.bindText(1, assetKey); err != nil {
		dbErr = err
		return err
	}
	var s MaterializationSummary
	for n := 0; ; n++ {
		if n&4095 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		ok, err := st.step()
		if err != nil {
			dbErr = err
			return err
		}
		if !ok {
			return nil
		}
		s.Partition = st.text(0, "")
		s.ID = st.int64(1)
		s.RunID = st.int64(2)
		s.Attempt = int(st.int64(3))
		s.DataVersion = st.text(4, s.DataVersion)
		s.CodeVersion = st.text(5, s.CodeVersion)
		s.RowCount = st.int64(6)
		s.ByteCount = st.int64(7)
		s.CreatedAt = fromMicros(st.int64(8))
		s.Location = st.text(9, s.Location)
		if err := fn(&s); err != nil {
			return err
		}
	}
}
