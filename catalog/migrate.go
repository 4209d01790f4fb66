package catalog

import (
	"context"
	"fmt"
	"sort"

	"github.com/uptrace/bun/migrate"

	"github.com/strata-data/strata/migrations"
)

const migrationsTable = "strata_migrations"

// migrate applies pending migrations under the driver's migration lock. It
// refuses a database that has applied a migration this binary does not know
// (ErrSchemaTooNew): a newer Strata migrated it.
func (c *Catalog) migrate(ctx context.Context) error {
	fsys, err := migrations.FS(c.drv.dialect())
	if err != nil {
		return err
	}
	ms := migrate.NewMigrations()
	if err := ms.Discover(fsys); err != nil {
		return fmt.Errorf("discover migrations: %w", err)
	}
	known := map[string]bool{}
	var latest string
	for _, m := range ms.Sorted() {
		known[m.Name] = true
		latest = m.Name
	}
	m := migrate.NewMigrator(c.db, ms,
		migrate.WithTableName(migrationsTable),
		migrate.WithLocksTableName("strata_migration_locks"),
		migrate.WithMarkAppliedOnSuccess(true))
	unlock, err := c.drv.migrationLock(ctx)
	if err != nil {
		return err
	}
	defer unlock()
	if err := m.Init(ctx); err != nil {
		return fmt.Errorf("init migration tables: %w", err)
	}
	applied, err := m.AppliedMigrations(ctx)
	if err != nil {
		return fmt.Errorf("read applied migrations: %w", err)
	}
	var unknown []string
	for _, a := range applied {
		if !known[a.Name] {
			unknown = append(unknown, a.Name)
		}
	}
	if len(unknown) > 0 {
		sort.Strings(unknown)
		return fmt.Errorf("%w: it has migration %s applied but this binary knows migrations up to %s; upgrade Strata",
			ErrSchemaTooNew, unknown[len(unknown)-1], latest)
	}
	group, err := m.Migrate(ctx)
	if err != nil {
		return err
	}
	if !group.IsZero() {
		c.log.Info("catalog migrated", "dialect", c.drv.dialect(), "migrations", group.Migrations.String())
	}
	return nil
}
