#!/usr/bin/env bash
# The privilege drop the systemd units describe, without systemd (PID 1 is not systemd here):
# each daemon is started by setpriv with exactly its unit's credentials, read from the unit file
# itself (User=/Group=, SupplementaryGroups=, CapabilityBoundingSet=, AmbientCapabilities=,
# NoNewPrivileges=) and with the unit's ExecStart= flags (paths moved into the test's tree).
# Then: both start, each ends in its documented steady state, and a tcp_buffer change driven by the
# collector's BPF events is applied by the actuator. Not replayed here: the mount sandbox
# (ProtectSystem= & co.) and systemd's own syscall filter; tests/lint/systemd_units.sh checks the
# units offline.
source "$(dirname "$0")/lib.sh"
require_env
command -v setpriv >/dev/null || skip "missing tool: setpriv"
UNIT_DIR="$SOURCE_DIR/systemd"

# The value of KEY in a unit file (its last assignment, as systemd reads a single-valued key).
unit_get() { sed -n "s/^$2=//p" "$UNIT_DIR/$1" | tail -n 1; }
# "CAP_BPF CAP_PERFMON" -> "-all,+bpf,+perfmon" (setpriv's capability list).
cap_list() {
  local out="-all" cap
  for cap in $1; do
    out="$out,+$(echo "${cap#CAP_}" | tr 'A-Z' 'a-z')"
  done
  echo "$out"
}
# The unit's credentials as setpriv options.
setpriv_args() {
  local unit=$1 user group groups bounding ambient
  user=$(unit_get "$unit" User)
  group=$(unit_get "$unit" Group)
  groups=$(unit_get "$unit" SupplementaryGroups)
  bounding=$(unit_get "$unit" CapabilityBoundingSet)
  ambient=$(unit_get "$unit" AmbientCapabilities)
  [ -n "$bounding" ] || fail "$unit has no CapabilityBoundingSet="
  if [ -n "$user" ]; then
    echo "--reuid $user --regid ${group:-$user} --init-groups"
  fi
  if [ -n "$groups" ]; then
    local gids="" g
    for g in $groups; do gids="${gids:+$gids,}$(getent group "$g" | cut -d: -f3)"; done
    echo "--groups $gids"
  elif [ -z "$user" ]; then
    echo "--clear-groups"
  fi
  if [ -n "$ambient" ]; then
    echo "--inh-caps $(cap_list "$ambient") --ambient-caps $(cap_list "$ambient")"
  fi
  echo "--bounding-set $(cap_list "$bounding")"
  [ "$(unit_get "$unit" NoNewPrivileges)" = yes ] && echo "--no-new-privs"
  return 0
}
# The unit's ExecStart=, with the installed paths moved into this test's tree.
exec_start() {
  unit_get "$1" ExecStart | sed -e "s|/usr/sbin/|$BUILD_DIR/|" -e "s|/run/bpftune|$RUN_DIR|g" \
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

ACT_SETPRIV=$(setpriv_args bpftune-actuator.service | tr '\n' ' ')
COL_SETPRIV=$(setpriv_args bpftune-collector.service | tr '\n' ' ')
ACT_CMD=$(exec_start bpftune-actuator.service)
COL_CMD=$(exec_start bpftune-collector.service)
note "actuator: setpriv $ACT_SETPRIV-- $ACT_CMD"
note "collector: setpriv $COL_SETPRIV-- $COL_CMD"

read -r MIN DEF MAX <<<"$(sysctl_a tcp_rmem)"
set_sysctl_a tcp_rmem "$MIN $DEF $DEF"
note "tcp_rmem in the tuned namespace lowered to: $MIN $DEF $DEF (was max $MAX)"

# shellcheck disable=SC2086 # the option and command strings are word lists
nsenter --net="/run/netns/$NS_A" setpriv $ACT_SETPRIV -- $ACT_CMD >>"$WORK/actuator.log" 2>&1 &
ACT_PID=$!
for _ in $(seq 1 100); do
  [ -S "$RUN_DIR/admin.sock" ] && [ -S "$RUN_DIR/actuator.sock" ] && break
  kill -0 "$ACT_PID" 2>/dev/null || fail "the actuator exited during start under its unit's credentials"
  sleep 0.05
done
[ -S "$RUN_DIR/actuator.sock" ] || fail "actuator sockets did not appear"
# Without CAP_CHOWN the collector socket still gets its group (SupplementaryGroups=).
[ "$(stat -c '%U:%G %a' "$RUN_DIR/actuator.sock")" = "root:bpftune-collector 660" ] ||
  fail "collector socket is $(stat -c '%U:%G %a' "$RUN_DIR/actuator.sock")"
[ "$(stat -c '%U:%G %a' "$RUN_DIR/admin.sock")" = "root:root 600" ] ||
  fail "admin socket is $(stat -c '%U:%G %a' "$RUN_DIR/admin.sock")"

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

# The actuator: its own drop to bpftune with CAP_NET_ADMIN alone, within the unit's bounding set.
note "actuator uid $(field "$ACT_PID" Uid) CapEff $(field "$ACT_PID" CapEff) CapBnd $(field "$ACT_PID" CapBnd) Groups '$(field "$ACT_PID" Groups)' Seccomp $(field "$ACT_PID" Seccomp) NoNewPrivs $(field "$ACT_PID" NoNewPrivs)"
[ "$(field "$ACT_PID" Uid)" = "$(id -u bpftune)" ] || fail "actuator uid $(field "$ACT_PID" Uid)"
[ "$(field "$ACT_PID" CapEff)" = "$(cap_mask CAP_NET_ADMIN)" ] || fail "actuator CapEff"
[ "$(field "$ACT_PID" CapPrm)" = "$(cap_mask CAP_NET_ADMIN)" ] || fail "actuator CapPrm"
[ "$(field "$ACT_PID" CapBnd)" = 0000000000000000 ] || fail "actuator bounding set not cleared"
[ -z "$(field "$ACT_PID" Groups)" ] || fail "actuator kept supplementary groups"
[ "$(field "$ACT_PID" Seccomp)" = 2 ] || fail "actuator not in seccomp filter mode"
[ "$(field "$ACT_PID" NoNewPrivs)" = 1 ] || fail "actuator lacks no_new_privs"
WRITER_PID=$(pgrep -P "$ACT_PID" -x bpftune-writer) || fail "no privileged writer under the actuator"
[ "$(field "$WRITER_PID" CapEff)" = "$(cap_mask CAP_NET_ADMIN CAP_SYS_ADMIN)" ] ||
  fail "writer CapEff $(field "$WRITER_PID" CapEff)"
OPENER_PID=$(pgrep -P "$ACT_PID" | grep -vx "$WRITER_PID" | head -n 1) || fail "no netns opener"
[ "$(field "$OPENER_PID" CapEff)" = "$(cap_mask CAP_SYS_ADMIN CAP_SYS_PTRACE CAP_NET_ADMIN)" ] ||
  fail "opener CapEff $(field "$OPENER_PID" CapEff)"
# The unit's bounding set is exactly the union of what the three processes keep plus the drop.
UNIT_BND=$(cap_mask $(unit_get bpftune-actuator.service CapabilityBoundingSet))
[ "$UNIT_BND" = "$(cap_mask CAP_NET_ADMIN CAP_SYS_ADMIN CAP_SYS_PTRACE CAP_SETUID CAP_SETGID CAP_SETPCAP)" ] ||
  fail "actuator unit bounding set $UNIT_BND is not the start's needs"

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
"$BPFTUNE" journal --state-dir "$STATE_DIR" | grep -q "net.ipv4.tcp_rmem" ||
  fail "the journal does not name net.ipv4.tcp_rmem"
kill -0 "$ACT_PID" 2>/dev/null || fail "the actuator died"
kill -0 "$COL_PID" 2>/dev/null || fail "the collector died"
stop_daemons
note "PASS: a tcp_buffer change applied under the units' credentials"
