#!/usr/bin/env bash
# Builds edgegate and runs the whole system locally, no Cloudflare account needed:
#   - the worker in workerd through `wrangler dev --local`, with local KV under .wrangler/state
#   - a demo origin application behind it (scripts/demo-origin.mjs)
# Then prints the URL to open. Ctrl-C stops everything.
#
# Ports: EDGEGATE_PORT (default 8787) for the worker, ORIGIN_PORT (default 8788) for the origin.
set -euo pipefail
cd "$(dirname "$0")/.."

edge_port=${EDGEGATE_PORT:-8787}
origin_port=${ORIGIN_PORT:-8788}

bash scripts/setup.sh
. scripts/lib.sh
bash scripts/build.sh
use_node22

port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
for port in "$edge_port" "$origin_port"; do
  port_busy "$port" && die "port $port on 127.0.0.1 is already in use (another ./scripts/run.sh?); stop it or set EDGEGATE_PORT / ORIGIN_PORT"
done

pids=()
stop_children() {
  trap - INT TERM EXIT
  local pid
  for pid in "${pids[@]}"; do
    # Each child leads its own process group, so this also stops workerd under wrangler.
    kill -TERM -- "-$pid" 2>/dev/null || true
  done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
}
trap 'echo; step "stopping"; stop_children; exit 130' INT TERM
trap stop_children EXIT

# A demo account in the local KV, so there is someone to log in as (documented in the README).
if [ ! -f .wrangler/state/.demo-user ]; then
  step "creating the demo user 'demo' in the local USERS namespace"
  mkdir -p .wrangler/state
  EDGEGATE_DEMO_PASSWORD=edgegate-demo cargo run --quiet --features cli --bin edgegate -- \
    user add demo --roles member,demo --password-env EDGEGATE_DEMO_PASSWORD --local --persist-to .wrangler/state \
    && touch .wrangler/state/.demo-user || die "could not create the demo user"
fi

step "starting the demo origin on http://127.0.0.1:$origin_port"
setsid "$NODE" scripts/demo-origin.mjs "$origin_port" &
origin_pid=$!
pids+=("$origin_pid")

step "starting the worker with wrangler dev (local workerd, local KV in .wrangler/state)"
# wrangler.toml's [vars] already name the default ports; only other ports need overrides.
vars=()
[ "$origin_port" = 8788 ] || vars+=(--var "ORIGIN_URL:http://127.0.0.1:$origin_port")
[ "$edge_port" = 8787 ] || vars+=(--var "ISSUER:http://127.0.0.1:$edge_port")
setsid "$NODE" node_modules/wrangler/bin/wrangler.js dev --local --ip 127.0.0.1 --port "$edge_port" \
  --persist-to .wrangler/state --show-interactive-dev-session=false ${vars[@]+"${vars[@]}"} </dev/null &
wrangler_pid=$!
pids+=("$wrangler_pid")

wait_for_url "http://127.0.0.1:$origin_port/.demo-origin/health" 20 "$origin_pid" \
  || die "the demo origin did not start (see its output above)"
wait_for_url "http://127.0.0.1:$edge_port/.edgegate/health" 120 "$wrangler_pid" \
  || die "wrangler dev did not start answering on port $edge_port within 2 minutes (see its output above)"

echo
ok "edgegate is running at http://127.0.0.1:$edge_port"
note "log in as demo / edgegate-demo"
note "demo origin (behind it): http://127.0.0.1:$origin_port   local KV: .wrangler/state   Ctrl-C stops both"
echo

# Stay up until Ctrl-C or until one of the two exits on its own.
status=0
wait -n "${pids[@]}" || status=$?
step "a child process exited (status $status); stopping the other"
exit "$status"
