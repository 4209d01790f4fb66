package catalog

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"modernc.org/sqlite"
)

// Sentinel errors. Every error the catalog returns that is caused by one of
// these conditions wraps the sentinel (test with errors.Is); database driver
// error types never cross the package boundary.
var (
	// ErrNotFound: the asset, run, backfill or materialization does not exist.
	ErrNotFound = errors.New("not found")
	// ErrAlreadyExists: a unique constraint was violated (for example a
	// second materialization for the same asset, partition, run and attempt).
	ErrAlreadyExists = errors.New("already exists")
	// ErrConflict: the write was based on stale state (expected revision
	// mismatch, a lease held by someone else, a run attempt already finished).
	ErrConflict = errors.New("conflict")
	// ErrInvalid: the input is malformed (bad key, invalid JSON, bad state).
	ErrInvalid = errors.New("invalid input")
	// ErrSchemaTooNew: the database was migrated by a newer Strata.
	ErrSchemaTooNew = errors.New("database schema is newer than this binary")
	// ErrCorrupt: the database file is not a usable SQLite database.
	ErrCorrupt = errors.New("database is corrupt")
)

// dbError is a database error translated to the catalog's vocabulary: it
// keeps the message but not the driver's type.
type dbError struct {
	sentinel error // nil for an unclassified database error
	msg      string
}

func (e *dbError) Error() string {
	if e.sentinel != nil {
		return e.sentinel.Error() + ": " + e.msg
	}
	return "database: " + e.msg
}

func (e *dbError) Unwrap() error { return e.sentinel }

// translate maps driver errors to sentinels and strips driver types. It is
// applied at the boundary of every exported method.
func translate(err error) error {
	if err == nil {
		return nil
	}
	for _, s := range []error{context.Canceled, context.DeadlineExceeded} {
		if errors.Is(err, s) {
			if hasDriverError(err) {
				return &dbError{sentinel: s, msg: err.Error()}
			}
			return err
		}
	}
	for _, s := range []error{ErrNotFound, ErrAlreadyExists, ErrConflict, ErrInvalid, ErrSchemaTooNew, ErrCorrupt} {
		if errors.Is(err, s) {
			// Already ours; make sure no driver type hides in the chain.
			if hasDriverError(err) {
				return &dbError{sentinel: s, msg: err.Error()}
			}
			return err
		}
	}
	if errors.Is(err, sql.ErrNoRows) || errors.Is(err, pgx.ErrNoRows) {
		return &dbError{sentinel: ErrNotFound, msg: err.Error()}
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch {
		case pgErr.Code == "23505": // unique_violation
			return &dbError{sentinel: ErrAlreadyExists, msg: pgErr.Message + " (" + pgErr.ConstraintName + ")"}
		case pgErr.Code == "40001" || pgErr.Code == "40P01": // serialization failure, deadlock
			return &dbError{sentinel: ErrConflict, msg: pgErr.Message}
		case strings.HasPrefix(pgErr.Code, "23"), strings.HasPrefix(pgErr.Code, "22"): // integrity, data exception
			return &dbError{sentinel: ErrInvalid, msg: pgErr.Message}
		case pgErr.Code == "57014": // query_canceled
			return &dbError{sentinel: context.Canceled, msg: pgErr.Message}
		}
		return &dbError{msg: pgErr.Message + " (SQLSTATE " + pgErr.Code + ")"}
	}
	var sqErr *sqlite.Error
	if errors.As(err, &sqErr) {
		code := sqErr.Code()
		switch code & 0xff {
		case 19: // SQLITE_CONSTRAINT
			if code == 2067 || code == 1555 { // UNIQUE, PRIMARYKEY
				return &dbError{sentinel: ErrAlreadyExists, msg: sqErr.Error()}
			}
			return &dbError{sentinel: ErrInvalid, msg: sqErr.Error()}
		case 11, 26: // SQLITE_CORRUPT, SQLITE_NOTADB
			return &dbError{sentinel: ErrCorrupt, msg: sqErr.Error()}
		case 5, 6: // SQLITE_BUSY, SQLITE_LOCKED
			return &dbError{sentinel: ErrConflict, msg: sqErr.Error()}
		}
		return &dbError{msg: sqErr.Error()}
	}
	if hasDriverError(err) {
		return &dbError{msg: err.Error()}
	}
	return err
}

func hasDriverError(err error) bool {
	var pgErr *pgconn.PgError
	var sqErr *sqlite.Error
	return errors.As(err, &pgErr) || errors.As(err, &sqErr)
}

func invalidf(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalid, fmt.Sprintf(format, args...))
}
