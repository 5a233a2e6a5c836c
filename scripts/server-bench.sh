#!/usr/bin/env bash
# The server figures of docs/performance.md: a fresh log, an agent key, `caretrail serve` on loopback,
# then `wrk` (Debian package `wrk`) with scripts/wrk-post-call.lua in the load shapes below, the
# server's CPU time per request, and `caretrail verify` of everything that was acknowledged.
#
#   bash scripts/server-bench.sh [single|rate|batch|floor|all] [seconds]
#
#   single  64 connections, each sending its next call as soon as it has its answer
#   rate    5,000 single-call requests/s at evenly spaced moments (RATE=5000), 64 connections
#   batch   NDJSON batches of 1,000 calls, 8 connections
#   floor   64 connections posting `{}`: authentication, body, contract check and a 422 answer,
#           nothing appended; what HTTP and the server's framework cost alone
set -euo pipefail
cd "$(dirname "$0")/.."
what=${1:-all}
seconds=${2:-15}
B=${CARETRAIL:-.build/release/caretrail}
[ -x "$B" ] || swift build -c release --product caretrail
command -v wrk >/dev/null || { echo "wrk is missing (apt-get install wrk)"; exit 2; }
dir=$(mktemp -d)
PID=
trap '[ -n "$PID" ] && kill $PID 2>/dev/null; rm -rf "$dir"' EXIT
$B init --db "$dir/audit.sqlite" >/dev/null
SECRET=$($B keys create --db "$dir/audit.sqlite" --role agent --tenant hospital-1 --format json |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["secret"])')
export SECRET
$B serve --db "$dir/audit.sqlite" --port 8080 >"$dir/serve.log" 2>&1 &
PID=$!
for _ in $(seq 50); do curl -sf http://127.0.0.1:8080/health >/dev/null && break; sleep 0.1; done

cat >"$dir/floor.lua" <<'LUA'
local secret = os.getenv("SECRET") or ""
request = function()
  return wrk.format("POST", "/v1/tool-calls", { ["Authorization"] = "Bearer " .. secret, ["Content-Type"] = "application/json" }, "{}")
end
LUA

run() { # name, env..., then wrk arguments
  local name=$1; shift
  local ticks=$(getconf CLK_TCK)
  local before=$(awk '{print $14+$15}' /proc/$PID/stat)
  env "$@" >"$dir/wrk.out"
  local after=$(awk '{print $14+$15}' /proc/$PID/stat)
  local requests=$(grep -oE '^ *[0-9]+ requests in' "$dir/wrk.out" | grep -oE '[0-9]+' | head -1)
  echo "== $name"
  grep -E "Requests/sec|  50%|  90%|  99%|Non-2xx" "$dir/wrk.out"
  awk -v t=$((after - before)) -v hz=$ticks -v n=$requests 'BEGIN { printf "server CPU: %.1f s, %.0f us per request\n", t/hz, 1e6*t/hz/n }'
}
lua=scripts/wrk-post-call.lua
url=http://127.0.0.1:8080
case $what in single|all) run single wrk -t2 -c64 -d${seconds}s --latency -s $lua $url ;; esac
case $what in rate|all) run "rate 5000/s" RATE=5000 wrk -t2 -c64 -d${seconds}s --latency -s $lua $url ;; esac
case $what in batch|all) run "batches of 1000" BATCH=1000 wrk -t2 -c8 -d${seconds}s --latency -s $lua $url ;; esac
case $what in floor|all) run "floor (422, nothing appended)" wrk -t2 -c64 -d${seconds}s --latency -s "$dir/floor.lua" $url ;; esac
kill $PID; wait $PID 2>/dev/null || true
$B verify --db "$dir/audit.sqlite"
