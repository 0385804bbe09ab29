#!/usr/bin/env bash
# Builds the libFuzzer targets with clang (build-fuzz/) and runs one.
#   fuzz/run.sh TARGET SECONDS [libFuzzer options]   TARGET: request or journal
#   fuzz/run.sh seeds                                 rewrite fuzz/corpus/ with the real encoders
#   fuzz/run.sh build                                 configure and build only
# New inputs go to build-fuzz/fuzz-corpus/TARGET; crashes to build-fuzz/crashes/ (copy a fixed
# one into fuzz/corpus/TARGET/ as a regression seed).
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BPFTUNE_FUZZ_BUILD:-build-fuzz}

build() {
  cmake -S . -B "$BUILD" -DBPFTUNE_FUZZ=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ >/dev/null
  cmake --build "$BUILD" -j"$(nproc)"
}

case "${1:-}" in
  build)
    build
    ;;
  seeds)
    build
    "$BUILD/make_seeds" fuzz/corpus
    ;;
  request | journal)
    target=$1
    seconds=${2:?usage: fuzz/run.sh TARGET SECONDS}
    shift 2
    build
    mkdir -p "$BUILD/fuzz-corpus/$target" "$BUILD/crashes"
    exec "$BUILD/${target}_fuzz" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=1024 \
      -print_final_stats=1 -artifact_prefix="$BUILD/crashes/" "$@" \
      "$BUILD/fuzz-corpus/$target" "fuzz/corpus/$target"
    ;;
  *)
    echo "usage: $0 request|journal SECONDS [libFuzzer options] | seeds | build" >&2
    exit 2
    ;;
esac
