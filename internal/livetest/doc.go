// Package livetest runs the real programs hepvault is tested against on
// loopback: Kamailio as the proxy whose siptrace module feeds hepvault,
// sipp as the user agents, and dumpcap and tshark to see the SIP on the wire.
// Every process it starts is stopped in t.Cleanup; every file lives in a
// test's temporary directory.
//
// Tests call Require first: it skips with the reason when a program is
// missing, or fails when HEPVAULT_REQUIRE_LIVE is set (as CI sets it, after
// scripts/deps.sh has installed them).
package livetest
