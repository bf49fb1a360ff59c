#!/usr/bin/env bash
# Drives the example service with wrk (64 connections, 2 threads, a random
# team of 200 per request) with and without the cache, on the embedded
# backend and on Redis, and prints requests/s and p99 latency of the steady
# state (every team is requested once before the measured run).
# Usage: examples/service/load.sh [seconds per run, default 10]
set -euo pipefail
cd "$(dirname "$0")/../.."
seconds=${1:-10}

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
cleanup() { kill "$redis_pid" ${service_pid:+"$service_pid"} 2>/dev/null || true; }
trap cleanup EXIT

script=$(mktemp --suffix .lua)
cat > "$script" <<'LUA'
request = function()
  return wrk.format("GET", "/team/team-" .. math.random(0, 199))
end
LUA

run() {
  local label=$1; shift
  local port; port=$(free_port)
  "$bin" --port "$port" --rows 300000 "$@" >/dev/null 2>&1 &
  service_pid=$!
  for _ in $(seq 600); do curl -sf "http://127.0.0.1:$port/stats" >/dev/null && break; sleep 0.1; done
  # Warm up: every team once (fills the cache, or SQLite's page cache), so
  # the numbers are the steady state rather than the cold start.
  seq 0 199 | xargs -P 4 -I{} curl -sf -o /dev/null "http://127.0.0.1:$port/team/team-{}"
  local out; out=$(wrk -t2 -c64 -d"${seconds}s" --latency -s "$script" "http://127.0.0.1:$port/")
  local rps p99
  rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
  p99=$(awk '$1 == "99%" {print $2}' <<<"$out")
  local stats; stats=$(curl -sf "http://127.0.0.1:$port/stats" || echo '{}')
  printf '| %-28s | %10s | %9s | %s |\n' "$label" "$rps" "$p99" "$stats"
  kill "$service_pid" 2>/dev/null || true
  wait "$service_pid" 2>/dev/null || true
  service_pid=
}

echo "| setup | requests/s | p99 | /stats after the run |"
echo "|---|---|---|---|"
run "no cache (body every time)" --no-cache
run "embedded backend" 
run "redis backend" --redis "redis://127.0.0.1:$redis_port/"
rm -f "$script"
