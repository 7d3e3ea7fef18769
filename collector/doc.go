// Package collector receives HEP over UDP and TCP and turns each packet into a
// hepvault.Packet: socket → hep.Decode → sip.Parse → Packet → bounded queue.
// The queue's consumer (store.Writer, wired by cmd) writes them; the collector
// knows no SQL. A listener never waits for the consumer: a packet that finds
// the queue full is counted as dropped. Every packet that is not queued is
// counted under a reason (see Metrics).
package collector
