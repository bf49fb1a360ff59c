#!/usr/bin/env bash
# Drives the example service with wrk (64 connections, 2 threads) with and
# without the cache, on the embedded backend and on Redis, and prints
# requests/s, p50 and p99 latency of the steady state.
#
# Default mode: a random team of 200 per request (`/team/...`, every key in
# L1 once warm: the L1 hit path under HTTP).
# `--zipf`: a user id per request (`/user/...`) drawn from a Zipf
# distribution (skew 1.0) over all 300 000 users, 30x more keys than L1's
# default bound holds, with L1 at its default and off: the shared tier, the
# misses and L1's hit ratio all show. Each run is warmed up for a third of
# its length first, and the hit ratios are those of the measured run only.
#
# Usage: examples/service/load.sh [--zipf] [seconds per run, default 10]
set -euo pipefail
cd "$(dirname "$0")/../.."
mode=teams
if [ "${1:-}" = --zipf ]; then
  mode=zipf
  shift
fi
seconds=${1:-10}
rows=300000

need() {
  if ! command -v "$1" >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
      apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$2" >/dev/null
    else
      echo "$1 is missing: install it (Debian/Ubuntu: sudo apt-get install $2) and run again" >&2
      exit 1
    fi
  fi
}
need wrk wrk
need redis-server redis-server
need curl curl

cargo build --release -q -p memo-example-service
bin=target/release/memo-example-service
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

redis_port=$(free_port)
redis-server --port "$redis_port" --bind 127.0.0.1 --save '' --appendonly no >/dev/null &
redis_pid=$!
service_pid=
script=$(mktemp --suffix .lua)
cleanup() {
  kill "$redis_pid" ${service_pid:+"$service_pid"} 2>/dev/null || true
  rm -f "$script"
}
trap cleanup EXIT

if [ "$mode" = teams ]; then
  cat > "$script" <<'LUA'
request = function()
  return wrk.format("GET", "/team/team-" .. math.random(0, 199))
end
LUA
else
  # Inverse-CDF sampling: the CDF of Zipf(1.0) over the ids, built once per
  # wrk thread, then a binary search per request.
  cat > "$script" <<LUA
local n, skew = $rows, 1.0
local cdf, total = {}, 0
for rank = 1, n do
  total = total + 1 / rank ^ skew
  cdf[rank] = total
end
math.randomseed(os.time() + tonumber(tostring({}):sub(8), 16))
request = function()
  local r = math.random() * total
  local lo, hi = 1, n
  while lo < hi do
    local mid = math.floor((lo + hi) / 2)
    if cdf[mid] < r then lo = mid + 1 else hi = mid end
  end
  -- Rank 1 is the hottest id; ids are spread so neighbours are unrelated.
  return wrk.format("GET", "/user/" .. (lo * 7919) % n)
end
LUA
fi

# The measured run's share of each tier, from two /stats snapshots.
tiers() {
  python3 - "$1" "$2" <<'PY'
import json, sys
before, after = (json.loads(x) for x in sys.argv[1:3])
def counts(stats):
    total = [0, 0, 0]
    for f in stats.get("functions", []):
        if "::user_profile" in f["function"] or "::team_summary" in f["function"]:
            total = [a + b for a, b in zip(total, (f["l1_hits"], f["shared_hits"], f["misses"]))]
    return total
delta = [a - b for a, b in zip(counts(after), counts(before))]
calls = sum(delta) or 1
print(" | ".join(f"{100 * x / calls:.1f}%" for x in delta))
PY
}

run() {
  local label=$1; shift
  local port; port=$(free_port)
  "$bin" --port "$port" --rows "$rows" "$@" >/dev/null 2>&1 &
  service_pid=$!
  for _ in $(seq 600); do curl -sf "http://127.0.0.1:$port/stats" >/dev/null && break; sleep 0.1; done
  if [ "$mode" = teams ]; then
    # Every team once (fills the cache, or SQLite's page cache), so the
    # numbers are the steady state rather than the cold start.
    seq 0 199 | xargs -P 4 -I{} curl -sf -o /dev/null "http://127.0.0.1:$port/team/team-{}"
  else
    wrk -t2 -c64 -d"$(( (seconds + 2) / 3 ))s" -s "$script" "http://127.0.0.1:$port/" >/dev/null
  fi
  local before; before=$(curl -sf "http://127.0.0.1:$port/stats" || echo '{}')
  local out; out=$(wrk -t2 -c64 -d"${seconds}s" --latency -s "$script" "http://127.0.0.1:$port/")
  local after; after=$(curl -sf "http://127.0.0.1:$port/stats" || echo '{}')
  if grep -q "Non-2xx\|\.lua:" <<<"$out"; then
    echo "$label: wrk saw failed requests or a broken script:" >&2
    echo "$out" >&2
    exit 1
  fi
  local rps p50 p99
  rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
  p50=$(awk '$1 == "50%" {print $2}' <<<"$out")
  p99=$(awk '$1 == "99%" {print $2}' <<<"$out")
  printf '| %-30s | %10s | %8s | %8s | %s |\n' "$label" "$rps" "$p50" "$p99" "$(tiers "$before" "$after")"
  kill "$service_pid" 2>/dev/null || true
  wait "$service_pid" 2>/dev/null || true
  service_pid=
}

redis="redis://127.0.0.1:$redis_port/"
echo "| setup ($mode) | requests/s | p50 | p99 | L1 hits | shared-tier hits | misses |"
echo "|---|---|---|---|---|---|---|"
run "no cache (body every time)" --no-cache
run "embedded backend" 
if [ "$mode" = zipf ]; then
  run "embedded backend, L1 off" --no-l1
fi
run "redis backend" --redis "$redis"
if [ "$mode" = zipf ]; then
  redis-cli -p "$redis_port" flushall >/dev/null 2>&1 || true
  run "redis backend, L1 off" --no-l1 --redis "$redis"
fi
