#!/usr/bin/env bash
# Several edge locations of one deployment on this machine (tests/e2e/locations.mjs): three
# edgegate workers (AAA, BBB, CCC) in one workerd, each with its own KV replica that behaves like
# Workers KV scaled down (writes visible at once where made, 0.5 s propagation to the others,
# 1 s read cache per location, misses cached too), one SessionAuthority namespace living at the
# first, a recording origin behind them. Needs the built worker (scripts/build.sh) and
# scripts/setup.sh.
#
#   scripts/locations.sh demo               start the locations and print their URLs (Ctrl-C
#                                           stops); user "demo", password "demo password"
#   scripts/locations.sh soak [N] [LANES]   N session lifecycles (default 10000), LANES at a time
#                                           (default 50), spread over the locations: login,
#                                           requests everywhere, a refresh after the KV bound,
#                                           requests, logout, then the logged-out access token
#                                           at the logout location at once and everywhere after
#                                           the bound. Prints the figures as one JSON line and
#                                           fails if a live session was refused, a logged-out one
#                                           was served past its bound, or anything else went
#                                           wrong ("servedAtOnce" counts logouts not yet final
#                                           where they were pressed: a figure, not a failure).
#   scripts/locations.sh reach-soak [N] [LANES]
#                                           the same lifecycles with KV's propagation at its real
#                                           60 s and the authority as the revocation read
#                                           (REVOCATION_CACHE_TTL 5 s): a logged-out token must be
#                                           refused everywhere 6 s (the TTL and a round trip)
#                                           after the logout.
#   scripts/locations.sh authority-load [SECONDS] [CLIENTS] [TTL]
#                                           one user's authority under the three locations:
#                                           CLIENTS sessions of one user (default 32) requesting
#                                           at random locations for SECONDS (default 10), with
#                                           REVOCATION_CACHE_TTL=TTL (default 0: every request
#                                           asks the authority). Prints req/s and latencies.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
use_node22

[ -f "$WORKER_JS" ] && [ -f "$WORKER_WASM" ] || die "the worker is not built; run ./scripts/build.sh"
case "${1:-}" in
  demo) exec node tests/e2e/locations.mjs demo ;;
  soak | reach-soak) exec node tests/e2e/locations.mjs "$1" "${2:-10000}" "${3:-50}" ;;
  authority-load) exec node tests/e2e/locations.mjs authority-load "${2:-10}" "${3:-32}" "${4:-0}" ;;
  *) die "usage: scripts/locations.sh demo | soak [N] [LANES] | reach-soak [N] [LANES] | authority-load [SECONDS] [CLIENTS] [TTL]" ;;
esac
