#!/usr/bin/env bash
# The Quick start path: `bpftune run` starts and supervises both daemons (restarting one that
# is SIGKILLed), tunes under traffic, prints a summary on exit and rolls back with
# --rollback-on-exit.
source "$(dirname "$0")/lib.sh"
require_env
setup_pair 200mbit
read -r MIN DEF MAX <<<"$(sysctl_a tcp_rmem)"
LOWERED="$MIN $DEF $DEF"
set_sysctl_a tcp_rmem "$LOWERED"

# A terminal's Ctrl-C goes to the whole foreground process group. A background job of a
# non-interactive bash stays in the script's group, so setsid gives `bpftune run` a group of its
# own (it is not a group leader, so setsid execs instead of forking: $! is bpftune's pid).
setsid nsenter --net="/run/netns/$NS_A" "$BPFTUNE" run --run-dir "$RUN_DIR" --state-dir "$STATE_DIR" \
  --policy "$SOURCE_DIR/policy/default.policy" --rollback-on-exit \
  >"$WORK/run.out" 2>"$WORK/run.log" &
RUN_PID=$!
# Until setsid has run, the job is still in the script's group: wait for the group to change.
PGID=""
for _ in $(seq 1 100); do
  PGID=$(ps -o pgid= -p "$RUN_PID" | tr -d ' ') || true
  [ "$PGID" = "$RUN_PID" ] && break
  sleep 0.05
done
[ "$PGID" = "$RUN_PID" ] || fail "bpftune run (pid $RUN_PID) did not get its own process group"
for _ in $(seq 1 100); do [ -f "$STATUS" ] && break; sleep 0.1; done
[ -f "$STATUS" ] || fail "bpftune run: no collector status after 10 s"
"$BPFTUNE" status --run-dir "$RUN_DIR" >"$WORK/status.txt" || fail "bpftune status failed"
"$BPFTUNE" status --run-dir "$RUN_DIR" --json | python3 -c 'import json,sys; json.load(sys.stdin)' ||
  fail "bpftune status --json is not JSON"
# `bpftune run` passes the collector its default metrics file.
for _ in $(seq 1 30); do [ -f "$RUN_DIR/collector/bpftune.prom" ] && break; sleep 0.1; done
"$PROM_CHECK" "$RUN_DIR/collector/bpftune.prom" bpftune_ >/dev/null ||
  fail "bpftune run: no valid metrics file at $RUN_DIR/collector/bpftune.prom"

ACT=$(pgrep -P "$RUN_PID" -f bpftune-actuator)
kill -9 "$ACT"
for _ in $(seq 1 50); do grep -q "restarted the actuator" "$WORK/run.log" && break; sleep 0.1; done
grep -q "restarted the actuator" "$WORK/run.log" || fail "the actuator was not restarted"

transfer 4 b 5 >/dev/null
read -r _ _ GROWN <<<"$(sysctl_a tcp_rmem)"
[ "$GROWN" -gt "$DEF" ] || fail "rmem max did not grow under bpftune run"

# Ctrl-C as a terminal sends it: to every process of the group. The daemons run in groups of
# their own, so only the supervisor gets it and can still ask the actuator for the rollback.
kill -INT -- -"$PGID"
RUN_RC=0
wait "$RUN_PID" || RUN_RC=$?
[ "$RUN_RC" = 0 ] || fail "bpftune run exited with $RUN_RC"
cat "$WORK/run.out"
grep -q "net.ipv4.tcp_rmem" "$WORK/run.out" || fail "no summary of changes on exit"
NOW="$(sysctl_a tcp_rmem)"
[ "$NOW" = "$LOWERED" ] || fail "--rollback-on-exit left '$NOW', expected '$LOWERED'"
pgrep -f "bpftune-(actuator|collector).*$RUN_DIR" && fail "a daemon outlived bpftune run"
assert_verify
note "PASS: grew to $GROWN under run, restored '$NOW' on exit"
