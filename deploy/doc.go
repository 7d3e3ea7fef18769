// Package deploy holds what docker-compose.yml builds beside hepvault: the
// image of the lab's Kamailio and SIPp (sip/Dockerfile) and its traffic
// profile (sip/traffic.sh). It has no Go code; compose_test.go checks the
// compose file with docker-compose, since no container engine runs in CI.
package deploy
