# Impaired paths for the tcp_conn test and bench (sourced after lib.sh). One client and two
# remote hosts behind different impairments, no netem (kernel-hooks-and-caps.md §5):
#
#   C = NS_A: the tuned client (the daemons run here unless HOST_DAEMONS=1)
#   |- ${T_ID}va -- ${T_ID}vb  K = NS_B: the clean host K_ADDR (= V4_B), on link; tbf only
#   `- ${T_ID}vl -- ${T_ID}rc  R = NS_R: a router, C's gateway L_GW for L_NET
#                   ${T_ID}rl -- ${T_ID}wl  L = NS_L: the impaired host L_ADDR
#
# Rate: tbf on C's and L's egress (unshaped veth retransmits on its own; C's tbf queue is where
# a sender's standing queue builds). C's devices have gso_max_segs 1, so a dropped skb is one
# segment. Loss (impair_loss): tc-bpf random drop of data segments on L's INGRESS, the receiver,
# where TCP sees it as loss. Delay (impair_delay): R steers everything coming from L (the ACKs)
# through a TUN delay line, so the C-L round trip gets a real propagation delay; a queue-only
# RTT (bufferbloat) is sub-ms here and spares cubic the loss penalty (bench/README.md).
# C's own default algorithm is cubic (the host default is bbr), so "no route of bpftune's" means
# cubic. The actuator's routes are proto 249 metric 4242 in C.
command -v python3 >/dev/null || skip "missing tool: python3"

NS_R="${T_ID}r"
NS_L="${T_ID}l"
L_LOCAL=10.224.$(( $$ % 250 )).1     # C's end of the C-R link
L_GW=10.224.$(( $$ % 250 )).2        # R's end
R_TO_L=10.226.$(( $$ % 250 )).1      # R's end of the R-L link
L_ADDR=10.226.$(( $$ % 250 )).2      # the impaired host
L_NET=10.226.$(( $$ % 250 )).0/24
K_ADDR=$V4_B
DELAY_PID=""
CONN_PORT=5601
CONN_TRANSFER="$SOURCE_DIR/tests/integration/conn_transfer.py"
ALLOWED_CC=/proc/sys/net/ipv4/tcp_allowed_congestion_control
ALLOWED_SAVED=""
SERVER_PIDS=()

in_l() { nsenter --net="/run/netns/$NS_L" "$@"; }
in_r() { nsenter --net="/run/netns/$NS_R" "$@"; }

# Trap body: servers and the delay line first, then the global allowed list (if a run stopped
# between widening and restoring it), then R and L, then lib.sh's cleanup (daemons, A, B, work
# dir).
impair_cleanup() {
  local rc=$?
  set +e
  # Each exits on SIGTERM; the wait keeps bash from reporting them as killed.
  for pid in "${SERVER_PIDS[@]}" $DELAY_PID; do kill "$pid" 2>/dev/null; done
  for pid in "${SERVER_PIDS[@]}" $DELAY_PID; do wait "$pid" 2>/dev/null; done
  [ -n "$ALLOWED_SAVED" ] && echo "$ALLOWED_SAVED" >"$ALLOWED_CC"
  for ns in "$NS_R" "$NS_L"; do
    ip netns pids "$ns" 2>/dev/null | xargs -r kill -9 2>/dev/null
    ip netns del "$ns" 2>/dev/null
  done
  (exit "$rc")
  cleanup
}

# Makes C's default algorithm cubic. A namespace other than init may only pick an algorithm in
# the global allowed list ("reno bbr" here: EPERM otherwise), so cubic is allowed for the one
# write and the global list restored at once (also by the trap); C keeps cubic afterwards.
set_client_cubic() {
  [ "$(in_a cat /proc/sys/net/ipv4/tcp_congestion_control)" = cubic ] && return 0
  grep -qw cubic /proc/sys/net/ipv4/tcp_available_congestion_control ||
    skip "cubic is not available on this kernel"
  ALLOWED_SAVED=$(cat "$ALLOWED_CC")
  grep -qw cubic <<<"$ALLOWED_SAVED" || echo "$ALLOWED_SAVED cubic" >"$ALLOWED_CC"
  in_a sh -c 'echo cubic > /proc/sys/net/ipv4/tcp_congestion_control' || true
  echo "$ALLOWED_SAVED" >"$ALLOWED_CC"
  ALLOWED_SAVED=""
  [ "$(in_a cat /proc/sys/net/ipv4/tcp_congestion_control)" = cubic ] ||
    fail "could not make cubic C's default algorithm"
}

# $1: link rate (default 200mbit), $2: loss_drop.bpf.o (for impair_loss), $3: the delay_line
# binary (for impair_delay).
impair_setup() {
  local rate=${1:-200mbit}
  LOSS_OBJ=${2:?impair_setup: the loss_drop.bpf.o path}
  DELAY_LINE=${3:?impair_setup: the delay_line path}
  [ -f "$LOSS_OBJ" ] || fail "not built: $LOSS_OBJ"
  [ -x "$DELAY_LINE" ] || fail "not built: $DELAY_LINE"
  [ -c /dev/net/tun ] || skip "no /dev/net/tun for the delay line"
  setup_pair "$rate"
  trap impair_cleanup EXIT
  ip netns add "$NS_R"
  ip netns add "$NS_L"
  ip link add "${T_ID}vl" netns "$NS_A" type veth peer name "${T_ID}rc" netns "$NS_R"
  ip link add "${T_ID}rl" netns "$NS_R" type veth peer name "${T_ID}wl" netns "$NS_L"
  in_a ip addr add "$L_LOCAL/24" dev "${T_ID}vl"
  in_r ip addr add "$L_GW/24" dev "${T_ID}rc"
  in_r ip addr add "$R_TO_L/24" dev "${T_ID}rl"
  in_l ip addr add "$L_ADDR/24" dev "${T_ID}wl"
  for dev in "in_a ${T_ID}vl" "in_r ${T_ID}rc" "in_r ${T_ID}rl" "in_l ${T_ID}wl" "in_r lo" \
    "in_l lo"; do
    ${dev% *} ip link set "${dev#* }" up
  done
  # R forwards; a packet coming back out of the delay line arrives on the TUN device with L's
  # source address, which strict reverse-path filtering would drop.
  in_r sh -c 'echo 1 > /proc/sys/net/ipv4/ip_forward
    for f in /proc/sys/net/ipv4/conf/*/rp_filter; do echo 0 > "$f"; done
    echo 0 > /proc/sys/net/ipv4/conf/default/rp_filter'
  in_a ip route add "$L_NET" via "$L_GW" dev "${T_ID}vl"
  in_l ip route add default via "$R_TO_L" dev "${T_ID}wl"
  in_a ip link set "${T_ID}va" gso_max_segs 1
  in_a ip link set "${T_ID}vl" gso_max_segs 1
  local q="root tbf rate $rate burst 32kb latency 100ms"
  in_a tc qdisc replace dev "${T_ID}va" $q
  in_b tc qdisc replace dev "${T_ID}vb" $q
  in_a tc qdisc replace dev "${T_ID}vl" $q
  in_l tc qdisc replace dev "${T_ID}wl" $q
  in_l tc qdisc add dev "${T_ID}wl" clsact
  in_a ping -c 1 -W 2 "$L_ADDR" >/dev/null || fail "no connectivity from C to L ($L_ADDR)"
  set_client_cubic
  start_conn_servers
}

# Delays everything L sends to C by $1 ms (0: no delay line), so the C-L round trip gains $1 ms.
impair_delay() {
  in_r ip rule del iif "${T_ID}rl" table 100 2>/dev/null || true
  if [ -n "$DELAY_PID" ]; then
    kill "$DELAY_PID" 2>/dev/null
    wait "$DELAY_PID" 2>/dev/null || true
    DELAY_PID=""
  fi
  [ "$1" = 0 ] && return 0
  # nsenter execs: $! is the delay line itself, not a subshell.
  nsenter --net="/run/netns/$NS_R" "$DELAY_LINE" "${T_ID}d" $(( $1 * 1000 )) \
    >"$WORK/delay_line.out" 2>>"$WORK/delay_line.log" &
  DELAY_PID=$!
  for _ in $(seq 1 50); do
    grep -q ready "$WORK/delay_line.out" && break
    kill -0 "$DELAY_PID" 2>/dev/null || fail "the delay line exited during start"
    sleep 0.05
  done
  in_r ip link set "${T_ID}d" up
  in_r ip route replace default dev "${T_ID}d" table 100
  in_r ip rule add iif "${T_ID}rl" table 100
  in_a ping -c 1 -W 2 "$L_ADDR" >/dev/null || fail "no connectivity through the delay line"
}

# Loss on L's ingress, in 1/10 000 (0: none); one of the rates loss_drop.bpf.c builds.
impair_loss() {
  in_l tc filter del dev "${T_ID}wl" ingress 2>/dev/null || true
  [ "$1" = 0 ] && return 0
  in_l tc filter add dev "${T_ID}wl" ingress bpf direct-action obj "$LOSS_OBJ" sec "loss_$1" ||
    fail "could not attach loss_$1 to L's ingress"
}

start_conn_servers() {
  local ns
  for ns in "$NS_B" "$NS_L"; do
    nsenter --net="/run/netns/$ns" python3 "$CONN_TRANSFER" serve "$CONN_PORT" &
    SERVER_PIDS+=($!)
  done
  for _ in $(seq 1 50); do
    in_b ss -Htln "sport = :$CONN_PORT" | grep -q . && in_l ss -Htln "sport = :$CONN_PORT" |
      grep -q . && return 0
    sleep 0.1
  done
  fail "the transfer servers did not start"
}

# Transfers from C: $1 bytes, $2 rounds, then targets (K, L or addresses). One line each, see
# conn_transfer.py. A failed transfer fails the caller.
conn_send() {
  local nbytes=$1 rounds=$2 t targets=()
  shift 2
  for t in "$@"; do
    case $t in
      K) targets+=("$K_ADDR:$CONN_PORT") ;;
      L) targets+=("$L_ADDR:$CONN_PORT") ;;
      *) targets+=("$t") ;;
    esac
  done
  in_a python3 "$CONN_TRANSFER" send "$nbytes" "$rounds" ${CONN_GAP:+--gap "$CONN_GAP"} \
    "${targets[@]}"
}

# Median Mbit/s of conn_send lines on stdin for address $1.
median_rate() {
  awk -v a="$1" '$1 == a {print $4}' | sort -n |
    awk '{v[NR] = $1} END {if (NR == 0) print 0; else if (NR % 2) print v[(NR + 1) / 2];
      else printf "%.1f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2}'
}

# bpftune's host routes in C (proto 249), one per line as ip prints them.
our_routes() { in_a ip route show proto 249; }
# The congctl of bpftune's route for host $1 in C ("none": no route of ours).
route_alg() {
  local alg
  alg=$(in_a ip route show exact "$1/32" proto 249 | sed -n 's/.* congctl \([a-z0-9]*\).*/\1/p')
  echo "${alg:-none}"
}

# Connections to converge: in the transfer log $2, the first connection to host $1 that ran the
# final choice $3 right after one that did not, and was followed by more of it (3 more, or all up
# to the end of the log): the change that held. Later one-off deviations (epsilon exploration) do
# not count. 1: every connection ran it; 0: no such change.
converged_at() {
  awk -v a="$1" -v alg="$3" '$1 == a {n++; seq[n] = $3; if ($3 != alg) other = 1}
    END {
      if (n && !other) {print 1; exit}
      for (i = 2; i <= n; i++) {
        if (seq[i] != alg || seq[i - 1] == alg) continue
        held = 1
        for (j = i; j <= n && j < i + 4; j++) if (seq[j] != alg) held = 0
        if (held) {print i; exit}
      }
      print 0
    }' "$2"
}
