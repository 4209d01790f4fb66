package ui_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
	"google.golang.org/protobuf/proto"

	"github.com/strata-data/strata/asset"
	"github.com/strata-data/strata/catalog"
	stratav1 "github.com/strata-data/strata/gen/strata/v1"
	"github.com/strata-data/strata/server"
	"github.com/strata-data/strata/ui"
)

// TestBrowser drives the UI in headless Chromium against a real server
// with seeded data: the analyst's main paths, one subtest each, in order
// (one tab, like a user).
func TestBrowser(t *testing.T) {
	t.Parallel()
	ctx := newTab(t, 90*time.Second)
	b := startServer(t)
	b.seed(t)
	nav := func(t *testing.T, path string) {
		t.Helper()
		if err := chromedp.Do(ctx, chromedp.Navigate(b.base+path)); err != nil {
			t.Fatalf("navigate %s: %v", path, err)
		}
		if err := ready(ctx); err != nil {
			t.Fatal(err)
		}
	}
	rows := func(t *testing.T, sel string) int {
		t.Helper()
		return evalJS[int](t, ctx, fmt.Sprintf(`document.querySelectorAll(%q).length`, sel))
	}

	t.Run("catalog search", func(t *testing.T) {
		nav(t, "/")
		if n := rows(t, "#catalog-table tbody tr"); n != 6 {
			t.Fatalf("catalog shows %d assets, want 6", n)
		}
		if err := chromedp.Do(ctx, chromedp.SendKeys(chromedp.ID("catalog-search"), "revenue")); err != nil {
			t.Fatal(err)
		}
		// Search as you type: the rows narrow to the matches (key or
		// description), and the URL keeps the query.
		if err := waitJS(ctx, `document.querySelectorAll('#catalog-table tbody tr').length === 2 && location.search.includes('q=revenue')`); err != nil {
			t.Fatal(err)
		}
		keys := evalJS[[]string](t, ctx, `[...document.querySelectorAll('#catalog-table tbody tr')].map((r) => r.dataset.key)`)
		if strings.Join(keys, " ") != "analytics/daily_revenue reports/weekly_revenue" {
			t.Errorf("search revenue = %v", keys)
		}
		// The mini health bar of a materialized asset has segments.
		if n := rows(t, `#catalog-table tr[data-key="analytics/daily_revenue"] .minibar .seg`); n == 0 {
			t.Error("no partition health segments in the row")
		}
		// Filter by group with the select.
		if err := chromedp.Do(ctx, chromedp.Evaluate[chromedp.Void](`(() => { const s = document.getElementById('catalog-search'); s.value = ''; s.dispatchEvent(new Event('input')); })()`)); err != nil {
			t.Fatal(err)
		}
		if err := waitJS(ctx, `document.querySelectorAll('#catalog-table tbody tr').length === 6 && document.querySelectorAll('#filter-group option').length > 1`); err != nil {
			t.Fatal(err)
		}
		if err := chromedp.Do(ctx, chromedp.SetValue(chromedp.ID("filter-group"), "ingestion"),
			chromedp.Evaluate[chromedp.Void](`document.getElementById('filter-group').dispatchEvent(new Event('change'))`)); err != nil {
			t.Fatal(err)
		}
		if err := waitJS(ctx, `document.querySelectorAll('#catalog-table tbody tr').length === 2 && location.search.includes('group=ingestion')`); err != nil {
			t.Fatal(err)
		}
		// Status filter, from a deep link: the assets with a failed partition.
		nav(t, "/assets?status=failed")
		if keys := evalJS[[]string](t, ctx, `[...document.querySelectorAll('#catalog-table tbody tr')].map((r) => r.dataset.key)`); strings.Join(keys, " ") != "ml/churn_features" {
			t.Errorf("status=failed = %v", keys)
		}
		nav(t, "/assets?status=problems")
		if keys := evalJS[[]string](t, ctx, `[...document.querySelectorAll('#catalog-table tbody tr')].map((r) => r.dataset.key)`); strings.Join(keys, " ") != "analytics/daily_revenue ml/churn_features" {
			t.Errorf("status=problems = %v", keys)
		}
		checkNoErrors(t, ctx)
	})

	t.Run("open asset and partitions bar", func(t *testing.T) {
		nav(t, "/?q=sessions")
		if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(`#catalog-table a.asset-link`))); err != nil {
			t.Fatal(err)
		}
		if err := waitJS(ctx, `location.pathname === '/assets/analytics/sessions' && document.getElementById('main').dataset.state === 'ready'`); err != nil {
			t.Fatal(err)
		}
		if got := evalJS[string](t, ctx, `document.getElementById('asset-key').textContent`); got != "analytics/sessions" {
			t.Errorf("asset page title = %q", got)
		}
		// The health bar drew its ranges: fresh then missing days.
		if err := waitJS(ctx, `document.getElementById('health-bar')?.dataset.state === 'ready'`); err != nil {
			t.Fatal(err)
		}
		if n, _ := strconv.Atoi(evalJS[string](t, ctx, `document.getElementById('health-bar').dataset.ranges`)); n < 2 {
			t.Errorf("health bar has %d ranges, want >= 2", n)
		}
		colours := evalJS[int](t, ctx, `(() => { const c = document.getElementById('health-canvas'); const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data; const s = new Set(); for (let i = 0; i < d.length; i += 16) s.add(d[i] + ',' + d[i+1] + ',' + d[i+2]); return s.size; })()`)
		if colours < 2 {
			t.Errorf("health bar canvas has %d colours, want fresh and missing", colours)
		}
		// Definition, schema and the materialization chart load.
		if err := waitJS(ctx, `document.querySelector('#definition')?.innerText.includes('dbt run') && document.querySelectorAll('#schema-table tbody tr').length >= 5 && !!document.getElementById('mat-chart')`); err != nil {
			t.Fatal(err)
		}
		// Zoom: drag over the first half of the bar; the URL keeps the range.
		if err := chromedp.Do(ctx, chromedp.Evaluate[chromedp.Void](`(() => { const c = document.getElementById('health-canvas'); const r = c.getBoundingClientRect();
			const at = (f) => ({ clientX: r.left + r.width * f, clientY: r.top + r.height / 2, bubbles: true, button: 0 });
			c.dispatchEvent(new MouseEvent('mousedown', at(0.02))); c.dispatchEvent(new MouseEvent('mousemove', at(0.3))); c.dispatchEvent(new MouseEvent('mousemove', at(0.5)));
			c.dispatchEvent(new MouseEvent('mouseup', at(0.5))); })()`)); err != nil {
			t.Fatal(err)
		}
		if err := waitJS(ctx, `location.search.includes('from=0') && location.search.includes('to=1') && document.getElementById('health-bar').dataset.state === 'ready' && document.getElementById('health-bar').innerText.includes('of 30 partitions')`); err != nil {
			t.Fatalf("%v: %s", err, evalJS[string](t, ctx, `location.search + ' ' + document.getElementById('health-bar').innerText`))
		}
		if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(`#health-bar button:nth-of-type(2)`))); err != nil { // Whole range
			t.Fatal(err)
		}
		if err := waitJS(ctx, `!location.search.includes('from=') && document.getElementById('health-bar').innerText.includes('30 partitions ·')`); err != nil {
			t.Fatal(err)
		}
		// Why: a missing partition, clicked on the bar's right end.
		if err := chromedp.Do(ctx, chromedp.Evaluate[chromedp.Void](`(() => { const c = document.getElementById('health-canvas'); const r = c.getBoundingClientRect();
			const o = { clientX: r.right - 3, clientY: r.top + r.height / 2, bubbles: true, button: 0 };
			c.dispatchEvent(new MouseEvent('mousedown', o)); c.dispatchEvent(new MouseEvent('mouseup', o)); })()`)); err != nil {
			t.Fatal(err)
		}
		if err := waitJS(ctx, `document.getElementById('why-panel')?.innerText.includes('missing') && location.search.includes('partition=')`); err != nil {
			t.Fatal(err)
		}
		// Back undoes the zoom, then returns to the catalog with the search kept.
		if err := chromedp.Do(ctx, chromedp.NavigateBack()); err != nil {
			t.Fatal(err)
		}
		if err := waitJS(ctx, `location.search.includes('from=0') && document.getElementById('health-bar')?.dataset.state === 'ready' && document.getElementById('health-bar').innerText.includes('of 30 partitions')`); err != nil {
			t.Fatal(err)
		}
		if err := chromedp.Do(ctx, chromedp.Evaluate[chromedp.Void](`history.go(-2)`)); err != nil {
			t.Fatal(err)
		}
		if err := waitJS(ctx, `location.pathname === '/' && document.getElementById('catalog-search')?.value === 'sessions' && document.getElementById('main').dataset.state === 'ready'`); err != nil {
			t.Fatal(err)
		}
		checkNoErrors(t, ctx)
	})

	t.Run("why a stale partition, with its upstream", func(t *testing.T) {
		nav(t, "/assets/analytics/daily_revenue?partition="+day(time.Now().AddDate(0, 0, -29)))
		if err := waitJS(ctx, `document.getElementById('why-panel')?.innerText.includes('stale')`); err != nil {
			t.Fatal(err)
		}
		text := evalJS[string](t, ctx, `document.getElementById('why-panel').innerText`)
		if !strings.Contains(text, "code version") {
			t.Errorf("why panel does not name the code version change:\n%s", text)
		}
		if n := rows(t, `#why-upstreams a[href^="/assets/analytics/sessions?partition="]`); n == 0 {
			t.Errorf("no link to the upstream partition:\n%s", text)
		}
		checkNoErrors(t, ctx)
	})

	t.Run("revision history, materialization history, run materializations", func(t *testing.T) {
		bctx := context.Background()
		// A partition materialized again: the chart plots every
		// materialization, not the latest of each partition.
		again := day(time.Now().AddDate(0, 0, -30))
		if _, err := b.runs.ReportMaterialization(bctx, &stratav1.ReportMaterializationRequest{ReportId: "s-again",
			Materialization: &stratav1.MaterializationReport{Asset: "analytics/sessions", PartitionKey: again, RowCount: proto.Int64(5), Bytes: proto.Int64(900)}}); err != nil {
			t.Fatal(err)
		}
		hist, err := b.assets.ListMaterializations(bctx, &stratav1.ListMaterializationsRequest{Asset: "analytics/sessions", PageSize: 1000})
		if err != nil {
			t.Fatal(err)
		}
		n := len(hist.GetMaterializations())
		nav(t, "/assets/analytics/sessions")
		if err := waitJS(ctx, fmt.Sprintf(`document.getElementById('mat-history')?.dataset.points === '%d'`, n)); err != nil {
			t.Fatalf("%v: %s", err, evalJS[string](t, ctx, `document.getElementById('materializations').innerText`))
		}
		if got := evalJS[string](t, ctx, `document.getElementById('mat-summary').innerText`); !strings.Contains(got, fmt.Sprintf("%d materializations of %d partitions", n, n-1)) {
			t.Errorf("materialization summary = %q (%d materializations)", got, n)
		}
		if got := evalJS[string](t, ctx, `document.querySelector('#mat-table tbody tr td')?.innerText`); got != again {
			t.Errorf("newest materialization row is %q, want the re-materialized %s", got, again)
		}

		// The revision history of an asset whose code version changed:
		// the newest revision's diff is shown at once.
		nav(t, "/assets/analytics/daily_revenue")
		if err := waitJS(ctx, `document.querySelectorAll('#revision-table tbody tr').length === 2 && !!document.getElementById('diff-table')`); err != nil {
			t.Fatalf("%v: %s", err, evalJS[string](t, ctx, `document.getElementById('history').innerText`))
		}
		cells := evalJS[[]string](t, ctx, `[...document.querySelectorAll('#diff-table tbody tr')].map((r) => [...r.cells].map((c) => c.innerText).join('|'))`)
		if strings.Join(cells, "\n") != "code_version|7|8" {
			t.Errorf("diff of revision 2 = %q, want code_version 7 -> 8", cells)
		}
		if got := evalJS[string](t, ctx, `document.querySelector('#revision-table tbody tr.selected')?.dataset.revision`); got != "2" {
			t.Errorf("selected revision = %q", got)
		}
		if got := evalJS[string](t, ctx, `document.querySelector('#revision-table tbody tr').innerText`); !strings.Contains(got, "changed") || !strings.Contains(got, "code_version") {
			t.Errorf("revision row = %q", got)
		}
		// Choose the first revision: every field is new; the URL keeps it.
		if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(`#revision-table tr[data-revision="1"] button`))); err != nil {
			t.Fatal(err)
		}
		if err := waitJS(ctx, `location.search.includes('revision=1') && document.getElementById('diff-summary')?.innerText.includes('first declaration') && !!document.querySelector('#diff-table tr[data-field="deps[analytics/sessions].asset"]')`); err != nil {
			t.Fatalf("%v: %s", err, evalJS[string](t, ctx, `document.getElementById('revision-diff').innerText`))
		}
		if got := evalJS[string](t, ctx, `document.querySelector('#diff-table tr[data-field="code_version"]')?.innerText`); !strings.Contains(got, "7") || !strings.Contains(got, "added") {
			t.Errorf("first revision code_version row = %q", got)
		}
		// A deep link to a revision.
		nav(t, "/assets/analytics/daily_revenue?revision=2")
		if err := waitJS(ctx, `document.querySelector('#revision-table tbody tr.selected')?.dataset.revision === '2' && !!document.querySelector('#diff-table tr[data-field="code_version"]')`); err != nil {
			t.Fatal(err)
		}

		// A run page lists the materializations the run recorded (GetRun's
		// materialization_ids), with their inputs.
		runs, err := b.cat.ListRuns(bctx, catalog.RunFilter{Asset: "ml/churn_features", States: []catalog.RunState{catalog.RunSucceeded}, Limit: 1})
		if err != nil || len(runs) != 1 {
			t.Fatalf("succeeded runs = %v, %v", runs, err)
		}
		ids, err := b.cat.RunMaterializationIDs(bctx, runs[0].ID)
		if err != nil || len(ids) == 0 {
			t.Fatalf("run materializations = %v, %v", ids, err)
		}
		nav(t, fmt.Sprintf("/runs/%d", runs[0].ID))
		if err := waitJS(ctx, fmt.Sprintf(`document.getElementById('run-provenance')?.innerText.includes('Materialization %d')`, ids[0])); err != nil {
			t.Fatalf("%v: %s", err, evalJS[string](t, ctx, `document.getElementById('run-provenance')?.innerText`))
		}
		checkNoErrors(t, ctx)
	})

	t.Run("lineage renders every node", func(t *testing.T) {
		nav(t, "/lineage")
		if got := evalJS[string](t, ctx, `document.getElementById('lineage-graph').dataset.nodes`); got != "6" {
			t.Errorf("lineage nodes = %s, want 6", got)
		}
		if got := evalJS[string](t, ctx, `document.getElementById('lineage-graph').dataset.edges`); got != "5" {
			t.Errorf("lineage edges = %s, want 5", got)
		}
		// Search to focus: Enter on a partial key focuses the first match.
		if err := chromedp.Do(ctx, chromedp.SendKeys(chromedp.ID("lineage-search"), "weekly"+kb.Enter)); err != nil {
			t.Fatal(err)
		}
		if err := waitJS(ctx, `location.search.includes('focus=reports%2Fweekly_revenue') && document.getElementById('lineage-graph')?.dataset.state === 'ready' && document.getElementById('lineage-graph').dataset.nodes === '4'`); err != nil {
			t.Fatalf("%v: %s", err, evalJS[string](t, ctx, `location.search + ' ' + JSON.stringify(document.getElementById('lineage-graph')?.dataset)`))
		}
		// Focused, one hop each way; collapsed by group.
		nav(t, "/lineage?focus=analytics/daily_revenue&up=1&down=1")
		if got := evalJS[string](t, ctx, `document.getElementById('lineage-graph').dataset.nodes`); got != "4" {
			t.Errorf("focused lineage nodes = %s, want 4", got)
		}
		nav(t, "/lineage?collapse=1&focus=analytics/daily_revenue&up=-1&down=-1")
		if got := evalJS[string](t, ctx, `document.getElementById('lineage-graph').dataset.nodes`); got != "4" {
			t.Errorf("collapsed lineage nodes = %s, want 4 (finance open: 2, ingestion, analytics)", got)
		}
		click := func(key string) {
			t.Helper()
			js := fmt.Sprintf(`(() => { const p = document.getElementById('lineage-graph').nodeCenter(%q); if (!p) return false;
				const c = document.getElementById('lineage-canvas'); const o = { clientX: p[0], clientY: p[1], bubbles: true, button: 0 };
				c.dispatchEvent(new MouseEvent('mousedown', o)); c.dispatchEvent(new MouseEvent('mouseup', o)); return true; })()`, key)
			if !evalJS[bool](t, ctx, js) {
				t.Fatalf("no node %s on the graph", key)
			}
		}
		// Click a group to open it, then an asset to go to its page.
		click("group:ingestion")
		if err := waitJS(ctx, `document.getElementById('lineage-graph').dataset.nodes === '4' && !!document.getElementById('lineage-graph').nodeCenter('raw/customers')`); err != nil {
			t.Fatal(err)
		}
		click("raw/customers")
		if err := waitJS(ctx, `location.pathname === '/assets/raw/customers' && document.getElementById('main').dataset.state === 'ready'`); err != nil {
			t.Fatal(err)
		}
		checkNoErrors(t, ctx)
	})

	t.Run("launch a backfill and see progress", func(t *testing.T) {
		from, to := day(time.Now().AddDate(0, 0, -4)), day(time.Now().AddDate(0, 0, -2))
		nav(t, "/backfills/new?selection=analytics/sessions")
		if err := chromedp.Do(ctx,
			chromedp.SetValue(chromedp.ID("bf-mode"), "range"),
			chromedp.Evaluate[chromedp.Void](`document.getElementById('bf-mode').dispatchEvent(new Event('change'))`),
			chromedp.SendKeys(chromedp.ID("bf-start"), from),
			chromedp.SendKeys(chromedp.ID("bf-end"), to),
			chromedp.SendKeys(chromedp.ID("bf-priority"), kb.Backspace+"3"),
			chromedp.Click(chromedp.ID("bf-preview-button")),
		); err != nil {
			t.Fatal(err)
		}
		if err := waitJS(ctx, `document.getElementById('bf-preview-result')?.innerText.includes('3 partitions to run') && !document.getElementById('bf-launch').disabled`); err != nil {
			t.Fatalf("%v: %s", err, evalJS[string](t, ctx, `document.getElementById('bf-preview').innerText`))
		}
		if err := chromedp.Do(ctx, chromedp.Click(chromedp.ID("bf-launch"))); err != nil {
			t.Fatal(err)
		}
		if err := waitJS(ctx, `/^\/backfills\/\d+$/.test(location.pathname) && document.getElementById('backfill-progress')?.dataset.total === '3'`); err != nil {
			t.Fatal(err)
		}
		// A worker runs them; the page follows the progress.
		b.work(t, 3, func(r catalog.Run) bool { return string(r.Asset) == "analytics/sessions" })
		if err := waitJS(ctx, `document.getElementById('backfill-progress')?.dataset.done === '3'`); err != nil {
			t.Fatal(err)
		}
		if err := waitJS(ctx, `document.querySelector('#backfill-head .badge')?.textContent === 'completed'`); err != nil {
			t.Error(err)
		}
		// The list shows it with a progress bar.
		nav(t, "/backfills")
		if n := rows(t, `#backfills-table .progress .seg.succeeded`); n == 0 {
			t.Error("no progress bar in the backfills list")
		}
		checkNoErrors(t, ctx)
	})

	t.Run("retry failed partitions, then cancel", func(t *testing.T) {
		nav(t, "/backfills/1")
		if err := chromedp.Do(ctx, chromedp.Click(chromedp.ID("backfill-retry"))); err != nil {
			t.Fatal(err)
		}
		// The button asks first, with the dry run's counts.
		if err := waitJS(ctx, `document.getElementById('backfill-head').innerText.includes('1 partition in 1 run?')`); err != nil {
			t.Fatal(err)
		}
		if err := chromedp.Do(ctx, chromedp.Click(chromedp.ID("backfill-retry-confirm"))); err != nil {
			t.Fatal(err)
		}
		if err := waitJS(ctx, `/^\/backfills\/\d+$/.test(location.pathname) && location.pathname !== '/backfills/1' && document.getElementById('backfill-head')?.innerText.includes('Retry of')`); err != nil {
			t.Fatal(err)
		}
		if err := chromedp.Do(ctx, chromedp.Click(chromedp.ID("backfill-cancel"))); err != nil {
			t.Fatal(err)
		}
		if err := chromedp.Do(ctx, chromedp.Click(chromedp.ID("backfill-cancel-confirm"))); err != nil {
			t.Fatal(err)
		}
		if err := waitJS(ctx, `document.querySelector('#backfill-head .badge')?.textContent === 'canceled'`); err != nil {
			t.Fatal(err)
		}
		checkNoErrors(t, ctx)
	})

	t.Run("read a run's logs, live", func(t *testing.T) {
		// The seeded failed run.
		nav(t, "/runs?state=FAILED")
		if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(`#runs-table a.run-link`))); err != nil {
			t.Fatal(err)
		}
		if err := waitJS(ctx, `document.getElementById('run-logs')?.dataset.state === 'ready'`); err != nil {
			t.Fatal(err)
		}
		logText := evalJS[string](t, ctx, `document.getElementById('run-logs').innerText`)
		if !strings.Contains(logText, "KeyError: 'region'") {
			t.Errorf("run log:\n%s", logText)
		}
		if !strings.Contains(evalJS[string](t, ctx, `document.getElementById('run-summary').innerText`), "KeyError") {
			t.Error("run summary does not show the error")
		}
		// A running run: lines appended while the page is open appear.
		bctx := context.Background()
		if _, err := b.bfs.CreateBackfill(bctx, backfillReq("raw/customers")); err != nil {
			t.Fatal(err)
		}
		claimed, err := b.cat.ClaimRuns(bctx, catalog.ClaimRequest{Owner: "live", Lease: time.Minute, Limit: 1})
		if err != nil || len(claimed) != 1 {
			t.Fatalf("claim = %v, %v", claimed, err)
		}
		r := claimed[0]
		if err := b.cat.AppendRunLog(bctx, r.ID, "first line\n"); err != nil {
			t.Fatal(err)
		}
		nav(t, fmt.Sprintf("/runs/%d", r.ID))
		if err := waitJS(ctx, `document.getElementById('run-logs')?.innerText.includes('first line')`); err != nil {
			t.Fatal(err)
		}
		if err := b.cat.AppendRunLog(bctx, r.ID, "second line, while you watch\n"); err != nil {
			t.Fatal(err)
		}
		if err := waitJS(ctx, `document.getElementById('run-logs')?.innerText.includes('second line, while you watch')`); err != nil {
			t.Fatal(err)
		}
		checkNoErrors(t, ctx)
	})

	t.Run("deep links and empty states", func(t *testing.T) {
		for path, want := range map[string]string{"/assets/does/not_exist": "No asset", "/nowhere/at/all": "Page not found", "/runs/999999": "No run"} {
			if err := chromedp.Do(ctx, chromedp.Navigate(b.base+path)); err != nil {
				t.Fatal(err)
			}
			if err := waitJS(ctx, `document.getElementById('main').dataset.state === 'error'`); err != nil {
				t.Fatal(err)
			}
			if text := evalJS[string](t, ctx, `document.getElementById('main').innerText`); !strings.Contains(text, want) {
				t.Errorf("%s: page says %q, want %q", path, text, want)
			}
		}
	})
}

// TestEmptyState checks what a new user sees on a fresh server.
func TestEmptyState(t *testing.T) {
	t.Parallel()
	ctx := newTab(t, 30*time.Second)
	b := startServer(t)
	for _, path := range []string{"/", "/lineage"} {
		if err := chromedp.Do(ctx, chromedp.Navigate(b.base+path)); err != nil {
			t.Fatal(err)
		}
		if err := ready(ctx); err != nil {
			t.Fatal(err)
		}
		text := evalJS[string](t, ctx, `document.getElementById('main').innerText`)
		if !strings.Contains(text, "strata apply -f") {
			t.Errorf("%s: empty state does not say what to do:\n%s", path, text)
		}
	}
}

// TestStandaloneBrowser runs the app as `strata ui` does: served alone,
// its /v1/ proxied to another server.
func TestStandaloneBrowser(t *testing.T) {
	t.Parallel()
	ctx := newTab(t, 30*time.Second)
	b := startServer(t)
	if _, err := b.assets.ApplyAssets(context.Background(), &stratav1.ApplyAssetsRequest{Assets: []*stratav1.AssetDecl{{Key: "raw/orders", Group: "ingestion"}}}); err != nil {
		t.Fatal(err)
	}
	h, err := ui.Standalone(ui.StandaloneOptions{API: b.base, Title: "Strata staging"})
	if err != nil {
		t.Fatal(err)
	}
	front := httptest.NewServer(h)
	defer front.Close()
	if err := chromedp.Do(ctx, chromedp.Navigate(front.URL+"/assets/raw/orders")); err != nil {
		t.Fatal(err)
	}
	if err := ready(ctx); err != nil {
		t.Fatal(err)
	}
	if title := evalJS[string](t, ctx, `document.title`); title != "raw/orders · Strata staging" {
		t.Errorf("title = %q", title)
	}
	if got := evalJS[string](t, ctx, `document.getElementById('asset-key').textContent`); got != "raw/orders" {
		t.Errorf("asset page shows %q", got)
	}
}

// TestToken checks the UI against a server that requires a token: it asks
// for one, keeps it, and the pages load.
func TestToken(t *testing.T) {
	t.Parallel()
	ctx := newTab(t, 30*time.Second)
	b := startServer(t, server.Token{Token: "s3cret-viewer", Role: server.RoleViewer, Name: "ana"})
	if err := chromedp.Do(ctx, chromedp.Navigate(b.base+"/"), chromedp.Evaluate[chromedp.Void](`localStorage.clear()`), chromedp.Reload()); err != nil {
		t.Fatal(err)
	}
	if err := waitJS(ctx, `!document.getElementById('banner').hidden && document.getElementById('main').dataset.state === 'error'`); err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(ctx,
		chromedp.SendKeys(chromedp.CSS(`#banner input[type=password]`), "s3cret-viewer"),
		chromedp.Click(chromedp.CSS(`#banner button[type=submit]`)),
	); err != nil {
		t.Fatal(err)
	}
	if err := ready(ctx); err != nil {
		t.Fatal(err)
	}
	if text := evalJS[string](t, ctx, `document.getElementById('main').innerText`); !strings.Contains(text, "No assets yet") {
		t.Errorf("after the token, the catalog says:\n%s", text)
	}
}

// TestScreenshots writes docs/*.png with -update (go test ./ui -run Screenshots -update).
func TestScreenshots(t *testing.T) {
	if !*update {
		t.Skip("run with -update to write the screenshots to docs/")
	}
	ctx := newTab(t, 90*time.Second)
	b := startServer(t)
	b.seed(t)
	b.seedEstate(t)
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(1440, 1000)); err != nil {
		t.Fatal(err)
	}
	// A running backfill for the backfills page.
	bctx := context.Background()
	if _, err := b.bfs.CreateBackfill(bctx, backfillReq("analytics/daily_revenue")); err != nil {
		t.Fatal(err)
	}
	b.work(t, 4, func(catalog.Run) bool { return true })
	// A run sized by the materializer, as the run page shows it.
	sizing := `{"memory_bytes":"2147483648","cpus":2,"shards":1,"input_rows":"1284000","input_bytes":"231000000",` +
		`"inputs":[{"asset":"analytics/sessions","partition_count":"1","rows":"1236000","bytes":"222480000"},{"asset":"raw/customers","partition_count":"1","rows":"48213","bytes":"3145728"}],` +
		`"model":"history_fit","history_samples":12,"predicted_peak_rss_bytes":"1503238553","predicted_duration":"95s",` +
		`"reason":"predicted peak 1.4GiB from 12 past runs (input 220MiB); granted 2GiB with 40% headroom"}`
	if _, err := b.cat.EnqueueRuns(bctx, []catalog.RunSpec{{Asset: "analytics/daily_revenue", PartitionKeys: []string{day(time.Now().AddDate(0, 0, -3))},
		Reason: "automation", Priority: 10, Sizing: json.RawMessage(sizing)}}); err != nil {
		t.Fatal(err)
	}
	runs := b.work(t, 1, func(r catalog.Run) bool { return len(r.Sizing) > 0 })
	if len(runs) != 1 || len(runs[0].Sizing) == 0 {
		t.Fatalf("sized run not claimed first: %+v", runs)
	}
	shots := []struct{ file, path, wait string }{
		{"catalog.png", "/", ""},
		{"asset.png", "/assets/analytics/daily_revenue?partition=" + day(time.Now().AddDate(0, 0, -29)), `document.getElementById('why-panel') && document.querySelectorAll('#schema-table tr').length > 1`},
		{"lineage.png", "/lineage", ""},
		{"runs.png", fmt.Sprintf("/runs/%d", runs[0].ID), `document.getElementById('run-logs')?.dataset.state === 'ready'`},
		{"backfills.png", "/backfills", ""},
	}
	dir := filepath.Join("..", "docs")
	if extra := os.Getenv("STRATA_EXTRA_SCREENSHOTS"); extra != "" { // other pages, to look at
		dir = extra
		shots = append(shots[:0],
			struct{ file, path, wait string }{"backfill-new.png", "/backfills/new?selection=analytics/daily_revenue&start=" + day(time.Now().AddDate(0, 0, -10)) + "&end=" + day(time.Now().AddDate(0, 0, -1)), `!!document.getElementById('bf-preview-result')`},
			struct{ file, path, wait string }{"backfill.png", "/backfills/1", ""},
			struct{ file, path, wait string }{"runs-list.png", "/runs", ""},
			struct{ file, path, wait string }{"asset-bottom.png", "/assets/analytics/sessions", `document.querySelectorAll('#schema-table tr').length > 1`},
		)
	}
	for _, s := range shots {
		if err := chromedp.Do(ctx, chromedp.Navigate(b.base+s.path)); err != nil {
			t.Fatal(err)
		}
		if err := ready(ctx); err != nil {
			t.Fatal(err)
		}
		if s.wait != "" {
			if err := waitJS(ctx, s.wait); err != nil {
				t.Fatal(err)
			}
		}
		// Let the panels that load after "ready" settle (no animation to wait for).
		if err := waitJS(ctx, `!document.querySelector('.loading')`); err != nil {
			t.Logf("%s: %v", s.file, err)
		}
		png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, s.file), png, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("wrote docs/%s (%d KiB)", s.file, len(png)>>10)
	}
}

// lateStatus marks the partitions of some assets late, as a status source
// that evaluates freshness policies (the planner) does; the catalog's
// interim source reports none.
type lateStatus struct {
	server.StatusSource
	late map[asset.Key]int64
}

func (l lateStatus) AssetStatus(ctx context.Context, g *asset.Graph, a *asset.Asset, now time.Time) (*server.AssetStatus, error) {
	st, err := l.StatusSource.AssetStatus(ctx, g, a, now)
	if err != nil {
		return nil, err
	}
	st.Counts.Late = l.late[a.Key]
	return st, nil
}

func TestLateFilter(t *testing.T) {
	t.Parallel()
	ctx := newTab(t, 60*time.Second)
	b := startServerWith(t, func(c *catalog.Catalog) server.StatusSource {
		return lateStatus{StatusSource: &server.CatalogStatus{Catalog: c}, late: map[asset.Key]int64{"analytics/sessions": 2}}
	})
	b.seed(t)
	keys := func(path string) []string {
		t.Helper()
		if err := chromedp.Do(ctx, chromedp.Navigate(b.base+path)); err != nil {
			t.Fatal(err)
		}
		if err := ready(ctx); err != nil {
			t.Fatal(err)
		}
		return evalJS[[]string](t, ctx, `[...document.querySelectorAll('#catalog-table tbody tr')].map((r) => r.dataset.key)`)
	}
	if got := keys("/assets?status=late"); strings.Join(got, " ") != "analytics/sessions" {
		t.Errorf("status=late = %v", got)
	}
	if badge := evalJS[string](t, ctx, `document.querySelector('#catalog-table tr[data-key="analytics/sessions"] .badge.late')?.textContent || ''`); badge != "late" {
		t.Errorf("no late badge on the row")
	}
	if got := keys("/assets?status=problems"); strings.Join(got, " ") != "analytics/daily_revenue analytics/sessions ml/churn_features" {
		t.Errorf("status=problems = %v", got)
	}
	checkNoErrors(t, ctx)
}
