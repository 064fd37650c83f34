#!/bin/sh
# clipwatch benchmark suite: builds the release binary, then runs the selected
# benchmarks (default: throughput downloads footprint feeds) against a fake API and feed
# host on 127.0.0.1, with curl baselines in the same run, and prints a table.
#
#   bench/run.sh                       # all
#   bench/run.sh downloads             # one section
#   BENCH_SCENARIOS=fixed2 bench/run.sh throughput
#   BENCH_FEEDS="1000 10000" bench/run.sh feeds
#
# Needs: cargo, python3, curl, /usr/bin/time, cmp, du. Scratch space: ~3 GiB in
# $BENCH_WORK (default /tmp/clipwatch-bench).
set -eu
cd "$(dirname "$0")/.."
: "${CARGO_TARGET_DIR:=$(pwd)/target}"
export CARGO_TARGET_DIR
nice -n 10 cargo build --release --quiet
export CLIPWATCH_BIN="$CARGO_TARGET_DIR/release/clipwatch"
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
echo "machine: nproc $(nproc), $(awk '/MemTotal/ {printf "%.1f GiB RAM", $2/1048576}' /proc/meminfo), $(uname -sr)"
echo "commit:  $(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
exec python3 bench/bench.py "$@"
