// Command hepbench offers a collector realistic SIP traffic over HEP at a
// fixed rate and reports what it stored, what it dropped and why, and what
// the run cost it in CPU and memory. With --find-max it steps the rate to
// the highest one stored without loss. See BENCHMARKS.md.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if errors.Is(err, flag.ErrHelp) {
		os.Exit(0)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "hepbench:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cfg, err := parseConfig(args, stderr)
	if err != nil {
		return err
	}
	if cfg.FindMax {
		return findMax(ctx, cfg, stdout)
	}
	r, err := measure(ctx, cfg, cfg.Rate)
	if err != nil {
		return err
	}
	r.print(stdout)
	return nil
}
