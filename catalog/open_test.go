package catalog_test

import (
	"context"
	"database/sql"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"
	_ "modernc.org/sqlite"

	"github.com/strata-data/strata/catalog"
	"github.com/strata-data/strata/catalog/catalogtest/pgtest"
)

func TestOpenBadURL(t *testing.T) {
	t.Parallel()
	for _, u := range []string{"mysql://x", "", "sqlite://", "postgres://%zz"} {
		if _, err := catalog.Open(context.Background(), u, catalog.Options{}); !errors.Is(err, catalog.ErrInvalid) {
			t.Errorf("Open(%q) = %v, want ErrInvalid", u, err)
		}
	}
}

func TestOpenConcurrentMigrations(t *testing.T) {
	t.Parallel()
	for _, db := range []struct {
		name string
		url  func(t *testing.T) string
	}{
		{"SQLite", func(t *testing.T) string { return "sqlite://" + filepath.Join(t.TempDir(), "sub", "strata.db") }},
		{"Postgres", func(t *testing.T) string { return pgtest.SchemaURL(t) }},
	} {
		t.Run(db.name, func(t *testing.T) {
			t.Parallel()
			url := db.url(t)
			var wg sync.WaitGroup
			errs := make(chan error, 4)
			for i := 0; i < 4; i++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					c, err := catalog.Open(context.Background(), url, catalog.Options{})
					if err != nil {
						errs <- err
						return
					}
					c.Close()
				}()
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Fatal(err)
			}
			c := openURL(t, url)
			if _, err := c.CatalogRevision(context.Background()); err != nil {
				t.Fatal(err)
			}
		})
	}
}

const futureMigration = "INSERT INTO strata_migrations (name, group_id, migrated_at) VALUES ('29991231000000', 99, CURRENT_TIMESTAMP)"

func TestSQLiteSchemaTooNew(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "strata.db")
	openURL(t, "sqlite://"+path).Close()
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(futureMigration); err != nil {
		t.Fatal(err)
	}
	db.Close()
	_, err = catalog.Open(context.Background(), "sqlite://"+path, catalog.Options{})
	if !errors.Is(err, catalog.ErrSchemaTooNew) {
		t.Fatalf("open = %v, want ErrSchemaTooNew", err)
	}
	t.Logf("message: %v", err)
}

func TestPostgresSchemaTooNew(t *testing.T) {
	t.Parallel()
	url := pgtest.SchemaURL(t)
	openURL(t, url).Close()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, futureMigration); err != nil {
		t.Fatal(err)
	}
	if _, err := catalog.Open(ctx, url, catalog.Options{}); !errors.Is(err, catalog.ErrSchemaTooNew) {
		t.Fatalf("open = %v, want ErrSchemaTooNew", err)
	}
}

func TestSQLiteCorrupt(t *testing.T) {
	t.Parallel()
	t.Run("NotADatabase", func(t *testing.T) {
		t.Parallel()
		path := filepath.Join(t.TempDir(), "strata.db")
		junk := []byte("this is not a database, it is a shopping list: eggs, milk, bread ...................................................")
		if err := os.WriteFile(path, junk, 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := catalog.Open(context.Background(), "sqlite://"+path, catalog.Options{})
		if !errors.Is(err, catalog.ErrCorrupt) {
			t.Fatalf("open = %v, want ErrCorrupt", err)
		}
		if got, _ := os.ReadFile(path); string(got) != string(junk) {
			t.Fatal("the corrupt file was modified")
		}
	})
	t.Run("DamagedPages", func(t *testing.T) {
		t.Parallel()
		path := filepath.Join(t.TempDir(), "strata.db")
		openURL(t, "sqlite://"+path).Close()
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		for i := 100; i < len(b) && i < 8192; i++ {
			b[i] = 0xA5
		}
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
		_, err = catalog.Open(context.Background(), "sqlite://"+path, catalog.Options{})
		if !errors.Is(err, catalog.ErrCorrupt) {
			t.Fatalf("open = %v, want ErrCorrupt", err)
		}
	})
}
