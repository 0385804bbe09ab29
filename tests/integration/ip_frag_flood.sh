#!/usr/bin/env bash
# ip_frag's fragment-flood guard (fragThreshDecrease) on the real kernel, IPv4: the pair in the
# init namespace as in production, the flood arriving in container A.
#   A: ipfrag_time 1 s (incomplete queues expire and count as ReasmFails within a second),
#   ipfrag_high_thresh 512 KiB, low 4096. From B, frag_flood.py sends incomplete datagrams (first
#   fragment only) at the rate that keeps A's reassembly memory near the live threshold, plus
#   complete two-fragment datagrams; the share of incomplete ones rises with the threshold's
#   growth. The tuner must first grow the threshold (memory near it, fragments dropped), then see
#   the failure rate rise with it (r > 0.75 over >= 10 samples) and lower it: the test asserts an
#   applied fragThreshDecrease in the collector log and the journal, and a live threshold below
#   its peak.
source "$(dirname "$0")/lib.sh"
require_env
command -v python3 >/dev/null || skip "missing tool: python3"
setup_pair 200mbit
HOST_DAEMONS=1
TUNERS=ip_frag

LOW=4096
HIGH=524288
FLOOD_S=14        # the sender stops by itself after this long
DEADLINE_S=13
V4_FILE=ipv4/ipfrag_high_thresh
FLOOD_PID=""
HOLDER_PID=""

frag_a() { in_a cat "/proc/sys/net/$1"; }
set_frag_a() { in_a sh -c "echo $2 > /proc/sys/net/$1"; }
stop_flood() {
  [ -z "$FLOOD_PID" ] || { kill "$FLOOD_PID" 2>/dev/null; wait "$FLOOD_PID" 2>/dev/null; } || true
  FLOOD_PID=""
}
stop_holder() {
  [ -z "$HOLDER_PID" ] || kill "$HOLDER_PID" 2>/dev/null || true
  HOLDER_PID=""
}
trap 'rc=$?; set +e; stop_flood; stop_holder; (exit $rc); cleanup' EXIT
HOST4=$(cat /proc/sys/net/$V4_FILE)
A_COOKIE=$(netns_cookie "/run/netns/$NS_A")
# A process in A: the collector reads A's Ip reassembly counters under /proc/<pid>/net.
nsenter --net="/run/netns/$NS_A" sleep 600 &
HOLDER_PID=$!

set_frag_a ipv4/ipfrag_time 1
set_frag_a ipv4/ipfrag_low_thresh $LOW
set_frag_a $V4_FILE $HIGH
note "A (cookie $A_COOKIE): ipfrag_high_thresh $(frag_a $V4_FILE), low $LOW, ipfrag_time $(frag_a ipv4/ipfrag_time)"

start_actuator
start_collector
T0=$(date +%s%N)
nsenter --net="/run/netns/$NS_A" python3 "$(dirname "$0")/frag_flood.py" "/run/netns/$NS_B" \
  "$V4_B" "$V4_A" $FLOOD_S >"$WORK/flood.log" 2>&1 &
FLOOD_PID=$!

# Poll A's threshold: it must grow first, then come down below its peak.
PEAK=$HIGH FIRST_UP="" DOWN="" NOW=$HIGH
for _ in $(seq 1 $(( DEADLINE_S * 20 ))); do
  NOW=$(frag_a $V4_FILE)
  ms=$(( ($(date +%s%N) - T0) / 1000000 ))
  [ -z "$FIRST_UP" ] && [ "$NOW" -gt $HIGH ] && FIRST_UP=$ms
  [ "$NOW" -gt "$PEAK" ] && PEAK=$NOW
  if [ "$NOW" -lt "$PEAK" ] && grep -q "reassembly failures rise with ipfrag_high_thresh" \
    "$WORK/collector.log"; then
    DOWN=$ms
    break
  fi
  kill -0 "$FLOOD_PID" 2>/dev/null || break
  sleep 0.05
done
stop_flood
cat "$WORK/flood.log"
grep "ipfrag_high_thresh" "$WORK/collector.log" | tail -n 6 || true
[ -n "$FIRST_UP" ] || fail "ipfrag_high_thresh never grew above $HIGH: the flood did not reach the limit"
[ -n "$DOWN" ] || fail "ipfrag_high_thresh did not come down from its peak $PEAK within ${DEADLINE_S} s (now $NOW)"
note "ipfrag_high_thresh $HIGH -> peak $PEAK (first growth ${FIRST_UP} ms) -> $NOW (${DOWN} ms after the first fragment)"

SHRINK=$(grep "ipfrag_high_thresh .* in netns $A_COOKIE: ok .*reassembly failures rise with" \
  "$WORK/collector.log" | head -n 1)
[ -n "$SHRINK" ] || fail "no applied fragThreshDecrease of ipfrag_high_thresh in A in the collector log"
note "first shrink: $(echo "$SHRINK" | grep -o 'r=[0-9.]* over [0-9]* samples[^)]*')"
"$BPFTUNE" journal --state-dir "$STATE_DIR" >"$WORK/journal.txt"
grep -q "outcome .*scenario=\"need to decrease IP fragmentation high threshold\" netns=$A_COOKIE .*net.ipv4.ipfrag_high_thresh .*result=applied" \
  "$WORK/journal.txt" || { cat "$WORK/journal.txt"; fail "no applied fragThreshDecrease journaled for A"; }
[ "$(cat /proc/sys/net/$V4_FILE)" = "$HOST4" ] || fail "the host's ipfrag_high_thresh changed"
note "trigger-to-change latency per applied change (BPF event -> actuator reply), microseconds:"
grep -o "latency_us=[0-9]*" "$WORK/collector.log" | cut -d= -f2 | sort -n |
  awk '{v[NR]=$1} END {if (NR) printf "    n=%d min=%d median=%d max=%d\n", NR, v[1], v[int((NR+1)/2)], v[NR]}'
stop_daemons
assert_verify
note "PASS: ipfrag_high_thresh $HIGH -> $PEAK -> $NOW, flood guard after ${DOWN} ms"
