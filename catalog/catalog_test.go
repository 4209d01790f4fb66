package catalog_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/strata-data/strata/catalog"
	"github.com/strata-data/strata/catalog/catalogtest"
	"github.com/strata-data/strata/catalog/catalogtest/pgtest"
)

func TestMain(m *testing.M) {
	if os.Getenv(killChildEnv) != "" {
		os.Exit(killChildMain())
	}
	os.Exit(pgtest.Main(m))
}

func openSQLite(t testing.TB) *catalog.Catalog {
	t.Helper()
	return openURL(t, "sqlite://"+filepath.Join(t.TempDir(), "strata.db"))
}

func openPostgres(t testing.TB) *catalog.Catalog {
	t.Helper()
	return openURL(t, pgtest.SchemaURL(t))
}

func openURL(t testing.TB, url string) *catalog.Catalog {
	t.Helper()
	c, err := catalog.Open(context.Background(), url, catalog.Options{})
	if err != nil {
		t.Fatalf("open %s: %v", url, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func TestConformanceSQLite(t *testing.T) {
	t.Parallel()
	catalogtest.Exercise(t, func(t *testing.T) *catalog.Catalog { return openSQLite(t) })
}

func TestConformancePostgres(t *testing.T) {
	t.Parallel()
	catalogtest.Exercise(t, func(t *testing.T) *catalog.Catalog { return openPostgres(t) })
}
