#!/usr/bin/env bash
# Advice mode end to end on the real kernel: the actuator runs with --advise; a transfer makes
# tcp_buffer want a bigger tcp_rmem; nothing changes, the journal holds one open proposal (no
# intent), `bpftune advice` lists it; `bpftune apply` refuses an unknown id, applies the chosen
# one (intent + outcome naming the proposal, requester uid 0), refuses it a second time; the
# journal verifies and rollback restores the original.
source "$(dirname "$0")/lib.sh"
require_env
setup_pair 200mbit

read -r MIN DEF _ <<<"$(sysctl_a tcp_rmem)"
LOWERED="$MIN $DEF $DEF"
set_sysctl_a tcp_rmem "$LOWERED"
note "tcp_rmem in the tuned namespace lowered to: $LOWERED"

ACTUATOR_OPTIONS=--advise start_actuator
start_collector
transfer 4 b 2 >/dev/null
wait_for_log ": proposed id=" 5 || fail "the collector logged no proposal"
grep -m 2 ": proposed id=" "$WORK/collector.log"
NOW=$(sysctl_a tcp_rmem)
[ "$NOW" = "$LOWERED" ] || fail "advice mode changed tcp_rmem: '$NOW', expected '$LOWERED'"
[ "$(journal_count ' intent ')" = 0 ] || fail "advice mode journaled an intent"
PROPOSALS=$(journal_count ' proposal ')
note "tcp_rmem unchanged ($NOW); proposal records in the journal: $PROPOSALS"
[ "$PROPOSALS" -ge 1 ] || fail "no proposal record in the journal"
grep -q '"status":"connected (advice mode)"\|connected (advice mode)' "$STATUS" ||
  fail "status does not show advice mode: $(head -c 300 "$STATUS")"

"$BPFTUNE" advice --state-dir "$STATE_DIR" >"$WORK/advice.txt"
cat "$WORK/advice.txt"
OPEN=$(grep -c '^id [0-9]*: tcp_buffer net.ipv4.tcp_rmem ' "$WORK/advice.txt" || true)
[ "$OPEN" = 1 ] || fail "expected exactly one open tcp_rmem proposal, found $OPEN"
ID=$(sed -n 's/^id \([0-9]*\): tcp_buffer net.ipv4.tcp_rmem .*/\1/p' "$WORK/advice.txt")
TO=$(sed -n "s/^id $ID: .* -> \([0-9]* [0-9]* [0-9]*\) in netns .*/\1/p" "$WORK/advice.txt")
"$BPFTUNE" advice --json --state-dir "$STATE_DIR" | grep -q "\"seq\":$ID," ||
  fail "advice --json does not list proposal $ID"

if "$BPFTUNE" apply --run-dir "$RUN_DIR" 999999 >"$WORK/apply_unknown.out" 2>&1; then
  fail "apply of an unknown id succeeded"
fi
grep -q "proposal 999999: unknown" "$WORK/apply_unknown.out" ||
  fail "unknown id not refused by name: $(cat "$WORK/apply_unknown.out")"
[ "$(sysctl_a tcp_rmem)" = "$LOWERED" ] || fail "a refused apply changed tcp_rmem"

"$BPFTUNE" apply --run-dir "$RUN_DIR" "$ID" >"$WORK/apply.out" 2>&1 ||
  { cat "$WORK/apply.out"; fail "apply $ID failed"; }
cat "$WORK/apply.out"
NOW=$(sysctl_a tcp_rmem)
[ "$NOW" = "$TO" ] || fail "after apply tcp_rmem is '$NOW', expected the proposal's '$TO'"
"$BPFTUNE" journal --state-dir "$STATE_DIR" >"$WORK/journal.txt"
grep -E " intent .*net.ipv4.tcp_rmem .* proposal=$ID requester=uid:0," "$WORK/journal.txt" ||
  fail "no intent naming proposal $ID with requester uid 0"
grep -E " outcome .*net.ipv4.tcp_rmem .* proposal=$ID .*result=applied" "$WORK/journal.txt" ||
  fail "no applied outcome naming proposal $ID"
if "$BPFTUNE" apply --run-dir "$RUN_DIR" "$ID" >"$WORK/apply_again.out" 2>&1; then
  fail "a second apply of $ID succeeded"
fi
grep -q "already applied" "$WORK/apply_again.out" ||
  fail "second apply not refused as applied: $(cat "$WORK/apply_again.out")"
"$BPFTUNE" advice --state-dir "$STATE_DIR" | grep -q "^id $ID:" && fail "$ID still listed as open"

stop_daemons
assert_verify
rollback_offline
NOW=$(sysctl_a tcp_rmem)
[ "$NOW" = "$LOWERED" ] || fail "rollback left '$NOW', expected '$LOWERED'"
note "PASS: $PROPOSALS proposal record(s), nothing written until apply; proposal $ID applied ($LOWERED -> $TO) and journaled; rolled back"
