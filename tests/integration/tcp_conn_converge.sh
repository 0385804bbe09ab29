#!/usr/bin/env bash
# tcp_conn on the real kernel: the congestion control algorithm learned per destination from the
# connections that closed, applied as bpftune's own host route (proto 249, metric 4242, congctl)
# in the client's namespace (impair_lib.sh has the topology). C sends many short transfers to two
# hosts: L behind random loss and real delay, K clean.
#   1. Baseline, no daemon running: C's default, cubic, to both hosts.
#   2. With the daemons (tcp_conn only), rounds of one transfer to each host until both settled:
#      L runs bbr over a route with congctl bbr, journaled for L's address (the loss fast path:
#      every connection to L retransmits more than 1/64 of its segments); K, once it has tried
#      reno and bbr, is back on no route (C's default: the others are no clear gain on a clean
#      path). A fresh transfer to L beats the baseline by a clear factor; K's fresh transfers are
#      not slower than its baseline. Prints how many connections each host took and the
#      trigger-to-route latency.
#      Before that, a third host M (a second address of K's namespace) has an administrator's
#      host route in C: its first proposal is answered OVERRIDDEN and journaled as an override,
#      and the tuner leaves M alone but keeps tuning every other host of C.
#   3. `bpftune rollback` leaves no proto 249 route, and the journal has the removals.
# Usage: tcp_conn_converge.sh LOSS_DROP_OBJ DELAY_LINE
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/impair_lib.sh"
LOSS_OBJ_ARG=${1:?usage: $0 loss_drop.bpf.o delay_line}
DELAY_LINE_ARG=${2:?usage: $0 loss_drop.bpf.o delay_line}
require_env

# 1 MB is ~700 segments: above the tuner's 100-segment floor and the 256 segments its loss fast
# path wants, and long enough for 3 % loss at 5 ms to cost cubic ~5x (bench/README.md).
SIZE=${SIZE:-1000000}
LOSS=${LOSS:-300}           # per 10 000
DELAY_MS=${DELAY_MS:-5}
BASE_N=${BASE_N:-5}         # baseline transfers per host
FRESH_N=${FRESH_N:-5}       # after convergence, per host
MAX_ROUNDS=${MAX_ROUNDS:-32}  # rounds of one transfer per host, in batches of 4
L_FACTOR=${L_FACTOR:-2}     # fresh L must beat the baseline by this much
K_FLOOR=${K_FLOOR:-0.85}    # fresh K must keep this share of its baseline
TUNERS=tcp_conn

now_ms() { echo $(( $(date +%s%N) / 1000000 )); }
algs_of() { awk -v a="$1" '$1 == a {print $3}' "$2" | tr '\n' ' '; }
# K has run every algorithm the tuner may route (allowed and available, other than C's default).
k_explored() {
  local alg
  for alg in $CANDIDATES; do
    awk -v a="$K_ADDR" -v alg="$alg" '$1 == a && $3 == alg {found = 1} END {exit !found}' \
      "$WORK/converge.txt" || return 1
  done
}
tail_bbr() {  # the last $3 connections to $1 in $2 all ran bbr
  [ "$(awk -v a="$1" '$1 == a {print $3}' "$2" | tail -n "$3" | grep -c '^bbr$')" = "$3" ]
}
ratio() { python3 -c 'import sys; a, b = map(float, sys.argv[1:]); print("%.2f" % (a / b if b else 0))' "$@"; }
at_least() { python3 -c 'import sys; a, b = map(float, sys.argv[1:]); sys.exit(0 if a >= b else 1)' "$@"; }

T_START=$(now_ms)
impair_setup 200mbit "$LOSS_OBJ_ARG" "$DELAY_LINE_ARG"
impair_loss "$LOSS"
impair_delay "$DELAY_MS"
note "C -> L $L_ADDR (via $L_GW): $LOSS/10000 loss, ${DELAY_MS} ms delay; C -> K $K_ADDR: clean;" \
  "C's default $(in_a cat /proc/sys/net/ipv4/tcp_congestion_control); $SIZE bytes per transfer"
[ -z "$(our_routes)" ] || fail "proto 249 routes in C before the daemons ran"
CANDIDATES=""
for alg in $(cat /proc/sys/net/ipv4/tcp_allowed_congestion_control); do
  [ "$alg" != cubic ] && grep -qw "$alg" /proc/sys/net/ipv4/tcp_available_congestion_control &&
    CANDIDATES="${CANDIDATES:+$CANDIDATES }$alg"
done
grep -qw bbr <<<"$CANDIDATES" || skip "bbr is not in tcp_allowed_congestion_control"

# ---- 1. baseline ----
T1=$(now_ms)
conn_send "$SIZE" "$BASE_N" L K >"$WORK/baseline.txt" || fail "baseline transfers failed"
BASE_L=$(median_rate "$L_ADDR" <"$WORK/baseline.txt")
BASE_K=$(median_rate "$K_ADDR" <"$WORK/baseline.txt")
note "baseline (no daemon, $(( $(now_ms) - T1 )) ms): L median $BASE_L Mbit/s" \
  "[$(algs_of "$L_ADDR" "$WORK/baseline.txt")], K median $BASE_K Mbit/s" \
  "[$(algs_of "$K_ADDR" "$WORK/baseline.txt")]"
grep -qv " cubic " "$WORK/baseline.txt" && fail "a baseline connection did not run cubic"

# ---- 2. convergence ----
M_ADDR=${K_ADDR%.*}.3
in_b ip addr add "$M_ADDR/24" dev "${T_ID}vb"
in_a ip route add "$M_ADDR/32" dev "${T_ID}va" proto static  # the administrator's host route
start_actuator
start_collector
# M: the 4th measured connection makes the tuner explore (a route), which the admin's route wins.
conn_send "$SIZE" 5 "$M_ADDR:$CONN_PORT" >"$WORK/m.txt" || fail "transfers to M failed"
M_OVERRIDE=""
for _ in $(seq 1 30); do
  M_OVERRIDE=$("$BPFTUNE" journal --state-dir "$STATE_DIR" |
    grep " override tuner=tcp_conn .*net.route.host.congctl host=$M_ADDR " || true)
  [ -n "$M_OVERRIDE" ] && break
  sleep 0.1
done
[ -n "$M_OVERRIDE" ] || fail "no journaled override for M ($M_ADDR), whose admin host route wins"
note "M ($M_ADDR, administrator's host route): $M_OVERRIDE"
[ -z "$(in_a ip route show exact "$M_ADDR/32" proto 249)" ] || fail "a bpftune route for M"
T2=$(now_ms)
: >"$WORK/converge.txt"
ROUNDS=0
while [ "$ROUNDS" -lt "$MAX_ROUNDS" ]; do
  conn_send "$SIZE" 4 L K >>"$WORK/converge.txt" || fail "transfers failed during convergence"
  ROUNDS=$(( ROUNDS + 4 ))
  [ "$(route_alg "$L_ADDR")" = bbr ] && tail_bbr "$L_ADDR" "$WORK/converge.txt" 3 &&
    k_explored && [ "$(route_alg "$K_ADDR")" = none ] && break
done
CONVERGE_MS=$(( $(now_ms) - T2 ))
L_AFTER=$(converged_at "$L_ADDR" "$WORK/converge.txt" bbr)
K_AFTER=$(converged_at "$K_ADDR" "$WORK/converge.txt" cubic)
note "convergence phase: $ROUNDS rounds in $CONVERGE_MS ms; algorithms per connection:"
echo "    L: $(algs_of "$L_ADDR" "$WORK/converge.txt")"
echo "    K: $(algs_of "$K_ADDR" "$WORK/converge.txt")"
note "routes of bpftune's in C:"
our_routes | sed 's/^/    /'
L_ALG=$(route_alg "$L_ADDR")
K_ALG=$(route_alg "$K_ADDR")
[ "$L_ALG" = bbr ] || fail "L ($L_ADDR) has route congctl '$L_ALG' after $ROUNDS rounds, not bbr" \
  "(an administrator's route for M must not stop the tuner for the namespace)"
tail_bbr "$L_ADDR" "$WORK/converge.txt" 3 || fail "L's last connections did not all run bbr"
[ "$K_ALG" != "$L_ALG" ] || fail "K ($K_ADDR) ended on the same choice as L ($K_ALG)"
[ "$K_ALG" = none ] || fail "K ($K_ADDR) ended on route congctl $K_ALG, not on C's default"
k_explored || fail "K never ran every candidate ($CANDIDATES): it did not learn"
note "connections to converge: L runs bbr from its connection #$L_AFTER; K, after trying" \
  "$CANDIDATES, runs C's default (cubic, no route) again from its connection #$K_AFTER"

# Fresh transfers, interleaved as before.
conn_send "$SIZE" "$FRESH_N" L K >"$WORK/fresh.txt" || fail "fresh transfers failed"
FRESH_L=$(median_rate "$L_ADDR" <"$WORK/fresh.txt")
FRESH_K=$(median_rate "$K_ADDR" <"$WORK/fresh.txt")
note "L: baseline $BASE_L -> fresh $FRESH_L Mbit/s ($(ratio "$FRESH_L" "$BASE_L")x)" \
  "[$(algs_of "$L_ADDR" "$WORK/fresh.txt")]"
note "K: baseline $BASE_K -> fresh $FRESH_K Mbit/s ($(ratio "$FRESH_K" "$BASE_K")x)" \
  "[$(algs_of "$K_ADDR" "$WORK/fresh.txt")]"
at_least "$FRESH_L" "$(python3 -c "print($BASE_L * $L_FACTOR)")" ||
  fail "L: fresh $FRESH_L Mbit/s is not ${L_FACTOR}x the cubic baseline $BASE_L"
at_least "$FRESH_K" "$(python3 -c "print($BASE_K * $K_FLOOR)")" ||
  fail "K: fresh $FRESH_K Mbit/s fell below ${K_FLOOR}x its baseline $BASE_K"

"$BPFTUNE" journal --state-dir "$STATE_DIR" >"$WORK/journal.txt"
grep -q "outcome tuner=tcp_conn .*net.route.host.congctl host=$L_ADDR .* -> bbr .*result=applied" \
  "$WORK/journal.txt" ||
  { grep "congctl" "$WORK/journal.txt"; fail "no applied bbr route journaled for L ($L_ADDR)"; }
note "journal, tcp_conn outcomes:"
grep "outcome tuner=tcp_conn" "$WORK/journal.txt" | sed 's/^/    /' | head -n 12
note "trigger-to-route latency (event -> actuator reply), microseconds:"
grep "net.route.host.congctl" "$WORK/collector.log" | grep -o "latency_us=[0-9]*" | cut -d= -f2 |
  sort -n | awk '{v[NR]=$1} END {if (NR) printf "    n=%d min=%d median=%d max=%d\n", NR, v[1],
    v[int((NR+1)/2)], v[NR]; else print "    none logged"}'

# ---- 3. rollback ----
ROUTED_HOSTS=$(our_routes | awk '{print $1}')
"$BPFTUNE" rollback --run-dir "$RUN_DIR" --state-dir "$STATE_DIR" >"$WORK/rollback.out" 2>&1 ||
  { cat "$WORK/rollback.out"; fail "rollback failed"; }
LEFT=$(our_routes; in_a ip -6 route show proto 249)
[ -z "$LEFT" ] || { echo "$LEFT"; fail "proto 249 routes left in C after rollback"; }
"$BPFTUNE" journal --state-dir "$STATE_DIR" >"$WORK/journal.txt"
for host in $ROUTED_HOSTS; do
  grep -q "outcome .*scenario=\"rollback\" .*net.route.host.congctl host=$host .*result=applied" \
    "$WORK/journal.txt" ||
    { grep "rollback" "$WORK/journal.txt"; fail "no journaled rollback for $host's route"; }
done
note "rollback removed the routes of: ${ROUTED_HOSTS//$'\n'/ }"
grep "outcome .*scenario=\"rollback\" .*net.route.host.congctl" "$WORK/journal.txt" |
  sed 's/^/    /'
grep -q "liveSwitch" "$WORK/journal.txt" && note "live switches journaled:" &&
  grep "liveSwitch" "$WORK/journal.txt" | sed 's/^/    /' | head -n 3
stop_daemons
assert_verify
note "PASS: L $BASE_L -> $FRESH_L Mbit/s (bbr from connection #$L_AFTER), K $BASE_K ->" \
  "$FRESH_K Mbit/s (no route; settled from connection #$K_AFTER); total" \
  "$(( $(now_ms) - T_START )) ms"
