#!/usr/bin/env bash
# Upstream-style rmem/wmem scenario on the real kernel:
#   lower the max to the default; transfer; the max grows through the actuator; the journal holds
#   INTENT+OUTCOME records; `verify` passes; rollback restores the exact original.
# Usage: tcp_buffer_scenario.sh rmem|wmem 4|6
source "$(dirname "$0")/lib.sh"
KIND=$1
FAMILY=$2
case "$KIND" in
  rmem) SYSCTL=tcp_rmem; SENDER=b ;;   # A receives
  wmem) SYSCTL=tcp_wmem; SENDER=a ;;   # A sends
  *) fail "usage: $0 rmem|wmem 4|6" ;;
esac

require_env
setup_pair 200mbit

read -r MIN DEF MAX <<<"$(sysctl_a $SYSCTL)"
LOWERED="$MIN $DEF $DEF"
set_sysctl_a $SYSCTL "$LOWERED"
note "$SYSCTL in the tuned namespace lowered to: $LOWERED"

BEFORE=$(transfer "$FAMILY" "$SENDER" 3)
note "transfer rate before tuning: $BEFORE Mbit/s"

start_actuator
start_collector
T0=$(date +%s%N)
DURING=$(transfer "$FAMILY" "$SENDER" 6)
note "transfer rate while tuning: $DURING Mbit/s"
AFTER=$(transfer "$FAMILY" "$SENDER" 3)
note "transfer rate after tuning: $AFTER Mbit/s"

read -r _ _ NEWMAX <<<"$(sysctl_a $SYSCTL)"
note "$SYSCTL max: $DEF -> $NEWMAX"
[ "$NEWMAX" -gt "$DEF" ] || fail "$SYSCTL max did not grow (still $NEWMAX)"

APPLIED=$(grep -c ": ok latency_us=" "$WORK/collector.log" || true)
note "applied changes logged by the collector: $APPLIED"
[ "$APPLIED" -gt 0 ] || fail "the collector logged no applied change"
grep -m 3 "net.ipv4.$SYSCTL" "$WORK/collector.log" || true
"$BPFTUNE" journal --state-dir "$STATE_DIR" > "$WORK/journal.txt"
grep -q "intent" "$WORK/journal.txt" || fail "journal has no intent record"
grep -q "outcome" "$WORK/journal.txt" || fail "journal has no outcome record"
grep -q "net.ipv4.$SYSCTL" "$WORK/journal.txt" || fail "journal does not name net.ipv4.$SYSCTL"
note "latency (limit hit -> change applied, fsyncs included), from the collector's status:"
python3 - "$STATUS" <<'PY' || true
import json, sys
doc = json.load(open(sys.argv[1]))
def find(node, key):
    if isinstance(node, dict):
        for k, v in node.items():
            if k == key: yield v
            yield from find(v, key)
    elif isinstance(node, list):
        for v in node: yield from find(v, key)
for v in find(doc, "latency"): print("   ", json.dumps(v))
PY
note "RSS: actuator $(rss_kb "$ACT_PID") kB, collector $(rss_kb "$COL_PID") kB"

stop_daemons
assert_verify
rollback_offline
cat "$WORK/rollback.out"
NOW="$(sysctl_a $SYSCTL)"
[ "$NOW" = "$LOWERED" ] || fail "rollback left '$NOW', expected exactly '$LOWERED'"
assert_verify
note "PASS: $KIND over IPv$FAMILY: $BEFORE -> $AFTER Mbit/s, max $DEF -> $NEWMAX, restored '$NOW'"
