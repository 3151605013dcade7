#!/usr/bin/env bash
# Runs every test of amp-conformance: the Rust workspace (unit, integration, every vector as its own
# trial, the self-test of the suite against the mock and its planted defects), the independent Python
# cross-check of the vector corpus, and a short smoke run of each fuzz target.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== cargo test (workspace)"
cargo test --workspace --locked

echo "== independent cross-check of vectors (Python cryptography)"
python3 vectors/tools/crosscheck.py
bash vectors/tools/test_crosscheck.sh

if [ -x fuzz/smoke.sh ]; then
  echo "== fuzz smoke"
  bash fuzz/smoke.sh
fi
