#!/usr/bin/env bash
# A failed journal fdatasync is fatal and comes before the sysctl write (PostgreSQL's fsync
# lesson): with an LD_PRELOAD shim failing the INTENT's sync, the actuator must exit non-zero
# without replying and without touching tcp_rmem; the journal stays valid. Restarted without the
# shim, it resolves the outcome-less intent as not applied and serves the next request normally.
source "$(dirname "$0")/lib.sh"
: "${FAIL_FDATASYNC_LIB:?FAIL_FDATASYNC_LIB not set}"
: "${SEND_REQUEST:?SEND_REQUEST not set}"

require_env
require_preload "$FAIL_FDATASYNC_LIB" "interpose fdatasync"
setup_pair
# The request tool runs as the collector user: give it a copy it can certainly execute.
install -m 0755 "$SEND_REQUEST" "$WORK/send_request"

# One valid setSysctl (tcp_rmem max + 10 %) from inside netns A as the collector user.
# Sets SEND_RC; output goes to $WORK/$1.out.
send_request() {
  SEND_RC=0
  in_a setpriv --reuid bpftune-collector --regid bpftune-collector --clear-groups \
    "$WORK/send_request" "$RUN_DIR/actuator.sock" >"$WORK/$1.out" 2>&1 || SEND_RC=$?
  sed 's/^/    /' "$WORK/$1.out"
}

# Creating the journal syncs its directory (call 1, fsync); then one sync per append and no
# recovery record on an empty journal: call 2 is the START record, call 3 the first request's
# INTENT. So calls 1..2 pass and the INTENT's sync is the first to fail.
FAIL_AFTER=2
ORIGINAL="$(sysctl_a tcp_rmem)"
note "live tcp_rmem in A: $ORIGINAL"

# start_actuator's command line, with the shim in front of the binary.
nsenter --net="/run/netns/$NS_A" env LD_PRELOAD="$FAIL_FDATASYNC_LIB" \
  FAIL_FDATASYNC_AFTER="$FAIL_AFTER" "$ACTUATOR" --socket "$RUN_DIR/actuator.sock" \
  --admin-socket "$RUN_DIR/admin.sock" --journal "$JOURNAL" \
  --policy "${POLICY:-$SOURCE_DIR/policy/default.policy}" >>"$WORK/actuator.log" 2>&1 &
ACT_PID=$!
for _ in $(seq 1 100); do
  [ -S "$RUN_DIR/admin.sock" ] && [ -S "$RUN_DIR/actuator.sock" ] && break
  kill -0 "$ACT_PID" 2>/dev/null || fail "actuator with the shim exited during start"
  sleep 0.05
done
[ -S "$RUN_DIR/actuator.sock" ] || fail "actuator sockets did not appear"
grep -q "fail_fdatasync: fsync(fd [0-9]*) call 1: passed through" "$WORK/actuator.log" ||
  fail "the shim did not see the journal directory's fsync (preload not active?)"
grep -q "fail_fdatasync: fdatasync(fd [0-9]*) call 2: passed through" "$WORK/actuator.log" ||
  fail "the shim did not see the START record's fdatasync"
grep -q "journal: start record seq 1" "$WORK/actuator.log" || fail "no START record seq 1"
note "actuator $ACT_PID serving with fdatasync failing after $FAIL_AFTER call(s)"

send_request failed
[ "$SEND_RC" = 3 ] || fail "request under a failing fdatasync: expected no reply (exit 3), got exit $SEND_RC"

# The actuator must be gone, with a non-zero status, within 5 s.
gone=""
for _ in $(seq 1 50); do
  if ! kill -0 "$ACT_PID" 2>/dev/null ||
    [ "$(awk '{print $3}' "/proc/$ACT_PID/stat" 2>/dev/null)" = Z ]; then
    gone=1
    break
  fi
  sleep 0.1
done
[ -n "$gone" ] || fail "actuator still running 5 s after its journal sync failed"
ACT_RC=0
wait "$ACT_PID" || ACT_RC=$?
ACT_PID=""
[ "$ACT_RC" -ne 0 ] || fail "actuator exited with status 0 after a failed journal sync"
note "actuator exited with status $ACT_RC"
grep -q "fail_fdatasync: fdatasync(fd [0-9]*) call 3: injected EIO" "$WORK/actuator.log" ||
  fail "the shim did not inject EIO into the INTENT's fdatasync"
grep -Eq "error: journal: fdatasync journal record seq 2: .*stopping \(fail closed\)" \
  "$WORK/actuator.log" || fail "actuator log does not say the journal sync failed (fatal)"

NOW="$(sysctl_a tcp_rmem)"
[ "$NOW" = "$ORIGINAL" ] || fail "tcp_rmem changed to '$NOW' (was '$ORIGINAL') although the INTENT sync failed"
note "tcp_rmem unchanged: $NOW"

"$BPFTUNE" verify --state-dir "$STATE_DIR" >"$WORK/verify.out" 2>&1 ||
  { cat "$WORK/verify.out"; fail "bpftune verify failed after the fatal sync error"; }
grep -Eq ": OK, " "$WORK/verify.out" || { cat "$WORK/verify.out"; fail "unexpected verify output"; }
note "verify: $(cat "$WORK/verify.out")"
"$BPFTUNE" journal --state-dir "$STATE_DIR" >"$WORK/journal1.out" ||
  fail "bpftune journal failed"
sed 's/^/    /' "$WORK/journal1.out"
grep -q " outcome " "$WORK/journal1.out" && fail "journal has an OUTCOME for the failed request"
# The frame was written before the failed sync, so it is normally in the page cache and readable;
# either way it has no outcome.
INTENT_SEQ=$(awk '$3 == "intent" {sub("seq=", "", $2); print $2}' "$WORK/journal1.out" | tail -n 1)
if [ -n "$INTENT_SEQ" ]; then
  [ "$INTENT_SEQ" = 2 ] || fail "intent of the failed request is seq $INTENT_SEQ, expected 2"
  note "journal holds intent seq $INTENT_SEQ without an outcome"
else
  note "the intent of the failed request is not in the journal"
fi

# Restart without the shim: recovery, then normal service.
start_actuator
note "actuator restarted without the shim (pid $ACT_PID)"
"$BPFTUNE" journal --state-dir "$STATE_DIR" >"$WORK/journal2.out" || fail "bpftune journal failed"
if [ -n "$INTENT_SEQ" ]; then
  grep -Eq " recovered .* intent=$INTENT_SEQ result=notApplied " "$WORK/journal2.out" ||
    { cat "$WORK/journal2.out"; fail "intent seq $INTENT_SEQ was not recovered as notApplied"; }
  grep -q "recovery: intent seq $INTENT_SEQ .*had no outcome.*: not applied" "$WORK/actuator.log" ||
    fail "actuator log does not report recovering intent seq $INTENT_SEQ as not applied"
  note "intent seq $INTENT_SEQ recovered as notApplied"
fi
[ "$(sysctl_a tcp_rmem)" = "$ORIGINAL" ] || fail "tcp_rmem changed by the restart"

send_request ok
[ "$SEND_RC" = 0 ] || fail "second request got no reply (exit $SEND_RC)"
grep -q "reply: status=ok " "$WORK/ok.out" || fail "second request was not answered ok"
read -r MIN DEF MAX <<<"$ORIGINAL"
EXPECTED="$MIN $DEF $(( MAX + MAX / 10 ))"
NOW="$(sysctl_a tcp_rmem)"
[ "$NOW" = "$EXPECTED" ] || fail "tcp_rmem is '$NOW' after the second request, expected '$EXPECTED'"
"$BPFTUNE" journal --state-dir "$STATE_DIR" >"$WORK/journal3.out" || fail "bpftune journal failed"
grep -Eq " outcome .* result=applied " "$WORK/journal3.out" ||
  { cat "$WORK/journal3.out"; fail "no applied OUTCOME for the second request"; }

stop_daemons
assert_verify
note "verify: $(cat "$WORK/verify.out")"
note "PASS: failed journal fdatasync is fatal before the write; recovered; tcp_rmem $ORIGINAL -> $NOW"
