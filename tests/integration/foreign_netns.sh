#!/usr/bin/env bash
# Events from a namespace other than the pair's own are counted and reported in `status` with
# the reason they were not acted on, and nothing is written there (per-namespace writes come
# with a later issue).
source "$(dirname "$0")/lib.sh"
require_env
setup_pair 200mbit
read -r MIN DEF MAX <<<"$(in_b cat /proc/sys/net/ipv4/tcp_rmem | tr -s '\t ' ' ')"
LOWERED="$MIN $DEF $DEF"
in_b sh -c "echo '$LOWERED' > /proc/sys/net/ipv4/tcp_rmem"
start_actuator
start_collector
transfer 4 a 3 >/dev/null   # A sends, B receives: B's sockets hit B's lowered rmem max
sleep 1.2                   # the status file is rewritten every second
python3 - "$STATUS" <<'PY' || fail "status does not report the foreign namespace's events"
import json, sys
doc = json.load(open(sys.argv[1]))
foreign = doc.get("foreign_netns", [])
print("   foreign_netns:", json.dumps(foreign))
home = doc["home_netns_cookie"]
assert foreign and all(f["cookie"] != home for f in foreign)
assert sum(f["events"] for f in foreign) > 0
assert all("not acted on" in f["reason"] for f in foreign)
PY
NOW="$(in_b cat /proc/sys/net/ipv4/tcp_rmem | tr -s '\t ' ' ')"
[ "$NOW" = "$LOWERED" ] || fail "the foreign namespace's tcp_rmem changed to '$NOW'"
if "$BPFTUNE" journal --state-dir "$STATE_DIR" | grep -q " intent "; then
  "$BPFTUNE" journal --state-dir "$STATE_DIR"
  fail "the actuator journaled a change although only the foreign namespace needed one"
fi
note "PASS: foreign events counted with the reason; nothing written there"
