// Package callflow reads the packets of one Call-ID, as the store returns
// them, into what people ask of a call: its outcome, its times, who called
// whom (Summarize), and its message flow drawn as a ladder (Ladder). It sits
// after the store, beside the API: it takes hepvault.Packets, parses nothing
// but what the collector already extracted (and the body of a message, to
// see SDP), and does no I/O but writing the ladder.
package callflow
