//go:build !unix

package catalog

import "os"

// Without flock, concurrent migrations of one SQLite file from two processes
// are serialised only by SQLite's own locking.
func lockFile(*os.File) error   { return nil }
func unlockFile(*os.File) error { return nil }
