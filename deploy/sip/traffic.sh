#!/bin/sh
# A SIP traffic profile through the Kamailio proxy of docker-compose.yml,
# with the repo's sipp scenarios (testdata/kamailio/sipp, mounted at
# /scenarios): three phones register (bob answers, busy answers 486, ring
# rings until cancelled), then calls go on until the container stops:
# RATE calls a second to bob (answered, 2 s long), and every few seconds a
# busy call, a cancelled call, a call to an unknown user (404) and an
# OPTIONS keepalive.
set -eu
PROXY=${PROXY:-kamailio:5060}
RATE=${RATE:-2}
cd "${SCENARIOS:-/scenarios}"

sipp -sn uas -p 5070 -nostdin >/dev/null &
sipp -sf uas_486.xml -p 5071 -nostdin >/dev/null &
sipp -sf uas_cancel.xml -p 5072 -nostdin >/dev/null &

# Registrations last an hour (register.xml); renew them every ten minutes.
register() {
  sipp -sf register.xml -key user "$1" -key contact_port "$2" -p 5090 -m 1 -nostdin "$PROXY" >/dev/null
}
until register bob 5070; do sleep 1; done
register busy 5071
register ring 5072
( while sleep 600; do register bob 5070; register busy 5071; register ring 5072; done ) &

sipp -sf uac_486.xml -s busy -r 1 -rp 5000 -p 5081 -nostdin "$PROXY" >/dev/null &
sipp -sf uac_cancel.xml -s ring -r 1 -rp 7000 -p 5082 -nostdin "$PROXY" >/dev/null &
sipp -sf uac_404.xml -s nobody -r 1 -rp 11000 -p 5083 -nostdin "$PROXY" >/dev/null &
sipp -sf options.xml -r 1 -rp 13000 -p 5084 -nostdin "$PROXY" >/dev/null &
exec sipp -sn uac -s bob -d 2000 -r "$RATE" -p 5080 -nostdin "$PROXY"
