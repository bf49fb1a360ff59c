#!/usr/bin/env bash
# Runs every benchmark in one go (memo and its peers side by side, against a
# redis-server started here on a free loopback port) and rewrites
# benches/RESULTS.md, with the example service under load (wrk).
# Takes about 14 minutes on 2 cores.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v redis-server >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null
  else
    echo "redis-server is missing: install it (Debian/Ubuntu: sudo apt-get install redis-server) and run again" >&2
    exit 1
  fi
fi

port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no >/dev/null &
redis_pid=$!
trap 'kill "$redis_pid" 2>/dev/null || true' EXIT
for _ in $(seq 100); do redis-cli -p "$port" ping >/dev/null 2>&1 && break; sleep 0.05; done

mkdir -p target
rm -rf target/criterion
MEMO_BENCH_REDIS="redis://127.0.0.1:$port/" cargo bench -p memo-benches --bench peers 2>&1 | tee target/bench.log
cargo run --release -q -p memo-benches --bin memory > target/memory.md
bash examples/service/load.sh 8 > target/load.md
bash examples/service/load.sh --zipf 8 > target/zipf.md
cargo run --release -q -p memo-benches --bin hitratio benches/hitratio.svg > target/hitratio.md
python3 benches/report.py target/criterion target/memory.md target/bench.log target/load.md target/hitratio.md target/zipf.md > benches/RESULTS.md
echo "wrote benches/RESULTS.md"
