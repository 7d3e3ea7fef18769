#!/usr/bin/env bash
# Makes testdata/sipp-udp-any.pcap and testdata/sipp-udp-ngrep.pcap: 3 sipp
# calls over SIP/UDP on loopback, captured at once by `tcpdump -i any -w`
# (link type LINUX_SLL2) and `ngrep -d any -O` (LINUX_SLL), as a trainee
# would save them. It runs in a network namespace of its own (needs root).
# Needs: sipp (sip-tester), tcpdump, ngrep, tshark.
#
#   sudo scripts/capture-sipp-udp-any.sh testdata
set -euo pipefail
dir=$(realpath "${1:-testdata}")
if [ -z "${HEPVAULT_IN_NETNS:-}" ]; then
  HEPVAULT_IN_NETNS=1 exec unshare -n "$0" "$dir"
fi
work=$(mktemp -d)
chmod 777 "$work" # tcpdump writes as its own user
trap 'rm -rf "$work"' EXIT
cd "$work"
ip link set lo up
tcpdump -q -i any -w "$work/any.pcap" 'udp port 5080' 2>/dev/null &
td=$!
ngrep -q -d any -O "$work/ngrep.pcap" '' 'udp port 5080' >/dev/null 2>&1 &
ng=$!
sleep 1.5
sipp -sn uas -i 127.0.0.1 -p 5080 -nostdin >uas.out 2>&1 &
uas=$!
sleep 0.5
sipp -sn uac -i 127.0.0.1 -p 5081 -m 3 -r 5 -nostdin 127.0.0.1:5080 >uac.out 2>&1
sleep 1
kill -INT "$uas"; wait "$uas" || true
kill -INT "$td" "$ng"; wait "$td" "$ng" || true
for f in any ngrep; do
  out="$dir/sipp-udp-$f.pcap"
  cp "$work/$f.pcap" "$out"
  chmod 644 "$out"
  tshark -r "$out" -Y sip -T fields -e frame.number -e frame.time_epoch -e sip.Method \
    -e sip.Status-Code -e sip.CSeq.method -e sip.Call-ID >"${out%.pcap}.truth.tsv"
  echo "wrote $out and ${out%.pcap}.truth.tsv"
done
