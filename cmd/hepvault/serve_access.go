package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"strconv"
	"time"

	"github.com/hepvault/hepvault/api"
	"github.com/hepvault/hepvault/collector"
)

// guardConfig holds the serve flags that bound what hepvault lets in: who
// may send HEP and query, and how much of each.
type guardConfig struct {
	UDPReadBuffer int
	TCPMaxConns   int
	HEPAllow      string
	APIToken      string
	// APITokens is the tokens file (api.ParseTokens): named tokens with roles.
	APITokens    string
	QueryTimeout time.Duration
	envErr       error // a number in the environment that is not one
}

func addGuardFlags(fs *flag.FlagSet, getenv env, g *guardConfig) {
	ccfg, acfg := collector.DefaultConfig(), api.DefaultAccessConfig()
	fs.IntVar(&g.UDPReadBuffer, "udp-read-buffer", g.envInt(getenv, "HEPVAULT_UDP_READ_BUFFER", ccfg.UDPReadBuffer),
		"UDP socket receive buffer in bytes (0: the default); a warning says when the kernel grants less (net.core.rmem_max) (env HEPVAULT_UDP_READ_BUFFER)")
	fs.IntVar(&g.TCPMaxConns, "tcp-max-conns", g.envInt(getenv, "HEPVAULT_TCP_MAX_CONNS", ccfg.TCPMaxConns),
		"most HEP TCP connections open at once; more are closed and counted (env HEPVAULT_TCP_MAX_CONNS)")
	fs.StringVar(&g.HEPAllow, "hep-allow", getenv("HEPVAULT_HEP_ALLOW"),
		"networks allowed to send HEP, CIDR,...; others are dropped and counted as not_allowed; empty allows all (env HEPVAULT_HEP_ALLOW)")
	fs.StringVar(&g.APIToken, "api-token", getenv("HEPVAULT_API_TOKEN"),
		"require \"Authorization: Bearer TOKEN\" on every API route but /healthz (env HEPVAULT_API_TOKEN)")
	fs.StringVar(&g.APITokens, "api-tokens", getenv("HEPVAULT_API_TOKENS"),
		"file of named API tokens with roles, one \"NAME ROLE SHA256\" a line (hepvault token new NAME ROLE makes one) (env HEPVAULT_API_TOKENS)")
	fs.DurationVar(&g.QueryTimeout, "query-timeout", acfg.QueryTimeout, "how long one API request may spend in the database")
}

// apply copies the flags into the collector's and the API's configs.
func (g guardConfig) apply(ccfg *collector.Config, acfg *api.AccessConfig) error {
	if g.envErr != nil {
		return usageError{g.envErr}
	}
	allow, err := collector.ParseAllowList(g.HEPAllow)
	if err != nil {
		return usagef("--hep-allow: %v", err)
	}
	if g.UDPReadBuffer < 0 || g.TCPMaxConns < 0 {
		return usagef("--udp-read-buffer and --tcp-max-conns must not be negative")
	}
	// 0 keeps the default, so a serveConfig built in code (tests) runs with
	// the settings the flags give, not with an unset receive buffer.
	if g.UDPReadBuffer > 0 {
		ccfg.UDPReadBuffer = g.UDPReadBuffer
	}
	if g.TCPMaxConns > 0 {
		ccfg.TCPMaxConns = g.TCPMaxConns
	}
	if g.QueryTimeout > 0 {
		acfg.QueryTimeout = g.QueryTimeout
	}
	ccfg.Allow, acfg.Token = allow, g.APIToken
	if g.APITokens != "" {
		f, err := os.Open(g.APITokens)
		if err != nil {
			return usagef("--api-tokens: %v", err)
		}
		defer f.Close()
		if acfg.Tokens, err = api.ParseTokens(f); err != nil {
			return usagef("--api-tokens %s: %v", g.APITokens, err)
		}
	}
	return nil
}

// envInt reads a whole number from the environment, or def when unset; a
// value that is not a number is remembered and reported by apply.
func (g *guardConfig) envInt(getenv env, name string, def int) int {
	v := getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		g.envErr = errors.Join(g.envErr, fmt.Errorf("%s=%q is not a whole number", name, v))
		return def
	}
	return n
}
