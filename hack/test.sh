#!/usr/bin/env bash
# Runs every check and test of the workspace: installs missing tools, then formatting, lints, and all tests
# (unit tests, the storage conformance suite on the embedded store and on a real etcd started by the tests, ...).
set -euo pipefail
cd "$(dirname "$0")/.."

./hack/setup.sh

echo "== cargo fmt --check" >&2
cargo fmt --all -- --check

echo "== cargo clippy (warnings are errors)" >&2
cargo clippy --workspace --all-targets --locked -- -D warnings

echo "== cargo test" >&2
cargo test --workspace --locked "$@"
