// Command hepvault records SIP traffic mirrored over HEP into PostgreSQL and
// answers "what were the first N SIP packets of this time window?".
//
//	hepvault serve    receive HEP, store it, serve the HTTP API
//	hepvault query    ask a running hepvault for packets
//	hepvault coverage whether a window's packets are all the agents sent
//	hepvault access-log, holds, token
//	                  who asked for what, legal holds, API tokens
//	hepvault migrate  apply the database schema
//	hepvault import   load pcap/pcapng capture files into the store
//	hepvault seals export, verify, export, verify-export
//	                  the sealed days' statements, their verification, and
//	                  exports that carry their own proofs
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	if errors.Is(err, flag.ErrHelp) {
		return // the flag package printed the help asked for
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "hepvault:", err)
		var ue usageError
		if errors.As(err, &ue) {
			os.Exit(2)
		}
		os.Exit(1)
	}
}
