#!/usr/bin/env bash
# The running pair holds only what it needs: the collector exactly CAP_BPF+CAP_PERFMON as
# bpftune-collector; the actuator exactly CAP_NET_ADMIN as bpftune, seccomp mode 2, no_new_privs;
# its privileged writer exactly CAP_NET_ADMIN+CAP_SYS_ADMIN as bpftune, likewise jailed.
source "$(dirname "$0")/lib.sh"
require_env
setup_pair 200mbit
start_actuator
start_collector
sleep 0.5
field() { awk -v k="$2:" '$1 == k {print $2}' "/proc/$1/status"; }

COL_CAPS=$(field "$COL_PID" CapEff)
COL_UID=$(field "$COL_PID" Uid)
note "collector pid $COL_PID uid $COL_UID CapEff $COL_CAPS CapPrm $(field "$COL_PID" CapPrm) CapBnd $(field "$COL_PID" CapBnd)"
[ "$COL_CAPS" = 000000c000000000 ] || fail "collector CapEff $COL_CAPS, expected 000000c000000000 (CAP_BPF+CAP_PERFMON)"
[ "$COL_UID" = "$(id -u bpftune-collector)" ] || fail "collector runs as uid $COL_UID"

ACT_CAPS=$(field "$ACT_PID" CapEff)
ACT_UID=$(field "$ACT_PID" Uid)
note "actuator pid $ACT_PID uid $ACT_UID CapEff $ACT_CAPS Seccomp $(field "$ACT_PID" Seccomp) NoNewPrivs $(field "$ACT_PID" NoNewPrivs)"
[ "$ACT_CAPS" = 0000000000001000 ] || fail "actuator CapEff $ACT_CAPS, expected 0000000000001000 (CAP_NET_ADMIN)"
[ "$ACT_UID" = "$(id -u bpftune)" ] || fail "actuator runs as uid $ACT_UID"
[ "$(field "$ACT_PID" Seccomp)" = 2 ] || fail "actuator is not in seccomp filter mode"
[ "$(field "$ACT_PID" NoNewPrivs)" = 1 ] || fail "actuator lacks no_new_privs"
BND=$(field "$ACT_PID" CapBnd)
[ "$BND" = 0000000000000000 ] || [ "$BND" = 0000000000001000 ] || fail "actuator bounding set $BND not reduced"
# The privileged writer (neighbour thresholds, high_order_alloc_disable): the actuator's child.
WRITER_PID=$(pgrep -P "$ACT_PID" -x bpftune-writer) || fail "no privileged writer under the actuator"
note "writer pid $WRITER_PID uid $(field "$WRITER_PID" Uid) CapEff $(field "$WRITER_PID" CapEff) CapBnd $(field "$WRITER_PID" CapBnd) Seccomp $(field "$WRITER_PID" Seccomp) NoNewPrivs $(field "$WRITER_PID" NoNewPrivs)"
[ "$(field "$WRITER_PID" CapEff)" = 0000000000201000 ] ||
  fail "writer CapEff $(field "$WRITER_PID" CapEff), expected 0000000000201000 (CAP_NET_ADMIN+CAP_SYS_ADMIN)"
[ "$(field "$WRITER_PID" CapPrm)" = 0000000000201000 ] || fail "writer CapPrm $(field "$WRITER_PID" CapPrm)"
[ "$(field "$WRITER_PID" CapBnd)" = 0000000000000000 ] || fail "writer bounding set not cleared"
[ "$(field "$WRITER_PID" Uid)" = "$(id -u bpftune)" ] || fail "writer runs as uid $(field "$WRITER_PID" Uid)"
[ "$(field "$WRITER_PID" Seccomp)" = 2 ] || fail "writer is not in seccomp filter mode"
[ "$(field "$WRITER_PID" NoNewPrivs)" = 1 ] || fail "writer lacks no_new_privs"
note "RSS: actuator $(rss_kb "$ACT_PID") kB, collector $(rss_kb "$COL_PID") kB"
note "PASS: privileges"

# The support report says what works on this kernel and why the rest does not.
"$BPFTUNE" support >"$WORK/support.out" || fail "bpftune support failed"
cat "$WORK/support.out"
grep -Eq "^  yes  tp_btf attach" "$WORK/support.out" || fail "support: tp_btf not reported working"
for hook in "tcp_buffer hook tp_btf/tcp_rcv_space_adjust" "tcp_buffer hook tp_btf/tcp_retransmit_synack" \
  "neigh_table hook raw_tp/neigh_create" "net_buffer hook tp_btf/napi_poll" \
  "ip_frag hook tp_btf/kfree_skb" "udp_buffer hook tp_btf/udp_fail_queue_rcv_skb" \
  "tcp_conn hook tp_btf/inet_sock_set_state" "tcp_conn hook iter/tcp \+ bpf_setsockopt"; do
  grep -Eq "^  yes  $hook " "$WORK/support.out" || fail "support: $hook not reported working"
done
# The live switch says where it acts: only in the collector's own netns.
grep -Eq "^  yes  tcp_conn iterator .*in the collector's own netns only" "$WORK/support.out" ||
  fail "support: the tcp_conn iterator line does not state its namespace limit"
grep -Eq "^  (yes|no)   ?fentry.*\(" "$WORK/support.out" || fail "support: fentry line without a reason"
note "PASS: support report"

# The journal is root's: the jailed actuator appends through a descriptor opened as root.
[ "$(stat -c '%U %a' "$STATE_DIR")" = "root 700" ] || fail "state dir is $(stat -c '%U %a' "$STATE_DIR")"
[ "$(stat -c '%U %a' "$JOURNAL")" = "root 600" ] || fail "journal is $(stat -c '%U %a' "$JOURNAL")"
# Stopped and continued (Ctrl-Z, a debugger), the jailed actuator must survive: the kernel
# resumes its poll() through restart_syscall.
kill -STOP "$ACT_PID"; sleep 0.3; kill -CONT "$ACT_PID"; sleep 0.5
kill -0 "$ACT_PID" 2>/dev/null || fail "the actuator died after SIGSTOP/SIGCONT"
grep -q "Seccomp:.*2" "/proc/$ACT_PID/status" || fail "actuator lost its filter?"
note "PASS: journal ownership; survives SIGSTOP/SIGCONT"
