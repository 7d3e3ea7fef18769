// Package pcapout writes stored packets back out as a pcap file that
// Wireshark, tshark and tcpdump read: each hepvault.Packet becomes an
// Ethernet frame carrying its SIP message with the addresses, ports,
// transport and capture time it was captured with. The API's format=pcap
// and `hepvault query --pcap` use it; it knows neither HTTP nor SQL.
package pcapout
