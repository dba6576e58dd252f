#!/usr/bin/env bash
# Builds and runs Flotilla all-in-one on the embedded store (state in ./.flotilla); extra arguments go to `flotilla up`.
set -euo pipefail
cd "$(dirname "$0")/.."

./hack/setup.sh
exec cargo run --quiet --release --locked --bin flotilla -- up "$@"
