#!/usr/bin/env bash
# Memory benchmark of `flotilla member-sim`: 100 simulated clusters x 1,000 one-replica Deployments created through
# the API, until all are ready; prints the process's RSS. Arguments go to the benchmark (see
# `cargo run -p flotilla-bench --release -- member-sim --help`, e.g. `--clusters 10 --deployments 100`).
set -euo pipefail
cd "$(dirname "$0")/../.."
echo "# $(date -u +%Y-%m-%dT%H:%MZ) on $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(free -g | awk '/Mem:/{print $2}') GiB"
cargo build --quiet --release --locked -p flotilla -p flotilla-bench
target_dir=$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')
exec "$target_dir/release/flotilla-bench" member-sim --flotilla "$target_dir/release/flotilla" "$@"
