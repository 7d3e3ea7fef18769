// Package hepvault holds the plain domain types every hepvault package shares:
// the stored Packet (one captured SIP message), its classification, the query
// Filter and the error kinds. It imports nothing else of the project; the data
// flows socket → collector/hep → collector/sip → store → api around it.
package hepvault
