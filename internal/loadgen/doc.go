// Package loadgen generates realistic SIP traffic wrapped in HEPv3 and sends
// it to a collector at a fixed offered rate, for hepbench: the dialogs a
// Kamailio farm mirrors (registrations, keepalives, calls, failed and
// cancelled calls) with unique Call-IDs, branches and tags, and message sizes
// like Kamailio's (a mean HEP packet of about 510 bytes).
//
// It also holds what hepbench reads back to judge a run: the stored count
// (from the database or the API), the collector's counters (/metrics), the
// kernel's UDP drop counters, and a process's CPU time and peak RSS from /proc.
// Nothing here is imported by the collector or the store.
package loadgen
