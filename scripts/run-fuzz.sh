#!/usr/bin/env bash
# Runs every fuzz target in BUILD_DIR for SECONDS each over its committed corpus (fuzz/corpus/NAME).
set -euo pipefail
build=${1:-build-fuzz}; secs=${2:-60}
mkdir -p fuzz/artifacts
for bin in "$build"/fuzz_*; do
  name=${bin##*/fuzz_}
  corpus=fuzz/corpus/$name
  mkdir -p "$corpus"
  work=$(mktemp -d)
  echo "fuzz: $name for ${secs}s"
  "$bin" -max_total_time="$secs" -artifact_prefix=fuzz/artifacts/ -print_final_stats=1 "$work" "$corpus" 2>&1 | tail -n 12
  rm -rf "$work"
done
