#!/usr/bin/env bash
# The privilege drop the systemd units describe, without systemd (PID 1 is not systemd here):
# each daemon is started by setpriv with exactly its unit's credentials, read from the unit file
# itself (User=/Group=, SupplementaryGroups=, CapabilityBoundingSet=, AmbientCapabilities=,
# NoNewPrivileges=) and with the unit's ExecStart= flags (paths moved into the test's tree).
# The directories come from the units' own tmpfiles.d (paths moved into the test's tree). Then:
# all three start (helpers, actuator, collector), each process ends in its documented steady
# state, and a tcp_buffer change driven by the collector's BPF events is applied by the actuator
# through the helpers it took over. Finally the actuator is killed: the helpers daemon and both
# helpers exit after it, and a fresh helpers daemon serves a restarted actuator. Not replayed here: the mount sandbox
# (ProtectSystem= & co.) and systemd's own syscall filter; tests/lint/systemd_units.sh checks the
# units offline.
source "$(dirname "$0")/lib.sh"
require_env
command -v setpriv >/dev/null || skip "missing tool: setpriv"
command -v systemd-tmpfiles >/dev/null || skip "missing tool: systemd-tmpfiles (Debian package systemd)"
UNIT_DIR="$SOURCE_DIR/systemd"

# unit_get, setpriv_args, exec_start: shared with tests/package/deb_test.sh.
source "$SOURCE_DIR/tests/lib/unit_credentials.sh"
# The unit's ExecStart=, with the installed paths moved into this test's tree.
exec_start_here() {
  exec_start "$1" | sed -e "s|/usr/sbin/|$BUILD_DIR/|" -e "s|/run/bpftune|$RUN_DIR|g" \
    -e "s|/var/lib/bpftune|$STATE_DIR|g" -e "s|/etc/bpftune/policy|$SOURCE_DIR/policy/default.policy|g"
}
field() { awk -v k="$2:" '$1 == k {print $2}' "/proc/$1/status"; }
# Capability names -> the /proc/PID/status hex mask.
cap_mask() { python3 -c 'import sys
bits={"CAP_CHOWN":0,"CAP_SETGID":6,"CAP_SETUID":7,"CAP_SETPCAP":8,"CAP_NET_ADMIN":12,
      "CAP_SYS_PTRACE":19,"CAP_SYS_ADMIN":21,"CAP_PERFMON":38,"CAP_BPF":39}
print("%016x" % sum(1 << bits[c] for c in sys.argv[1:]))' "$@"; }

setup_pair 200mbit
# The host's users stand in for sysusers.d (prepare_dirs made them, as `bpftune run` does);
# SupplementaryGroups= names the collector's group, so it must resolve.
getent group bpftune-collector >/dev/null || fail "no group bpftune-collector"
# The units' directory layout, from their tmpfiles.d with the paths moved into the test's tree.
rm -rf "$RUN_DIR" "$STATE_DIR"
sed -e "s|/run/bpftune|$RUN_DIR|g" -e "s|/var/lib/bpftune|$STATE_DIR|g" \
  "$UNIT_DIR/tmpfiles.d/bpftune.conf" >"$WORK/tmpfiles.conf"
systemd-tmpfiles --create "$WORK/tmpfiles.conf" || fail "systemd-tmpfiles failed"

HLP_SETPRIV=$(setpriv_args bpftune-helpers.service | tr '\n' ' ')
ACT_SETPRIV=$(setpriv_args bpftune-actuator.service | tr '\n' ' ')
COL_SETPRIV=$(setpriv_args bpftune-collector.service | tr '\n' ' ')
HLP_CMD=$(exec_start_here bpftune-helpers.service)
ACT_CMD=$(exec_start_here bpftune-actuator.service)
COL_CMD=$(exec_start_here bpftune-collector.service)
note "helpers: setpriv $HLP_SETPRIV-- $HLP_CMD"
note "actuator: setpriv $ACT_SETPRIV-- $ACT_CMD"
note "collector: setpriv $COL_SETPRIV-- $COL_CMD"

read -r MIN DEF MAX <<<"$(sysctl_a tcp_rmem)"
set_sysctl_a tcp_rmem "$MIN $DEF $DEF"
note "tcp_rmem in the tuned namespace lowered to: $MIN $DEF $DEF (was max $MAX)"

start_helpers() {
  # shellcheck disable=SC2086 # the option and command strings are word lists
  nsenter --net="/run/netns/$NS_A" setpriv $HLP_SETPRIV -- $HLP_CMD >>"$WORK/helpers.log" 2>&1 &
  HLP_PID=$!
}
start_unit_actuator() {
  rm -f "$RUN_DIR/actuator.sock" "$RUN_DIR/admin.sock"
  # shellcheck disable=SC2086
  nsenter --net="/run/netns/$NS_A" setpriv $ACT_SETPRIV -- $ACT_CMD >>"$WORK/actuator.log" 2>&1 &
  ACT_PID=$!
  for _ in $(seq 1 100); do
    [ -S "$RUN_DIR/admin.sock" ] && [ -S "$RUN_DIR/actuator.sock" ] && return 0
    kill -0 "$ACT_PID" 2>/dev/null || fail "the actuator exited during start under its unit's credentials"
    sleep 0.05
  done
  fail "actuator sockets did not appear"
}
start_helpers
start_unit_actuator
# Without CAP_CHOWN the collector socket still gets its group (SupplementaryGroups=).
[ "$(stat -c '%U:%G %a' "$RUN_DIR/actuator.sock")" = "bpftune:bpftune-collector 660" ] ||
  fail "collector socket is $(stat -c '%U:%G %a' "$RUN_DIR/actuator.sock")"
[ "$(stat -c '%U:%G %a' "$RUN_DIR/admin.sock")" = "bpftune:bpftune 600" ] ||
  fail "admin socket is $(stat -c '%U:%G %a' "$RUN_DIR/admin.sock")"
[ "$(stat -c '%U:%G %a' "$RUN_DIR/helpers/helpers.sock")" = "bpftune:bpftune 600" ] ||
  fail "helpers socket is $(stat -c '%U:%G %a' "$RUN_DIR/helpers/helpers.sock")"

# shellcheck disable=SC2086
nsenter --net="/run/netns/$NS_A" setpriv $COL_SETPRIV -- $COL_CMD --learning-rate 4 \
  --tuners tcp_buffer >>"$WORK/collector.log" 2>&1 &
COL_PID=$!
for _ in $(seq 1 100); do
  [ -f "$STATUS" ] && break
  kill -0 "$COL_PID" 2>/dev/null || fail "the collector exited during start under its unit's credentials"
  sleep 0.1
done
[ -f "$STATUS" ] || fail "collector wrote no status within 10 s"
sleep 0.3

show() { note "$1 uid $(field "$2" Uid) CapEff $(field "$2" CapEff) CapPrm $(field "$2" CapPrm) CapBnd $(field "$2" CapBnd) Groups '$(sed -n 's/^Groups:\t*//p' "/proc/$2/status" | xargs)' Seccomp $(field "$2" Seccomp) NoNewPrivs $(field "$2" NoNewPrivs)"; }
# The actuator: bpftune with CAP_NET_ADMIN alone from exec on, the unit's bounding set.
show actuator "$ACT_PID"
[ "$(field "$ACT_PID" Uid)" = "$(id -u bpftune)" ] || fail "actuator uid $(field "$ACT_PID" Uid)"
[ "$(field "$ACT_PID" CapEff)" = "$(cap_mask CAP_NET_ADMIN)" ] || fail "actuator CapEff"
[ "$(field "$ACT_PID" CapPrm)" = "$(cap_mask CAP_NET_ADMIN)" ] || fail "actuator CapPrm"
[ "$(field "$ACT_PID" CapBnd)" = "$(cap_mask CAP_NET_ADMIN)" ] || fail "actuator bounding set"
[ "$(field "$ACT_PID" Seccomp)" = 2 ] || fail "actuator not in seccomp filter mode"
[ "$(field "$ACT_PID" NoNewPrivs)" = 1 ] || fail "actuator lacks no_new_privs"
[ -z "$(pgrep -P "$ACT_PID")" ] || fail "the unit's actuator forked helpers of its own"
# The helpers daemon keeps nothing; its two children keep what they need.
show helpers "$HLP_PID"
[ "$(field "$HLP_PID" Uid)" = "$(id -u bpftune)" ] || fail "helpers uid"
[ "$(field "$HLP_PID" CapPrm)" = 0000000000000000 ] || fail "helpers daemon kept capabilities"
[ "$(field "$HLP_PID" Seccomp)" = 2 ] || fail "helpers daemon not in seccomp filter mode"
WRITER_PID=$(pgrep -P "$HLP_PID" -x bpftune-writer) || fail "no privileged writer under the helpers"
show writer "$WRITER_PID"
[ "$(field "$WRITER_PID" CapEff)" = "$(cap_mask CAP_NET_ADMIN CAP_SYS_ADMIN)" ] ||
  fail "writer CapEff $(field "$WRITER_PID" CapEff)"
[ "$(field "$WRITER_PID" Seccomp)" = 2 ] || fail "writer not in seccomp filter mode"
OPENER_PID=$(pgrep -P "$HLP_PID" | grep -vx "$WRITER_PID" | head -n 1) || fail "no netns opener"
show opener "$OPENER_PID"
[ "$(field "$OPENER_PID" CapEff)" = "$(cap_mask CAP_SYS_ADMIN CAP_SYS_PTRACE CAP_NET_ADMIN)" ] ||
  fail "opener CapEff $(field "$OPENER_PID" CapEff)"
[ "$(field "$OPENER_PID" Seccomp)" = 2 ] || fail "opener not in seccomp filter mode"
# The helpers unit's bounding set is exactly the union of what its processes keep.
UNIT_BND=$(cap_mask $(unit_get bpftune-helpers.service CapabilityBoundingSet))
[ "$UNIT_BND" = "$(cap_mask CAP_NET_ADMIN CAP_SYS_ADMIN CAP_SYS_PTRACE)" ] ||
  fail "helpers unit bounding set $UNIT_BND is not its processes' needs"

# The collector: the unit's user from exec on; keeps CAP_BPF+CAP_PERFMON, drops CAP_NET_ADMIN.
note "collector uid $(field "$COL_PID" Uid) CapEff $(field "$COL_PID" CapEff) CapPrm $(field "$COL_PID" CapPrm) CapAmb $(field "$COL_PID" CapAmb) CapBnd $(field "$COL_PID" CapBnd) NoNewPrivs $(field "$COL_PID" NoNewPrivs)"
[ "$(field "$COL_PID" Uid)" = "$(id -u bpftune-collector)" ] || fail "collector uid"
[ "$(field "$COL_PID" CapEff)" = "$(cap_mask CAP_BPF CAP_PERFMON)" ] || fail "collector CapEff"
[ "$(field "$COL_PID" CapPrm)" = "$(cap_mask CAP_BPF CAP_PERFMON)" ] || fail "collector CapPrm"
[ "$(field "$COL_PID" CapBnd)" = "$(cap_mask CAP_BPF CAP_PERFMON CAP_NET_ADMIN)" ] ||
  fail "collector CapBnd $(field "$COL_PID" CapBnd) is not the unit's"
[ "$(field "$COL_PID" NoNewPrivs)" = 1 ] || fail "collector lacks no_new_privs"
note "PASS: both daemons run under their units' credentials"

# Work: A receives at 200 Mbit/s with a lowered max; the collector asks, the actuator applies.
transfer 4 b 3 >/dev/null
for _ in $(seq 1 30); do
  grep -q ": ok latency_us=" "$WORK/collector.log" && break
  sleep 0.1
done
read -r _ _ NEWMAX <<<"$(sysctl_a tcp_rmem)"
note "tcp_rmem max: $DEF -> $NEWMAX"
[ "$NEWMAX" -gt "$DEF" ] || fail "tcp_rmem max did not grow under the units' credentials"
grep -q ": ok latency_us=" "$WORK/collector.log" || fail "the collector logged no applied change"
# Read whole, then searched: `grep -q` in a pipe would end the reader early (SIGPIPE, pipefail).
JOURNAL_TEXT=$("$BPFTUNE" journal --state-dir "$STATE_DIR") || fail "bpftune journal failed"
grep -q "net.ipv4.tcp_rmem" <<<"$JOURNAL_TEXT" || fail "the journal does not name net.ipv4.tcp_rmem"
# The units' journal layout: the actuator's user can append (it just did) but can neither
# remove, rename nor replace the file, nor create another beside it.
as_bpftune() { setpriv --reuid bpftune --regid bpftune --clear-groups --inh-caps -all \
  --bounding-set -all -- "$@" 2>/dev/null; }
as_bpftune rm -f "$JOURNAL" && fail "user bpftune could remove the journal"
as_bpftune mv "$JOURNAL" "$JOURNAL.moved" && fail "user bpftune could rename the journal"
as_bpftune touch "$STATE_DIR/other" && fail "user bpftune could create a file beside the journal"
[ -s "$JOURNAL" ] || fail "the journal is gone or empty"
note "PASS: user bpftune cannot remove, rename or replace the journal ($(stat -c '%U:%G %a' "$JOURNAL") in $(stat -c '%U:%G %a' "$STATE_DIR"))"
kill -0 "$ACT_PID" 2>/dev/null || fail "the actuator died"
kill -0 "$COL_PID" 2>/dev/null || fail "the collector died"
stop_daemons
note "PASS: a tcp_buffer change applied under the units' credentials"

# The actuator gone, its helpers and the helpers daemon follow (the unit restarts the daemon).
for _ in $(seq 1 50); do
  kill -0 "$HLP_PID" 2>/dev/null || break
  sleep 0.1
done
kill -0 "$HLP_PID" 2>/dev/null && fail "the helpers daemon outlived its actuator by 5 s"
rc=0
wait "$HLP_PID" || rc=$?
[ "$rc" = 0 ] || fail "the helpers daemon exited with $rc after its actuator"
kill -0 "$OPENER_PID" 2>/dev/null && fail "the netns opener outlived its actuator"
kill -0 "$WRITER_PID" 2>/dev/null && fail "the privileged writer outlived its actuator"
# What Restart=always does: a fresh daemon, and the restarted actuator takes its helpers.
start_helpers
start_unit_actuator
grep -q "helpers handed to the actuator" <(tail -n 3 "$WORK/helpers.log") ||
  fail "the fresh helpers daemon did not hand over: $(tail -n 3 "$WORK/helpers.log")"
stop_daemons
wait "$HLP_PID" 2>/dev/null || true
note "PASS: helpers exit with their actuator; a fresh pair serves the restarted actuator"
