// Package materializer sizes run requests from the data that feeds them,
// runs their jobs on executors and collects what the jobs produced. It is
// the only Strata package that starts processes.
//
// This file documents the leaf components: the job protocol (Job, the
// context file, the messages file), the local executor, output locations
// and Parquet inspection, and sizing.
//
// # Job protocol
//
// A job is any command. For each attempt the executor writes the context
// file <run root>/<run id>.<attempt>.context.json (with .shard-<i> after the
// attempt for a shard of a sharded run; STRATA_MESSAGES names
// <run root>/<run id>.<attempt>.messages.jsonl, which does not exist until
// the job appends to it; both are removed when the attempt ends, and the
// default run root is in memory: see DefaultRunRoot), and runs
// the command in its own process group with stdin from /dev/null and this
// environment: a subset of the server's (LocalConfig.InheritEnv; never its
// STRATA_* variables), the asset's declared env, then
//
//	STRATA_RUN_ID            run id
//	STRATA_ATTEMPT           attempt number
//	STRATA_ASSET             asset key, e.g. analytics/daily_revenue
//	STRATA_PARTITION_KEY     the first (usually only) partition key
//	STRATA_PARTITION_KEYS    all partition keys, one per line (left out, with
//	                         STRATA_PARTITION_KEYS_IN_CONTEXT=1, when longer
//	                         than 32 KiB: read the context file then)
//	STRATA_PARTITION_COUNT   number of partition keys (0: unpartitioned)
//	STRATA_PARTITION_START   for time windows: start of the first window,
//	STRATA_PARTITION_END     end of the last, RFC 3339 in UTC
//	STRATA_OUTPUT            where to write (see Output locations)
//	STRATA_CONTEXT           path of the context file
//	STRATA_MESSAGES          path of the messages file
//	STRATA_MEMORY_BYTES      memory granted to this process, in bytes
//	STRATA_CPUS              CPUs granted (may be fractional, e.g. 0.5)
//	STRATA_SHARDS            number of shards of the run (1: not sharded)
//	STRATA_SHARD             this process's shard, in [0, STRATA_SHARDS)
//	STRATA_CODE_VERSION      the asset's code version, when declared
//
// The protocol's variables come last and win; declarations may not set
// STRATA_* names.
//
// # Context file
//
// STRATA_CONTEXT is a JSON object (ContextFile); lists are [] when empty,
// never null. Version 1:
//
//	{
//	  "version": 1,
//	  "run_id": "r-42",
//	  "attempt": 1,
//	  "asset": "analytics/daily_revenue",
//	  "code_version": "v3",                        // omitted when not declared
//	  "partition_keys": ["2024-01-01"],
//	  "partition_window": {                        // time windows only
//	    "start": "2024-01-01T00:00:00Z", "end": "2024-01-02T00:00:00Z"
//	  },
//	  "output": "/data/assets/analytics/daily_revenue/2024-01-01/",
//	  "outputs": [                                 // one per partition key
//	    {"partition": "2024-01-01",
//	     "location": "/data/assets/analytics/daily_revenue/2024-01-01/"}
//	  ],
//	  "messages": "/run/user/1000/strata-runs/r-42.1.messages.jsonl",
//	  "resources": {"memory_bytes": 1073741824, "cpus": 1, "shards": 1, "shard": 0},
//	  "inputs": [                                  // each upstream asset partition
//	    {"asset": "raw/orders", "partition": "2024-01-01",
//	     "location": "/data/assets/raw/orders/2024-01-01/",
//	     "data_version": "sha256:9f2c...", "rows": 120000, "bytes": 3456789}
//	  ]
//	}
//
// Inputs carry the location recorded by the upstream materialization, so
// jobs never guess paths. Fields may be added in later versions; a field's
// meaning does not change without a new version.
//
// # Messages file
//
// STRATA_MESSAGES is a file the job may append JSON lines to, one object per
// line. The executor does not create it: a job that reports something
// creates it by appending (O_WRONLY|O_CREATE|O_APPEND: `>>` in a shell,
// open(path, "a") in Python); a job that reports nothing costs no file.
// Lines:
//
//	{"type":"metadata","metadata":{"source":"orders_api","late_rows":3}}
//	{"type":"data_version","data_version":"2024-01-01@etag-77"}
//	{"type":"output","rows":120000,"bytes":3456789}
//	{"type":"check","name":"no_null_ids","passed":true,"severity":"error","metadata":{}}
//	{"type":"log","level":"info","message":"fetched 3 pages"}
//
// metadata, data_version and output lines may name a "partition" of the run
// (for a run over several partitions); without one they are about the run,
// which for one partition is that partition. Check severity is "warn" or
// "error" (the default); log level is debug, info, warn or error. A job that
// writes no Parquet (it loads a warehouse, say) reports its rows and bytes
// with an output line. A data version the job reports wins over the hash of
// the Parquet footers; rows and bytes from readable Parquet win over the
// job's (a mismatch is a warning).
//
// Reading is bounded (16 MiB, 1 MiB per line) and never fails a run: a line
// that is not JSON, has an unknown type or misses a field is skipped with a
// warning naming its line number, and a last line without a newline that
// does not parse is taken as cut short by the job's end.
//
// # Local executor
//
// LocalExecutor.Execute runs a Job as a child process in its own process
// group. stdout and stderr share one pipe, so the log keeps their order; it
// is bounded (10 MiB by default: the first tenth and the last nine tenths,
// with a "... N bytes elided ..." line between). On timeout or context
// cancellation the group gets SIGTERM, then SIGKILL after a grace period
// (10s). When the job's process exits, whatever it left in its group is
// killed, so nothing outlives a run (a descendant that leaves the group with
// setsid is beyond reach without cgroups; the executor stops waiting for
// its output after the grace period). On Linux the job's process also has
// a parent-death signal (Pdeathsig, SIGKILL): when the server dies, even
// by kill -9, the kernel kills the job, so it does not go on writing the
// outputs that the recovered retry writes too. Only the job's own process
// gets that signal: what it started in its group (the children of a
// `sh -c` wrapper) is reparented and runs on unless the job passes the
// signal on, e.g. with `exec` for its last command. A job whose context
// is already done is not started. ExecuteLive also hands each chunk of the
// output to a hook as it is read: a remote worker sends it to the server
// every second (AppendRunLog), so `strata runs logs -f` and the UI follow
// remote runs live. The Result records the duration, peak
// RSS (getrusage maxrss: the largest single process among the job and the
// descendants it waited for), user and system CPU, the exit code or signal,
// and why the run failed, in words: "timed out after 30s", "exited with
// code 3", "killed by signal 9 (killed)", "cancelled", "exited with code 0
// but its output is unreadable: ...".
//
// An executor has a Capacity (memory, CPUs, slots) and an Admission
// controller: the dispatcher admits a run only when TryAdmit finds room for
// its grant, and tries smaller queued runs when a big one does not fit.
//
// # Output locations
//
// An asset's output template is a path or URL with {asset} and {partition}:
// by default <data dir>/assets/{asset}/{partition}/ (a directory the job
// writes files into), or declared, e.g. file:///lake/{asset}/{partition}.parquet.
// {partition} is PartitionPath(key): a multi-dimensional key's dimensions
// become nested directories ("2024-01-01|us" gives 2024-01-01/us) and unsafe
// bytes are percent-encoded ("2024-01-01-13:00" gives 2024-01-01-13%3A00);
// an unpartitioned asset gives "__all__". A run over several partitions gets
// each partition's own location in the context file's "outputs" and, as
// STRATA_OUTPUT, the directory the locations share (for the default
// template, <data dir>/assets/<asset key>/). The executor creates the
// output directory (or a file location's parent) before starting the job;
// it never deletes anything there.
//
// # Parquet inspection
//
// After a job exits 0, each local output location is inspected with
// parquet-go: a file, or a directory's *.parquet files, recursively, leaving
// out names starting with "." or "_". From the footers come the row count,
// row groups, uncompressed size and the Arrow schema (a JSON array of
// {name, type, nullable, children} with Arrow's type names; leaf types as
// arrow/go/v17 pqarrow derives them, list and map children named and
// nullable as in Parquet, like Arrow C++); the data version is the SHA-256 of the sorted SHA-256s
// of the footers. By default every page is decoded too, so a file with a
// good footer and corrupt data fails the run; InspectOptions.Verify can
// lower that to the first page of each column chunk or the footers only.
// No output at all is fine: the job may write elsewhere and report rows in
// messages.
//
// parquet-go trusts the counts in a file, so a corrupt run-length header
// can make the reader allocate gigabytes, and a Go out-of-memory is fatal.
// With LocalConfig.InspectCommand set (cmd/strata: its own executable,
// whose main calls RunInspectHelperIfRequested first), the executor
// inspects in a helper process under an RLIMIT_DATA limit (4 GiB) and a
// timeout, and a crash there fails the run, not the server. Without it,
// inspection runs in the server's process; panics are recovered, memory is
// not bounded.
//
// # Sizing
//
// Sizer.Decide sizes a request from the distinct upstream asset partitions
// mapped from its partitions (their rows and bytes) and the asset's past
// runs: memory = max(floor, (a x input_bytes + b + margin) x (1 + headroom))
// with a, b fitted by Theil-Sen (the median of pairwise slopes, robust to
// outlier runs) and margin the 90th percentile of the positive residuals;
// duration = c x input_rows + d likewise. With fewer than 3 past runs the
// default is memory = max(256 MiB, 4 x input_bytes) and duration = 1µs x
// rows + 1m. A declared resources.memory replaces the prediction and
// resources.cpus the default of 1 CPU. A request whose grant does not fit
// the largest executor is split into batches of partitions (packed in order
// by their input), or sharded (STRATA_SHARDS) when the asset is shardable,
// or refused with the reason; it is never dispatched into certain OOM. Each
// Decision carries its inputs, model and reason. The dispatcher records every
// decision on the run's attempt when it claims it (catalog SetRunSizing,
// one write per claim batch), for local runs and for remote workers'
// alike: the JSON has the API's RunSizing fields by their proto names
// (memory_bytes, cpus, shards, input_rows, input_bytes, inputs per upstream
// with asset, partition_count, rows and bytes, model, history_samples,
// predicted_peak_rss_bytes, predicted_duration, reason) and the whole
// Decision beside them, so GetRun and ListRuns show it as Run.sizing.
//
// # Recording and recovery
//
// The outcomes of finished attempts are group-committed: one
// catalog.FinishRuns transaction records the outcomes that arrive within
// Config.RecordDelay (25ms; none when no other run is held) of each other
// or while the previous batch is written, each exactly once per (run,
// attempt) as FinishRun would.
//
// Work interrupted by the server itself is queued again without using an
// attempt (catalog.RequeueRuns: the attempt number moves on, so (run,
// attempt) stays unique and a late finish of the interrupted attempt is
// refused, and max_attempts grows by one): runs still leased to the
// server's owner when it starts (orphans of a crash), and runs it stops
// at a graceful shutdown. An expired lease (a remote worker or another
// server that died) still counts as an attempt: nobody can tell a dead
// worker from a job that killed its machine, and counting keeps such a job
// from being retried forever. A worker shut down gracefully reports its
// runs as failed ("interrupted"), which counts too.
package materializer
