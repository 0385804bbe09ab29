#!/usr/bin/env bash
# Crash injection: SIGKILL the actuator at chosen and at random points while a peer streams
# tcp_rmem changes to it, and SIGKILL the collector while it tunes under traffic; restart the
# victim after each kill and check, every trial: `bpftune verify` passes, every change the peer
# got an OK for is an applied OUTCOME in the journal, every INTENT is resolved exactly once (the
# last one as the kill point implies), and the live value is the journal's last word. At the end
# `bpftune rollback` must restore the exact pre-bpftune values of every net.ipv4 and net.core
# sysctl of the tuned namespace.
# Kill points (actuator): before-write (INTENT synced, sysctl not written), after-write (written,
# no OUTCOME), outcome-unsynced (OUTCOME written, before its fdatasync) -- reached exactly with
# the test-only LD_PRELOAD shim crash_point.c -- and "timed" (a kill 0..15 ms into a longer stream).
# Usage (root): crash_inject.sh [ACTUATOR_TRIALS [COLLECTOR_TRIALS [SEED]]]   (default 30 3)
# Outside ctest, BUILD_DIR defaults to ./build of the checkout. Prints a summary line:
# "crash_inject: trials=... points: ... seconds=... failures=0".
SOURCE_DIR="${SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}"
BUILD_DIR="${BUILD_DIR:-$SOURCE_DIR/build}"
source "$SOURCE_DIR/tests/integration/lib.sh"
CRASH_POINT_LIB="${CRASH_POINT_LIB:-$BUILD_DIR/tests/libcrash_point.so}"
SEND_REQUEST="${SEND_REQUEST:-$BUILD_DIR/tests/send_request}"
CHECK="$SOURCE_DIR/tests/crash/check_trial.py"
TRIALS=${1:-30}
COLLECTOR_TRIALS=${2:-3}
RANDOM=${3:-$$}
STREAM_LEN=8
START_S=$SECONDS

require_env
require_preload "$CRASH_POINT_LIB" "stop it at a crash point"
setup_pair 200mbit
install -m 0755 "$SEND_REQUEST" "$WORK/send_request"
# Many changes in a short time: lift the rate limits only.
sed 's|rate=20/10s|rate=1000000/1s|' "$SOURCE_DIR/policy/default.policy" >"$WORK/fast.policy"
POLICY="$WORK/fast.policy"
declare -A HITS=()

snapshot() {  # every readable net.ipv4 and net.core value of netns A, one "name=value" a line
  in_a sh -c 'for f in /proc/sys/net/ipv4/* /proc/sys/net/core/*; do
    [ -f "$f" ] && v=$(tr -s "\t " " " <"$f" 2>/dev/null) && echo "${f#/proc/sys/net/}=$v"
  done'
}

read -r MIN DEF _ <<<"$(sysctl_a tcp_rmem)"
set_sysctl_a tcp_rmem "$MIN $DEF $DEF"
LOW=$DEF
HIGH=$(( DEF + DEF / 10 ))
snapshot >"$WORK/before.txt"

# The actuator, stopped by the shim at POINT in the Nth sysctl write ($1 $2), or unstopped. Each
# run logs to its own trial.log (the marker of an earlier run must not match), kept in
# actuator.log.
start_actuator_at() {
  [ -f "$WORK/trial.log" ] && cat "$WORK/trial.log" >>"$WORK/actuator.log"
  : >"$WORK/trial.log"
  ACTUATOR_LOG="$WORK/trial.log" ACTUATOR_WRAPPER="env LD_PRELOAD=$CRASH_POINT_LIB \
CRASH_POINT=$1 CRASH_AFTER_WRITES=$2" start_actuator
}

kill_actuator() {
  kill -9 "$ACT_PID"
  wait "$ACT_PID" 2>/dev/null || true
  ACT_PID=""
}

# $1: kill point; $2: the acks file; $3: the live max or "-". Journal checks after a restart.
check_trial() {
  assert_verify
  "$BPFTUNE" journal --json --state-dir "$STATE_DIR" >"$WORK/journal.json"
  python3 "$CHECK" "$WORK/journal.json" "$2" "$1" "$3" ||
    fail "trial $TRIAL ($1): journal check failed (KEEP_WORK=1 keeps $WORK)"
}

actuator_trial() {
  local points=(before-write after-write outcome-unsynced timed) point at seen point_name
  point=${points[RANDOM % 4]}
  at=$(( RANDOM % STREAM_LEN + 1 ))
  start_actuator_at "$point" "$at"
  # A timed kill needs a stream still flowing when it lands: a long one.
  local len=$STREAM_LEN
  [ "$point" = timed ] && len=120
  in_a setpriv --reuid bpftune-collector --regid bpftune-collector --clear-groups \
    "$WORK/send_request" "$RUN_DIR/actuator.sock" --stream "$len" "$LOW" "$HIGH" \
    >"$WORK/acks.out" 2>&1 &
  local stream=$!
  if [ "$point" = timed ]; then
    sleep "$(printf "0.%03d" $(( RANDOM % 15 )))"
  else
    for _ in $(seq 1 300); do
      grep -q "crash_point: hit $point write $at" "$WORK/trial.log" && seen=1 && break
      sleep 0.01
    done
    [ -n "${seen:-}" ] || fail "trial $TRIAL: the actuator never reached $point at write $at"
  fi
  kill_actuator
  local rc=0
  wait "$stream" || rc=$?
  # Stopped inside a request, the actuator must have died without answering it (exit 3).
  [ "$point" = timed ] || [ "$rc" = 3 ] ||
    { cat "$WORK/acks.out"; fail "trial $TRIAL: the peer exited $rc, not 3 (no reply)"; }
  if [ "$point" = timed ]; then
    "$BPFTUNE" journal --state-dir "$STATE_DIR" | tail -n 1 | grep -q " intent " &&
      point_name="timed:intent-pending" || point_name="timed:no-intent-pending"
  else
    point_name=$point
  fi
  HITS[$point_name]=$(( ${HITS[$point_name]:-0} + 1 ))
  start_actuator_at none 0
  local live
  read -r _ _ live <<<"$(sysctl_a tcp_rmem)"
  check_trial "$point" "$WORK/acks.out" "$live"
  kill_actuator
}

collector_trial() {
  rm -f "$STATUS"
  start_collector
  sleep "0.$(( RANDOM % 10 ))"  # 0.0 .. 0.9 s into its tuning
  kill -9 "$COL_PID"
  wait "$COL_PID" 2>/dev/null || true
  COL_PID=""
  HITS[collector]=$(( ${HITS[collector]:-0} + 1 ))
  sleep 0.1  # the actuator finishes the request it may be serving
  kill -0 "$ACT_PID" 2>/dev/null || fail "trial $TRIAL: the actuator died with the collector"
  : >"$WORK/no_acks"
  check_trial collector "$WORK/no_acks" -
}

for TRIAL in $(seq 1 "$TRIALS"); do
  actuator_trial
done
if [ "$COLLECTOR_TRIALS" -gt 0 ]; then
  # Traffic for the collector's tuning, ended (not waited for) after the last trial.
  start_actuator_at none 0
  in_b iperf3 -s -p 5201 >/dev/null 2>&1 &
  IPERF_PID=$!
  sleep 0.2
  in_a iperf3 -c "$V4_B" -p 5201 -t 600 -R >/dev/null 2>&1 &
  CLIENT_PID=$!
  for TRIAL in $(seq 1 "$COLLECTOR_TRIALS"); do
    collector_trial
  done
  kill "$CLIENT_PID" "$IPERF_PID" 2>/dev/null || true
  wait "$CLIENT_PID" "$IPERF_PID" 2>/dev/null || true
  IPERF_PID=""
fi
stop_daemons
assert_verify
rollback_offline
snapshot >"$WORK/after.txt"
diff "$WORK/before.txt" "$WORK/after.txt" >"$WORK/rollback.diff" ||
  { cat "$WORK/rollback.diff"; fail "rollback did not restore the exact pre-bpftune values"; }
RECORDS=$("$BPFTUNE" journal --state-dir "$STATE_DIR" | wc -l)
SUMMARY=""
for p in $(printf '%s\n' "${!HITS[@]}" | sort); do SUMMARY+=" $p=${HITS[$p]}"; done
note "crash_inject: trials=$(( TRIALS + COLLECTOR_TRIALS )) points:$SUMMARY journal_records=$RECORDS seconds=$(( SECONDS - START_S )) failures=0"
