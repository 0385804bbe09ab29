#!/usr/bin/env bash
# The administrator always wins, per namespace, daemon pair in the init namespace:
#   bpftune tunes A's tcp_rmem; an admin's `sysctl -w` inside A is seen by the cgroup/sysctl hook,
#   the log names the writer, the journal records the override, the tuner stops for A only (B's
#   wmem still grows); `bpftune resume tcp_buffer --netns A` hands control back without a
#   restart (A grows again); a later admin write survives the rollback.
source "$(dirname "$0")/lib.sh"
require_env
setup_pair 200mbit
HOST_DAEMONS=1
read -r MIN DEF MAX <<<"$(sysctl_a tcp_rmem)"
set_sysctl_a tcp_rmem "$MIN $DEF $DEF"
read -r BMIN BDEF BMAX <<<"$(in_b cat /proc/sys/net/ipv4/tcp_wmem | tr -s '\t ' ' ')"
B_LOWERED="$BMIN $BDEF $BDEF"
in_b sh -c "echo '$B_LOWERED' > /proc/sys/net/ipv4/tcp_wmem"
A_COOKIE=$(netns_cookie "/run/netns/$NS_A")
start_actuator
start_collector
transfer 4 b 4 >/dev/null
read -r _ _ TUNED <<<"$(sysctl_a tcp_rmem)"
[ "$TUNED" -gt "$DEF" ] || fail "A's rmem max did not grow before the override"
note "bpftune tuned A's tcp_rmem max: $DEF -> $TUNED"

ADMIN_MAX=$(( DEF + 4096 ))
in_a sysctl -q -w net.ipv4.tcp_rmem="$MIN $DEF $ADMIN_MAX"
note "administrator ran sysctl -w net.ipv4.tcp_rmem='$MIN $DEF $ADMIN_MAX' in A"
wait_for_log "sysctl" 5 || fail "the collector did not log the admin's write"
grep -m 3 -i "override\|admin" "$WORK/collector.log" || true
grep -i "override\|admin" "$WORK/collector.log" | grep -q "sysctl" ||
  fail "the collector's override line does not name the writer's comm"
sleep 0.5
"$BPFTUNE" journal --state-dir "$STATE_DIR" >"$WORK/journal.txt"
grep -q "override .*netns=$A_COOKIE .*net.ipv4.tcp_rmem.*source=sysctlHook.*comm:\"sysctl\"" \
  "$WORK/journal.txt" || { cat "$WORK/journal.txt"; fail "no override record naming sysctl for A"; }

# A stays at the admin's value while B (not overridden) is still tuned.
transfer 4 b 4 >/dev/null
[ "$(sysctl_a tcp_rmem)" = "$MIN $DEF $ADMIN_MAX" ] || fail "A's value changed: $(sysctl_a tcp_rmem)"
read -r _ _ B_MAX <<<"$(in_b cat /proc/sys/net/ipv4/tcp_wmem | tr -s '\t ' ' ')"
[ "$B_MAX" -gt "$BDEF" ] || fail "B's wmem did not grow: tuning stopped beyond A"
note "while A is overridden, B's tcp_wmem max grew $BDEF -> $B_MAX"
"$BPFTUNE" status --run-dir "$RUN_DIR" >"$WORK/status.txt" 2>&1 || true
grep -i "disabled" "$WORK/status.txt" | head -3 || true

"$BPFTUNE" resume tcp_buffer --netns "$NS_A" --run-dir "$RUN_DIR" >"$WORK/resume.out" 2>&1 ||
  { cat "$WORK/resume.out"; fail "resume failed"; }
cat "$WORK/resume.out"
sleep 1.5   # the collector notices the new resume epoch within a second
transfer 4 b 4 >/dev/null
read -r _ _ RESUMED <<<"$(sysctl_a tcp_rmem)"
[ "$RESUMED" -gt "$ADMIN_MAX" ] || fail "A's rmem did not grow after resume (still $RESUMED)"
note "after resume A's tcp_rmem max grew $ADMIN_MAX -> $RESUMED"

LAST_MAX=$(( RESUMED + 8192 ))
in_a sysctl -q -w net.ipv4.tcp_rmem="$MIN $DEF $LAST_MAX"
wait_for_log "$LAST_MAX" 5 || true
sleep 0.5
"$BPFTUNE" rollback --run-dir "$RUN_DIR" --state-dir "$STATE_DIR" >"$WORK/rollback.out" 2>&1 ||
  { cat "$WORK/rollback.out"; fail "rollback failed"; }
cat "$WORK/rollback.out"
[ "$(sysctl_a tcp_rmem)" = "$MIN $DEF $LAST_MAX" ] ||
  fail "rollback clobbered the admin's value: $(sysctl_a tcp_rmem)"
[ "$(in_b cat /proc/sys/net/ipv4/tcp_wmem | tr -s '\t ' ' ')" = "$B_LOWERED" ] ||
  fail "B's tcp_wmem was not rolled back"
stop_daemons
assert_verify
note "PASS: override seen and journaled, A stopped alone, resumed without restart, admin kept"
