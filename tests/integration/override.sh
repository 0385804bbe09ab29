#!/usr/bin/env bash
# The administrator wins: after bpftune tuned rmem, an outside write to tcp_rmem makes the
# actuator answer OVERRIDDEN; the collector stops the tuner for that namespace and says so; the
# admin's value stays; tampering with the journal is then caught by `verify`, naming the record.
source "$(dirname "$0")/lib.sh"
require_env
setup_pair 200mbit
read -r MIN DEF MAX <<<"$(sysctl_a tcp_rmem)"
set_sysctl_a tcp_rmem "$MIN $DEF $DEF"
start_actuator
start_collector
transfer 4 b 3 >/dev/null
read -r _ _ TUNED <<<"$(sysctl_a tcp_rmem)"
[ "$TUNED" -gt "$DEF" ] || fail "rmem max did not grow"

ADMIN="$MIN $DEF $((TUNED + 12345))"
set_sysctl_a tcp_rmem "$ADMIN"
note "administrator wrote tcp_rmem = $ADMIN"
# Lower the max below what flows need so the tuner wants to act again.
transfer 4 b 3 >/dev/null
grep -qi "overridden" "$WORK/collector.log" || fail "collector never saw OVERRIDDEN"
grep -i "stops" "$WORK/collector.log" | head -2
grep -qi "stops for this netns" "$WORK/collector.log" || fail "collector did not say it stops"
python3 - "$STATUS" <<'PY' || fail "status does not show the tuner disabled"
import json, sys
doc = json.load(open(sys.argv[1]))
states = [s for t in doc["tuners"] for s in t["netns"].values()]
print("   tuner states:", states)
assert any(s.startswith("disabled") for s in states)
PY
NOW="$(sysctl_a tcp_rmem)"
[ "$NOW" = "$ADMIN" ] || fail "the administrator's value was changed to '$NOW'"
stop_daemons
assert_verify

# Tamper: flip one byte inside the second record's payload; verify must fail and name it.
python3 - "$JOURNAL" <<'PY'
import struct, sys
path = sys.argv[1]
data = bytearray(open(path, "rb").read())
offset = 0
for _ in range(1):                       # skip the first frame
    length = struct.unpack_from("<I", data, offset + 4)[0]
    offset += 8 + length + 32
data[offset + 8 + 16] ^= 0x01            # inside frame 2's payload
open(path, "wb").write(data)
PY
if "$BPFTUNE" verify --state-dir "$STATE_DIR" >"$WORK/tamper.out" 2>&1; then
  cat "$WORK/tamper.out"; fail "verify accepted an edited journal"
fi
cat "$WORK/tamper.out"
grep -q "seq 2" "$WORK/tamper.out" || fail "verify did not name record 2"
note "PASS: override respected ($NOW), tuner disabled, tampering named"
