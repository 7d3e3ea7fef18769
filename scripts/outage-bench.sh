#!/usr/bin/env bash
# PostgreSQL stopped for a while in the middle of a steady HEP stream: is every
# packet stored, once? (issue 10: 8 s out of 30 s at 100,000 packets/s over TCP)
#
#   scripts/outage-bench.sh [rate] [duration] [outage] [transport]
#
# It makes a throwaway PostgreSQL 15 cluster (its own port, durable settings),
# runs hepvault on it with a spool, offers the traffic with hepbench, stops
# PostgreSQL (pg_ctl stop -m fast) 10 s in, starts it again after the outage,
# and counts in SQL what the database holds. Run as root on a quiet machine;
# not part of the test suite (make outage-bench).
set -euo pipefail
rate=${1:-100000}
duration=${2:-30s}
outage=${3:-8}
transport=${4:-tcp}

cd "$(dirname "$0")/.."
pgbin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
work=$(mktemp -d /tmp/hv-outage.XXXXXX)
chmod 711 "$work"
port=57532
dsn="postgres://postgres@127.0.0.1:$port/hepvault"
hv=""
cleanup() {
	[ -n "$hv" ] && kill "$hv" 2>/dev/null && wait "$hv" 2>/dev/null || true
	su postgres -c "$pgbin/pg_ctl -D $work/pg -m immediate stop" >/dev/null 2>&1 || true
	rm -rf "$work"
}
trap cleanup EXIT

go build -o "$work/hepvault" ./cmd/hepvault
go build -o "$work/hepbench" ./cmd/hepbench
mkdir "$work/pg" && chown postgres "$work/pg"
touch "$work/pg.log" && chown postgres "$work/pg.log"
su postgres -c "$pgbin/initdb -D $work/pg -A trust -U postgres" >/dev/null
cat >>"$work/pg/postgresql.conf" <<EOF
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$work/pg'
shared_buffers = 512MB
max_wal_size = 4GB
EOF
pgstart() { su postgres -c "$pgbin/pg_ctl -D $work/pg -l $work/pg.log -w start" >/dev/null; }
pgstart
psql -q -h 127.0.0.1 -p $port -U postgres -c 'create database hepvault'

"$work/hepvault" serve --db "$dsn" --data-dir "$work/hv" --hep-udp 127.0.0.1:19160 --hep-tcp 127.0.0.1:19160 \
	--http 127.0.0.1:19180 --log-level warn 2>"$work/hepvault.log" &
hv=$!
for _ in $(seq 100); do curl -fs http://127.0.0.1:19180/readyz >/dev/null && break; sleep 0.1; done

"$work/hepbench" --label "outage ${outage}s" --addr 127.0.0.1:19160 --transport "$transport" --rate "$rate" \
	--duration "$duration" --db "$dsn" --metrics http://127.0.0.1:19180/metrics --pid $hv \
	--catch-up 5m --max-wait 10m --settle 10s &
bench=$!
sleep 10
echo "$(date +%T) stopping PostgreSQL for ${outage}s"
su postgres -c "$pgbin/pg_ctl -D $work/pg -m fast -w stop" >/dev/null
sleep "$outage"
pgstart
echo "$(date +%T) PostgreSQL started again"
wait $bench || true

echo "--- what the database holds (SQL over the packets view)"
psql -h 127.0.0.1 -p $port -U postgres -d hepvault -c \
	"SELECT count(*) AS packets, count(DISTINCT (captured_at, id)) AS distinct_packets, count(DISTINCT call_id) AS calls FROM packets"
echo "--- hepvault's counters"
curl -s http://127.0.0.1:19180/metrics | grep -E '^hepvault_(received|stored|dropped|spooled|replayed|spool_dropped)[a-z_]*(\{.*\})? ' || true
