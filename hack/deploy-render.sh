#!/usr/bin/env bash
# Renders deploy/ for a host cluster: certificates from `flotilla certs init` (created on first use, reused
# afterwards), each APIService's caBundle set to their CA, and the serving-certificate Secret the API server mounts.
#
# usage: hack/deploy-render.sh [--certs DIR] [--out DIR]
#   --certs DIR  certificates directory (default .flotilla/deploy-certs)
#   --out DIR    where the rendered manifests go (default .flotilla/deploy); then: kubectl apply -f DIR
# env: FLOTILLA  the flotilla binary (default: target/debug/flotilla if built, else `flotilla` on PATH)
#      FLOTILLA_IMAGE  container image to run instead of the one in deploy/
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
certs=".flotilla/deploy-certs"
out=".flotilla/deploy"
while [ $# -gt 0 ]; do
  case "$1" in
    --certs) certs="$2"; shift 2 ;;
    --out) out="$2"; shift 2 ;;
    -h|--help) sed -n '2,9p' "$0"; exit 0 ;;
    *) echo "deploy-render: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done

flotilla="${FLOTILLA:-}"
if [ -z "$flotilla" ]; then
  if [ -x "$root/target/debug/flotilla" ]; then flotilla="$root/target/debug/flotilla"; else flotilla=flotilla; fi
fi

namespace=flotilla-system
service=flotilla-apiserver
secret=flotilla-apiserver-certs
# The names the aggregator and in-cluster clients use for the Service; the aggregator verifies <svc>.<ns>.svc.
hosts="$service.$namespace.svc,$service.$namespace.svc.cluster.local,$service.$namespace,$service"
"$flotilla" certs init --dir "$certs" --hosts "$hosts" --server "https://$service.$namespace.svc:443"

b64() { base64 < "$1" | tr -d '\n'; }
ca_bundle="$(b64 "$certs/ca.crt")"

mkdir -p "$out"
for manifest in "$root"/deploy/*.yaml; do
  name="$(basename "$manifest")"
  sed -e "s|CA_BUNDLE_FROM_DEPLOY_RENDER|$ca_bundle|" "$manifest" > "$out/$name"
  if [ -n "${FLOTILLA_IMAGE:-}" ]; then
    sed -i -e "s|image: ghcr.io/flotilla-io/flotilla:latest|image: $FLOTILLA_IMAGE|" "$out/$name"
  fi
done

umask 077
cat > "$out/secret.yaml" <<YAML
# The API server's serving certificate and key (from $certs), mounted by deploy/apiserver.yaml.
apiVersion: v1
kind: Secret
metadata:
  name: $secret
  namespace: $namespace
  labels:
    app.kubernetes.io/part-of: flotilla
type: kubernetes.io/tls
data:
  tls.crt: $(b64 "$certs/apiserver.crt")
  tls.key: $(b64 "$certs/apiserver.key")
  ca.crt: $(b64 "$certs/ca.crt")
YAML
echo "rendered $(ls "$out" | wc -l) manifests into $out; apply with: kubectl apply -f $out"
