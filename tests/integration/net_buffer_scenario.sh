#!/usr/bin/env bash
# net_buffer on the real kernel. Its four tunables exist only in the init namespace, so the
# daemon pair runs there (HOST_DAEMONS=1) and every value is saved and restored in the trap.
#   Forced tiny before the daemons start (a later write would count as an administrator's):
#   netdev_max_backlog=8, flow_limit_cpu_bitmap=0, netdev_budget=5 (netdev_budget_usecs stays: the
#   kernel refuses less than 2 jiffies, which is its default).
#   Load: a UDP flood of small datagrams from A to B over veth, which delivers through the per-CPU
#   backlog; RPS on B's end steers every packet to CPU 0 while the sender runs on CPU 1, so CPU 0's
#   backlog overflows (kfree_skb CPU_BACKLOG, enqueued by CPU 1) and its NAPI budget runs out
#   (time_squeeze). Both scenarios share one daemon run and one flood.
#   Asserts: netdev_max_backlog grew, CPU 1's bit is set in flow_limit_cpu_bitmap, netdev_budget
#   and netdev_budget_usecs grew; the journal names all four with the cause namespace; an online
#   rollback restores exactly the forced values; the trap restores the host's own.
source "$(dirname "$0")/lib.sh"
require_env
source "$(dirname "$0")/net_buffer_lib.sh"
netbuf_setup
B_COOKIE=$(netns_cookie "/run/netns/$NS_B")

echo 8 > "$CORE/netdev_max_backlog"
echo 0 > "$CORE/flow_limit_cpu_bitmap"
echo 5 > "$CORE/netdev_budget"
USECS0=$(core netdev_budget_usecs)
FORCED="8 0 5 $USECS0"
note "forced: netdev_max_backlog=8 flow_limit_cpu_bitmap=0 netdev_budget=5; netdev_budget_usecs=$USECS0"

start_actuator
start_collector
in_b iperf3 -s -1 -p 5201 >/dev/null 2>&1 &
IPERF_PID=$!
sleep 0.3
T0=$(date +%s%N)
in_a taskset -c 1 iperf3 -c "$V4_B" -p 5201 -u -b 0 -l 200 -P 2 -t 15 >"$WORK/iperf.log" 2>&1 &
FLOOD_PID=$!

moved() {
  [ "$(core netdev_max_backlog)" -gt 8 ] && [ $(( 0x$(core flow_limit_cpu_bitmap) & 2 )) -ne 0 ] &&
    [ "$(core netdev_budget)" -gt 5 ] && [ "$(core netdev_budget_usecs)" -gt "$USECS0" ]
}
for _ in $(seq 1 100); do
  moved && break
  sleep 0.1
done
T1=$(date +%s%N)
# Let each family take more than one step (one per second at most), then stop the flood.
sleep 1.5
T2=$(date +%s%N)
kill "$FLOOD_PID" 2>/dev/null || true
wait "$FLOOD_PID" 2>/dev/null || true
FLOOD_PID=""
kill "$IPERF_PID" 2>/dev/null || true
wait "$IPERF_PID" 2>/dev/null || true
IPERF_PID=""

NOW="$(core netdev_max_backlog) $(core flow_limit_cpu_bitmap) $(core netdev_budget) $(core netdev_budget_usecs)"
note "after the flood: netdev_max_backlog flow_limit_cpu_bitmap netdev_budget netdev_budget_usecs = $NOW"
note "all four moved within $(( (T1 - T0) / 1000000 )) ms of the flood's start"
read -r BACKLOG BITMAP BUDGET USECS <<<"$NOW"
[ "$BACKLOG" -gt 8 ] || fail "netdev_max_backlog did not grow (still $BACKLOG)"
[ $(( 0x$BITMAP & 2 )) -ne 0 ] || fail "CPU 1's bit is not set in flow_limit_cpu_bitmap ($BITMAP)"
[ "$BUDGET" -gt 5 ] || fail "netdev_budget did not grow (still $BUDGET)"
[ "$USECS" -gt "$USECS0" ] || fail "netdev_budget_usecs did not grow (still $USECS)"
[ "$USECS" -le 50000 ] || fail "netdev_budget_usecs beyond the 50 ms ceiling: $USECS"

note "trigger-to-change (BPF event timestamp -> actuator reply) of the first applied change:"
for t in "${TUNABLES[@]}"; do
  applied=$(grep "net.core.$t[ =:].*: ok latency_us=" "$WORK/collector.log" || true)
  [ -n "$applied" ] || fail "the collector logged no applied change of net.core.$t"
  echo "    net.core.$t: $(head -n 1 <<<"$applied" | grep -o 'latency_us=[0-9]*'), $(wc -l <<<"$applied") change(s) applied"
done
grep -m 4 "net.core.netdev_max_backlog\|net.core.flow_limit" "$WORK/collector.log" || true
# Drops keep coming all along: upstream would propose growth on every one of them. Here a
# decision consumes its drops and each family moves at most once per second.
MAX_STEPS=$(( (T2 - T0 + 999999999) / 1000000000 + 1 ))
for t in netdev_max_backlog netdev_budget; do
  steps=$(grep -c "net.core.$t .*: ok latency_us=" "$WORK/collector.log" || true)
  [ "$steps" -le "$MAX_STEPS" ] || fail "net.core.$t changed $steps times in under $MAX_STEPS s"
done
note "collector status: net_buffer latency and hooks"
python3 - "$STATUS" <<'PY' || true
import json, sys
doc = json.load(open(sys.argv[1]))
for t in doc.get("tuners", []):
    if t.get("name") == "net_buffer":
        print("    events", t["events"], "applied", t["applied"], "latency", json.dumps(t["latency"]))
for b in doc.get("bpf", []):
    if b.get("tuner") == "net_buffer":
        for h in b["hooks"]:
            print("    hook %(name)s: calls %(calls)d, collected %(collected)d, every %(sample_every)d" % h)
        print("    events sent %d, deduplicated %d, lost %d"
              % (b["events_sent"], b["events_deduped"], b["events_lost"]))
PY

"$BPFTUNE" journal --state-dir "$STATE_DIR" >"$WORK/journal.txt"
for t in "${TUNABLES[@]}"; do
  grep -q "outcome.*net.core.$t" "$WORK/journal.txt" || { cat "$WORK/journal.txt";
    fail "journal has no outcome for net.core.$t"; }
done
# The backlog that overflowed is the CPU's, the device that received is B's: B is the cause.
grep -q "cause_netns=$B_COOKIE net.core.netdev_max_backlog" "$WORK/journal.txt" ||
  { grep -m 3 "netdev_max_backlog" "$WORK/journal.txt"; fail "journal does not name B as the cause"; }

"$BPFTUNE" rollback --run-dir "$RUN_DIR" --state-dir "$STATE_DIR" >"$WORK/rollback.out" 2>&1 ||
  { cat "$WORK/rollback.out"; fail "rollback failed"; }
BACK="$(core netdev_max_backlog) $(core flow_limit_cpu_bitmap) $(core netdev_budget) $(core netdev_budget_usecs)"
[ "$BACK" = "$FORCED" ] || fail "rollback left '$BACK', expected '$FORCED'"
stop_daemons
assert_verify
note "PASS: backlog 8 -> $BACKLOG, bitmap 0 -> $BITMAP, budget 5 -> $BUDGET, usecs $USECS0 -> $USECS; rolled back to '$BACK'"
