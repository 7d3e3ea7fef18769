#!/bin/bash
# One ingest run against a fresh database: hepvault serve on it, hepbench
# offering RATE packets/s over TRANSPORT for DURATION, then the database is
# dropped (a day's partition that has grown makes later runs slower:
# BENCHMARKS.md). Needs a PostgreSQL whose DSN (without a database name)
# is in PGDSN, and PGDATA for the postmaster's pid (PostgreSQL's CPU).
#   PGDSN=postgres://postgres@127.0.0.1:57432 PGDATA=/tmp/pgdev/data \
#     scripts/ingest-bench.sh ./hepvault ./hepbench tcp 88000 60s
set -euo pipefail
HV=$1 BENCH=$2 TRANSPORT=$3 RATE=$4 DURATION=$5
: "${PGDSN:?PGDSN: the cluster's DSN, without a database}" "${PGDATA:?PGDATA: the cluster's data folder}"
DB=hvbench$$
psql "$PGDSN/postgres" -qc "CREATE DATABASE $DB"
RUN=$(mktemp -d)
"$HV" serve --db "$PGDSN/$DB" --data-dir "$RUN" --hep-udp 127.0.0.1:19060 --hep-tcp 127.0.0.1:19060 \
  --http 127.0.0.1:19080 --log-level warn &
PID=$!
trap 'kill $PID 2>/dev/null; wait $PID 2>/dev/null; psql "$PGDSN/postgres" -qc "DROP DATABASE IF EXISTS $DB"; rm -rf "$RUN"' EXIT
sleep 2
vmstat 10 "$(( ${DURATION%s} / 10 + 1 ))" | awk 'NR > 3 { s += $17; n++ } END { if (n) printf "steal %.1f %%\n", s / n }' &
VM=$!
"$BENCH" --addr 127.0.0.1:19060 --transport "$TRANSPORT" --pid $PID --pg-pid "$(head -1 "$PGDATA/postmaster.pid")" \
  --db "$PGDSN/$DB" --metrics http://127.0.0.1:19080/metrics --duration "$DURATION" --rate "$RATE" --seed 7
wait $VM
