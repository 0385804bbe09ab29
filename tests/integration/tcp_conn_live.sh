#!/usr/bin/env bash
# tcp_conn's live switch on the real kernel. The daemons run in the init netns, like in
# production: the iter/tcp iterator sees only the collector's own netns. A bulk transfer from the
# init netns to netns B (conn_transfer.py: one connection each) goes over a tbf-shaped veth whose
# B end drops 3 % of data segments on ingress (loss_drop.bpf.c); a test route makes its
# connections cubic (a route congctl, not the application's setsockopt: an application's own
# choice is never switched).
#   switch:  an IPv4 and an IPv6 flow are switched to bbr in place (ss -tin), and the journal has
#            a liveSwitch record for each, naming the host and both ports.
#   sigkill: the collector switches one flow, is SIGKILLed, and then no BPF program or link it
#            held is left, and a new flow in the same distress stays cubic: without sockops,
#            nothing of ours keeps acting in the kernel.
# Usage: tcp_conn_live.sh switch|sigkill LOSS_DROP_OBJ
source "$(dirname "$0")/lib.sh"
MODE=${1:-}
LOSS_OBJ=${2:-}
[ "$MODE" = switch ] || [ "$MODE" = sigkill ] || fail "usage: $0 switch|sigkill LOSS_DROP_OBJ"
[ -f "$LOSS_OBJ" ] || fail "not built: $LOSS_OBJ"
require_env
for tool in bpftool ss python3; do
  command -v "$tool" >/dev/null || skip "missing tool: $tool"
done
grep -qw cubic /proc/sys/net/ipv4/tcp_available_congestion_control ||
  skip "cubic is not available on this kernel"
grep -qw bbr /proc/sys/net/ipv4/tcp_allowed_congestion_control ||
  skip "bbr is not in tcp_allowed_congestion_control: the live switch is off"

HOST_DAEMONS=1
TUNERS=tcp_conn
IF_I="${T_ID}vi" # the init netns end
IF_B="${T_ID}vb"
V4_I=10.216.$(($$ % 250)).1
V4_B=10.216.$(($$ % 250)).2
V6_I=fd16:$(($$ % 9000 + 1000))::1
V6_B=fd16:$(($$ % 9000 + 1000))::2
PORT=5601
CONN_TRANSFER="$SOURCE_DIR/tests/integration/conn_transfer.py"
SERVER_PID=""
FLOW_PIDS=()

live_cleanup() {
  local rc=$?
  set +e
  for pid in "${FLOW_PIDS[@]}" $SERVER_PID; do kill "$pid" 2>/dev/null; done
  # Deleting B takes the veth pair, and with it the test's routes, along.
  ip link del "$IF_I" 2>/dev/null
  (exit "$rc")
  cleanup
}

# init netns <-> B, tbf on both ends, one segment per skb on the sender, loss on B's ingress.
setup_link() {
  trap live_cleanup EXIT
  WORK=$(mktemp -d /tmp/bpftune-it.XXXXXX)
  chmod 0755 "$WORK"
  ip netns add "$NS_B"
  ip link add "$IF_I" type veth peer name "$IF_B" netns "$NS_B"
  ip addr add "$V4_I/24" dev "$IF_I"
  ip -6 addr add "$V6_I/64" dev "$IF_I" nodad
  in_b ip link set lo up
  in_b ip addr add "$V4_B/24" dev "$IF_B"
  in_b ip -6 addr add "$V6_B/64" dev "$IF_B" nodad
  ip link set "$IF_I" up gso_max_segs 1
  in_b ip link set "$IF_B" up
  tc qdisc add dev "$IF_I" root tbf rate 200mbit burst 32kb latency 100ms
  in_b tc qdisc add dev "$IF_B" root tbf rate 200mbit burst 32kb latency 100ms
  in_b tc qdisc add dev "$IF_B" clsact
  in_b tc filter add dev "$IF_B" ingress bpf direct-action obj "$LOSS_OBJ" sec loss_300 ||
    fail "could not attach the loss program"
  ip route replace "$V4_B/32" dev "$IF_I" congctl cubic
  ip -6 route replace "$V6_B/128" dev "$IF_I" congctl cubic
  ping -c 1 -W 2 "$V4_B" >/dev/null || fail "no IPv4 connectivity to B"
  ping -6 -c 1 -W 2 "$V6_B" >/dev/null || fail "no IPv6 connectivity to B"
  RUN_DIR="$WORK/run"
  STATE_DIR="$WORK/state"
  JOURNAL="$STATE_DIR/journal"
  STATUS="$RUN_DIR/collector/status.json"
  prepare_dirs
}

start_server() {
  in_b python3 "$CONN_TRANSFER" serve "$PORT" &
  SERVER_PID=$!
  for _ in $(seq 1 50); do
    in_b ss -Htln "sport = :$PORT" | grep -q . && return 0
    sleep 0.05
  done
  fail "the transfer server did not start"
}

# One connection from the init netns to $1 sending $2 bytes; its line (address, round, the
# algorithm at the end, Mbit/s, total_retrans, segs_out) goes to $WORK/flow.$1.
start_flow() {
  python3 "$CONN_TRANSFER" send "$2" 1 "$1:$PORT" >"$WORK/flow.$1" &
  FLOW_PIDS+=($!)
}

# "LPORT ALG RETRANS SEGS_OUT" of the connection to host $1 (ss -tin in the init netns).
flow_state() {
  local dst=$1
  [[ $dst == *:* ]] && dst="[$dst]"
  ss -Htin "dst $dst and dport = :$PORT" | awk '
    $1 == "ESTAB" { split($4, l, ":"); lport = l[length(l)]; next }
    lport != "" {
      alg = ""; segs = 0; retr = 0
      for (i = 1; i <= NF; i++) {
        if ($i ~ /^(reno|cubic|bbr|htcp|dctcp)$/) alg = $i
        if ($i ~ /^segs_out:/) { sub("segs_out:", "", $i); segs = $i }
        if ($i ~ /^retrans:/) { split($i, r, "/"); retr = r[2] }
      }
      print lport, alg, retr, segs
      exit
    }'
}

# Waits up to $2 s until the connection to host $1 runs bbr; prints "LPORT MS" (ms since $3, a
# date +%s%N) and logs what ss saw, or fails.
wait_for_bbr() {
  local host=$1 secs=$2 since=$3 state
  for _ in $(seq 1 $((secs * 20))); do
    state=$(flow_state "$host")
    if [ "$(echo "$state" | awk '{print $2}')" = bbr ]; then
      echo "$(echo "$state" | awk '{print $1}') $((($(date +%s%N) - since) / 1000000))"
      echo "    ss -tin: to $host from port $state (port, algorithm, retransmits, segs_out)" >&2
      return 0
    fi
    sleep 0.05
  done
  fail "the connection to $host was not switched to bbr within $secs s (last: ${state:-none})"
}

journal_has_switch() {
  "$BPFTUNE" journal --state-dir "$STATE_DIR" |
    grep " liveSwitch " | grep -q "host=$1 lport=$2 rport=$3 .*cubic -> bbr"
}

# Waits for the transfers; then ALG, RETRANS, SEGS of the one to $1 at its end (in this shell:
# `wait` only knows its own children).
flows_done() {
  wait "${FLOW_PIDS[@]}" || fail "a transfer failed"
  FLOW_PIDS=()
}
flow_end() {
  read -r _ _ ALG _ RETRANS SEGS <"$WORK/flow.$1" || fail "no result for the transfer to $1"
}

setup_link
start_actuator
start_collector
wait_for_log "tcp_conn: iterator" 5 || fail "the collector did not start the live switch"
start_server

if [ "$MODE" = switch ]; then
  T0=$(date +%s%N)
  start_flow "$V4_B" 25000000
  start_flow "$V6_B" 25000000
  SWITCHED4=$(wait_for_bbr "$V4_B" 3 "$T0")
  SWITCHED6=$(wait_for_bbr "$V6_B" 3 "$T0")
  read -r LPORT4 MS4 <<<"$SWITCHED4"
  read -r LPORT6 MS6 <<<"$SWITCHED6"
  note "switched to bbr: IPv4 connection (local port $LPORT4) after $MS4 ms, IPv6 ($LPORT6) after $MS6 ms"
  flows_done
  flow_end "$V4_B"
  ALG4=$ALG
  flow_end "$V6_B"
  [ "$ALG4" = bbr ] && [ "$ALG" = bbr ] || fail "at their end the transfers ran $ALG4 and $ALG"
  for _ in $(seq 1 20); do
    journal_has_switch "$V4_B" "$LPORT4" "$PORT" && journal_has_switch "$V6_B" "$LPORT6" "$PORT" &&
      break
    sleep 0.1
  done
  "$BPFTUNE" journal --state-dir "$STATE_DIR" | grep " liveSwitch " | sed 's/^/    /'
  journal_has_switch "$V4_B" "$LPORT4" "$PORT" || fail "no liveSwitch record for $V4_B port $LPORT4"
  journal_has_switch "$V6_B" "$LPORT6" "$PORT" || fail "no liveSwitch record for $V6_B port $LPORT6"
  grep "switched cubic -> bbr: ok" "$WORK/collector.log" | sed 's/^/    /'
  note "PASS: live switch: both connections switched in place and journaled"
  exit 0
fi

# sigkill: first prove the collector acts on this path, then kill it.
T0=$(date +%s%N)
start_flow "$V4_B" 20000000
SWITCHED=$(wait_for_bbr "$V4_B" 3 "$T0")
read -r LPORT MS <<<"$SWITCHED"
note "with the collector running, the connection (local port $LPORT) was switched after $MS ms"
# Every program and link the collector holds an fd of, from its fdinfo (this bpftool is built
# without the skeletons that would name the holders), with the programs' names.
held_ids() {
  grep -h "^$1:" /proc/"$COL_PID"/fdinfo/* 2>/dev/null | awk '{print $2}' | sort -un
}
held_ids prog_id | while read -r id; do
  echo "$id $(bpftool prog show id "$id" | sed -n '1s/.* name \([^ ]*\) .*/\1/p')"
done >"$WORK/progs"
held_ids link_id >"$WORK/links"
note "the collector holds $(wc -l <"$WORK/progs") programs: $(awk '{print $2}' "$WORK/progs" | tr '\n' ' ')"
grep -q " live_switch$" "$WORK/progs" || fail "live_switch is not among the collector's programs"
grep -q " inet_sock_set_state$" "$WORK/progs" || fail "inet_sock_set_state is not among them"
[ -s "$WORK/links" ] || fail "the collector holds no BPF link"
# Its report journaled before the kill, so that a late one cannot pass for an action after it.
for _ in $(seq 1 40); do
  journal_has_switch "$V4_B" "$LPORT" "$PORT" && break
  sleep 0.05
done
journal_has_switch "$V4_B" "$LPORT" "$PORT" || fail "no liveSwitch record for port $LPORT"
SWITCHES=$("$BPFTUNE" journal --state-dir "$STATE_DIR" | grep -c " liveSwitch " || true)
kill -9 "$COL_PID"
wait "$COL_PID" 2>/dev/null || true
COL_PID=""
for _ in $(seq 1 40); do
  LEFT=$(bpftool prog show | grep -cE "^($(awk '{print $1}' "$WORK/progs" | paste -sd'|')):" || true)
  [ "$LEFT" = 0 ] && break
  sleep 0.05
done
[ "$LEFT" = 0 ] || fail "$LEFT of the collector's programs are still loaded after SIGKILL"
while read -r id _; do
  bpftool link show id "$id" >/dev/null 2>&1 && fail "link $id is still there after SIGKILL"
done <"$WORK/links"
note "after SIGKILL: none of its $(wc -l <"$WORK/progs") programs and $(wc -l <"$WORK/links") links is left"
flows_done

start_flow "$V4_B" 30000000
flows_done
flow_end "$V4_B"
note "a new transfer after the kill: $ALG at its end, $RETRANS of $SEGS segments retransmitted"
[ "$SEGS" -ge 1000 ] && [ "$RETRANS" -gt $((SEGS / 64)) ] ||
  fail "the flow after the kill was not in distress ($RETRANS of $SEGS): the test proves nothing"
[ "$ALG" = cubic ] || fail "the flow after the kill runs $ALG: something still switches"
AFTER=$("$BPFTUNE" journal --state-dir "$STATE_DIR" | grep -c " liveSwitch " || true)
[ "$AFTER" = "$SWITCHES" ] || fail "liveSwitch records went from $SWITCHES to $AFTER after the kill"
note "PASS: after SIGKILL nothing of ours acts: no program, no link, the distressed flow kept cubic"
