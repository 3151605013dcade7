#!/usr/bin/env bash
# Self-test of the vector tooling (no pytest needed):
#  1. generate.py --check: the committed corpus is exactly what the generator produces;
#  2. crosscheck.py passes on the corpus;
#  3. crosscheck.py FAILS on testdata/wrong-hash.json and names the wrong case.
set -u
here="$(cd "$(dirname "$0")" && pwd)"
status=0

if python3 "$here/generate.py" --check; then
  echo "ok: corpus is up to date with generate.py"
else
  echo "FAIL: vectors/*.json differ from generate.py output (run: python3 vectors/tools/generate.py)"; status=1
fi

if python3 "$here/crosscheck.py" --quiet; then
  echo "ok: crosscheck passes on the corpus"
else
  echo "FAIL: crosscheck fails on the corpus"; status=1
fi

out="$(python3 "$here/crosscheck.py" --quiet "$here/../testdata/wrong-hash.json" 2>&1)"
rc=$?
if [ "$rc" -ne 0 ] && grep -q "wrong-hash::wrong-001" <<<"$out" && grep -q "crosscheck: 0 passed, 1 failed" <<<"$out"; then
  echo "ok: crosscheck rejects testdata/wrong-hash.json and names wrong-001"
else
  echo "FAIL: crosscheck did not reject testdata/wrong-hash.json as expected (rc=$rc):"; echo "$out"; status=1
fi

exit $status
