#!/usr/bin/env bash
# Makes testdata/kamailio-legs-hep3.pcap: two calls through a Kamailio
# (testdata/kamailio/b2bua.cfg) that gives each call a second Call-ID
# towards the callee (topoh) and names the first in X-CID, its siptrace
# mirroring every SIP message as HEPv3 to 127.0.0.1:9060; sipp's uac calls
# sipp's uas through it. dumpcap captures the HEP and the SIP on the wire in
# one file; the truth (kamailio-legs-hep3.truth.tsv) is tshark's reading of
# the SIP on the wire. It runs in a network namespace of its own (root).
# Needs: kamailio, sipp (sip-tester), dumpcap and tshark.
#
#   sudo scripts/capture-legs.sh testdata
set -euo pipefail
dir=$(realpath "${1:-testdata}")
cfg=$(realpath "$(dirname "$0")/../testdata/kamailio/b2bua.cfg")
if [ -z "${HEPVAULT_IN_NETNS:-}" ]; then
  HEPVAULT_IN_NETNS=1 exec unshare -n "$0" "$dir"
fi
work=$(mktemp -d)
chmod 777 "$work"
trap 'rm -rf "$work"' EXIT
cd "$work"
ip link set lo up
dumpcap -q -i lo -f 'udp port 9060 or udp port 5060 or udp port 5070 or udp port 5090' -P -w "$work/legs.pcap" 2>dump.err &
dc=$!
sleep 1.5
kamailio -DD -E -f "$cfg" -Y "$work" -P "$work/kamailio.pid" -m 32 -M 4 \
  -l udp:127.0.0.1:5060 >kamailio.out 2>&1 &
kam=$!
sipp -sn uas -i 127.0.0.1 -p 5070 -nostdin >uas.out 2>&1 &
uas=$!
sleep 1
sipp -sn uac -s bob -d 200 -i 127.0.0.1 -p 5090 -m 2 -r 2 -nostdin 127.0.0.1:5060 >uac.out 2>&1
sleep 1
kill -INT "$uas"; wait "$uas" || true
kill "$kam"; wait "$kam" || true
kill -INT "$dc"; wait "$dc" || true
out="$dir/kamailio-legs-hep3.pcap"
cp "$work/legs.pcap" "$out"
chmod 644 "$out"
# SIP on the wire (not the HEP copies on 9060): frame, time, method, status,
# CSeq method, Call-ID, and the X-CID header when there is one.
tshark -r "$out" -Y 'sip && !(udp.port == 9060)' -T fields -e frame.number -e frame.time_epoch -e sip.Method \
  -e sip.Status-Code -e sip.CSeq.method -e sip.Call-ID -e sip.msg_hdr >"$work/truth.raw"
awk -F'\t' 'BEGIN { OFS = "\t" } {
  xcid = ""
  if (match($7, /\\r\\nX-CID: [^\\]*/)) { xcid = substr($7, RSTART + 11, RLENGTH - 11) }
  print $1, $2, $3, $4, $5, $6, xcid
}' "$work/truth.raw" >"${out%.pcap}.truth.tsv"
echo "wrote $out and ${out%.pcap}.truth.tsv"
