package catalog

import (
	"context"
	sqldriver "database/sql/driver"
	"fmt"
	"sync"

	"github.com/uptrace/bun"
)

// Leader elects one leader among the processes sharing a catalog: the one
// whose planner loop acts (ticks automation and backfills, enqueues runs).
//
// On PostgreSQL the leader holds a session-level advisory lock on a
// dedicated connection, taken out of the pool for as long as it leads: if
// the process dies or its connection breaks, the server releases the lock
// and another process's next TryLead takes it. On SQLite the single process
// that owns the file is always the leader.
//
// A Leader is safe for concurrent use; Close releases the lock.
type Leader struct {
	c    *Catalog
	name string

	mu   sync.Mutex
	conn *bun.Conn // held while leading (PostgreSQL)
	key  int64
}

// NewLeader returns an elector for the named role (one lock per role and
// schema; "planner" for the planner loop). It takes nothing until TryLead.
func (c *Catalog) NewLeader(name string) *Leader {
	return &Leader{c: c, name: name}
}

// TryLead reports whether this process leads, taking the lock when it is
// free. While leading, each call checks that the lock's connection is still
// alive; a broken connection means the lock is gone: TryLead drops it,
// reports false with the error, and a later call may lead again.
func (l *Leader) TryLead(ctx context.Context) (bool, error) {
	if l.c.drv.dialect() != "postgres" {
		return true, nil // one process owns a SQLite file
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.conn != nil {
		if err := l.conn.PingContext(ctx); err != nil {
			l.dropLocked()
			return false, fmt.Errorf("leader %s: lock connection lost: %w", l.name, translate(err))
		}
		var one int
		if err := l.conn.QueryRowContext(ctx, "SELECT 1").Scan(&one); err != nil {
			l.dropLocked()
			return false, fmt.Errorf("leader %s: lock connection lost: %w", l.name, translate(err))
		}
		return true, nil
	}
	if l.key == 0 {
		var schema string
		if err := l.c.db.QueryRowContext(ctx, "SELECT current_schema()").Scan(&schema); err != nil {
			return false, fmt.Errorf("leader %s: schema: %w", l.name, translate(err))
		}
		l.key = lockKey(schema, "leader/"+l.name)
	}
	conn, err := l.c.db.Conn(ctx)
	if err != nil {
		return false, fmt.Errorf("leader %s: connection: %w", l.name, translate(err))
	}
	var got bool
	if err := conn.QueryRowContext(ctx, "SELECT pg_try_advisory_lock(?)", l.key).Scan(&got); err != nil {
		// The session may or may not hold the lock: discard the connection
		// rather than return it to the pool.
		_ = conn.Raw(func(any) error { return sqldriver.ErrBadConn })
		conn.Close()
		return false, fmt.Errorf("leader %s: try lock: %w", l.name, translate(err))
	}
	if !got {
		conn.Close() // not holding the lock: the connection goes back to the pool
		return false, nil
	}
	l.conn = &conn
	return true, nil
}

// dropLocked forgets a lock connection that broke, discarding it.
func (l *Leader) dropLocked() {
	if l.conn == nil {
		return
	}
	_ = l.conn.Raw(func(any) error { return sqldriver.ErrBadConn })
	l.conn.Close()
	l.conn = nil
}

// Leading reports whether this process held the lock at the last TryLead.
func (l *Leader) Leading() bool {
	if l.c.drv.dialect() != "postgres" {
		return true
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.conn != nil
}

// Resign releases the lock, if held, so another process can lead.
func (l *Leader) Resign(ctx context.Context) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.conn == nil {
		return nil
	}
	_, err := l.conn.ExecContext(context.WithoutCancel(ctx), "SELECT pg_advisory_unlock(?)", l.key)
	if err != nil {
		// Closing the session is the other way to release a session lock.
		l.dropLocked()
		return fmt.Errorf("leader %s: unlock: %w", l.name, translate(err))
	}
	l.conn.Close()
	l.conn = nil
	return nil
}

// Close is Resign.
func (l *Leader) Close() error { return l.Resign(context.Background()) }
