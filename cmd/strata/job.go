package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/strata-data/strata/examples/jobs"
)

// cmdJob runs `strata job NAME`, a hidden subcommand: one of the example
// jobs of the demo (examples/jobs), a real program that follows the job
// protocol. Strata starts it as an asset's command; it reads STRATA_CONTEXT
// and writes Parquet to STRATA_OUTPUT.
func (c *cli) cmdJob(args []string) error {
	if len(args) != 1 || args[0] == "-h" || args[0] == "--help" {
		return usageErrorf("usage: strata job NAME (one of %v); run by Strata as an asset's command", jobs.Names())
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := jobs.Run(ctx, args[0], os.Getenv, c.stdout); err != nil {
		return failErrorf("%v", err)
	}
	return nil
}
