#!/usr/bin/env bash
# API server benchmark on etcd: HTTPS create throughput vs the storage layer's own, GET p50/p99, LIST of 10,000
# objects as JSON and as Table. Starts its own etcd and a release `flotilla apiserver`; one run, side by side.
# Arguments go to the benchmark (see `cargo run -p flotilla-bench --release -- api --help`).
set -euo pipefail
cd "$(dirname "$0")/../.."
./hack/setup.sh
echo "# $(date -u +%Y-%m-%dT%H:%MZ) on $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(free -g | awk '/Mem:/{print $2}') GiB"
cargo build --quiet --release --locked -p flotilla -p flotilla-bench
target_dir=$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')
exec "$target_dir/release/flotilla-bench" api --flotilla "$target_dir/release/flotilla" "$@"
