#!/usr/bin/env bash
# Storage benchmark: Store on etcd vs raw etcd-client create throughput, embedded vs etcd, watch-cache vs etcd
# list latency, and watch fan-out delay. Starts its own etcd; prints medians and ratios from one run.
# Arguments go to the benchmark (see `cargo run -p flotilla-bench --release -- storage --help`).
set -euo pipefail
cd "$(dirname "$0")/../.."
./hack/setup.sh
echo "# $(date -u +%Y-%m-%dT%H:%MZ) on $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(free -g | awk '/Mem:/{print $2}') GiB"
exec cargo run --quiet --release --locked -p flotilla-bench -- storage "$@"
