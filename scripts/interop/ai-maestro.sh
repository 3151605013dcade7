#!/usr/bin/env bash
# Published interop run against AI Maestro (23blocks-OS/ai-maestro), like Autobahn's reports:
# bring the provider up on 127.0.0.1, run the whole suite against it, write
#   reports/interop/ai-maestro-<version>.json   the run's JSON report (redacted, with transcripts)
#   reports/interop/ai-maestro-<version>.md     summary, root causes and the hand triage of every
#                                               non-pass verdict (from reports/interop/ai-maestro.triage.toml)
# and stop the provider again. Not part of CI: needs Node 20, the npm registry and a few minutes.
#
#   scripts/interop/ai-maestro.sh [extra `amp-conformance run` flags...]
#
# Environment: everything start.sh/stop.sh read (AMP_PEER_MIRROR, AMP_PEER_ROOT, AMP_PEER_PORT,
# AMP_PEER_TENANT, AMP_PEER_REF), plus
#   AMP_CONFORMANCE    the binary to run (default target/debug/amp-conformance, built if absent)
#   AMP_INTEROP_OUT    where the report pair goes (default reports/interop)
#   AMP_INTEROP_TRACE  also write per-case traces into this directory (default: none)
#   AMP_PEER_KEEP=1    leave the provider running afterwards
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
peer=$repo/scripts/interop/ai-maestro
root=${AMP_PEER_ROOT:-/tmp/amp-interop}
port=${AMP_PEER_PORT:-23000}
tenant=${AMP_PEER_TENANT:-acme}
base=http://127.0.0.1:$port/api/v1
outdir=${AMP_INTEROP_OUT:-$repo/reports/interop}
bin=${AMP_CONFORMANCE:-$repo/target/debug/amp-conformance}
export AMP_PEER_ROOT=$root AMP_PEER_PORT=$port AMP_PEER_TENANT=$tenant

if [[ ! -x $bin ]]; then
  (cd "$repo" && nice -n 10 cargo build -p amp-conformance)
fi
[[ ${AMP_PEER_KEEP:-0} == 1 ]] || trap 'bash "$peer/stop.sh"' EXIT
bash "$peer/start.sh"

version=$(node -p 'require(process.argv[1]).version' "$root/ai-maestro/package.json")
commit=$(git -C "$root/ai-maestro" rev-parse --short=8 HEAD)
work=$(mktemp -d)
mkdir -p "$outdir"
json=$outdir/ai-maestro-$version.json
md=$outdir/ai-maestro-$version.md

# The config names port and tenant; write the run's own copy when they differ from the defaults.
config=$peer/config.toml
if [[ $port != 23000 || $tenant != acme ]]; then
  sed -e "s/127.0.0.1:23000/127.0.0.1:$port/g" -e "s/^tenant = \"acme\"/tenant = \"$tenant\"/" "$config" >"$work/config.toml"
  config=$work/config.toml
fi

bash "$repo/scripts/interop/agent-inventory.sh" "$base" "$tenant" "$work/agents-before.txt"
run=("$bin" run --config "$config" --timeout 30 --report-json "$json")
[[ -n ${AMP_INTEROP_TRACE:-} ]] && run+=(--trace "$AMP_INTEROP_TRACE")
run+=("$@")
status=0
"${run[@]}" >"$work/terminal.txt" 2>&1 || status=$?
tail -3 "$work/terminal.txt"
((status <= 1)) || { echo "amp-conformance exited $status (harness or usage problem); see $work/terminal.txt" >&2; exit "$status"; }
bash "$repo/scripts/interop/agent-inventory.sh" "$base" "$tenant" "$work/agents-after.txt"

"$bin" list >"$work/cases.txt"
python3 "$repo/scripts/interop/render-report.py" "$json" "$repo/reports/interop/ai-maestro.triage.toml" "$md" \
  --peer-version "$version" --peer-commit "$commit" \
  --tool-commit "$(git -C "$repo" rev-parse --short=8 HEAD)" \
  --inventory-before "$work/agents-before.txt" --inventory-after "$work/agents-after.txt" \
  --known-cases "$work/cases.txt" \
  --command "amp-conformance run --config scripts/interop/ai-maestro/config.toml --timeout 30${*:+ $*}"
echo "wrote $json and $md (terminal output: $work/terminal.txt)"
