#!/usr/bin/env bash
# Cluster throughput with wrk: one nats-server (JetStream, file storage, a temp folder) and N
# release `personabot serve` nodes on 127.0.0.1, each with its own temp data folder, cluster
# mode on (`PERSONABOT__CLUSTER__NATS_URL`, `PERSONABOT__CLUSTER__NODE`). One wrk per node runs at
# the same time (64 connections in all, split over the nodes), posting real support text
# (banking77 + bitext test messages) to `POST /v1/messages` as a bridge, each request a new
# conversation. Prints, for each N: the cluster's messages/s (the sum of the nodes'), the time
# the outboxes took to drain to JetStream after the load stopped, and the messages in the
# `PB_EVIDENCE` stream against the turns the nodes stored (they must be equal). N = 0 is one
# node without cluster mode, the baseline.
#
# usage: benches/cluster.sh [--nodes "0 1 2 3"] [--duration SECS] [--connections N] [--keep]
#   --nodes LIST      the node counts to run, in order (default "0 1 2 3"; 0 = no cluster)
#   --duration SECS   seconds of wrk per run (default 15)
#   --connections N   wrk connections in all, split over the nodes (default 64)
#   --keep            keep the temp folder and print its path
# env:
#   PERSONABOT_BIN    use this binary and skip `cargo build --release`
#   NATS_SERVER       the nats-server binary (default: on PATH, else /usr/sbin/nats-server)
#   BENCH_DATASETS    the datasets folder (default: ../shared/datasets beside the repo)
#
# Not part of `cargo test` or .ci/run. Every process runs on this machine, so N nodes share its
# cores: the figures show what cluster mode costs and that nothing is lost, not a scale-out on
# more machines. Exit status: 0 ok; 1 the stream lost or duplicated messages; 2 setup failure.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/.." && pwd)"
nodes_list="0 1 2 3"
duration=15
connections=64
keep=0
while [ $# -gt 0 ]; do
  case "$1" in
    --nodes) nodes_list="$2"; shift 2 ;;
    --duration) duration="$2"; shift 2 ;;
    --connections) connections="$2"; shift 2 ;;
    --keep) keep=1; shift ;;
    -h|--help) sed -n '2,25p' "$0"; exit 0 ;;
    *) echo "cluster.sh: unknown argument: $1" >&2; exit 2 ;;
  esac
done

log() { echo "cluster.sh: $*" >&2; }
die() { log "$*"; exit 2; }
# shellcheck source=wrk/common.sh
. "$here/wrk/common.sh"

command -v wrk >/dev/null 2>&1 || die "wrk is not installed: 'apt-get install wrk'"
command -v python3 >/dev/null 2>&1 || die "python3 is needed"
command -v curl >/dev/null 2>&1 || die "curl is needed"
nats="${NATS_SERVER:-$(command -v nats-server || echo /usr/sbin/nats-server)}"
[ -x "$nats" ] || die "nats-server is not installed: 'apt-get install nats-server'"

if [ -n "${PERSONABOT_BIN:-}" ]; then
  bin="$PERSONABOT_BIN"
else
  log "cargo build --release in $repo"
  (cd "$repo" && cargo build --release --quiet) || die "cargo build --release failed"
  bin="${CARGO_TARGET_DIR:-$repo/target}/release/personabot"
fi
[ -x "$bin" ] || die "no binary at $bin"

datasets="${BENCH_DATASETS:-$repo/../shared/datasets}"
work="$(mktemp -d /tmp/personabot-cluster.XXXXXX)"
pids=()
stop_all() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  pids=()
}
cleanup() {
  stop_all
  if [ "$keep" = 0 ]; then rm -rf "$work"; else log "kept $work"; fi
}
trap cleanup EXIT

messages="$work/messages.txt"
write_messages "$datasets" "$messages"

token="bench-token-$(python3 -c 'import secrets; print(secrets.token_hex(16))')"

# A JSON field of a URL's answer, by a Python expression on `j`.
json_at() { curl -fsS "$1" | python3 -c "import json,sys; j=json.load(sys.stdin); print($2)"; }

results="$work/results.txt"
: >"$results"
for n in $nodes_list; do
  run="$work/n$n"
  mkdir -p "$run"
  stop_all
  count="$n"
  monitor=""
  if [ "$n" -gt 0 ]; then
    nport="$(free_port)"
    monitor="$(free_port)"
    "$nats" -js -a 127.0.0.1 -p "$nport" -m "$monitor" -sd "$run/nats" >"$run/nats.log" 2>&1 &
    pids+=("$!")
    wait_http "http://127.0.0.1:$monitor/healthz" "$!" "nats-server"
  else
    count=1
  fi
  bases=()
  for i in $(seq 1 "$count"); do
    port="$(free_port)"
    mkdir -p "$run/node$i"
    (
      cd "$run/node$i"
      if [ "$n" -gt 0 ]; then
        export PERSONABOT__CLUSTER__NATS_URL="nats://127.0.0.1:$nport"
        export PERSONABOT__CLUSTER__NODE="node$i"
      fi
      PERSONABOT__BRIDGES__BENCH__TOKEN="$token" \
      PERSONABOT__HTTP__MAX_CONNECTIONS_PER_ADDRESS=0 \
        exec "$bin" serve --listen "127.0.0.1:$port" --data "$run/node$i/data"
    ) >"$run/node$i.log" 2>&1 &
    pids+=("$!")
    wait_http "http://127.0.0.1:$port/healthz" "$!" "node$i"
    bases+=("http://127.0.0.1:$port")
  done

  per=$(( connections / count ))
  [ "$per" -ge 1 ] || per=1
  log "N=$n: ${#bases[@]} node(s), wrk -t1 -c$per -d${duration}s each"
  wrks=()
  for i in "${!bases[@]}"; do
    WRK_MESSAGES="$messages" WRK_TOKEN="$token" \
      wrk -t1 -c"$per" -d"${duration}s" -s "$here/wrk/messages.lua" \
      "${bases[$i]}/v1/messages" >"$run/wrk$i.txt" 2>&1 &
    wrks+=("$!")
  done
  for w in "${wrks[@]}"; do wait "$w" || die "wrk failed (see $run)"; done
  total=0
  for i in "${!bases[@]}"; do
    rps="$(awk '/^Requests\/sec:/{print $2}' "$run/wrk$i.txt")"
    total="$(python3 -c "print($total + $rps)")"
  done

  drain="-"
  stream="-"
  if [ "$n" -gt 0 ]; then
    start="$(date +%s.%N)"
    for b in "${bases[@]}"; do
      for _ in $(seq 1 1200); do
        [ "$(json_at "$b/healthz" 'j["cluster"]["outbox"]')" = 0 ] && break
        sleep 0.05
      done
    done
    drain="$(python3 -c "print(f'{$(date +%s.%N) - $start:.1f}s')")"
    stream="$(json_at "http://127.0.0.1:$monitor/jsz?streams=true" \
      'sum(s["state"]["messages"] for a in j.get("account_details", []) for s in a.get("stream_detail", []) if s["name"] == "PB_EVIDENCE")')"
  fi
  stop_all
  stored=0
  for i in $(seq 1 "$count"); do
    c="$(cd "$run/node$i" && "$bin" evidence export --data "$run/node$i/data" 2>/dev/null | wc -l)"
    stored=$(( stored + c ))
  done
  echo "$n $total $drain $stream $stored" >>"$results"
done

python3 - "$results" "$connections" "$duration" <<'PY'
import sys
rows = [l.split() for l in open(sys.argv[1]) if l.strip()]
print(f"wrk: {sys.argv[2]} connections in all, {sys.argv[3]} s, POST /v1/messages, real support text")
print(f"{'nodes':<14}{'messages/s':>12}{'vs 1 process':>14}{'outbox drained':>16}{'in stream':>11}{'stored':>9}")
base = None
lost = False
for n, total, drain, stream, stored in rows:
    total = float(total)
    base = base or total
    name = "1, no cluster" if n == "0" else n
    print(f"{name:<14}{total:>12.0f}{total / base:>13.2f}x{drain:>16}{stream:>11}{stored:>9}")
    if stream != "-" and stream != stored:
        lost = True
if lost:
    print("the stream does not hold exactly the stored turns", file=sys.stderr)
    sys.exit(1)
PY
