#!/usr/bin/env bash
# Benchmark: what tcp_buffer tuning buys on a path where the receive buffer is the bottleneck.
# A receives from B over a 100 Mbit tbf link; A's ACKs share a bufferbloated 100 Mbit tbf queue
# with a bulk A->B flow, which gives the path tens of milliseconds of RTT (no netem here).
# Runs, side by side in one run: untuned (tcp_rmem max = default) and tuned (actuator + collector
# running), then prints the rates and their ratio. Not a pass/fail test.
# Usage: sudo bench/tcp_buffer_bench.sh   (after building into build/)
SOURCE_DIR=${SOURCE_DIR:-$(cd "$(dirname "$0")/.." && pwd)}
BUILD_DIR=${BUILD_DIR:-$SOURCE_DIR/build}
export SOURCE_DIR BUILD_DIR
source "$SOURCE_DIR/tests/integration/lib.sh"
SECS=${SECS:-8}
require_env
setup_pair 100mbit
in_a tc qdisc replace dev "${T_ID}va" root tbf rate 100mbit burst 32kb latency 200ms

# Bulk A->B filler keeps A's egress queue (where A's ACKs wait) full.
filler() {
  in_b iperf3 -s -1 -p 5301 >/dev/null 2>&1 &
  sleep 0.3
  in_a iperf3 -c "$V4_B" -p 5301 -C cubic -t "$1" >/dev/null 2>&1 &
  FILLER=$!
  sleep 1
}

measure() {
  filler $((SECS + 2))
  local rtt rate
  rtt=$(in_b ping -c 3 -i 0.2 -q "$V4_A" | awk -F/ '/rtt/ {print $5}')
  rate=$(transfer 4 b "$SECS")
  wait "$FILLER" 2>/dev/null || true
  echo "$rate $rtt"
}

read -r MIN DEF MAX <<<"$(sysctl_a tcp_rmem)"
set_sysctl_a tcp_rmem "$MIN $DEF $DEF"
read -r UNTUNED RTT1 <<<"$(measure)"
echo "untuned: tcp_rmem max $DEF, rate $UNTUNED Mbit/s, ping rtt ${RTT1} ms"

start_actuator
start_collector
measure >/dev/null   # learning run: the tuner raises the max under load
read -r TUNED RTT2 <<<"$(measure)"
read -r _ _ NEWMAX <<<"$(sysctl_a tcp_rmem)"
echo "tuned:   tcp_rmem max $NEWMAX, rate $TUNED Mbit/s, ping rtt ${RTT2} ms"
python3 - "$UNTUNED" "$TUNED" "$STATUS" <<'PY'
import json, sys
u, t = float(sys.argv[1]), float(sys.argv[2])
print("ratio tuned/untuned: %.2fx" % (t / u if u else float("nan")))
doc = json.load(open(sys.argv[3]))
for tuner in doc.get("tuners", []):
    print("latency limit-hit -> applied (fsyncs included):", json.dumps(tuner.get("latency")))
PY
echo "RSS: actuator $(rss_kb "$ACT_PID") kB, collector $(rss_kb "$COL_PID") kB"
stop_daemons
rollback_offline
echo "restored tcp_rmem: $(sysctl_a tcp_rmem)"
