#!/usr/bin/env bash
# The plugin SDK as a plugin author uses it: `cmake --install --component devel` to a staging
# prefix, examples/sample_tuner built out of tree against the INSTALLED header through
# PKG_CONFIG_PATH, only its entry point exported, and the result accepted by the collector's own
# trust checks and loader (`bpftune-collector --check-plugin`).
set -euo pipefail
: "${BUILD_DIR:?}" "${SOURCE_DIR:?}"
fail() { echo "FAIL: $*" >&2; exit 1; }
if [ "$(id -u)" != 0 ]; then
  [ "${CI:-}" = true ] && fail "would skip under CI: needs root (trusted plugin paths are root's)"
  echo "SKIP: needs root: the trust checks accept only root-owned plugin files and directories"
  exit 77
fi
# Under the build tree (root's, 0755 up to "/"), not /tmp (1777): the check needs a trusted path.
WORK="$BUILD_DIR/sdk_test.$$"
trap '[ -n "${KEEP_WORK:-}" ] || rm -rf "$WORK"' EXIT
install -d -m 0755 "$WORK"
cmake --install "$BUILD_DIR" --component devel --prefix "$WORK/stage" >/dev/null
[ -f "$WORK/stage/include/bpftune/plugin.h" ] || fail "plugin.h was not installed"
PC=$(find "$WORK/stage" -name bpftune-plugin.pc)
[ -n "$PC" ] || fail "bpftune-plugin.pc was not installed"
export PKG_CONFIG_PATH
PKG_CONFIG_PATH=$(dirname "$PC")
# Relocatable: the staged .pc points into the staging prefix, not the configured one.
[ "$(pkg-config --variable=abi_version bpftune-plugin)" = 1 ] || fail "abi_version"
case "$(pkg-config --cflags bpftune-plugin)" in
  *"$WORK/stage/"*include*) ;;
  *) fail "pkg-config --cflags does not point into the staging prefix: $(pkg-config --cflags bpftune-plugin)" ;;
esac
# A copy of the example outside the source tree: nothing but the installed SDK to build with.
cp -r "$SOURCE_DIR/examples/sample_tuner" "$WORK/src"
cmake -S "$WORK/src" -B "$WORK/build" -DCMAKE_BUILD_TYPE=Release >"$WORK/configure.log" 2>&1 ||
  { cat "$WORK/configure.log"; fail "configure failed"; }
cmake --build "$WORK/build" >"$WORK/build.log" 2>&1 || { cat "$WORK/build.log"; fail "build failed"; }
INCLUDE=$(sed -n 's/^C_INCLUDES = -isystem //p' "$WORK/build/CMakeFiles/sample_tuner.dir/flags.make")
[ "$(realpath "$INCLUDE")" = "$WORK/stage/include" ] ||
  fail "the sample was not compiled against the staged header (include dir '$INCLUDE')"
EXPORTED=$(nm -D --defined-only "$WORK/build/sample_tuner.so" | awk '$2 == "T" {print $3}')
[ "$EXPORTED" = bpftune_plugin_v1 ] || fail "exported functions: '$EXPORTED' (want bpftune_plugin_v1 only)"
# The trust check needs a root-owned path without group/other write up to "/", which a checkout
# need not be (a clone under /tmp): the plugin goes under /run.
install -d -m 0755 -o root -g root /run/bpftune-tests
TRUSTED=$(mktemp -d /run/bpftune-tests/sdk.XXXXXX)
chmod 0755 "$TRUSTED"
trap '[ -n "${KEEP_WORK:-}" ] || rm -rf "$WORK" "$TRUSTED"' EXIT
install -d -m 0755 "$TRUSTED/plugins"
install -m 0644 "$WORK/build/sample_tuner.so" "$TRUSTED/plugins/sample_tuner.so"
OUT=$("$BUILD_DIR/bpftune-collector" --check-plugin "$TRUSTED/plugins/sample_tuner.so") ||
  fail "the collector refused the sample: $OUT"
[ "$OUT" = "plugin sample: every 1000 ms; tunables net.core.rmem_max; 1 counters" ] ||
  fail "unexpected description: $OUT"
chmod 0666 "$TRUSTED/plugins/sample_tuner.so"
if "$BUILD_DIR/bpftune-collector" --check-plugin "$TRUSTED/plugins/sample_tuner.so" 2>"$WORK/err"; then
  fail "an other-writable plugin was accepted"
fi
grep -q "refusing untrusted plugin" "$WORK/err" || fail "no refusal message: $(cat "$WORK/err")"
echo "PASS: built against the staged SDK; $OUT"
