// Package migrations holds the catalog's SQL schema migrations, one directory
// per dialect (postgres/, sqlite/), embedded in the binary and applied at
// start-up by package catalog with bun/migrate.
//
// File names follow bun/migrate: <version>_<comment>.tx.up.sql runs in a
// transaction; the matching .tx.down.sql reverts it and exists for
// development only (production is forward-only). A new migration gets a new,
// larger version in both directories.
package migrations

import (
	"embed"
	"fmt"
	"io/fs"
)

//go:embed postgres/*.sql sqlite/*.sql
var files embed.FS

// Dialects known to FS.
const (
	Postgres = "postgres"
	SQLite   = "sqlite"
)

// FS returns the migrations of one dialect ("postgres" or "sqlite").
func FS(dialect string) (fs.FS, error) {
	switch dialect {
	case Postgres, SQLite:
		return fs.Sub(files, dialect)
	}
	return nil, fmt.Errorf("migrations: unknown dialect %q", dialect)
}
