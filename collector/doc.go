// Package collector receives HEP over UDP, TCP and TLS and turns each packet
// into a hepvault.Packet: socket → hep.Decode → sip.Parse → Packet → bounded
// queue. The queue's consumer (store.Writer, wired by cmd) writes them; the
// collector knows no SQL. A listener never waits for the consumer: a packet
// that finds the queue full is counted as dropped. Every packet that is not
// queued is counted under a reason (see Metrics).
//
// HEP over TLS is the TCP framing read from a TLS stream (tls.go): the
// handshake runs in the connection's goroutine under a deadline, its
// failures are counted by TLSFailure, and TLSCerts.Reload swaps the
// certificate and client CAs for the handshakes that follow.
package collector
