#!/usr/bin/env bash
# The Prometheus textfile (--metrics-file) with the real collector: it appears, world-readable,
# every version a reader can open is a whole file that a strict text-format parser accepts
# (written to a temporary file and renamed), and its values move when the actuator applies a
# change: ip_frag in A (the daemons' home) raises ipfrag_high_thresh under fragmented pings from
# B, and the tunable's value, the change counter and the round-trip histogram follow. The JSON
# queries answer in upstream's shape from the same run.
source "$(dirname "$0")/lib.sh"
require_env
command -v ping >/dev/null || skip "missing tool: ping"
[ -x "${PROM_CHECK:-}" ] || fail "PROM_CHECK not built: ${PROM_CHECK:-unset}"
setup_pair 200mbit
TUNERS=ip_frag
METRICS_FILE="$RUN_DIR/collector/bpftune.prom"
HIGH=8192
PING_PID=""
READER_PID=""
stop_background() {
  [ -z "$PING_PID" ] || kill "$PING_PID" 2>/dev/null || true
  [ -z "$READER_PID" ] || kill "$READER_PID" 2>/dev/null || true
  PING_PID="" READER_PID=""
}
trap 'rc=$?; set +e; stop_background; (exit $rc); cleanup' EXIT

frag_a() { in_a cat /proc/sys/net/ipv4/ipfrag_high_thresh; }
# The value of the first sample of metric $1 whose line also matches $2 ("" if none).
metric() {
  grep "^$1[{ ]" "$METRICS_FILE" | grep -F -- "$2" | head -n 1 | awk '{print $NF}'
}

in_a sh -c "echo 4096 > /proc/sys/net/ipv4/ipfrag_low_thresh; echo $HIGH > /proc/sys/net/ipv4/ipfrag_high_thresh"
start_actuator
start_collector
for _ in $(seq 1 50); do [ -f "$METRICS_FILE" ] && break; sleep 0.1; done
[ -f "$METRICS_FILE" ] || fail "no metrics file within 5 s"
"$PROM_CHECK" "$METRICS_FILE" bpftune_ >"$WORK/check.out" 2>&1 ||
  { cat "$WORK/check.out" "$METRICS_FILE"; fail "the metrics file is not valid exposition text"; }
[ "$(stat -c %a "$METRICS_FILE")" = 644 ] || fail "metrics file mode $(stat -c %a "$METRICS_FILE")"
BEFORE=$(metric bpftune_tunable_value 'tunable="net.ipv4.ipfrag_high_thresh"')
[ "$BEFORE" = "$HIGH" ] || { cat "$METRICS_FILE"; fail "tunable value $BEFORE, expected $HIGH"; }
note "$(cat "$WORK/check.out"); ipfrag_high_thresh $BEFORE before traffic"

# A reader as fast as python reads, keeping every distinct content it saw: each must be a whole,
# valid file (checked below), as node_exporter could read it at any moment.
mkdir "$WORK/versions"
python3 -c 'import hashlib,os,sys
path, out, stop = sys.argv[1:4]
reads = 0
seen = set()
open(stop + ".started", "w").close()
while not os.path.exists(stop):
    with open(path, "rb") as f:
        data = f.read()
    reads += 1
    digest = hashlib.sha256(data).hexdigest()
    if digest not in seen:
        seen.add(digest)
        with open(os.path.join(out, "%04d.prom" % len(seen)), "wb") as f:
            f.write(data)
print(reads, len(seen))' "$METRICS_FILE" "$WORK/versions" "$WORK/stop-reader" >"$WORK/reader.result" &
READER_PID=$!
for _ in $(seq 1 50); do [ -f "$WORK/stop-reader.started" ] && break; sleep 0.05; done
[ -f "$WORK/stop-reader.started" ] || fail "the reader did not start"

nsenter --net="/run/netns/$NS_B" ping -q -i 0.01 -W 1 -s 8000 -M want "$V4_A" >/dev/null 2>&1 &
PING_PID=$!
for _ in $(seq 1 100); do
  [ "$(frag_a)" -gt "$HIGH" ] && [ -n "$(metric bpftune_changes_total 'tuner="ip_frag"')" ] && break
  sleep 0.05
done
GROWN=$(frag_a)
[ "$GROWN" -gt "$HIGH" ] || fail "ipfrag_high_thresh did not grow within 5 s"
kill "$PING_PID" 2>/dev/null || true
PING_PID=""
# The file is written after each reply; the next round of the collector's loop has it.
for _ in $(seq 1 30); do
  [ "$(metric bpftune_tunable_value 'tunable="net.ipv4.ipfrag_high_thresh"')" = "$(frag_a)" ] && break
  sleep 0.1
done
touch "$WORK/stop-reader"
wait "$READER_PID" || true
READER_PID=""
read -r READS VERSIONS <"$WORK/reader.result"
for version in "$WORK"/versions/*.prom; do
  "$PROM_CHECK" "$version" bpftune_ >/dev/null 2>"$WORK/reader.err" ||
    { cat "$WORK/reader.err"; fail "a reader saw an invalid or partial file: $(basename "$version")"; }
done
[ "$VERSIONS" -ge 2 ] || fail "the reader saw $VERSIONS version(s) of the file in $READS reads"

AFTER=$(metric bpftune_tunable_value 'tunable="net.ipv4.ipfrag_high_thresh"')
CHANGES=$(metric bpftune_changes_total 'tuner="ip_frag"')
TRIPS=$(metric bpftune_actuator_request_duration_seconds_count 'tuner="ip_frag"')
EVENTS=$(metric bpftune_events_total 'tuner="ip_frag"')
NOW=$(frag_a)
[ "$AFTER" = "$NOW" ] || { cat "$METRICS_FILE"; fail "tunable value $AFTER, live value $NOW"; }
[ "${CHANGES:-0}" -ge 1 ] || fail "bpftune_changes_total for ip_frag is '${CHANGES:-}'"
[ "${TRIPS:-0}" -ge "$CHANGES" ] || fail "round trips $TRIPS < changes $CHANGES"
[ "${EVENTS:-0}" -ge 1 ] || fail "bpftune_events_total for ip_frag is '${EVENTS:-}'"
"$PROM_CHECK" "$METRICS_FILE" bpftune_ >/dev/null || fail "the final metrics file is invalid"

# JSON queries, as an unprivileged user reads them (the status file is world-readable). The
# status file follows within its 1 s period.
jstatus() {
  setpriv --reuid=65534 --regid=65534 --clear-groups "$BPFTUNE" status --run-dir "$RUN_DIR" --json |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["ip_frag"]["net.ipv4.ipfrag_high_thresh"])'
}
JSTATUS=""
for _ in $(seq 1 30); do
  JSTATUS=$(jstatus) || fail "status --json (unprivileged) lacks upstream's {tuner: {sysctl: value}}"
  [ "$JSTATUS" = "$NOW" ] && break
  sleep 0.1
done
[ "$JSTATUS" = "$NOW" ] || fail "status --json says $JSTATUS, live value $NOW"
setpriv --reuid=65534 --regid=65534 --clear-groups "$BPFTUNE" tunables --json | python3 -c 'import json,sys
d=json.load(sys.stdin); t=d["ip_frag"]["net.ipv4.ipfrag_high_thresh"]
assert t["type"] == "integer" and t["num_values"] == 1, t' || fail "tunables --json shape"

stop_daemons
[ ! -e "$METRICS_FILE.tmp" ] || fail "a temporary file was left beside the metrics file"
note "PASS: $READS reads, $VERSIONS versions, each whole and valid; ipfrag_high_thresh $BEFORE -> $AFTER (jstatus $JSTATUS), changes $CHANGES, round trips $TRIPS, events $EVENTS"
