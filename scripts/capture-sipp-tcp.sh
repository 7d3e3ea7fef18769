#!/usr/bin/env bash
# Makes testdata/sipp-tcp.pcapng: 5 sipp calls (INVITE/180/200/ACK/BYE/200)
# over SIP/TCP on loopback, captured by dumpcap as pcapng. It runs in a
# network namespace of its own (needs root) whose loopback has an MTU of 300
# with segmentation offload off, so that most SIP messages are split over
# two or three TCP segments: real data for the importer's TCP reassembly.
# Needs: sipp (sip-tester), dumpcap and tshark (tshark), ethtool.
#
#   sudo scripts/capture-sipp-tcp.sh testdata/sipp-tcp.pcapng
set -euo pipefail
out=$(realpath -m "${1:-testdata/sipp-tcp.pcapng}")
if [ -z "${HEPVAULT_IN_NETNS:-}" ]; then
  HEPVAULT_IN_NETNS=1 exec unshare -n "$0" "$out"
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
ip link set lo up mtu 300
ethtool -K lo tso off gso off >/dev/null
dumpcap -q -i lo -f 'tcp port 5070' -w "$work/cap.pcapng" &
cap=$!
sleep 1
sipp -sn uas -t t1 -i 127.0.0.1 -p 5070 -nostdin >uas.out 2>&1 &
uas=$!
sleep 0.5
sipp -sn uac -t t1 -i 127.0.0.1 -p 5071 -m 5 -r 5 -l 2 -timeout 20 -timeout_error -nostdin 127.0.0.1:5070 >uac.out 2>&1
sleep 1
kill -INT "$uas"; wait "$uas" || true
kill -INT "$cap"; wait "$cap" || true
cp "$work/cap.pcapng" "$out"
chmod 644 "$out"
tshark -r "$out" -Y sip -T fields -e frame.number -e frame.time_epoch -e sip.Method \
  -e sip.Status-Code -e sip.CSeq.method -e sip.Call-ID >"${out%.pcapng}.truth.tsv"
echo "wrote $out and ${out%.pcapng}.truth.tsv"
