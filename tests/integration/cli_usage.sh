#!/usr/bin/env bash
# Bad arguments get a clear usage error and a non-zero exit; good ones work without a daemon.
set -uo pipefail
: "${BUILD_DIR:?}"
B="$BUILD_DIR/bpftune"
fail() { echo "FAIL: $*"; exit 1; }
expect_usage() {
  local out rc
  out=$("$B" "$@" 2>&1); rc=$?
  [ $rc -eq 2 ] || fail "'bpftune $*' exited $rc, expected 2"
  echo "$out" | grep -q "usage: bpftune" || fail "'bpftune $*' printed no usage"
  echo "ok: bpftune $* -> $(echo "$out" | head -1)"
}
expect_usage
expect_usage frobnicate
expect_usage run --learning-rate 9
expect_usage run --learning-rate x
expect_usage run --learning-rate
expect_usage status --rollback-on-exit
expect_usage journal --state-dir relative/path
"$B" help | grep -q "rollback" || fail "help lists no commands"
"$B" --version | grep -q "^bpftune " || fail "--version"
D=$(mktemp -d)
"$B" status --run-dir "$D" >/dev/null 2>&1; rc=$?
[ $rc -eq 3 ] || fail "status without a collector exited $rc, expected 3"
"$B" verify --state-dir "$D" >/dev/null 2>&1; rc=$?
[ $rc -ne 0 ] || fail "verify of a missing journal succeeded"
if [ "$(id -u)" = 0 ]; then
  # An unknown tuner names every tuner there is (it once listed tcp_buffer alone).
  out=$("$B" resume no_such_tuner --run-dir "$D" 2>&1); rc=$?
  [ $rc -ne 0 ] || fail "resume of an unknown tuner succeeded"
  echo "$out" | grep -q "known: tcp_buffer, neigh_table, net_buffer, ip_frag, udp_buffer, tcp_conn" ||
    fail "resume of an unknown tuner does not list the tuners: $out"
fi
rm -rf "$D"
for cmd in actuator collector; do
  "$BUILD_DIR/bpftune-$cmd" --no-such-flag >/dev/null 2>&1; rc=$?
  [ $rc -eq 2 ] || fail "bpftune-$cmd --no-such-flag exited $rc, expected 2"
done
echo "PASS"
