#!/usr/bin/env bash
# routeCongctl end to end with the real actuator (daemons in the init namespace, so netns A is a
# foreign namespace reached through the netns opener's rtnetlink socket) and requests sent as the
# collector would (send_request, as the collector user, from inside A):
#   - bpftune's host route appears with the covering route's nexthop and table, protocol 249,
#     metric 4242 and the congctl metric (IPv4 via a gateway, IPv6), and a NEW connection to the
#     host gets the algorithm; compare-and-set on the expected algorithm;
#   - the actuator follows the covering route (routeFollow): moved to another gateway, bpftune's
#     route copies it within a tick (2 s) with the same algorithm; removed, bpftune's route is
#     withdrawn; both journaled; a host an administrator's host route covers is left alone;
#   - refusals name the field: an algorithm outside tcp_allowed_congestion_control (new0), a
#     multicast host (hostAddress), an unknown family (hostFamily);
#   - an administrator's host route wins: OVERRIDDEN, one override record, ours never created (and
#     where ours exists, the kernel already prefers the admin's);
#   - live switches are all journaled; past the policy's rate also answered rejected;
#   - kill -9 of the actuator between an intent and its outcome (its writer stopped mid-request):
#     the restarted actuator resolves the intent from the live route and keeps serving with
#     compare-and-set intact;
#   - rollback removes every route bpftune added and nothing else, naming the hosts.
source "$(dirname "$0")/lib.sh"
: "${SEND_REQUEST:?SEND_REQUEST not set}"

require_env
command -v setpriv >/dev/null || skip "missing tool: setpriv"
command -v python3 >/dev/null || skip "missing tool: python3"
[ -x "$SEND_REQUEST" ] || fail "not built: $SEND_REQUEST"
ALLOWED=$(cat /proc/sys/net/ipv4/tcp_allowed_congestion_control)
for alg in reno bbr; do
  grep -qw "$alg" <<<"$ALLOWED" || skip "$alg is not in tcp_allowed_congestion_control ($ALLOWED)"
done
NOT_ALLOWED=""
for alg in cubic htcp dctcp; do
  grep -qw "$alg" <<<"$ALLOWED" || { NOT_ALLOWED=$alg; break; }
done
[ -n "$NOT_ALLOWED" ] || skip "every algorithm is allowed here; no refusal to provoke"

setup_pair 200mbit
HOST_DAEMONS=1
install -m 0755 "$SEND_REQUEST" "$WORK/send_request"
# Far hosts live on B's loopback, reached from A through gateway routes (the covering routes).
NET4=10.212.$(( $$ % 250 ))
FAR4=$NET4.2
ADMIN4=$NET4.3
NET6=fd98:$(( $$ % 9000 + 1000 ))
FAR6=$NET6::2
in_b ip addr add "$FAR4/32" dev lo
in_b ip addr add "$ADMIN4/32" dev lo
in_b ip -6 addr add "$FAR6/128" dev lo nodad
in_a ip route add "$NET4.0/24" via "$V4_B"
in_a ip -6 route add "$NET6::/64" via "$V6_B"
# A listener in B (dual stack) that accepts and closes; the client reports its algorithm.
in_b python3 -c 'import socket
s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("::", 5555)); s.listen(64)
while True:
    c, _ = s.accept(); c.close()' &
SERVER_PID=$!
cc_of() {
  in_a python3 -c 'import socket, sys
host = sys.argv[1]
s = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
s.settimeout(3); s.connect((host, 5555))
print(s.getsockopt(socket.IPPROTO_TCP, socket.TCP_CONGESTION, 16).split(b"\0")[0].decode())' "$1"
}
# SR NAME ARGS...: one request as the collector user inside A; output in $WORK/NAME.out.
SR() {
  local name=$1
  shift
  in_a setpriv --reuid bpftune-collector --regid bpftune-collector --clear-groups \
    "$WORK/send_request" "$RUN_DIR/actuator.sock" "$@" >"$WORK/$name.out" 2>&1 ||
    { cat "$WORK/$name.out"; fail "send_request $name failed"; }
  sed 's/^/    /' "$WORK/$name.out"
}
expect_reply() {
  grep -q "^reply: status=$2 .*$3" "$WORK/$1.out" || fail "$1: expected status=$2 matching '$3'"
}
routes4() { in_a ip -d route show table all proto 249; }
routes6() { in_a ip -6 -d route show table all proto 249; }
for _ in $(seq 1 30); do cc_of "$V4_B" >/dev/null 2>&1 && break; sleep 0.1; done
DEFAULT_CC=$(cc_of "$FAR4")
[ "$DEFAULT_CC" = bbr ] || [ "$DEFAULT_CC" = reno ] || fail "A's default algorithm: $DEFAULT_CC"
OTHER_CC=reno
[ "$DEFAULT_CC" = reno ] && OTHER_CC=bbr
note "A's default algorithm: $DEFAULT_CC; bpftune's routes will carry $OTHER_CC"
start_actuator

note "IPv4 host behind a gateway"
SR v4 --route "$FAR4" "$OTHER_CC" none
expect_reply v4 ok "none -> $OTHER_CC: applied"
routes4 | tee "$WORK/routes4"
grep -q "^unicast $FAR4 via $V4_B dev ${T_ID}va .*metric 4242 congctl $OTHER_CC" "$WORK/routes4" ||
  fail "no host route for $FAR4 via $V4_B with metric 4242 and congctl $OTHER_CC"
in_a ip route show table main "$FAR4/32" proto 249 | grep -q . || fail "$FAR4's route is not in main"
[ "$(cc_of "$FAR4")" = "$OTHER_CC" ] || fail "a new connection to $FAR4 did not get $OTHER_CC"
note "a new connection to $FAR4 uses $OTHER_CC"

note "compare-and-set on the expected algorithm"
SR stale --route "$FAR4" "$DEFAULT_CC" none
expect_reply stale stale "field=expected0"
SR back --route "$FAR4" "$DEFAULT_CC" "$OTHER_CC"
expect_reply back ok "$OTHER_CC -> $DEFAULT_CC: applied"
SR again --route "$FAR4" "$OTHER_CC" "$DEFAULT_CC"
expect_reply again ok "$DEFAULT_CC -> $OTHER_CC: applied"

note "IPv6 host behind a gateway"
SR v6 --route "$FAR6" "$OTHER_CC" none
expect_reply v6 ok "none -> $OTHER_CC: applied"
routes6 | tee "$WORK/routes6"
grep -q "^unicast $FAR6 via $V6_B dev ${T_ID}va .*metric 4242 congctl $OTHER_CC" "$WORK/routes6" ||
  fail "no host route for $FAR6 via $V6_B with metric 4242 and congctl $OTHER_CC"
[ "$(cc_of "$FAR6")" = "$OTHER_CC" ] || fail "a new connection to $FAR6 did not get $OTHER_CC"

note "the covering routes change: the actuator follows a new gateway and withdraws a removed one"
GW6=${V6_B%2}3
in_b ip -6 addr add "$GW6/64" dev "${T_ID}vb" nodad
# wait_routes NAME PATTERN [absent]: poll bpftune's routes until PATTERN is there (or gone),
# at most 5 s after CHANGED_AT; sets WAITED_MS, the time since CHANGED_AT.
wait_routes() {
  local now all
  while :; do
    now=$(date +%s%N)
    all=$(routes4; routes6)
    if grep -q "$2" <<<"$all"; then
      [ "${3:-}" != absent ] && break
    elif [ "${3:-}" = absent ]; then
      break
    fi
    [ $(( (now - CHANGED_AT) / 1000000 )) -lt 5000 ] || { echo "$all"; fail "$1: not within 5 s"; }
    sleep 0.05
  done
  WAITED_MS=$(( (now - CHANGED_AT) / 1000000 ))
}
CHANGED_AT=$(date +%s%N)
in_a ip -6 route replace "$NET6::/64" via "$GW6"
in_a ip route del "$NET4.0/24" via "$V4_B"
wait_routes follow6 "^unicast $FAR6 via $GW6 dev ${T_ID}va .*metric 4242 congctl $OTHER_CC"
note "bpftune's route for $FAR6 follows the new gateway $GW6 after $WAITED_MS ms"
wait_routes withdraw4 "^unicast $FAR4 " absent
note "bpftune's route for $FAR4 withdrawn $WAITED_MS ms after its covering route was removed"
[ "$(cc_of "$FAR6")" = "$OTHER_CC" ] || fail "$FAR6 is not reachable through the new gateway"
"$BPFTUNE" journal --state-dir "$STATE_DIR" >"$WORK/journal.txt"
FOLLOW='tuner=actuator scenario="the covering route changed: bpftune.s host route follows it or is withdrawn"'
grep " intent $FOLLOW .*host=$FAR6 table=254 via=$GW6 .* $OTHER_CC -> $OTHER_CC " "$WORK/journal.txt" ||
  fail "no follow intent for $FAR6 via $GW6 in the journal"
grep " intent $FOLLOW .*host=$FAR4 .* $OTHER_CC -> none " "$WORK/journal.txt" ||
  fail "no withdrawal intent for $FAR4 in the journal"
for h in "$FAR6" "$FAR4"; do
  grep -q " outcome $FOLLOW .*host=$h .*result=applied" "$WORK/journal.txt" ||
    fail "no applied follow outcome for $h"
done
# The tuner's view stays valid: same algorithm on FAR6; none on FAR4 is a stale answer.
SR after_follow --route "$FAR6" "$OTHER_CC" "$OTHER_CC"
expect_reply after_follow ok "nothing written"
SR after_withdraw --route "$FAR4" "$DEFAULT_CC" "$OTHER_CC"
expect_reply after_withdraw stale "live value none"
in_a ip route add "$NET4.0/24" via "$V4_B"
SR v4again --route "$FAR4" "$OTHER_CC" none
expect_reply v4again ok "none -> $OTHER_CC: applied"

note "refusals name the field"
SR bad_alg --route "$FAR4" "$NOT_ALLOWED" "$OTHER_CC"
expect_reply bad_alg rejected "field=new0 .*$NOT_ALLOWED is not in net.ipv4.tcp_allowed_congestion_control"
SR bad_host --route 224.0.0.9 "$OTHER_CC" none
expect_reply bad_host rejected "field=hostAddress .*multicast"
SR bad_family --route "$FAR4" "$OTHER_CC" "$OTHER_CC" --family 7
expect_reply bad_family rejected "field=hostFamily"

note "an administrator's host route wins"
in_a ip route add "$ADMIN4/32" via "$V4_B" proto static
SR admin1 --route "$ADMIN4" "$OTHER_CC" none
expect_reply admin1 overridden "field=hostAddress .*administrator's host route"
SR admin2 --route "$ADMIN4" "$OTHER_CC" none
expect_reply admin2 overridden ""
routes4 | grep -q "$ADMIN4" && fail "bpftune created a route for $ADMIN4 beside the admin's"
"$BPFTUNE" journal --state-dir "$STATE_DIR" >"$WORK/journal.txt"
[ "$(grep -c " override .*host=$ADMIN4 " "$WORK/journal.txt")" = 1 ] ||
  { grep override "$WORK/journal.txt"; fail "expected exactly one override record for $ADMIN4"; }
in_a ip route add "$FAR4/32" via "$V4_B" proto static
[ "$(cc_of "$FAR4")" = "$DEFAULT_CC" ] || fail "the admin's route for $FAR4 did not win in the kernel"
SR admin3 --route "$FAR4" "$DEFAULT_CC" "$OTHER_CC"
expect_reply admin3 overridden "administrator's host route"

note "live switches: all journaled; past the policy's rate (40 per 10 s) answered rejected"
SR live --live-switch "$FAR4" cubic bbr 41
[ "$(grep -c "^reply: status=ok " "$WORK/live.out")" = 40 ] || fail "not 40 live switches accepted"
tail -n 1 "$WORK/live.out" | grep -q "status=rejected field=tunable .*exceeds 40" ||
  fail "the 41st live switch was not refused by the rate"
"$BPFTUNE" journal --state-dir "$STATE_DIR" >"$WORK/journal.txt"
[ "$(grep -c " liveSwitch .*host=$FAR4 " "$WORK/journal.txt")" = 41 ] ||
  { grep liveSwitch "$WORK/journal.txt" | tail -n 3; fail "not all 41 live switches journaled"; }
grep " liveSwitch .*host=$FAR4 " "$WORK/journal.txt" | tail -n 1 |
  grep -q "outside-policy error=16" || fail "the 41st live switch is not journaled as over the rate"

note "kill -9 between an intent and its outcome; the restart resolves it from the live route"
in_a setpriv --reuid bpftune-collector --regid bpftune-collector --clear-groups \
  "$WORK/send_request" "$RUN_DIR/actuator.sock" --route "$FAR6" "$DEFAULT_CC" "$OTHER_CC" \
  --alternate 30 >"$WORK/stream.out" 2>&1 &
STREAM=$!
WRITER_PID=$(pgrep -P "$ACT_PID" -x bpftune-writer) || fail "no privileged writer under $ACT_PID"
# With the writer stopped the actuator waits inside one of its three writer calls: the lookup
# (before the intent) or the route change or read-back (after it). Kill it in the latter.
PENDING=""
for _ in $(seq 1 200); do
  kill -STOP "$WRITER_PID"
  sleep 0.01
  if "$BPFTUNE" journal --state-dir "$STATE_DIR" 2>/dev/null | tail -n 1 | grep -q " intent .*host=$FAR6 "; then
    PENDING=1
    break
  fi
  kill -CONT "$WRITER_PID"  # stopped again at once: at most about one request completes
done
kill -9 "$ACT_PID"
wait "$ACT_PID" 2>/dev/null || true
# The writer (stopped, so it cannot see its socket close) dies with the actuator all the same:
# its parent-death signal survives the uid change.
# Dead means gone or a zombie (PID 1 here does not always reap at once).
writer_alive() { ps -o stat= -p "$WRITER_PID" 2>/dev/null | grep -qv '^Z'; }
for _ in $(seq 1 50); do
  writer_alive || break
  sleep 0.02
done
writer_alive &&
  { kill -9 "$WRITER_PID"; fail "the privileged writer $WRITER_PID outlived the actuator"; }
wait "$STREAM" 2>/dev/null || true
[ -n "$PENDING" ] || fail "never caught the actuator between an intent and its outcome"
note "killed after $(grep -c '^reply: status=ok' "$WORK/stream.out") answered requests, one intent pending"
start_actuator
grep "recovery: intent seq .*net.route.host.congctl for $FAR6 " "$WORK/actuator.log" ||
  fail "the restarted actuator did not resolve the pending intent for $FAR6"
LIVE6=$(routes6 | sed -n "s/^unicast $FAR6 .* congctl \([a-z]*\).*/\1/p")
[ -n "$LIVE6" ] || fail "bpftune's route for $FAR6 is gone after the crash"
NEXT6=$OTHER_CC
[ "$LIVE6" = "$OTHER_CC" ] && NEXT6=$DEFAULT_CC
SR after_crash --route "$FAR6" "$NEXT6" "$LIVE6"
expect_reply after_crash ok "$LIVE6 -> $NEXT6: applied"
SR latency --route "$FAR6" "$LIVE6" "$NEXT6" --alternate 10
note "request round trip (route replaced and read back): $(tail -n 1 "$WORK/latency.out")"

# Captured first: grep -q exiting early would SIGPIPE ip, which pipefail reports as no match.
grep -q "^unicast $FAR4 " <<<"$(routes4)" || {
  in_a ip route show
  "$BPFTUNE" journal --state-dir "$STATE_DIR" | grep "host=$FAR4 " | tail -n 4
  fail "bpftune's route for $FAR4 (dormant under the admin's host route) was not left alone"
}
note "rollback removes every route bpftune added, and only those"
"$BPFTUNE" rollback --run-dir "$RUN_DIR" --state-dir "$STATE_DIR" >"$WORK/rollback.out" 2>&1 ||
  { cat "$WORK/rollback.out"; fail "rollback failed"; }
cat "$WORK/rollback.out"
grep -q "for $FAR4 " "$WORK/rollback.out" && grep -q "for $FAR6 " "$WORK/rollback.out" ||
  fail "the rollback output does not name the hosts"
[ -z "$(routes4)$(routes6)" ] || { routes4; routes6; fail "routes of bpftune's left after rollback"; }
in_a ip route show "$FAR4/32" proto static | grep -q . || fail "rollback removed the admin's route"
in_a ip route show "$ADMIN4/32" proto static | grep -q . || fail "rollback removed the admin's route"
[ "$(cc_of "$FAR6")" = "$DEFAULT_CC" ] || fail "a new connection to $FAR6 still gets bpftune's algorithm"
"$BPFTUNE" summary --state-dir "$STATE_DIR" >"$WORK/summary.txt" 2>&1 || true
grep "net.route.host.congctl" "$WORK/summary.txt" || true
grep -q "net.route.host.congctl for $FAR6 " "$WORK/summary.txt" ||
  fail "the summary does not show the per-host change for $FAR6"
kill "$SERVER_PID" 2>/dev/null || true
stop_daemons
assert_verify
note "PASS: host routes with copied nexthops, CAS, refusals by field, admin wins, live switches" \
  "rate-limited, crash recovered, rollback exact"
