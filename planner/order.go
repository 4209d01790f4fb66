package planner

import (
	"sort"
	"time"
)

// Queued is a request waiting for capacity, as the materializer's queue
// holds it.
type Queued struct {
	Request    RunRequest
	EnqueuedAt time.Time
}

// Ordering orders queued requests under overcapacity: higher effective
// priority first, then earliest deadline (none last), then oldest, then
// request ID. Backfill and automatic requests share one order; aging
// raises a request's effective priority by one for each AgingStep it has
// waited, so a stream of higher-priority work delays it by at most
// (priority gap + 1) * AgingStep plus the queue ahead of it: neither
// backfills nor automatic runs starve.
type Ordering struct {
	// AgingStep is the wait that earns one priority level; 0 disables aging.
	AgingStep time.Duration
}

// DefaultOrdering ages by one priority level per 5 minutes waited.
var DefaultOrdering = Ordering{AgingStep: 5 * time.Minute}

// Effective returns q's priority at now, aging included.
func (o Ordering) Effective(q Queued, now time.Time) int {
	p := q.Request.Priority
	if o.AgingStep > 0 && now.After(q.EnqueuedAt) {
		p += int(now.Sub(q.EnqueuedAt) / o.AgingStep)
	}
	return p
}

// Less reports whether a goes before b at now.
func (o Ordering) Less(a, b Queued, now time.Time) bool {
	pa, pb := o.Effective(a, now), o.Effective(b, now)
	if pa != pb {
		return pa > pb
	}
	da, db := a.Request.Deadline, b.Request.Deadline
	switch {
	case da != nil && db != nil && !da.Equal(*db):
		return da.Before(*db)
	case da != nil && db == nil:
		return true
	case da == nil && db != nil:
		return false
	}
	if !a.EnqueuedAt.Equal(b.EnqueuedAt) {
		return a.EnqueuedAt.Before(b.EnqueuedAt)
	}
	return a.Request.ID < b.Request.ID
}

// Sort orders qs in place for dispatch at now.
func (o Ordering) Sort(qs []Queued, now time.Time) {
	sort.SliceStable(qs, func(i, j int) bool { return o.Less(qs[i], qs[j], now) })
}

// Next removes and returns the first n requests of qs at now (the ones to
// dispatch with n free slots), and the rest.
func (o Ordering) Next(qs []Queued, n int, now time.Time) (run, rest []Queued) {
	o.Sort(qs, now)
	n = min(n, len(qs))
	return qs[:n], qs[n:]
}
