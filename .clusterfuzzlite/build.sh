#!/bin/bash -eu
# ClusterFuzzLite / OSS-Fuzz build: every fuzz target of fuzz/ (the
# fuzz_targets/*.rs bins of the rusty-fuzz crate), optimised with debug
# assertions, copied to $OUT with a seed corpus each
# ($OUT/<target>_seed_corpus.zip: fuzz/seeds/<target>/ and what
# fuzz/seeds.sh writes from the fixtures).
cd "$SRC/rusty"
fuzz/seeds.sh || true
cd fuzz
cargo fuzz build -O --debug-assertions
for src in fuzz_targets/*.rs; do
  target=$(basename "${src%.rs}")
  cp "target/x86_64-unknown-linux-gnu/release/$target" "$OUT/"
  dirs=()
  for d in "corpus/$target" "seeds/$target"; do
    if [ -d "$d" ]; then dirs+=("$d"); fi
  done
  if [ "$target" = scenario_toml ]; then dirs+=("../fixtures/scenarios"); fi
  if [ ${#dirs[@]} -gt 0 ]; then
    # One directory first: files named by their SHA-1 may be in two.
    seeds=$(mktemp -d)
    find "${dirs[@]}" -type f -exec cp {} "$seeds/" \;
    (cd "$seeds" && zip -q "$OUT/${target}_seed_corpus.zip" ./*)
    rm -rf "$seeds"
  fi
done
