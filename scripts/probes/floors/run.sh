#!/usr/bin/env bash
# What SQLite and SHA-256 alone allow on this machine, with CareTrail's own rows: the floors the
# docs/performance.md quotes for ingest and verify.
#
#   bash scripts/probes/floors/run.sh LOG     (a log written by caretrail-bench or caretrail ingest)
#   lookup-floor.c (500 point reads at random, what a report costs SQLite) is run by hand on a large log.
#
# Needs gcc, sqlite3, libsqlite3-dev and libssl-dev (apt). Writes its copies to a temporary folder.
set -euo pipefail
log=$(realpath "$1")
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

echo "== insert: 100,000 of the log's rows copied by SQLite itself into a table with the log's schema"
sqlite3 "$log" ".schema entry" > "$work/schema.sql"
grep -v "INDEX\|TRIGGER\|BEGIN SELECT" "$work/schema.sql" | grep -v "^    WHERE" > "$work/table-only.sql"
for variant in "schema.sql:every index, WAL, synchronous=FULL" "table-only.sql:no secondary index, WAL, synchronous=FULL"; do
    rm -f "$work/copy.sqlite"*
    echo "-- ${variant#*:}"
    sqlite3 "$work/copy.sqlite" <<SQL
PRAGMA journal_mode=WAL;
PRAGMA synchronous=FULL;
PRAGMA cache_size=-65536;
ATTACH '$log' AS source;
.read $work/${variant%%:*}
.timer on
BEGIN; INSERT INTO main.entry SELECT * FROM source.entry WHERE seq <= 100000; COMMIT;
SQL
done
echo "-- every index, in memory"
sqlite3 :memory: <<SQL
PRAGMA cache_size=-65536;
ATTACH '$log' AS source;
.read $work/schema.sql
.timer on
BEGIN; INSERT INTO main.entry SELECT * FROM source.entry WHERE seq <= 100000; COMMIT;
SQL

echo "== verify: read each entry's canonical bytes from one column and SHA-256 them"
# A log that stores canonical bytes is read as it is; one of the column layout is copied first.
if sqlite3 "$log" "SELECT canonical FROM entry LIMIT 1" >/dev/null 2>&1; then
    lean="$log"
else
    python3 "$here/one-column.py" "$log" "$work/one-column.sqlite"
    lean="$work/one-column.sqlite"
fi
cc -O2 -o "$work/verify-floor" "$here/verify-floor.c" -lsqlite3 -lcrypto -lpthread
for threads in 1 2 1 2; do "$work/verify-floor" "$lean" "$threads"; done
openssl speed -evp sha256 -bytes 1024 2>/dev/null | tail -1 | awk '{print "openssl speed, SHA-256 of 1 KB blocks, one core: " $2 "B per second"}'
