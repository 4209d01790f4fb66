// Package scheduler runs the planner loop: it feeds the pure planner
// (package planner) from the catalog, acts on what the planner asks for, and
// serves the planner's answers (statuses, causes, counts, backfill plans and
// progress) to the API, safely across goroutines.
//
// One loop, in Run:
//
//	start:   open a catalog snapshot (catalog.PlannerView: one read
//	         transaction) -> planner.Build -> RestoreBackfill for every
//	         planner backfill not done
//	repeat:  catalog.PlannerEvents after the last event id -> State.Apply,
//	         in log order (statuses change incrementally, downstream only)
//	         leader:   State.Tick(now) -> catalog.EnqueueRuns (with the
//	                   request's reason, priority, deadline, backfill id);
//	                   a failed enqueue gives the requests back
//	                   (RequestDropped) so the next tick asks again
//	         follower: State.Advance(now) (new time windows), nothing else
//	         then wait for the tick interval, or Wake
//
// Every server runs the loop and keeps its own planner state current, so any
// server answers status queries; only the leader ticks and enqueues
// (catalog.Leader: a PostgreSQL session advisory lock held on a dedicated
// connection; on SQLite the single process leads). A server that becomes
// leader rebuilds from a fresh snapshot first: the runs enqueued by the
// previous leader are in it, so nothing is requested twice, and every
// partition is examined by the first tick.
//
// Requests become runs in the same goroutine that ticked: EnqueueRuns
// returns the run ids, and the loop keeps run id -> request id until the
// runs_enqueued event arrives, which then retires the request in the
// planner (RunStateChanged.RequestID). After a restart there is nothing to
// retire: the rebuild sees the runs themselves. The on_cron tick a request
// answers travels in the run's reason (catalog.PlannerReason), so the cron
// state survives a restart.
//
// Backfills: StartBackfill resolves the targets against this server's
// state and writes the backfill and the planner's state of it (targets,
// start seq) in one catalog transaction; every server's loop takes it up
// from the backfill_state event (and after a restart from the snapshot),
// and the leader's ticks enqueue each downstream partition once the
// upstream partitions of the backfill it reads have succeeded. A backfill
// whose targets are all terminal is marked done in the catalog and dropped.
// Cancelling works from any server: the catalog cancels the queued runs and
// every loop drops the backfill when it sees the event.
//
// StartPlannedBackfill does the same for partitions the API selected
// itself. On the leader, both return after a step, so the first wave is
// queued when the call returns; both first catch up with the catalog, so an
// asset applied a moment ago is known.
//
// Reads answer from the state as of the last applied event; Sync catches up
// first (the server's status source calls it: read your writes).
//
// The planner state is guarded by one mutex: the loop holds it while it
// applies a page of events or ticks, the query methods while they read.
// Rebuilds are done outside it and swapped in.
package scheduler
