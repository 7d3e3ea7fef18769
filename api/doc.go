// Package api is hepvault's HTTP side (echo): the packet listing, the call
// flow, health and metrics. It reads through the small Store interface and
// never imports the collector.
package api
