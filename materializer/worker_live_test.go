package materializer_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/strata-data/strata/asset"
	"github.com/strata-data/strata/catalog"
)

// TestWorkerLiveLog: a remote run's output reaches the server's log while
// the job still runs, each line once, and the run's sizing, decided by the
// server at claim time, is recorded on it with its inputs.
func TestWorkerLiveLog(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)
	gate := filepath.Join(b.dir, "gate")
	decl := staticDecl("remote/live", []string{"p"}, sh(`echo live-one; while [ ! -f `+gate+` ]; do sleep 0.05; done; echo live-two; exit 3`), nil)
	up := staticDecl("remote/liveup", []string{"p"}, []string{"true"}, nil)
	decl.Deps = []asset.DepDecl{{Asset: "remote/liveup"}}
	if _, err := b.cat.ApplyAssets(ctx, []asset.AssetDecl{up, decl}, catalog.ApplyOptions{}); err != nil {
		t.Fatal(err)
	}
	rows, size := int64(1000), int64(4096)
	if _, err := b.cat.RecordMaterializations(ctx, []catalog.Materialization{{Asset: "remote/liveup", Partition: "p",
		DataVersion: "u1", RowCount: &rows, ByteCount: &size}}); err != nil {
		t.Fatal(err)
	}
	ids := enqueue(t, b.cat, catalog.RunSpec{Asset: "remote/live", PartitionKeys: []string{"p"}})
	addr, _ := b.remoteServer(t, 3*time.Second)
	startWorker(t, addr, "live", filepath.Join(b.dir, "w"))
	waitFor(t, 30*time.Second, "live output while the job runs", func() (bool, error) {
		log, _, err := b.cat.RunLog(ctx, ids[0])
		return strings.Contains(log, "live-one"), err
	})
	r, err := b.cat.GetRun(ctx, ids[0])
	if err != nil {
		t.Fatal(err)
	}
	if r.State != catalog.RunRunning {
		t.Fatalf("run is %s, want running while its output is live", r.State)
	}
	if s := string(r.Sizing); !strings.Contains(s, `"inputs":[{"asset":"remote/liveup","partition_count":1,"rows":1000,"bytes":4096}]`) {
		t.Fatalf("sizing of the remote run = %s", s)
	}
	if err := os.WriteFile(gate, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	r = waitRun(t, b.cat, ids[0], 30*time.Second)
	log, _, _ := b.cat.RunLog(ctx, ids[0])
	if r.State != catalog.RunFailed || strings.Count(log, "live-one") != 1 || strings.Count(log, "live-two") != 1 ||
		strings.Count(log, "on worker live") != 1 || !strings.Contains(log, "exited with code 3") {
		t.Fatalf("run %s, log = %q", r.State, log)
	}
}
