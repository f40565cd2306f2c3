#!/usr/bin/env bash
# Builds every fuzz target, then runs each for SECONDS (default 60) on its
# corpus: fuzz/corpus/<target>/ (grown by the run; seeds.sh fills it from
# the fixtures) plus the checked-in seeds of fuzz/seeds/<target>/ (and, for
# scenario_toml, fixtures/scenarios/). Stops at the first crash, which
# libFuzzer writes to fuzz/artifacts/<target>/.
#
#   [JOBS=N] fuzz/run.sh [SECONDS] [TARGET...]     (default: every target)
#
# Needs cargo-fuzz (`cargo install cargo-fuzz --locked`); RUSTC_BOOTSTRAP=1
# lets it use the sanitizer flags on a stable toolchain.
set -euo pipefail
cd "$(dirname "$0")"
seconds=${1:-60}
shift || true
export RUSTC_BOOTSTRAP=1
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  mapfile -t targets < <(cargo fuzz list)
fi
# The same build options as `cargo fuzz run` below (release, debug
# assertions on), so the run does not build again.
cargo fuzz build
# JOBS targets run at once (default 1; CI uses one per core), each with
# its log in fuzz/logs/<target>.log, printed when it ends.
jobs=${JOBS:-1}
mkdir -p logs
run_one() {
  local target=$1
  local corpora=("corpus/$target")
  mkdir -p "corpus/$target"
  if [ -d "seeds/$target" ]; then corpora+=("seeds/$target"); fi
  if [ "$target" = scenario_toml ]; then corpora+=("../fixtures/scenarios"); fi
  # Structured inputs need length to say much: no slow growth from tiny
  # inputs in a short run.
  local flags=()
  case $target in
    tcp_segments | cursor_chain | stack_frames) flags+=(-max_len=4096 -len_control=0) ;;
  esac
  echo "-- fuzz target $target (${seconds} s): ${corpora[*]}"
  cargo fuzz run "$target" "${corpora[@]}" -- \
    -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=30 -print_final_stats=1 "${flags[@]}"
}
failed=()
pids=()
names=()
finish() { # waits for the oldest running target
  local pid=${pids[0]} name=${names[0]}
  pids=("${pids[@]:1}")
  names=("${names[@]:1}")
  if wait "$pid"; then status=ok; else status=FAILED; failed+=("$name"); fi
  cat "logs/$name.log"
  echo "-- fuzz target $name: $status"
}
for target in "${targets[@]}"; do
  run_one "$target" >"logs/$target.log" 2>&1 &
  pids+=("$!")
  names+=("$target")
  if [ ${#pids[@]} -ge "$jobs" ]; then finish; fi
done
while [ ${#pids[@]} -gt 0 ]; do finish; done
if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz targets failed: ${failed[*]} (inputs in fuzz/artifacts/)"
  exit 1
fi
