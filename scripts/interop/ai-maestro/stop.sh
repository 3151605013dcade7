#!/usr/bin/env bash
# Stop the AI Maestro peer that start.sh launched. It ends exactly the process group recorded in
# run/server.pid (start.sh runs the server under setsid, so pid = group id); nothing is looked up
# by name. AMP_PEER_ROOT as for start.sh; AMP_PEER_WIPE=1 also deletes the server's data dir.
set -uo pipefail
root=${AMP_PEER_ROOT:-/tmp/amp-interop}
pidfile=$root/run/server.pid

if [[ -s $pidfile ]]; then
  group=$(cat "$pidfile")
  if kill -0 "$group" 2>/dev/null && [[ $(ps -o pgid= -p "$group" | tr -d ' ') == "$group" ]]; then
    kill -TERM -- "-$group" 2>/dev/null
    for _ in $(seq 20); do kill -0 -- "-$group" 2>/dev/null || break; sleep 0.5; done
    if kill -0 -- "-$group" 2>/dev/null; then
      echo "ai-maestro: group $group outlived SIGTERM by 10 s; sending SIGKILL"
      kill -KILL -- "-$group" 2>/dev/null
    fi
    echo "ai-maestro: stopped process group $group"
  else
    echo "ai-maestro: $group is not a live group leader we started; nothing to stop"
  fi
  rm -f "$pidfile"
else
  echo "ai-maestro: no $pidfile; nothing to stop"
fi
if [[ ${AMP_PEER_WIPE:-0} == 1 ]]; then
  rm -rf "$root/home/.aimaestro" && echo "ai-maestro: removed $root/home/.aimaestro"
fi
