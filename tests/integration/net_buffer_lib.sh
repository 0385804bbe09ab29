# Shared by the net_buffer tests (sourced after lib.sh): their four tunables exist only in the
# init namespace, so the daemon pair runs there and every value is saved now and restored by the
# trap, after the daemons stopped (nothing writes once the host's values are back).
# The path: plain veth between A and B, RPS on B's end steering every packet to CPU 0, so a
# flood sent from CPU 1 overflows CPU 0's backlog and squeezes its NAPI budget.
command -v taskset >/dev/null || skip "missing tool: taskset"
[ "$(nproc)" -ge 2 ] || skip "needs 2 CPUs: RPS steers the flood from the sender's CPU to another"
CORE=/proc/sys/net/core
TUNABLES=(netdev_max_backlog flow_limit_cpu_bitmap netdev_budget netdev_budget_usecs)
for t in "${TUNABLES[@]}"; do
  [ -w "$CORE/$t" ] || skip "$CORE/$t is not writable here"
done
declare -A SAVED=()
for t in "${TUNABLES[@]}"; do SAVED[$t]=$(cat "$CORE/$t"); done
FLOOD_PID=""

core() { tr -d ',' < "$CORE/$1"; }  # a cpumask prints in comma-separated groups
restore_core() {
  for t in "${TUNABLES[@]}"; do echo "${SAVED[$t]}" > "$CORE/$t"; done
}

# Trap body: the test's own stop_load (if it defines one) and the daemons first, then the host's
# values, then lib.sh's cleanup.
netbuf_cleanup() {
  local rc=$?
  set +e
  if declare -F stop_load >/dev/null; then stop_load; fi
  [ -n "$IPERF_PID" ] && kill "$IPERF_PID" 2>/dev/null
  [ -n "$FLOOD_PID" ] && kill "$FLOOD_PID" 2>/dev/null
  [ -n "$COL_PID" ] && kill "$COL_PID" 2>/dev/null
  [ -n "$ACT_PID" ] && kill "$ACT_PID" 2>/dev/null
  sleep 0.3
  [ -n "$COL_PID" ] && kill -9 "$COL_PID" 2>/dev/null
  [ -n "$ACT_PID" ] && kill -9 "$ACT_PID" 2>/dev/null
  COL_PID=""
  ACT_PID=""
  restore_core
  for t in "${TUNABLES[@]}"; do
    [ "$(core "$t")" = "${SAVED[$t]}" ] || echo "WARNING: $t not restored: $(core "$t")" >&2
  done
  (exit "$rc")
  cleanup
}

# The pair, unshaped, with RPS on B; the daemons (net_buffer only) will run in the init netns.
netbuf_setup() {
  setup_pair
  trap netbuf_cleanup EXIT
  HOST_DAEMONS=1
  TUNERS=net_buffer
  in_a tc qdisc del dev "${T_ID}va" root
  in_b tc qdisc del dev "${T_ID}vb" root
  # ip netns exec mounts a sysfs of B, where its veth end is visible.
  ip netns exec "$NS_B" sh -c "echo 1 > /sys/class/net/${T_ID}vb/queues/rx-0/rps_cpus"
}
