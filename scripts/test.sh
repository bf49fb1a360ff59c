#!/usr/bin/env bash
# The whole test suite, on a fresh machine: installs redis-server (and the
# openssl command, which makes the TLS test's certificates) if missing (the
# Redis tests start their own servers on free loopback ports), then checks
# formatting and lints and runs every test and doc test.
set -euo pipefail
cd "$(dirname "$0")/.."

missing=()
command -v redis-server >/dev/null 2>&1 && command -v redis-cli >/dev/null 2>&1 || missing+=(redis-server)
command -v openssl >/dev/null 2>&1 || missing+=(openssl)
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "installing ${missing[*]} (Debian packages) for the Redis tests"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  else
    echo "${missing[*]} missing: install (Debian/Ubuntu: sudo apt-get install ${missing[*]}) and run again" >&2
    exit 1
  fi
fi

cargo fmt --all --check
cargo clippy --workspace --all-targets --quiet -- -D warnings
# The tests turn on memo-redis's `tls-ring`, `cluster` and `sentinel` for the
# whole workspace; check its default build (none of them) too.
cargo clippy -p memo-redis --quiet -- -D warnings
# memo-core without its optional features (the workspace's tests turn
# `metrics` and `bincode` on), and without Tokio; its unit tests without
# Tokio too (the async waits need no runtime).
cargo clippy -p memo-core --quiet -- -D warnings
cargo clippy -p memo-core --no-default-features --quiet -- -D warnings
cargo test -p memo-core --no-default-features --lib --quiet
cargo test --workspace
# The published crates package and build from their tarballs (README and
# license texts included). Cargo unpacks the tarballs of memo's unpublished
# crates into a local overlay under its registry and does not unpack a
# version it already holds, so a second run would build the first run's
# sources: drop those (memo's own crates only) first.
rm -rf "${CARGO_HOME:-$HOME/.cargo}"/registry/src/-*/memo-{core,macros,redis,cli,tower}-*
cargo package -p memo-macros -p memo-core -p memo-redis -p memo-cli -p memo-tower --locked --quiet
