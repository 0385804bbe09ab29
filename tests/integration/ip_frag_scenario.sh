#!/usr/bin/env bash
# ip_frag on the real kernel, IPv4 and IPv6 in one daemon run, the pair in the init namespace as
# in production and the fragments arriving in container A:
#   A gets ipfrag_high_thresh / ip6frag_high_thresh of 8192 bytes, less than one 8000-byte ping
#   needs, so B's fragmented pings fail reassembly there; each threshold must grow in A (read by
#   BPF from A's struct net, written through the actuator's netns opener) until the pings are
#   answered again, judged with A's own reassembly counters. The host's thresholds stay as they
#   were: both are per namespace (measured). The journal names both tunables, `verify` passes,
#   and a rollback restores exactly 8192.
source "$(dirname "$0")/lib.sh"
require_env
command -v ping >/dev/null || skip "missing tool: ping"
setup_pair 200mbit
HOST_DAEMONS=1
TUNERS=ip_frag

LOW=4096
HIGH=8192
PING_SIZE=8000    # 6 fragments at MTU 1500; one datagram needs ~14 KB of reassembly memory
DEADLINE_S=12
V4_FILE=ipv4/ipfrag_high_thresh
V6_FILE=ipv6/ip6frag_high_thresh
PING_PIDS=()
HOLDER_PID=""

frag_a() { in_a cat "/proc/sys/net/$1"; }
set_frag_a() { in_a sh -c "echo $2 > /proc/sys/net/$1"; }
stop_pings() {
  for pid in "${PING_PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  PING_PIDS=()
}
stop_holder() {
  [ -z "$HOLDER_PID" ] || kill "$HOLDER_PID" 2>/dev/null || true
  HOLDER_PID=""
}
trap 'rc=$?; set +e; stop_pings; stop_holder; (exit $rc); cleanup' EXIT
HOST4=$(cat /proc/sys/net/$V4_FILE)
HOST6=$(cat /proc/sys/net/$V6_FILE)
A_COOKIE=$(netns_cookie "/run/netns/$NS_A")
# A process in A: the collector reads A's Ip/Ip6 reassembly counters under /proc/<pid>/net.
# nsenter directly, not in_a: $! must be the process itself (nsenter execs), not a subshell.
nsenter --net="/run/netns/$NS_A" sleep 600 &
HOLDER_PID=$!

# The kernel refuses a high threshold below the low one: lower the low one first.
set_frag_a ipv4/ipfrag_low_thresh $LOW
set_frag_a $V4_FILE $HIGH
set_frag_a ipv6/ip6frag_low_thresh $LOW
set_frag_a $V6_FILE $HIGH
note "A (cookie $A_COOKIE): ipfrag_high_thresh $(frag_a $V4_FILE), ip6frag_high_thresh $(frag_a $V6_FILE), low $LOW"
note "host: ipfrag_high_thresh $HOST4, ip6frag_high_thresh $HOST6"

# Answered pings out of $2 ($1: 4|6), before and after tuning.
answered() {
  local addr=$V4_A
  [ "$1" = 6 ] && addr=$V6_A
  { in_b ping -"$1" -q -c "$2" -i 0.05 -W 1 -s $PING_SIZE -M want "$addr" 2>/dev/null || true; } |
    awk '/received/ {print $4}'
}
BEFORE4=$(answered 4 3)
BEFORE6=$(answered 6 3)
note "before tuning: IPv4 $BEFORE4/3, IPv6 $BEFORE6/3 pings of $PING_SIZE bytes answered"
[ "$BEFORE4" = 0 ] && [ "$BEFORE6" = 0 ] ||
  fail "reassembly did not fail at $HIGH bytes: the scenario does not provoke the limit"

start_actuator
start_collector
T0=$(date +%s%N)
for addr in "$V4_A" "$V6_A"; do
  nsenter --net="/run/netns/$NS_B" ping -q -i 0.01 -W 1 -s $PING_SIZE -M want "$addr" \
    >/dev/null 2>&1 &
  PING_PIDS+=($!)
done

# Both thresholds must grow; the first change of each is timed from the first ping.
FIRST4="" FIRST6=""
for _ in $(seq 1 $(( DEADLINE_S * 20 ))); do
  now=$(date +%s%N)
  [ -z "$FIRST4" ] && [ "$(frag_a $V4_FILE)" -gt $HIGH ] && FIRST4=$(( (now - T0) / 1000000 ))
  [ -z "$FIRST6" ] && [ "$(frag_a $V6_FILE)" -gt $HIGH ] && FIRST6=$(( (now - T0) / 1000000 ))
  [ -n "$FIRST4" ] && [ -n "$FIRST6" ] && break
  sleep 0.05
done
[ -n "$FIRST4" ] || fail "ipfrag_high_thresh did not grow within ${DEADLINE_S} s"
[ -n "$FIRST6" ] || fail "ip6frag_high_thresh did not grow within ${DEADLINE_S} s"
note "first change after the first ping: IPv4 ${FIRST4} ms, IPv6 ${FIRST6} ms"

# Growth goes on while fragments are still dropped at the threshold; once datagrams reassemble
# again the pings are answered.
ANSWERED4=0 ANSWERED6=0
for _ in $(seq 1 $(( DEADLINE_S * 2 ))); do
  [ "$ANSWERED4" = 0 ] && ANSWERED4=$(answered 4 2)
  [ "$ANSWERED6" = 0 ] && ANSWERED6=$(answered 6 2)
  [ "$ANSWERED4" != 0 ] && [ "$ANSWERED6" != 0 ] && break
done
stop_pings
GROWN4=$(frag_a $V4_FILE)
GROWN6=$(frag_a $V6_FILE)
note "ipfrag_high_thresh $HIGH -> $GROWN4, ip6frag_high_thresh $HIGH -> $GROWN6"
note "after tuning: IPv4 $ANSWERED4/2, IPv6 $ANSWERED6/2 pings answered"
[ "$ANSWERED4" != 0 ] || fail "IPv4 pings still unanswered at ipfrag_high_thresh $GROWN4"
[ "$ANSWERED6" != 0 ] || fail "IPv6 pings still unanswered at ip6frag_high_thresh $GROWN6"

[ "$(cat /proc/sys/net/$V4_FILE)" = "$HOST4" ] || fail "the host's ipfrag_high_thresh changed"
[ "$(cat /proc/sys/net/$V6_FILE)" = "$HOST6" ] || fail "the host's ip6frag_high_thresh changed"

grep "ipfrag_high_thresh\|ip6frag_high_thresh" "$WORK/collector.log" | head -n 4 || true
for name in ipfrag_high_thresh ip6frag_high_thresh; do
  grep -q "$name .* in netns $A_COOKIE: ok .*failures per 1000 fragments lately" \
    "$WORK/collector.log" || fail "no applied $name change in A judged by A's counters"
done
"$BPFTUNE" journal --state-dir "$STATE_DIR" >"$WORK/journal.txt"
for name in net.ipv4.ipfrag_high_thresh net.ipv6.ip6frag_high_thresh; do
  grep -q "outcome .*netns=$A_COOKIE .*$name .*result=applied" "$WORK/journal.txt" ||
    { cat "$WORK/journal.txt"; fail "no applied outcome journaled for $name in A"; }
done
grep -q "need to decrease IP fragmentation" "$WORK/journal.txt" &&
  fail "the flood guard shrank a threshold for legitimate traffic"
note "trigger-to-change latency per applied change (BPF event -> actuator reply), microseconds:"
grep -o "latency_us=[0-9]*" "$WORK/collector.log" | cut -d= -f2 | sort -n |
  awk '{v[NR]=$1} END {if (NR) printf "    n=%d min=%d median=%d max=%d\n", NR, v[1], v[int((NR+1)/2)], v[NR]}'

"$BPFTUNE" rollback --run-dir "$RUN_DIR" --state-dir "$STATE_DIR" >"$WORK/rollback.out" 2>&1 ||
  { cat "$WORK/rollback.out"; fail "rollback failed"; }
[ "$(frag_a $V4_FILE)" = $HIGH ] || fail "rollback left ipfrag_high_thresh $(frag_a $V4_FILE)"
[ "$(frag_a $V6_FILE)" = $HIGH ] || fail "rollback left ip6frag_high_thresh $(frag_a $V6_FILE)"
stop_daemons
assert_verify
note "PASS: ipfrag $HIGH -> $GROWN4 (${FIRST4} ms), ip6frag $HIGH -> $GROWN6 (${FIRST6} ms), both restored to $HIGH"
