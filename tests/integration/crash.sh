#!/usr/bin/env bash
# SIGKILL one daemon while it is tuning, restart it, keep tuning; then `verify` passes and
# rollback restores the exact originals. Usage: crash.sh actuator|collector
source "$(dirname "$0")/lib.sh"
VICTIM=$1
[ "$VICTIM" = actuator ] || [ "$VICTIM" = collector ] || fail "usage: $0 actuator|collector"

require_env
setup_pair 200mbit
read -r MIN DEF MAX <<<"$(sysctl_a tcp_rmem)"
LOWERED="$MIN $DEF $DEF"
set_sysctl_a tcp_rmem "$LOWERED"

start_actuator
start_collector
transfer 4 b 8 >"$WORK/rate" &
TRANSFER=$!
sleep 2.5
if [ "$VICTIM" = actuator ]; then
  kill -9 "$ACT_PID"; wait "$ACT_PID" 2>/dev/null || true
  note "actuator SIGKILLed; rmem now: $(sysctl_a tcp_rmem)"
  sleep 0.5
  start_actuator
else
  kill -9 "$COL_PID"; wait "$COL_PID" 2>/dev/null || true
  note "collector SIGKILLed; rmem now: $(sysctl_a tcp_rmem)"
  sleep 0.5
  rm -f "$STATUS"
  start_collector
fi
wait "$TRANSFER" || true
note "rate during the crash run: $(cat "$WORK/rate") Mbit/s"
read -r _ _ NEWMAX <<<"$(sysctl_a tcp_rmem)"
[ "$NEWMAX" -gt "$DEF" ] || fail "rmem max did not grow (still $NEWMAX)"
STARTS=$("$BPFTUNE" journal --state-dir "$STATE_DIR" | grep -c " start " || true)
note "actuator start records in the journal: $STARTS"
stop_daemons
assert_verify
rollback_offline
NOW="$(sysctl_a tcp_rmem)"
[ "$NOW" = "$LOWERED" ] || fail "rollback left '$NOW', expected exactly '$LOWERED'"
note "PASS: $VICTIM crash: max grew to $NEWMAX, verify ok, restored '$NOW'"
