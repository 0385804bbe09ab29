#!/usr/bin/env bash
# net_buffer's back-off (netdevBudgetDecrease) on the real kernel: the NAPI budget grows on time
# squeeze while CPU contention rises with it, until the tuner sees the growth correlate with the
# scheduler wait/run ratio and gives time back. The four tunables exist only in the init
# namespace, so the daemon pair runs there (HOST_DAEMONS=1); every value is saved and restored.
#   Forced before the daemons start: netdev_budget=5 (a later write would count as an
#   administrator's). netdev_budget_usecs stays at its default, the kernel's minimum.
#   Squeeze: a UDP flood over veth as in net_buffer_scenario.sh (RPS steers it to CPU 0, the
#   sender runs on CPU 1), for the whole run: one budget decision per second, each growing both
#   values until usecs reaches its 50 ms ceiling.
#   Contention: a busy loop on CPU 1, beside the sender, whose duty cycle climbs from 0 to 100 %
#   over RAMP_S seconds. While it runs, one of the two waits, so PSI's cpu "some" time per unit
#   of run time (the ratio the tuner samples once per decision) climbs with the budget: about
#   80 -> 440 per mille here (30-50 without the hog), r >= 0.9. A second hog on CPU 0 adds
#   little and slows the decisions: events grow rarer as the budget grows anyway (~30/s -> ~3/s).
#   Asserts: netdev_budget grew; an applied netdevBudgetDecrease of netdev_budget in the
#   collector log and in the journal, citing r > 0.75; the live value below its peak and not
#   below the forced 5; netdev_budget_usecs came down too; an online rollback restores the forced
#   values; the trap restores the host's own.
# Needs a machine not already saturated by other work: PSI "some" is machine-wide.
source "$(dirname "$0")/lib.sh"
require_env
[ -r /proc/pressure/cpu ] || skip "no /proc/pressure/cpu (PSI): the tuner cannot see the wait"
source "$(dirname "$0")/net_buffer_lib.sh"
RAMP_S=${RAMP_S:-9}
# 11 decisions (10 samples) take 11-12 s (the last ones wait for rarer events); the rest is
# slack for a noisy sample.
DEADLINE_S=${DEADLINE_S:-18}

stop_load() {
  local pid
  for pid in $FLOOD_PID $HOG_PIDS $SAMPLER_PID $IPERF_PID; do kill "$pid" 2>/dev/null; done
  for pid in $FLOOD_PID $HOG_PIDS $SAMPLER_PID $IPERF_PID; do wait "$pid" 2>/dev/null || true; done
  FLOOD_PID=""
  HOG_PIDS=""
  SAMPLER_PID=""
  IPERF_PID=""
}
HOG_PIDS=""
SAMPLER_PID=""

# A busy loop on CPU $1 whose share of each 50 ms period climbs from 0 to 1 over $2 seconds.
# exec: the background job's pid is then python's, so stop_load's kill reaches it.
ramp_hog() {
  exec python3 - "$1" "$2" <<'PY'
import os, sys, time
os.sched_setaffinity(0, {int(sys.argv[1])})
ramp = float(sys.argv[2])
period = 0.05
t0 = time.monotonic()
while True:
    now = time.monotonic()
    share = min(1.0, (now - t0) / ramp)
    end = now + share * period
    while time.monotonic() < end:
        pass
    time.sleep((1.0 - share) * period)
PY
}

# What the tuner samples, once a second for the log: PSI cpu "some" wait per mille of run time.
wait_ratio_sampler() {
  exec python3 - <<'PY'
import os, time
hz = os.sysconf("SC_CLK_TCK")
def read():
    wait = 0
    for line in open("/proc/pressure/cpu"):
        if line.startswith("some"):
            wait = int(line.split("total=")[1]) * 1000
    w = open("/proc/stat").readline().split()
    run = sum(int(w[i]) for i in (1, 2, 3, 6, 7)) * (1000000000 // hz)
    return wait, run
t0 = time.monotonic()
last = read()
while True:
    time.sleep(1)
    now = read()
    if now[1] > last[1]:
        ratio = (now[0] - last[0]) * 1000 // (now[1] - last[1])
        print("%5.1f s %4d" % (time.monotonic() - t0, ratio), flush=True)
    last = now
PY
}

netbuf_setup

echo 5 > "$CORE/netdev_budget"
USECS0=$(core netdev_budget_usecs)
note "forced: netdev_budget=5; netdev_budget_usecs=$USECS0 (its minimum); host wait/run before: $(
  grep some /proc/pressure/cpu)"

start_actuator
start_collector
in_b iperf3 -s -1 -p 5201 >/dev/null 2>&1 &
IPERF_PID=$!
wait_ratio_sampler >"$WORK/wait_ratio.log" 2>&1 &
SAMPLER_PID=$!
sleep 0.3
T0=$(date +%s%N)
in_a taskset -c 1 iperf3 -c "$V4_B" -p 5201 -u -b 0 -l 200 -P 2 -t $(( DEADLINE_S + 5 )) \
  >"$WORK/iperf.log" 2>&1 &
FLOOD_PID=$!
ramp_hog 1 "$RAMP_S" &
HOG_PIDS=$!

DECREASE="need to decrease # of packets processed per NAPI poll"
decreased() { grep -q "$DECREASE.*net.core.netdev_budget [0-9]* -> [0-9]* .*: ok latency_us=" \
  "$WORK/collector.log"; }
for _ in $(seq 1 $(( DEADLINE_S * 10 ))); do
  decreased && break
  sleep 0.1
done
T1=$(date +%s%N)
stop_load
LIVE_BUDGET=$(core netdev_budget)
LIVE_USECS=$(core netdev_budget_usecs)
note "wait/run per mille of each second (sampled beside the tuner):"
tr '\n' ',' <"$WORK/wait_ratio.log" | sed 's/,$/\n/; s/^/    /'
# time, tunable, old -> new, outcome (and the r a decrease cites)
awk '/net.core.netdev_budget(_usecs)? [0-9]+ -> [0-9]+ / {
  for (i = 1; i <= NF; i++) if ($i ~ /^net.core.netdev_budget/ && $(i + 2) == "->") break
  r = match($0, /r=[0-9]+%/) ? " " substr($0, RSTART, RLENGTH) : ""
  out = index($0, ": ok latency_us=") ? "ok" : "not applied"
  print "    " $1, $i, $(i + 1), "->", $(i + 3), out r
}' "$WORK/collector.log"
decreased || fail "no applied netdevBudgetDecrease within $DEADLINE_S s of the flood's start"

applied_budget=$(grep "net.core.netdev_budget [0-9]* -> [0-9]* .*: ok latency_us=" \
  "$WORK/collector.log")
PEAK=$(grep -o "netdev_budget [0-9]* -> [0-9]*" <<<"$applied_budget" | awk '{ print $4 }' |
  sort -n | tail -n 1)
DEC_LINE=$(grep -m 1 "$DECREASE" <<<"$applied_budget")
read -r FROM TO < <(grep -o "netdev_budget [0-9]* -> [0-9]*" <<<"$DEC_LINE" |
  awk '{ print $2, $4 }')
R=$(grep -o "r=[0-9]*%" <<<"$DEC_LINE")
INCREASES=$(grep -c "need to increase" <<<"$applied_budget" || true)
note "netdev_budget 5 -> peak $PEAK in $INCREASES step(s), decrease $FROM -> $TO at $R," \
  "$(( (T1 - T0) / 1000000 )) ms after the flood's start;" \
  "live: budget $LIVE_BUDGET usecs $LIVE_USECS"
[ "$PEAK" -gt 5 ] || fail "netdev_budget never grew (peak $PEAK)"
[ "${R//[!0-9]/}" -gt 75 ] || fail "decrease cites $R, not above the 0.75 threshold"
[ "$TO" -lt "$FROM" ] || fail "the decrease did not lower netdev_budget ($FROM -> $TO)"
[ "$LIVE_BUDGET" -lt "$PEAK" ] || fail "live netdev_budget $LIVE_BUDGET is not below its peak $PEAK"
[ "$LIVE_BUDGET" -ge 5 ] ||
  fail "netdev_budget $LIVE_BUDGET went below where the tuner found it (5)"
grep -q "$DECREASE.*net.core.netdev_budget_usecs [0-9]* -> [0-9]* .*: ok latency_us=" \
  "$WORK/collector.log" || fail "netdev_budget_usecs did not come down with the budget"
[ "$LIVE_USECS" -ge "$USECS0" ] || fail "netdev_budget_usecs $LIVE_USECS below its start $USECS0"
echo "    decrease: $(grep -o 'latency_us=[0-9]*' <<<"$DEC_LINE") (BPF event -> actuator reply)"

"$BPFTUNE" journal --state-dir "$STATE_DIR" >"$WORK/journal.txt"
grep -q "outcome .*scenario=\"$DECREASE\".* net.core.netdev_budget $FROM -> $TO .*result=applied" \
  "$WORK/journal.txt" ||
  { grep "$DECREASE" "$WORK/journal.txt"; fail "journal has no applied decrease"; }

"$BPFTUNE" rollback --run-dir "$RUN_DIR" --state-dir "$STATE_DIR" >"$WORK/rollback.out" 2>&1 ||
  { cat "$WORK/rollback.out"; fail "rollback failed"; }
BACK="$(core netdev_budget) $(core netdev_budget_usecs)"
[ "$BACK" = "5 $USECS0" ] || fail "rollback left budget/usecs '$BACK', expected '5 $USECS0'"
stop_daemons
assert_verify
note "PASS: budget 5 -> $PEAK -> $LIVE_BUDGET ($R), usecs $USECS0 -> $LIVE_USECS;" \
  "rolled back to '$BACK'"
