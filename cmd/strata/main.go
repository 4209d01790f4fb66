// Command strata is the Strata command-line tool. Each subcommand parses its
// flags, calls the library packages and prints; the work happens elsewhere.
package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/strata-data/strata/materializer"
)

func main() {
	// The local executor inspects Parquet output in a memory-limited child
	// process running this binary (see inspectCommand).
	materializer.RunInspectHelperIfRequested()
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// Exit codes.
const (
	exitOK    = 0 // success
	exitFail  = 1 // the operation failed (e.g. not a partition key)
	exitUsage = 2 // bad usage or bad input (flags, declarations)
)

// cli carries what every subcommand needs: where to write, and the clock
// (only the CLI reads it, to default --now).
type cli struct {
	stdout, stderr io.Writer
	now            func() time.Time
}

type command struct {
	name, summary string
	run           func(c *cli, args []string) error
}

func commands() []command {
	return []command{
		{"partitions", "inspect the partitions of declared assets, offline", (*cli).partitions},
		{"server", "serve the API (gRPC, REST, OpenAPI, metrics) over the catalog", (*cli).cmdServer},
		{"worker", "run jobs on this machine for a server: claim, heartbeat, report", (*cli).cmdWorker},
		{"ui", "serve the web UI alone, over another server's REST API", (*cli).cmdUI},
		{"apply", "apply declarations from a YAML file or directory (prints the diff)", (*cli).cmdApply},
		{"assets", "list or get assets", (*cli).cmdAssets},
		{"lineage", "show the asset graph around a selection", (*cli).cmdLineage},
		{"status", "show an asset's partition statuses", (*cli).cmdStatus},
		{"backfill", "create, list, get, cancel or retry backfills", (*cli).cmdBackfill},
		{"runs", "list runs, get one, or show its log", (*cli).cmdRuns},
		{"demo", "run a server with the example assets and backfill the last days", (*cli).cmdDemo},
	}
}

// run runs the strata command line with args (without the program name) and
// returns the exit code.
func run(args []string, stdout, stderr io.Writer) int {
	c := &cli{stdout: stdout, stderr: stderr, now: time.Now}
	return c.exit(c.dispatch(args))
}

func (c *cli) dispatch(args []string) error {
	if len(args) == 0 {
		c.usage(c.stderr)
		return usageErrorf("no command given")
	}
	switch args[0] {
	case "help", "-h", "-help", "--help":
		c.usage(c.stdout)
		return nil
	case "job": // hidden: the demo's example jobs (examples/jobs)
		return c.cmdJob(args[1:])
	}
	for _, cmd := range commands() {
		if cmd.name == args[0] {
			return cmd.run(c, args[1:])
		}
	}
	c.usage(c.stderr)
	return usageErrorf("unknown command %q", args[0])
}

func (c *cli) usage(w io.Writer) {
	fmt.Fprintf(w, "Usage: strata <command> [flags]\n\nCommands:\n")
	for _, cmd := range commands() {
		fmt.Fprintf(w, "  %-12s %s\n", cmd.name, cmd.summary)
	}
	fmt.Fprintf(w, "\nRun 'strata <command> -h' for a command's flags.\n")
}

// exitError carries an exit code with the error to print.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

// errShown is returned when the message was already printed (flag errors).
var errShown = errors.New("usage error shown")

func usageErrorf(format string, args ...any) error {
	return &exitError{code: exitUsage, err: fmt.Errorf(format, args...)}
}

func usageError(err error) error { return &exitError{code: exitUsage, err: err} }

func failErrorf(format string, args ...any) error {
	return &exitError{code: exitFail, err: fmt.Errorf(format, args...)}
}

// exit prints err (if any) and returns its exit code.
func (c *cli) exit(err error) int {
	if err == nil {
		return exitOK
	}
	code := exitFail
	var ee *exitError
	if errors.As(err, &ee) {
		code = ee.code
	}
	if !errors.Is(err, errShown) {
		fmt.Fprintf(c.stderr, "strata: %v\n", err)
	}
	return code
}
