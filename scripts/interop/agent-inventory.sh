#!/usr/bin/env bash
# List the agents an AMP provider reports for a tenant, through the provider's own API, so an
# interop run can show it left no agent behind (issue #9 item 8) without trusting the tool's count.
#
#   agent-inventory.sh BASE_URL TENANT OUT_FILE
#
# GET /agents needs an agent's API key, so this registers one short-lived agent (open
# registration), lists, writes one address per line (its own address left out) to OUT_FILE and
# deregisters it again. The API key stays in this process; nothing secret is written or printed.
# Needs curl, jq, openssl.
set -euo pipefail
base=${1:?usage: agent-inventory.sh BASE_URL TENANT OUT_FILE}
tenant=${2:?tenant}
out=${3:?output file}

pub=$(openssl genpkey -algorithm ed25519 2>/dev/null | openssl pkey -pubout)
name="inventory-$(date +%s)-$RANDOM"
reg=$(jq -n --arg t "$tenant" --arg n "$name" --arg k "$pub$(printf '\n')" \
  '{tenant: $t, name: $n, public_key: $k, key_algorithm: "Ed25519"}' |
  curl -sS -m 60 -H 'Content-Type: application/json' --data-binary @- "$base/register")
key=$(jq -er '.api_key' <<<"$reg") || { echo "agent-inventory: registration refused: $(jq -c 'del(.api_key)' <<<"$reg")" >&2; exit 1; }
self=$(jq -r '.address' <<<"$reg")
unregister() { curl -sS -m 60 -o /dev/null -X DELETE -H "Authorization: Bearer $key" "$base/agents/me" || true; }
trap unregister EXIT

curl -fsS -m 60 -H "Authorization: Bearer $key" "$base/agents" |
  jq -r --arg self "$self" '.agents[].address | select(ascii_downcase != ($self | ascii_downcase))' |
  sort >"$out"
echo "agent-inventory: $(wc -l <"$out") agents in tenant $tenant (besides the inventory agent)"
