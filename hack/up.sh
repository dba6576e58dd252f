#!/usr/bin/env bash
# Builds and runs Flotilla all-in-one (embedded store, controllers, three simulated members joined; state in
# ./.flotilla); extra arguments go to `flotilla up` (e.g. --members 5).
set -euo pipefail
cd "$(dirname "$0")/.."

./hack/setup.sh
exec cargo run --quiet --release --locked --bin flotilla -- up "$@"
