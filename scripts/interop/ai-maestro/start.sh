#!/usr/bin/env bash
# Bring AI Maestro (23blocks-OS/ai-maestro, the AMP reference provider) up on 127.0.0.1 as an
# interop peer for amp-conformance. Not part of CI: it needs the npm registry and minutes.
#
# Environment (all optional except where a default does not fit):
#   AMP_PEER_MIRROR  where to clone from: a local mirror/clone or a URL
#                    (default https://github.com/23blocks-OS/ai-maestro.git)
#   AMP_PEER_REF     commit or branch to check out on the first clone (default: the source's HEAD)
#   AMP_PEER_ROOT    directory that holds everything the peer writes (default /tmp/amp-interop):
#                      ai-maestro/  checkout and node_modules
#                      home/        HOME of the server; its data lives in home/.aimaestro
#                      run/         server.log and server.pid
#   AMP_PEER_PORT    loopback port (default 23000)
#   AMP_PEER_TENANT  the provider's organisation, which is its AMP tenant (default acme)
#
# Idempotent: when the recorded server is still alive it only prints where it is.
# Needs node 20 with npx, git, make, g++ and curl. Binds 127.0.0.1 only.
set -euo pipefail

source_repo=${AMP_PEER_MIRROR:-https://github.com/23blocks-OS/ai-maestro.git}
root=${AMP_PEER_ROOT:-/tmp/amp-interop}
port=${AMP_PEER_PORT:-23000}
tenant=${AMP_PEER_TENANT:-acme}
app=$root/ai-maestro
server_home=$root/home
rundir=$root/run
origin=http://127.0.0.1:$port

say() { printf 'ai-maestro: %s\n' "$*"; }
die() { printf 'ai-maestro: %s\n' "$*" >&2; exit 1; }

node_major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null) || die "node not found (need Node 20)"
[[ $node_major == 20 ]] || say "warning: node $node_major found; AI Maestro v0.36 is tested on Node 20"

mkdir -p "$root" "$server_home/.aimaestro" "$rundir"
if [[ -s $rundir/server.pid ]] && kill -0 "$(cat "$rundir/server.pid")" 2>/dev/null; then
  say "already running as process group $(cat "$rundir/server.pid") on $origin"
  exit 0
fi

# A mirror can lack large blobs (videos under docs/). List the blobs of the tree that the
# object store does not have and exclude exactly those paths with a sparse checkout.
checkout() {
  git clone --quiet --no-checkout "$source_repo" "$app"
  local ref=${AMP_PEER_REF:-HEAD} absent
  absent=$(git -C "$app" ls-tree -r "$ref" |
    while read -r _mode kind sha path; do
      [[ $kind == blob ]] && ! git -C "$app" cat-file -e "$sha" 2>/dev/null && printf '!/%s\n' "$path"
    done || true)
  if [[ -n $absent ]]; then
    printf '/*\n%s\n' "$absent" | git -C "$app" sparse-checkout set --no-cone --stdin
  fi
  git -C "$app" checkout --quiet "$ref"
}
[[ -f $app/server.mjs ]] || { rm -rf "$app"; say "cloning $source_repo"; checkout; }

# Dependencies come from the npm registry with install scripts off: cozo-node's script fetches a
# binary from GitHub and only routes outside AMP need it. server.mjs imports node-pty, so that one
# native module is compiled here against the headers of the node that runs it.
if [[ ! -d $app/node_modules/next ]]; then
  say "installing dependencies (minutes on first run)"
  (cd "$app" && YARN_CACHE_FOLDER=$root/.yarn-cache npx --yes yarn@1.22.22 install \
    --frozen-lockfile --ignore-scripts --non-interactive --network-timeout 600000)
fi
if ! (cd "$app" && node -e 'require("node-pty")' 2>/dev/null); then
  node_prefix=$(dirname "$(dirname "$(readlink -f "$(command -v node)")")")
  (cd "$app/node_modules/node-pty" && npx --yes node-gyp rebuild --nodedir="$node_prefix")
fi

# The organisation (= AMP tenant) is normally set once through /api/organization, which loads
# cozo-node. Write it straight into the provider's hosts file instead, with this host on loopback.
hosts_file=$server_home/.aimaestro/hosts.json
if ! grep -qs '"organization"' "$hosts_file"; then
  host_id=$(node -p 'require("os").hostname().toLowerCase().replace(/\.local$/, "")')
  TENANT=$tenant HOST_ID=$host_id ORIGIN=$origin node -e '
    const e = process.env;
    const cfg = {
      hosts: [{ id: e.HOST_ID, name: e.HOST_ID, url: e.ORIGIN, enabled: true, description: "loopback interop peer" }],
      organization: e.TENANT,
      organizationSetAt: new Date().toISOString().replace(/\.\d+Z$/, "Z"),
      organizationSetBy: e.HOST_ID,
    };
    process.stdout.write(JSON.stringify(cfg, null, 2) + "\n");' > "$hosts_file"
fi

# Start in a session of its own: the pid is also the process-group id that stop.sh ends.
cd "$app"
env HOME="$server_home" HOSTNAME=127.0.0.1 PORT="$port" NEXT_TELEMETRY_DISABLED=1 \
  NEXT_PRIVATE_SKIP_LOCKFILE_CHECK=1 \
  setsid nohup node_modules/.bin/tsx server.mjs >"$rundir/server.log" 2>&1 </dev/null &
echo $! >"$rundir/server.pid"
say "started process group $(cat "$rundir/server.pid"); log $rundir/server.log"

deadline=$((SECONDS + 180))
until curl -fsS -m 5 -o /dev/null "$origin/api/v1/health" 2>/dev/null; do
  kill -0 "$(cat "$rundir/server.pid")" 2>/dev/null || { tail -20 "$rundir/server.log" >&2; die "server exited"; }
  ((SECONDS < deadline)) || die "no answer on $origin within 180 s; see $rundir/server.log"
  sleep 1
done

# Next.js dev mode compiles a route on its first request (seconds each on 2 cores). Touch every
# AMP route once so those compilations do not eat the suite's per-request timeout. The last two
# paths do not exist: they compile the HTML not-found page, the slowest compilation of all.
for route in /.well-known/agent-messaging.json /api/v1/info /api/v1/agents /api/v1/agents/me \
  /api/v1/agents/me/card "/api/v1/agents/resolve/warmup@$tenant.aimaestro.local" /api/v1/messages \
  /api/v1/messages/pending /api/v1/messages/pending/warmup /api/v1/messages/warmup/read \
  /api/v1/messages/pending/ack /api/v1/route /api/v1/register /api/v1/auth/rotate-key \
  /api/v1/auth/rotate-keys /api/v1/auth/revoke-key /api/v1/federation/deliver \
  /api/v1/agents/warmup/risk /api/v1/no-such-route; do
  curl -sS -m 180 -o /dev/null "$origin$route" || true
done
# The /v1/ws handler is imported on the first connection; open one (a bogus auth frame after a
# pause is answered with an error and a close) so the suite's first session does not pay for it.
timeout 60 node -e '
  const WebSocket = require("ws");
  const ws = new WebSocket(process.argv[1]);
  ws.on("open", () => setTimeout(() => ws.send(JSON.stringify({ type: "auth", token: "warmup" })), 2000));
  ws.on("close", () => process.exit(0));
  ws.on("error", () => process.exit(0));
  setTimeout(() => process.exit(0), 30000);' "ws://127.0.0.1:$port/v1/ws" || true

say "REST base $origin/api/v1"
say "WebSocket ws://127.0.0.1:$port/v1/ws"
say "tenant    $(node -p 'require(process.argv[1]).organization' "$hosts_file")"
say "version   $(node -p 'require(process.argv[1]).version' "$app/package.json")"
