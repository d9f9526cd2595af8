#!/usr/bin/env bash
# Side-by-side benchmark: Python flashtext vs `personabot classify --summary -`.
#
# usage: benches/compare.sh [--quick] [--keep]
#   --quick   20k messages per workload (default: 100k)
#   --keep    keep the generated workloads (printed path) instead of deleting them
# env:
#   BENCH_VENV              venv for flashtext (default /tmp/personabot-bench-venv)
#   BENCH_MAX_DISAGREE_PCT  fail threshold for count disagreement (default 3)
#   BENCH_SEED              workload seed (default 1)
#   BENCH_WORKDIR           where to generate workloads (default: a new mktemp -d)
#   PERSONABOT_BIN          use this binary and skip `cargo build --release`
#
# Exit status: 0 ok; 1 counts disagree by more than the threshold on some workload;
#              2 setup failure (venv, build, CLI without `classify --summary -`).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/.." && pwd)"
venv="${BENCH_VENV:-/tmp/personabot-bench-venv}"
max_pct="${BENCH_MAX_DISAGREE_PCT:-3}"
seed="${BENCH_SEED:-1}"
quick=0
keep=0
for arg in "$@"; do
  case "$arg" in
    --quick) quick=1 ;;
    --keep) keep=1 ;;
    -h|--help) sed -n '2,17p' "$0"; exit 0 ;;
    *) echo "compare.sh: unknown argument: $arg" >&2; exit 2 ;;
  esac
done
if [ "$quick" = 1 ]; then messages=20000; else messages=100000; fi
workloads=("100x50" "1000x50")

log() { echo "compare.sh: $*" >&2; }
die() { log "$*"; exit 2; }

# --- flashtext venv (only created / installed when missing) ---------------------------------
if ! "$venv/bin/python" -c 'import flashtext' >/dev/null 2>&1; then
  log "setting up venv $venv with flashtext"
  [ -x "$venv/bin/python" ] || python3 -m venv "$venv" || die "python3 -m venv failed"
  "$venv/bin/pip" install -q flashtext || die "pip install flashtext failed"
fi
py="$venv/bin/python"

# --- build ------------------------------------------------------------------------------------
if [ -n "${PERSONABOT_BIN:-}" ]; then
  bin="$PERSONABOT_BIN"
else
  log "cargo build --release in $repo"
  (cd "$repo" && cargo build --release --quiet) || die "cargo build --release failed"
  bin="$repo/target/release/personabot"
fi
[ -x "$bin" ] || die "no binary at $bin"

# --- workloads ----------------------------------------------------------------------------------
if [ -n "${BENCH_WORKDIR:-}" ]; then
  work="$BENCH_WORKDIR"; mkdir -p "$work"
else
  work="$(mktemp -d /tmp/personabot-bench.XXXXXX)"
  if [ "$keep" = 0 ]; then trap 'rm -rf "$work"' EXIT; fi
fi
[ "$keep" = 1 ] && log "workloads kept in $work"

for wl in "${workloads[@]}"; do
  n="${wl%x*}"; k="${wl#*x}"
  python3 "$here/gen_workload.py" --intents "$n" --keywords "$k" --messages "$messages" \
    --seed "$seed" --out "$work/$wl" 2>/dev/null
done

# The CLI must support `classify --summary -` and print a JSON object with the agreed shape.
probe="$(printf 'hello\n' | "$bin" --catalog "$work/${workloads[0]}" classify --summary - 2>/dev/null)" \
  || die "'$bin --catalog DIR classify --summary -' failed; is the CLI implemented yet?"
echo "$probe" | python3 -c '
import json, sys
o = json.loads(sys.stdin.read())
assert all(k in o for k in ("messages", "counts", "none", "elapsed_ms", "msgs_per_sec")), o
' 2>/dev/null || die "unexpected output of classify --summary -: $probe"

# Wall time of a run on empty input = catalog load + compile + process start (an upper bound on
# compile time that does not depend on logging). Prints ms, best of 3.
startup_ms() {
  python3 - "$bin" "$1" <<'EOF'
import subprocess, sys, time
best = None
for _ in range(3):
    t = time.perf_counter()
    subprocess.run([sys.argv[1], "--catalog", sys.argv[2], "classify", "--summary", "-"],
                   stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    d = (time.perf_counter() - t) * 1000
    best = d if best is None or d < best else best
print("%.1f" % best)
EOF
}

# Compile time as logged by the CLI itself, if it logs one at RUST_LOG=info (optional).
logged_compile() {
  RUST_LOG=info "$bin" --catalog "$1" classify --summary - </dev/null 2>&1 >/dev/null \
    | grep -iE 'compil|catalog|load' | grep -E '[0-9]' | head -n 3 | sed 's/^/    /' || true
}

# --- runs -------------------------------------------------------------------------------------
results="$work/results.tsv"
: > "$results"
for wl in "${workloads[@]}"; do
  d="$work/$wl"
  log "running $wl ($messages messages): flashtext"
  "$py" "$here/flashtext_bench.py" "$d" > "$d/flashtext.json"
  log "running $wl ($messages messages): personabot"
  "$bin" --catalog "$d" classify --summary - < "$d/messages.txt" > "$d/personabot.json"
  printf '%s\t%s\t%s\t%s\t%s\n' "$wl" "$d" "$d/flashtext.json" "$d/personabot.json" \
    "$(startup_ms "$d")" >> "$results"
done

default_line=""
real_line=""
if [ -d "$repo/intents" ] && [ -d "$repo/personas" ]; then
  log "running default catalog ($repo) on the ${workloads[0]} messages"
  "$bin" --catalog "$repo" classify --summary - < "$work/${workloads[0]}/messages.txt" \
    > "$work/default.json"
  default_line="$work/default.json"$'\t'"$(startup_ms "$repo")"
  # Real customer-support text (banking77 + bitext test splits), when ../shared has them.
  datasets="$repo/../shared/datasets"
  if [ -f "$datasets/banking77/test.csv" ] && [ -f "$datasets/bitext/test.csv" ]; then
    python3 - "$datasets" "$messages" > "$work/real.txt" <<'PY'
import csv, sys
root, n = sys.argv[1], int(sys.argv[2])
texts = []
for f in ("banking77/test.csv", "bitext/test.csv"):
    with open(f"{root}/{f}", newline="") as fh:
        texts += [row["text"].replace("\n", " ") for row in csv.DictReader(fh)]
for i in range(n):
    print(texts[i % len(texts)])
PY
    log "running default catalog on $messages real support messages (banking77 + bitext)"
    "$bin" --catalog "$repo" classify --summary - < "$work/real.txt" > "$work/real.json"
    real_line="$work/real.json"
  fi
else
  log "no intents/ + personas/ in $repo: skipping the default catalog row"
fi

# --- table ------------------------------------------------------------------------------------
status=0
python3 - "$results" "$max_pct" "$default_line" "$real_line" <<'EOF' || status=$?
import json, sys
results, max_pct, default_line, real_line = sys.argv[1], float(sys.argv[2]), sys.argv[3], sys.argv[4]

def kw_count(workdir):
    with open(workdir + "/keywords.json") as f:
        return sum(len(v) for v in json.load(f).values())

rows, bad = [], []
for line in open(results):
    wl, d, ftp, pbp, start = line.rstrip("\n").split("\t")
    ft, pb = json.load(open(ftp)), json.load(open(pbp))
    if ft["messages"] != pb["messages"]:
        bad.append("%s: message counts differ (flashtext %d, personabot %d)"
                   % (wl, ft["messages"], pb["messages"]))
    labels = set(ft["counts"]) | set(pb["counts"])
    diff = sum(abs(pb["counts"].get(l, 0) - ft["counts"].get(l, 0)) for l in labels)
    diff += abs(pb["none"] - ft["none"])  # "none" counted as one more label
    pct = 100.0 * diff / max(ft["messages"], 1)
    ratio = pb["msgs_per_sec"] / ft["msgs_per_sec"] if ft["msgs_per_sec"] else float("nan")
    warn = "  WARN" if pct > max_pct else ""
    if pct > max_pct:
        bad.append("%s: per-intent counts disagree by %.2f%% (> %g%%)" % (wl, pct, max_pct))
    rows.append((wl, str(kw_count(d)), "%.0f" % ft["msgs_per_sec"], "%.0f" % pb["msgs_per_sec"],
                 "%.2fx" % ratio, "%.2f%%%s" % (pct, warn), start))

if default_line:
    dp, start = default_line.split("\t")
    pb = json.load(open(dp))
    rows.append(("default catalog", "-", "-", "%.0f" % pb["msgs_per_sec"], "-", "-", start))
if real_line:
    pb = json.load(open(real_line))
    rows.append(("default, real text", "-", "-", "%.0f" % pb["msgs_per_sec"], "-", "-", "-"))

head = ("workload", "keywords", "flashtext msg/s", "personabot msg/s", "ratio",
        "count diff", "startup ms")
w = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(head)]
fmt = "  ".join("%%-%ds" % x for x in w)
print(fmt % head)
print(fmt % tuple("-" * x for x in w))
for r in rows:
    print(fmt % r)
print()
print("ratio = personabot / flashtext msgs/s; count diff = sum over labels (+ none) of "
      "|ours - flashtext| / messages; startup ms = wall time on empty input (load + compile "
      "+ process start, best of 3)")
for b in bad:
    print("WARN: " + b)
sys.exit(1 if bad else 0)
EOF

for wl in "${workloads[@]}"; do
  lc="$(logged_compile "$work/$wl")"
  if [ -n "$lc" ]; then echo "RUST_LOG=info lines from $wl mentioning compile/load:"; echo "$lc"; fi
done
exit "$status"
