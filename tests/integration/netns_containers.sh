#!/usr/bin/env bash
# Containers on the real kernel, daemon pair in the init namespace as in production:
#   A is an `ip netns` container (receives: its tcp_rmem must grow), C an `unshare`d one held only
#   by a process (sends: its tcp_wmem must grow). The changes land there and only there: the
#   host's values stay as the test found them. The journal names each namespace; summary and
#   export --sysctl-d show them; a rollback through the running actuator restores both.
source "$(dirname "$0")/lib.sh"
require_env
command -v unshare >/dev/null || skip "missing tool: unshare"
setup_pair 200mbit
HOST_DAEMONS=1
C_PID=""
V4_C=10.212.$(( $$ % 250 )).1
V4_D=10.212.$(( $$ % 250 )).2
stop_container() { [ -n "$C_PID" ] && kill "$C_PID" 2>/dev/null; C_PID=""; }
trap 'rc=$?; stop_container; (exit $rc); cleanup' EXIT

unshare --net sleep 600 &
C_PID=$!
sleep 0.2
in_c() { nsenter --target "$C_PID" --net "$@"; }
link_to_b "$C_PID" in_c c "$V4_C" "$V4_D"

HOST_RMEM=$(tr -s '\t ' ' ' </proc/sys/net/ipv4/tcp_rmem)
HOST_WMEM=$(tr -s '\t ' ' ' </proc/sys/net/ipv4/tcp_wmem)
read -r MIN DEF MAX <<<"$(sysctl_a tcp_rmem)"
A_LOWERED="$MIN $DEF $DEF"
set_sysctl_a tcp_rmem "$A_LOWERED"
read -r CMIN CDEF CMAX <<<"$(in_c cat /proc/sys/net/ipv4/tcp_wmem | tr -s '\t ' ' ')"
C_LOWERED="$CMIN $CDEF $CDEF"
in_c sh -c "echo '$C_LOWERED' > /proc/sys/net/ipv4/tcp_wmem"
A_COOKIE=$(netns_cookie "/run/netns/$NS_A")
C_COOKIE=$(netns_cookie "/proc/$C_PID/ns/net")
note "container A (ip netns, cookie $A_COOKIE) tcp_rmem: $A_LOWERED"
note "container C (unshare, pid $C_PID, cookie $C_COOKIE) tcp_wmem: $C_LOWERED"
note "host: tcp_rmem '$HOST_RMEM', tcp_wmem '$HOST_WMEM'"

start_actuator
start_collector
A_RATE=$(transfer 4 b 6)
note "B -> A: $A_RATE Mbit/s"
iperf_between in_b in_c "$V4_D" 5202 6

read -r _ _ A_MAX <<<"$(sysctl_a tcp_rmem)"
read -r _ _ C_MAX <<<"$(in_c cat /proc/sys/net/ipv4/tcp_wmem | tr -s '\t ' ' ')"
note "A tcp_rmem max: $DEF -> $A_MAX; C tcp_wmem max: $CDEF -> $C_MAX"
[ "$A_MAX" -gt "$DEF" ] || fail "A's tcp_rmem did not grow"
[ "$C_MAX" -gt "$CDEF" ] || fail "C's tcp_wmem did not grow"
[ "$(tr -s '\t ' ' ' </proc/sys/net/ipv4/tcp_rmem)" = "$HOST_RMEM" ] || fail "the host's tcp_rmem changed"
[ "$(tr -s '\t ' ' ' </proc/sys/net/ipv4/tcp_wmem)" = "$HOST_WMEM" ] || fail "the host's tcp_wmem changed"

"$BPFTUNE" journal --state-dir "$STATE_DIR" >"$WORK/journal.txt"
grep -q "outcome .*netns=$A_COOKIE .*net.ipv4.tcp_rmem .*result=applied" "$WORK/journal.txt" ||
  fail "no applied tcp_rmem outcome journaled for A"
grep -q "outcome .*netns=$C_COOKIE .*net.ipv4.tcp_wmem .*result=applied" "$WORK/journal.txt" ||
  fail "no applied tcp_wmem outcome journaled for C"
grep -m 2 "netns $A_COOKIE\|netns $C_COOKIE" "$WORK/collector.log" || true

"$BPFTUNE" summary --state-dir "$STATE_DIR" >"$WORK/summary.txt"
cat "$WORK/summary.txt"
grep -q "netns $A_COOKIE ($NS_A)" "$WORK/summary.txt" || fail "summary does not name A"
grep -q "netns $C_COOKIE" "$WORK/summary.txt" || fail "summary does not name C"
"$BPFTUNE" export --sysctl-d --state-dir "$STATE_DIR" >"$WORK/export.txt"
grep -q "^# netns $A_COOKIE ($NS_A).*net.ipv4.tcp_rmem = " "$WORK/export.txt" ||
  { cat "$WORK/export.txt"; fail "export does not carry A's value as a comment"; }

"$BPFTUNE" rollback --run-dir "$RUN_DIR" --state-dir "$STATE_DIR" >"$WORK/rollback.out" 2>&1 ||
  { cat "$WORK/rollback.out"; fail "rollback failed"; }
cat "$WORK/rollback.out"
[ "$(sysctl_a tcp_rmem)" = "$A_LOWERED" ] || fail "A's tcp_rmem not restored: $(sysctl_a tcp_rmem)"
C_NOW=$(in_c cat /proc/sys/net/ipv4/tcp_wmem | tr -s '\t ' ' ')
[ "$C_NOW" = "$C_LOWERED" ] || fail "C's tcp_wmem not restored: $C_NOW"
[ "$(tr -s '\t ' ' ' </proc/sys/net/ipv4/tcp_rmem)" = "$HOST_RMEM" ] || fail "the host's tcp_rmem changed"
stop_daemons
assert_verify
note "PASS: A rmem $DEF -> $A_MAX, C wmem $CDEF -> $C_MAX, host untouched, both restored"
