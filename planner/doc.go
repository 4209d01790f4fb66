// Package planner is Strata's pure planning core. For every asset
// partition it answers: is it missing, fresh, stale (and why), running,
// failed, late? And from that: what should run next, and in what order.
//
// The package does no I/O and never reads the clock. Its inputs are an
// asset graph (Graph, satisfied by *asset.Graph), a read-only snapshot of
// the catalog (View) and catalog events (Event); every answer that depends
// on time takes `now`. The planner loop that reads the catalog's event
// log, holds the leader lock and hands requests to the materializer lives
// elsewhere (server); it stays thin:
//
//	st, err := planner.Build(graph, catalogView, now) // full rebuild on start
//	for {
//		for _, e := range eventsAfter(st.Cursor()) {   // catalog events, in order
//			st.Apply(e)                                // statuses updated incrementally
//		}
//		res := st.Tick(now)                            // automation + backfills
//		materializer.Enqueue(res.Requests)             // queued runs come back as RunStateChanged
//	}
//
// Statuses are exact per partition and kept current incrementally: a new
// materialization re-evaluates only the partitions downstream of it whose
// inputs changed. Causes (code_version_changed, upstream_updated,
// upstream_stale with its root, upstream_missing) are stored as bits and
// spelled out on demand by Status and Explain. Requests carry the
// condition that fired and why (Reason), a priority and a freshness
// deadline; Ordering sorts them under overcapacity with aging so neither
// backfills nor automatic runs starve.
//
// See README.md for the stages and the vocabulary.
package planner
