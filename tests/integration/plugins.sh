#!/usr/bin/env bash
# Tuner plugins in the real collector (dropped to bpftune-collector, CAP_BPF+CAP_PERFMON): a
# plugin in the directory at start loads, its proposals go through the actuator's policy and
# journal like any tuner's, its strategies switch every --strategy-period; a plugin added while
# running loads, an untrusted one is refused, a removed one is unloaded.
source "$(dirname "$0")/lib.sh"
require_env
setup_pair 200mbit
PLUGINS="$BUILD_DIR/test_plugins"
# Trusted means root-owned and not group/other-writable up to "/", which a checkout need not be
# (a clone under /tmp, 1777): the plugins go under /run, root's 0755.
install -d -m 0755 -o root -g root /run/bpftune-tests
PLUGIN_DIR="/run/bpftune-tests/it_plugins.$$"
# set +e first: under errexit the `(exit $rc)` that hands cleanup the status would end the trap.
trap 'rc=$?; set +e; rm -rf "$PLUGIN_DIR"; (exit $rc); cleanup' EXIT
install -d -m 0755 -o root -g root "$PLUGIN_DIR"
# As install(1) and package managers do: a new file renamed into place.
add_plugin() {
  install -m "${3:-0644}" "$PLUGINS/$1" "$PLUGIN_DIR/.$2.tmp"
  mv "$PLUGIN_DIR/.$2.tmp" "$PLUGIN_DIR/$2"
}
add_plugin test_plugin_strategy.so strategy.so
BEFORE=$(in_a cat /proc/sys/net/ipv4/ipfrag_high_thresh)

start_actuator
TUNERS=plugin COLLECTOR_ARGS="--plugin-dir $PLUGIN_DIR --strategy-period 300" start_collector
wait_for_log "added plugin '$PLUGIN_DIR/strategy.so': tuner test_strategy" 5 ||
  fail "the plugin present at start was not loaded"
grep -q "CapEff 000000c000000000" "$WORK/collector.log" ||
  fail "the collector does not run with CAP_BPF+CAP_PERFMON only"
wait_for_log "ipfrag_high_thresh $BEFORE -> $((BEFORE + 4096)) in netns .*: ok .*why: plugin test_strategy" 5 ||
  fail "the plugin's proposal was not applied"
[ "$(in_a cat /proc/sys/net/ipv4/ipfrag_high_thresh)" -gt "$BEFORE" ] ||
  fail "ipfrag_high_thresh did not grow"
wait_for_log "test_strategy: strategy a -> b (scores 0, 1)" 3 || fail "no strategy switch a -> b"
wait_for_log "test_strategy: strategy b -> a (scores 1, 0)" 3 || fail "no strategy switch b -> a"

add_plugin test_plugin_two.so two.so
wait_for_log "added plugin '$PLUGIN_DIR/two.so': tuner test_two" 3 ||
  fail "a plugin added while running was not loaded"
add_plugin test_plugin.so bad.so 0664
wait_for_log "refusing untrusted plugin '$PLUGIN_DIR/bad.so': bad.so is group- or other-writable" 3 ||
  fail "a group-writable plugin was not refused"
rm "$PLUGIN_DIR/two.so"
wait_for_log "removed '$PLUGIN_DIR/two.so', fini tuner test_two" 3 ||
  fail "a removed plugin was not unloaded"
sleep 1.2  # one status period
python3 - "$STATUS" "$PLUGIN_DIR" <<'PY' || fail "status does not show the plugin"
import json, sys
status = json.load(open(sys.argv[1]))
names = {t["name"]: t for t in status["tuners"]}
assert "test_two" not in names, names.keys()
t = names["test_strategy"]
assert t["plugin"] == sys.argv[2] + "/strategy.so", t
assert t["strategy"] in ("a", "b") and t["strategy_switches"] >= 2, t
assert t["applied"] >= 1, t
assert status["plugins"] == {"watching": [sys.argv[2]], "refused": 1}, status["plugins"]
PY
stop_daemons
# Whole, then searched: grep -q in the pipe could end the reader with SIGPIPE under pipefail.
"$BPFTUNE" journal --state-dir "$STATE_DIR" >"$WORK/journal.txt"
grep -q "plugin" "$WORK/journal.txt" || fail "no plugin record in the journal"
assert_verify
in_a sh -c "echo $BEFORE > /proc/sys/net/ipv4/ipfrag_high_thresh"
note "PASS: loaded, applied, switched strategies, added/refused/removed while running"
