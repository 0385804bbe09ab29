#!/usr/bin/env bash
# Scale, in the style of upstream's many_netns test, daemon pair in the init namespace:
#   per-write cost with few namespaces; 1000 namespaces created before start (discovery time,
#   descriptor counts); per-write cost again; 200 more created while running and tuning still
#   working in the namespace created last; namespaces (and the tuned one) deleted while tuning;
#   descriptor counts afterwards do not grow beyond a small constant; both daemons survive.
source "$(dirname "$0")/lib.sh"
require_env
SEND_REQUEST="${SEND_REQUEST:-$BUILD_DIR/tests/send_request}"
[ -x "$SEND_REQUEST" ] || fail "not built: $SEND_REQUEST"
MANY=1000
LATER=200
NS_E="${T_ID}e"
V4_E=10.213.$(( $$ % 250 )).1
V4_F=10.213.$(( $$ % 250 )).2
batch() {  # $1 add|del, $2 first index, $3 count
  local i
  for i in $(seq "$2" $(( $2 + $3 - 1 ))); do echo "netns $1 ${T_ID}m$i"; done >"$WORK/ns.batch"
  ip -force -b "$WORK/ns.batch" >/dev/null
}
cleanup_many() {
  local rc=$?
  set +e
  ip netns del "$NS_E" 2>/dev/null
  ls /run/netns | grep "^${T_ID}m" | sed 's/^/netns del /' >"/tmp/${T_ID}.del" 2>/dev/null
  ip -force -b "/tmp/${T_ID}.del" >/dev/null 2>&1
  rm -f "/tmp/${T_ID}.del"
  (exit $rc)
  cleanup
}
setup_pair 200mbit
trap cleanup_many EXIT
HOST_DAEMONS=1
install -m 0755 "$SEND_REQUEST" "$WORK/send_request"
# The per-write cost is measured with many back-to-back writes: lift the rate limit only.
sed 's|rate=20/10s|rate=1000000/1s|' "$SOURCE_DIR/policy/default.policy" >"$WORK/fast.policy"
POLICY="$WORK/fast.policy"

per_write() {  # mean actuator round trip for 200 tcp_rmem writes in A, as the collector would
  in_a setpriv --reuid bpftune-collector --regid bpftune-collector --clear-groups \
    "$WORK/send_request" "$RUN_DIR/actuator.sock" --repeat 200 | sed -n 's/.*per_write_us=\([0-9]*\).*/\1/p'
}
opener_pid() { pgrep -P "$ACT_PID" | head -1; }

FEW=$(ls /run/netns | wc -l)
start_actuator
start_collector
COST_FEW=$(per_write)
[ -n "$COST_FEW" ] || fail "per-write measurement failed with $FEW namespaces"
note "per-write cost with $FEW namespaces in /run/netns: ${COST_FEW} us"
stop_daemons

T0=$(date +%s%N)
batch add 1 "$MANY"
note "created $MANY namespaces in $(( ($(date +%s%N) - T0) / 1000000 )) ms"
start_actuator
start_collector
for _ in $(seq 1 200); do  # the second start's discovery line
  [ "$(grep -c "discovered" "$WORK/collector.log")" -ge 2 ] && break
  sleep 0.1
done
[ "$(grep -c "discovered" "$WORK/collector.log")" -ge 2 ] || fail "the collector logged no discovery"
grep "discovered" "$WORK/collector.log" | tail -1
COST_MANY=$(per_write)
[ -n "$COST_MANY" ] || fail "per-write measurement failed with $MANY namespaces"
note "per-write cost with $(ls /run/netns | wc -l) namespaces: ${COST_MANY} us (vs ${COST_FEW} us)"
OPENER=$(opener_pid)
FD_ACT0=$(fd_count "$ACT_PID"); FD_COL0=$(fd_count "$COL_PID"); FD_OPN0=$(fd_count "$OPENER")
note "fds after start: actuator $FD_ACT0, netns opener $FD_OPN0, collector $FD_COL0"

batch add $(( MANY + 1 )) "$LATER"
ip netns add "$NS_E"
in_e() { nsenter --net="/run/netns/$NS_E" "$@"; }
link_to_b "$NS_E" in_e e "$V4_E" "$V4_F"
read -r MIN DEF MAX <<<"$(in_e cat /proc/sys/net/ipv4/tcp_rmem | tr -s '\t ' ' ')"
in_e sh -c "echo '$MIN $DEF $DEF' > /proc/sys/net/ipv4/tcp_rmem"
# Setting up a container is an administrator's write too: bpftune stops there until resumed.
wait_for_log "overridden.*$(netns_cookie "/run/netns/$NS_E")" 5 || fail "the set-up write was not seen"
"$BPFTUNE" resume tcp_buffer --netns "$NS_E" --run-dir "$RUN_DIR" >/dev/null || fail "resume failed"
sleep 1.2
note "created $LATER more namespaces while running, then $NS_E last (set up, then resumed)"
iperf_between in_e in_b "$V4_E" 5203 4
read -r _ _ E_MAX <<<"$(in_e cat /proc/sys/net/ipv4/tcp_rmem | tr -s '\t ' ' ')"
[ "$E_MAX" -gt "$DEF" ] || fail "tuning did not work in the namespace created last"
note "namespace created last: tcp_rmem max $DEF -> $E_MAX"

# Deletion while tuning: traffic into E again, then E and half of the others disappear.
in_e iperf3 -s -1 -p 5204 >/dev/null 2>&1 &
IPERF_PID=$!
sleep 0.3
in_b timeout 6 iperf3 -c "$V4_E" -p 5204 -t 4 >/dev/null 2>&1 &
CLIENT_PID=$!
sleep 1
ip netns pids "$NS_E" | xargs -r kill -9
ip netns del "$NS_E"
batch del 1 $(( MANY / 2 ))
note "deleted $NS_E (under traffic) and $(( MANY / 2 )) other namespaces"
wait "$CLIENT_PID" "$IPERF_PID" 2>/dev/null || true
IPERF_PID=""
sleep 3   # the collector polls for vanished namespaces every 2 s
kill -0 "$ACT_PID" || fail "the actuator died"
kill -0 "$COL_PID" || fail "the collector died"
FD_ACT1=$(fd_count "$ACT_PID"); FD_COL1=$(fd_count "$COL_PID"); FD_OPN1=$(fd_count "$OPENER")
note "fds after: actuator $FD_ACT0 -> $FD_ACT1, netns opener $FD_OPN0 -> $FD_OPN1, collector $FD_COL0 -> $FD_COL1"
[ $(( FD_ACT1 - FD_ACT0 )) -le 20 ] || fail "actuator fds grew by more than 20"
[ $(( FD_OPN1 - FD_OPN0 )) -le 2 ] || fail "netns opener fds grew"
[ $(( FD_COL1 - FD_COL0 )) -le 20 ] || fail "collector fds grew by more than 20"
grep -q '"gone"' "$STATUS" || grep -qi "gone" "$STATUS" || fail "status does not show the deleted namespace as gone"
"$BPFTUNE" journal --state-dir "$STATE_DIR" | grep -c "outcome" | sed 's/^/    outcome records: /'
"$BPFTUNE" rollback --run-dir "$RUN_DIR" --state-dir "$STATE_DIR" >"$WORK/rollback.out" 2>&1 ||
  { cat "$WORK/rollback.out"; fail "rollback failed"; }
grep -o "[^;]*gone[^;]*" "$WORK/rollback.out" | head -2
stop_daemons
assert_verify
note "PASS: discovery, per-write ${COST_FEW} -> ${COST_MANY} us, fds flat, tuning in the last namespace, deletion survived"
