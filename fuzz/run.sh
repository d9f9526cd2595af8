#!/usr/bin/env bash
# Runs every cargo-fuzz target for a bounded time, one after the other, at the lowest CPU
# priority, and prints libFuzzer's execution counts per target.
#
#   fuzz/run.sh [SECONDS]        # SECONDS per target, default 60
#   FUZZ_TARGETS="classify catalog" fuzz/run.sh 30
#
# Uses the nightly toolchain when rustup has one, else RUSTC_BOOTSTRAP=1 on the default
# toolchain (cargo-fuzz needs nightly-only sanitizer flags). Needs `cargo install cargo-fuzz`.
# The corpus grows in fuzz/corpus/<target> (seeded from fuzz/seeds/<target>); crashes land in
# fuzz/artifacts/<target>/. Exits 1 if any target crashed.
set -euo pipefail

seconds="${1:-60}"
case "$seconds" in
'' | *[!0-9]*)
  echo "usage: fuzz/run.sh [SECONDS per target]" >&2
  exit 2
  ;;
esac

cd "$(dirname "$0")"

if ! command -v cargo-fuzz >/dev/null 2>&1; then
  echo "fuzz/run.sh: cargo-fuzz is not installed: cargo install cargo-fuzz --locked" >&2
  exit 2
fi

toolchain=()
if rustup run nightly rustc --version >/dev/null 2>&1; then
  toolchain=(+nightly)
  echo "toolchain: $(rustup run nightly rustc --version)"
else
  export RUSTC_BOOTSTRAP=1
  echo "toolchain: $(rustc --version) with RUSTC_BOOTSTRAP=1 (no nightly installed)"
fi

targets="${FUZZ_TARGETS:-$(cargo "${toolchain[@]}" fuzz list)}"

# Debug assertions (and so overflow checks) on, optimised, all targets at once. The targets
# then run straight from the build folder, so edits to the library during the run cannot
# trigger a rebuild between targets.
nice -n 19 cargo "${toolchain[@]}" fuzz build --debug-assertions
host="$(rustc "${toolchain[@]}" -vV | sed -n 's/^host: //p')"
bin_dir="target/$host/release"

dict_for() {
  case "$1" in
  catalog) echo dicts/toml.dict ;;
  slack_* | telegram_* | web_*) echo dicts/json.dict ;;
  *) echo "" ;;
  esac
}

logs="$(mktemp -d)"
trap 'rm -rf "$logs"' EXIT
summary=()
total_runs=0
failed=0
for target in $targets; do
  mkdir -p "corpus/$target" "artifacts/$target"
  args=(-max_total_time="$seconds" -print_final_stats=1 -timeout=10 -rss_limit_mb=2048
    -artifact_prefix="artifacts/$target/")
  dict="$(dict_for "$target")"
  if [ -n "$dict" ]; then
    args+=(-dict="$dict")
  fi
  seeds=()
  if [ -d "seeds/$target" ]; then
    seeds=("seeds/$target")
  fi
  echo "== $target: ${seconds}s"
  status=0
  nice -n 19 "$bin_dir/$target" "${args[@]}" "corpus/$target" "${seeds[@]}" \
    >"$logs/$target.log" 2>&1 || status=$?
  runs="$(sed -n 's/^stat::number_of_executed_units: *//p' "$logs/$target.log" | tail -1)"
  rate="$(sed -n 's/^stat::average_exec_per_sec: *//p' "$logs/$target.log" | tail -1)"
  crashes="$(find "artifacts/$target" -type f \( -name 'crash-*' -o -name 'oom-*' -o -name 'timeout-*' \) | wc -l)"
  if [ "$status" -ne 0 ]; then
    failed=1
    echo "   $target failed (exit $status); its log ends:"
    tail -n 30 "$logs/$target.log" | sed 's/^/   | /'
  fi
  total_runs=$((total_runs + ${runs:-0}))
  summary+=("$(printf '%-20s %12s %10s %8s' "$target" "${runs:-?}" "${rate:-?}" "$crashes")")
done

echo
printf '%-20s %12s %10s %8s\n' target executions exec/s crashes
printf '%s\n' "${summary[@]}"
printf '%-20s %12s\n' total "$total_runs"
exit "$failed"
