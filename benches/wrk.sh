#!/usr/bin/env bash
# HTTP throughput and store size with wrk, an independent load generator: a release
# `personabot serve` on 127.0.0.1 with a new temp data folder, then wrk (64 connections) posting
# real support text (banking77 + bitext test messages), each request a new conversation, first to
# `POST /v1/messages` as a declared bridge (`bench`, durable in sled), then to `POST /v1/classify`
# (nothing stored), in the same run. Prints requests/s of each, the ratio messages/classify, and
# the store's bytes per turn (the data folder's size after the server flushed and exited, over
# the interactions stored).
#
# usage: benches/wrk.sh [--duration SECS] [--connections N] [--threads N] [--keep]
#   --duration SECS   seconds of wrk per endpoint (default 15)
#   --connections N   wrk connections (default 64)
#   --threads N       wrk threads (default 2)
#   --keep            keep the temp folder (data, messages, logs) and print its path
# env:
#   PERSONABOT_BIN    use this binary and skip `cargo build --release`
#   BENCH_DATASETS    the datasets folder (default: ../shared/datasets beside the repo)
#
# Not part of `cargo test` or .ci/run. Exit status: 0 ok; 2 setup failure (wrk missing, build,
# server not starting, wrk failing).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/.." && pwd)"
duration=15
connections=64
threads=2
keep=0
while [ $# -gt 0 ]; do
  case "$1" in
    --duration) duration="$2"; shift 2 ;;
    --connections) connections="$2"; shift 2 ;;
    --threads) threads="$2"; shift 2 ;;
    --keep) keep=1; shift ;;
    -h|--help) sed -n '2,21p' "$0"; exit 0 ;;
    *) echo "wrk.sh: unknown argument: $1" >&2; exit 2 ;;
  esac
done

log() { echo "wrk.sh: $*" >&2; }
die() { log "$*"; exit 2; }
# shellcheck source=wrk/common.sh
. "$here/wrk/common.sh"

command -v wrk >/dev/null 2>&1 \
  || die "wrk is not installed: install it with 'apt-get install wrk' (Debian/Ubuntu) or 'brew install wrk'"
command -v python3 >/dev/null 2>&1 || die "python3 is needed to prepare the messages"
command -v curl >/dev/null 2>&1 || die "curl is needed to wait for the server"

# --- build ------------------------------------------------------------------------------------
if [ -n "${PERSONABOT_BIN:-}" ]; then
  bin="$PERSONABOT_BIN"
else
  log "cargo build --release in $repo"
  (cd "$repo" && cargo build --release --quiet) || die "cargo build --release failed"
  bin="${CARGO_TARGET_DIR:-$repo/target}/release/personabot"
fi
[ -x "$bin" ] || die "no binary at $bin"

# --- messages -----------------------------------------------------------------------------------
datasets="${BENCH_DATASETS:-$repo/../shared/datasets}"
work="$(mktemp -d /tmp/personabot-wrk.XXXXXX)"
server=""
cleanup() {
  if [ -n "$server" ] && kill -0 "$server" 2>/dev/null; then kill "$server" 2>/dev/null || true; fi
  if [ "$keep" = 0 ]; then rm -rf "$work"; else log "kept $work"; fi
}
trap cleanup EXIT
messages="$work/messages.txt"
write_messages "$datasets" "$messages"

# --- server -------------------------------------------------------------------------------------
port="$(free_port)"
token="bench-token-$(python3 -c 'import secrets; print(secrets.token_hex(16))')"
data="$work/data"
mkdir -p "$work/run"
# Run in an empty folder: the built-in catalog and settings, as shipped.
(
  cd "$work/run"
  PERSONABOT__BRIDGES__BENCH__TOKEN="$token" \
  PERSONABOT__HTTP__MAX_CONNECTIONS_PER_ADDRESS=0 \
    exec "$bin" serve --listen "127.0.0.1:$port" --data "$data"
) >"$work/serve.log" 2>&1 &
server=$!
base="http://127.0.0.1:$port"
wait_http "$base/healthz" "$server" serve "$work/serve.log"

run_wrk() { # path -> prints requests/s; the whole output goes to $work/wrk-<name>.txt
  local path="$1" name="$2"
  WRK_MESSAGES="$messages" WRK_TOKEN="$token" \
    wrk -t"$threads" -c"$connections" -d"${duration}s" --latency -s "$here/wrk/messages.lua" \
    "$base$path" >"$work/wrk-$name.txt" 2>&1 || { cat "$work/wrk-$name.txt" >&2; die "wrk failed"; }
  local bad
  bad="$(awk '/^requests /{print $4}' "$work/wrk-$name.txt")"
  [ "${bad:-0}" = 0 ] || log "$path: $bad responses were not 2xx/3xx"
  awk '/^Requests\/sec:/{print $2}' "$work/wrk-$name.txt"
}

log "wrk -t$threads -c$connections -d${duration}s POST /v1/messages"
messages_rps="$(run_wrk /v1/messages messages)"
log "wrk -t$threads -c$connections -d${duration}s POST /v1/classify"
classify_rps="$(run_wrk /v1/classify classify)"

# --- store size ---------------------------------------------------------------------------------
kill -TERM "$server"
wait "$server" 2>/dev/null || true
server=""
turns="$(cd "$work/run" && "$bin" evidence export --data "$data" 2>/dev/null | wc -l)" \
  || die "evidence export failed"
store_bytes="$(du -sb "$data" | cut -f1)"

latency() { awk '/^ +99%/{print $2; exit}' "$work/wrk-$1.txt"; }
python3 - "$messages_rps" "$classify_rps" "$turns" "$store_bytes" "$(latency messages)" \
  "$(latency classify)" "$connections" "$duration" <<'PY'
import sys
m, c, turns, size = float(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
m99, c99, conns, secs = sys.argv[5], sys.argv[6], sys.argv[7], sys.argv[8]
print(f"wrk: {conns} connections, {secs} s per endpoint, real support text, a new conversation per request")
print(f"POST /v1/messages   {m:10.0f} requests/s   p99 {m99}")
print(f"POST /v1/classify   {c:10.0f} requests/s   p99 {c99}")
print(f"ratio messages/classify  {m / c:.2f}" if c else "ratio messages/classify  n/a")
print(f"store: {size} bytes for {turns} turns = {size / turns:.0f} bytes per turn" if turns
      else f"store: {size} bytes, no turns stored")
PY
