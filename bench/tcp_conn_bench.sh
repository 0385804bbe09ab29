#!/usr/bin/env bash
# Benchmark: what tcp_conn's per-destination congestion control buys on impaired paths.
# Topology of tests/integration/impair_lib.sh: client C (default cubic) -> host L behind a router
# whose TUN delay line adds DELAY_MS of round trip, with tc-bpf random loss on L's ingress; and
# host K, clean and on link. One row per impairment, each measured side by side in one run:
#   cubic:  BASE_N transfers with no daemon running (no route: C's default, cubic);
#   bbr:    BASE_N transfers over a route of ours added by hand (congctl bbr), the reference the
#           tuner should reach on lossy paths; removed again;
#   tuned:  fresh actuator + collector (tcp_conn only, empty state), CONVERGE_N transfers to let
#           it learn, then FRESH_N transfers;
# then the ratio, its choice (what most fresh connections ran; cubic = no route), the connections
# it took to converge (impair_lib.sh's converged_at: the first connection of the change to that
# choice that held), and the algorithm of every connection (c cubic, b bbr, r reno).
# Between rows `bpftune rollback` removes the routes. Not a pass/fail test.
# Usage: sudo bench/tcp_conn_bench.sh   (after building into build/)
#   LOSSES="0 100 300 1000" (per 10 000 on L; one of loss_drop.bpf.c's rates), DELAY_MS=5,
#   SIZE=1000000 bytes per transfer, BASE_N=7, CONVERGE_N=16, FRESH_N=7, CLEAN_ROW=1 (K's row).
#   Cubic's rate under loss varies a lot from one short transfer to the next (where in slow start
#   the first losses fall): the medians want the 7 samples.
SOURCE_DIR=${SOURCE_DIR:-$(cd "$(dirname "$0")/.." && pwd)}
BUILD_DIR=${BUILD_DIR:-$SOURCE_DIR/build}
export SOURCE_DIR BUILD_DIR
source "$SOURCE_DIR/tests/integration/lib.sh"
source "$SOURCE_DIR/tests/integration/impair_lib.sh"
LOSSES=${LOSSES:-"0 100 300 1000"}
DELAY_MS=${DELAY_MS:-5}
SIZE=${SIZE:-1000000}
BASE_N=${BASE_N:-7}
CONVERGE_N=${CONVERGE_N:-16}
FRESH_N=${FRESH_N:-7}
CLEAN_ROW=${CLEAN_ROW:-1}
TUNERS=tcp_conn
require_env
impair_setup 200mbit "$BUILD_DIR/tests/loss_drop.bpf.o" "$BUILD_DIR/tests/delay_line"
impair_delay "$DELAY_MS"

now_ms() { echo $(( $(date +%s%N) / 1000000 )); }
letters() {  # algorithms of host $1's connections in $2 as one letter each
  awk -v a="$1" '$1 == a {printf "%s", substr($3, 1, 1)}' "$2"
}

# One row: $1 host (K or L), $2 its label, $3 loss per 10 000 on L.
row() {
  local host=$1 label=$2 addr via base bbr tuned choice conv t0
  [ "$host" = K ] && addr=$K_ADDR || addr=$L_ADDR
  [ "$host" = K ] && via="dev ${T_ID}va" || via="via $L_GW dev ${T_ID}vl"
  [ "$host" = L ] && impair_loss "$3"
  t0=$(now_ms)
  conn_send "$SIZE" "$BASE_N" "$host" >"$WORK/base.txt"
  base=$(median_rate "$addr" <"$WORK/base.txt")
  in_a ip route add "$addr/32" $via proto 249 metric 4242 congctl bbr
  conn_send "$SIZE" "$BASE_N" "$host" >"$WORK/bbr.txt"
  in_a ip route del "$addr/32" proto 249 metric 4242
  bbr=$(median_rate "$addr" <"$WORK/bbr.txt")
  # Each row learns from nothing: a new journal (a rollback leaves the actuator paused) and a
  # new collector.
  STATE_DIR="$WORK/state-$host-$3"
  JOURNAL="$STATE_DIR/journal"
  install -d -m 0700 -o root -g root "$STATE_DIR"
  start_actuator
  start_collector
  conn_send "$SIZE" "$CONVERGE_N" "$host" >"$WORK/converge.txt"
  conn_send "$SIZE" "$FRESH_N" "$host" >"$WORK/fresh.txt"
  tuned=$(median_rate "$addr" <"$WORK/fresh.txt")
  choice=$(awk -v a="$addr" '$1 == a {n[$3]++} END {for (k in n) if (n[k] > best) {best = n[k];
    c = k} print c}' "$WORK/fresh.txt")
  conv=$(converged_at "$addr" "$WORK/converge.txt" "$choice")
  [ "$conv" = 0 ] && conv="-"
  "$BPFTUNE" rollback --run-dir "$RUN_DIR" --state-dir "$STATE_DIR" >"$WORK/rollback.out" 2>&1 ||
    echo "WARNING: rollback failed: $(cat "$WORK/rollback.out")" >&2
  stop_daemons
  if [ -n "$(our_routes)" ]; then
    echo "WARNING: proto 249 routes left after rollback: $(our_routes | tr '\n' ';')" >&2
    in_a ip route flush proto 249
  fi
  printf "%-22s %7s %7s %7s %6s  %-6s %5s  %-*s %-*s %5.1f\n" "$label" "$base" "$bbr" "$tuned" \
    "$(python3 -c "import sys; b, t = map(float, sys.argv[1:]); print('%.2fx' % (t / b if b else 0))" "$base" "$tuned")" \
    "$choice" "$conv" "$CONVERGE_N" "$(letters "$addr" "$WORK/converge.txt")" "$FRESH_N" \
    "$(letters "$addr" "$WORK/fresh.txt")" "$(( $(now_ms) - t0 ))e-3"
}

echo "transfers of $SIZE bytes, 200 Mbit/s tbf; medians in Mbit/s; L's round trip +${DELAY_MS} ms" \
  "(delay line); C's default cubic"
printf "%-22s %7s %7s %7s %6s  %-6s %5s  %-*s %-*s %5s\n" "path" "cubic" "bbr" "tuned" "ratio" "choice" \
  "conv#" "$CONVERGE_N" "learning" "$FRESH_N" "fresh" "secs"
[ "$CLEAN_ROW" = 1 ] && row K "K clean, no delay" 0
for loss in $LOSSES; do
  row L "L $(python3 -c "print('%g' % ($loss / 100))") % loss, ${DELAY_MS} ms" "$loss"
done
impair_delay 0
if [ -s "$WORK/delay_line.log" ]; then cat "$WORK/delay_line.log"; fi
