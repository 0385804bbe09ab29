#!/usr/bin/env bash
# neigh_table on the real kernel, daemon pair in the init netns (gc_thresh exists only there):
#   both tables start at 128/192/256 (saved and restored host-wide in a trap);
#   B has IPv6 disabled and a /24: hundreds of stale arp neighbours there grow arp_cache until
#   exactly 1024 (the /24's bound) and no further, although creates keep failing (table full);
#   A fills ndisc_cache (fd..::/64 plus link-local: no bound) past 1024;
#   flushing both tables shrinks them back to the kernel defaults 128/512/1024;
#   the journal names the container that caused each host-wide change; a rollback through the
#   running actuator restores 128/192/256 exactly.
source "$(dirname "$0")/lib.sh"
require_env
setup_pair 200mbit
HOST_DAEMONS=1
TUNERS=neigh_table

START=128/192/256
V4_DEV="${T_ID}vb"   # in B
V6_DEV="${T_ID}va"   # in A

thresholds() {  # $1: ipv4|ipv6 -> "t1/t2/t3" of the init netns
  local d=/proc/sys/net/$1/neigh/default
  echo "$(cat $d/gc_thresh1)/$(cat $d/gc_thresh2)/$(cat $d/gc_thresh3)"
}
thresh3() { cat "/proc/sys/net/$1/neigh/default/gc_thresh3"; }
set_thresholds() {  # $1: arp_cache|ndisc_cache, $2: "t1/t2/t3"
  local t1 t2 t3
  IFS=/ read -r t1 t2 t3 <<<"$2"
  ip ntable change name "$1" thresh1 "$t1" thresh2 "$t2" thresh3 "$t3"
}
now_ms() { echo $(( $(date +%s%N) / 1000000 )); }

SAVED_ARP=$(thresholds ipv4)
SAVED_NDISC=$(thresholds ipv6)
# The thresholds are global: put the host's back whatever happens, daemons stopped first so
# nothing reacts to the restore.
neigh_cleanup() {
  local rc=$?
  set +e
  [ -n "$COL_PID" ] && kill "$COL_PID" 2>/dev/null
  [ -n "$ACT_PID" ] && kill "$ACT_PID" 2>/dev/null
  sleep 0.2
  set_thresholds arp_cache "$SAVED_ARP" || echo "could not restore arp_cache $SAVED_ARP" >&2
  set_thresholds ndisc_cache "$SAVED_NDISC" || echo "could not restore ndisc_cache $SAVED_NDISC" >&2
  (exit $rc)
  cleanup
}
trap neigh_cleanup EXIT
note "host thresholds saved: arp $SAVED_ARP, ndisc $SAVED_NDISC"

set_thresholds arp_cache "$START"
set_thresholds ndisc_cache "$START"
in_b sysctl -q -w net.ipv6.conf.all.disable_ipv6=1 "net.ipv6.conf.$V4_DEV.disable_ipv6=1"
[ -z "$(in_b ip -6 addr show dev "$V4_DEV")" ] || fail "B still has IPv6 addresses"
note "both tables at $START; IPv6 disabled in B ($V4_DEV: $V4_B/24 only)"
A_COOKIE=$(netns_cookie "/run/netns/$NS_A")
B_COOKIE=$(netns_cookie "/run/netns/$NS_B")

start_actuator
start_collector

# Neighbour batches: stale entries count against gc_thresh3 (permanent ones are exempt).
NEXT_V4=0
NEXT_V6=0
add_v4() {  # $1: how many new arp neighbours in B
  awk -v s="$NEXT_V4" -v n="$1" -v d="$V4_DEV" 'BEGIN { for (i = s; i < s + n; i++)
    printf "neigh replace 10.100.%d.%d lladdr 02:00:00:00:%02x:%02x nud stale dev %s\n",
           int(i / 250), i % 250 + 1, int(i / 256), i % 256, d }' >"$WORK/v4.batch"
  in_b ip -force -batch "$WORK/v4.batch" 2>/dev/null || true
  NEXT_V4=$(( NEXT_V4 + $1 ))
}
add_v6() {  # $1: how many new ndisc neighbours in A
  awk -v s="$NEXT_V6" -v n="$1" -v d="$V6_DEV" 'BEGIN { for (i = s; i < s + n; i++)
    printf "neigh replace fd00:100::%x lladdr 02:00:00:01:%02x:%02x nud stale dev %s\n",
           i + 1, int(i / 256), i % 256, d }' >"$WORK/v6.batch"
  in_a ip -force -batch "$WORK/v6.batch" 2>/dev/null || true
  NEXT_V6=$(( NEXT_V6 + $1 ))
}

# Growth: keep adding neighbours (creates fail once a table is full, which is an event too)
# until arp reached its bound and ndisc passed the kernel default.
T0=$(now_ms)
FIRST_MOVE=""
deadline=$(( T0 + 12000 ))
while :; do
  add_v4 64
  add_v6 64
  [ -z "$FIRST_MOVE" ] && [ "$(thresholds ipv4)" != "$START" ] && FIRST_MOVE=$(( $(now_ms) - T0 ))
  [ "$(thresh3 ipv4)" -ge 1024 ] && [ "$(thresh3 ipv6)" -gt 1024 ] && break
  [ "$(now_ms)" -lt "$deadline" ] ||
    fail "no growth to the bound in 12 s: arp $(thresholds ipv4), ndisc $(thresholds ipv6)"
  sleep 0.1
done
GROWN=$(( $(now_ms) - T0 ))
ARP_GROWN=$(thresholds ipv4)
NDISC_PEAK=$(thresholds ipv6)
note "grown in ${GROWN} ms (first change after ${FIRST_MOVE:-?} ms): arp $START -> $ARP_GROWN" \
  "($NEXT_V4 arp neighbours offered), ndisc $START -> $NDISC_PEAK ($NEXT_V6 offered)"

# The /24 bound holds while the arp table keeps overflowing.
read_failed_creates() {
  python3 - "$STATUS" <<'PY'
import json, sys
doc = json.load(open(sys.argv[1]))
for o in doc["bpf"]:
    for h in o["hooks"]:
        if h["name"] == "neigh_create_failed":
            print(h["calls"])
PY
}
# ip stops a batch at its first refused create (ENOBUFS), so each batch is one failure here.
sleep 1.1   # the status file is rewritten once a second
FAILED_BEFORE=$(read_failed_creates)
for _ in 1 2 3 4 5; do add_v4 64; sleep 0.1; done
sleep 1.1
FAILED_AFTER=$(read_failed_creates)
[ "$(thresh3 ipv4)" = 1024 ] || fail "arp_cache passed the /24 bound: $(thresholds ipv4)"
# tp_btf would never see these: its verifier drops the n == NULL branch.
[ "${FAILED_AFTER:-0}" -gt "${FAILED_BEFORE:-0}" ] ||
  fail "no failed (table full) creates seen by raw_tp/neigh_create: $FAILED_BEFORE -> $FAILED_AFTER"
note "arp_cache stays at $(thresholds ipv4) (/24 bound 1024) while creates fail:" \
  "neigh_create_failed $FAILED_BEFORE -> $FAILED_AFTER"

# Shrink: flush both tables; each later removal (a neighbour added and deleted) is another
# nearly-empty event, until both tables are back at the kernel defaults.
T1=$(now_ms)
in_b ip neigh flush dev "$V4_DEV"
in_a ip -6 neigh flush dev "$V6_DEV"
deadline=$(( T1 + 6000 ))
i=0
while [ "$(thresholds ipv4)" != 128/512/1024 ] || [ "$(thresholds ipv6)" != 128/512/1024 ]; do
  [ "$(now_ms)" -lt "$deadline" ] ||
    fail "no shrink to 128/512/1024 in 6 s: arp $(thresholds ipv4), ndisc $(thresholds ipv6)"
  i=$(( i + 1 ))
  in_b ip neigh replace 10.101.0.$(( i % 250 + 1 )) lladdr 02:00:00:02:00:01 nud stale dev "$V4_DEV"
  in_b ip neigh del 10.101.0.$(( i % 250 + 1 )) dev "$V4_DEV"
  in_a ip -6 neigh replace fd00:101::$(( i + 1 )) lladdr 02:00:00:03:00:01 nud stale dev "$V6_DEV"
  in_a ip -6 neigh del fd00:101::$(( i + 1 )) dev "$V6_DEV"
  sleep 0.05
done
note "flushed: both tables back at 128/512/1024 in $(( $(now_ms) - T1 )) ms" \
  "(arp from $ARP_GROWN, ndisc from $NDISC_PEAK)"

grep -m 2 "neigh_table:" "$WORK/collector.log"
grep -q "neigh_table: .*net.ipv4.neigh.default.gc_thresh .*(global; for netns $B_COOKIE)" \
  "$WORK/collector.log" || fail "the log does not name B as the cause of the arp changes"
grep -q "exists only in the init netns, so netns $A_COOKIE changes it for the whole host" \
  "$WORK/collector.log" || fail "the log does not say the ndisc change is host-wide"
"$BPFTUNE" journal --state-dir "$STATE_DIR" >"$WORK/journal.txt"
grep -q "intent .*cause_netns=$B_COOKIE .*net.ipv4.neigh.default.gc_thresh" "$WORK/journal.txt" ||
  { grep gc_thresh "$WORK/journal.txt" | head -3; fail "no journaled arp change caused by B"; }
grep -q "intent .*cause_netns=$A_COOKIE .*net.ipv6.neigh.default.gc_thresh" "$WORK/journal.txt" ||
  { grep gc_thresh "$WORK/journal.txt" | head -3; fail "no journaled ndisc change caused by A"; }
# Every applied change's event-to-applied time (the collector's latency_us, fsyncs included).
grep "neigh_table: .*: ok latency_us=" "$WORK/collector.log" |
  sed 's/.*latency_us=\([0-9]*\).*/\1/' | sort -n >"$WORK/latency.txt"
note "applied neighbour threshold changes: $(awk 'END { print NR }' "$WORK/latency.txt");" \
  "event-to-applied latency_us $(awk '{ v[NR] = $1 } END { printf "min %d median %d max %d",
    v[1], v[int((NR + 1) / 2)], v[NR] }' "$WORK/latency.txt")"

"$BPFTUNE" rollback --run-dir "$RUN_DIR" --state-dir "$STATE_DIR" >"$WORK/rollback.out" 2>&1 ||
  { cat "$WORK/rollback.out"; fail "rollback failed"; }
[ "$(thresholds ipv4)" = "$START" ] || fail "rollback left arp at $(thresholds ipv4)"
[ "$(thresholds ipv6)" = "$START" ] || fail "rollback left ndisc at $(thresholds ipv6)"
note "rollback through the running actuator restored both tables to $START"
stop_daemons
assert_verify
note "PASS: arp $START -> $ARP_GROWN (bound), ndisc $START -> $NDISC_PEAK -> 128/512/1024," \
  "rolled back to $START; total $(( $(now_ms) - T0 )) ms since the first neighbours"
