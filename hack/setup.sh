#!/usr/bin/env bash
# Installs what building and testing Flotilla needs and is missing: etcd (Debian's etcd-server, for the etcd
# backend's tests and benchmarks) and protoc (etcd-client's build needs it). Idempotent; instant when all is there.
set -euo pipefail

missing=()
command -v protoc >/dev/null 2>&1 || missing+=(protobuf-compiler)
command -v etcd >/dev/null 2>&1 || [ -x /usr/bin/etcd ] || missing+=(etcd-server)

if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]} with apt-get" >&2
  sudo=""
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null 2>&1 || { echo "setup: need root or sudo to install ${missing[*]}" >&2; exit 1; }
    sudo="sudo"
  fi
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
fi

command -v cargo >/dev/null 2>&1 || { echo "setup: cargo not found; install Rust with rustup (https://rustup.rs)" >&2; exit 1; }
command -v kubectl >/dev/null 2>&1 || echo "setup: note: kubectl not found; the API tests need it (https://kubernetes.io/docs/tasks/tools/)" >&2
exit 0
