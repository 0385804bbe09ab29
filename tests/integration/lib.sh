# Shared harness for the integration tests: real actuator + collector in a private network
# namespace pair joined by a tbf-shaped veth. Everything a test creates is removed on exit,
# also when the test fails. Sourced by each test script; BUILD_DIR and SOURCE_DIR come from ctest.
set -euo pipefail

: "${BUILD_DIR:?BUILD_DIR not set}"
: "${SOURCE_DIR:?SOURCE_DIR not set}"
BPFTUNE="$BUILD_DIR/bpftune"
ACTUATOR="$BUILD_DIR/bpftune-actuator"
COLLECTOR="$BUILD_DIR/bpftune-collector"
SKIP_CODE=77

T_ID="bt$$"
NS_A="${T_ID}a"          # the tuned host: the daemon pair runs here
NS_B="${T_ID}b"          # the peer
V4_A=10.211.$(( $$ % 250 )).1
V4_B=10.211.$(( $$ % 250 )).2
V6_A=fd99:$(( $$ % 9000 + 1000 ))::1
V6_B=fd99:$(( $$ % 9000 + 1000 ))::2
WORK=""
ACT_PID=""
COL_PID=""
IPERF_PID=""

fail() { echo "FAIL: $*" >&2; exit 1; }
note() { echo "--- $*"; }

# A skip must say why; under CI (CI=true) a skip is a failure, because CI has every feature.
skip() {
  if [ "${CI:-}" = "true" ]; then
    fail "would skip under CI: $*"
  fi
  echo "SKIP: $*"
  exit "$SKIP_CODE"
}

require_env() {
  [ "$(id -u)" = 0 ] || skip "needs root (network namespaces, BPF, sysctl writes)"
  [ -r /sys/kernel/btf/vmlinux ] || skip "no kernel BTF at /sys/kernel/btf/vmlinux"
  for tool in ip tc nsenter iperf3; do
    command -v "$tool" >/dev/null || skip "missing tool: $tool"
  done
  for bin in "$BPFTUNE" "$ACTUATOR" "$COLLECTOR"; do
    [ -x "$bin" ] || fail "not built: $bin"
  done
}

in_a() { nsenter --net="/run/netns/$NS_A" "$@"; }
# Where the daemon pair runs: netns A (a private "host"), or with HOST_DAEMONS=1 the real init
# namespace, where it sees and tunes every namespace as in production. A command prefix, not a
# function, so that `$!` of a backgrounded daemon is the daemon itself (nsenter execs).
daemon_ns() { [ -n "${HOST_DAEMONS:-}" ] || echo "nsenter --net=/run/netns/$NS_A"; }
in_b() { nsenter --net="/run/netns/$NS_B" "$@"; }

cleanup() {
  local rc=$?
  set +e
  [ -n "$IPERF_PID" ] && kill "$IPERF_PID" 2>/dev/null
  [ -n "$COL_PID" ] && kill "$COL_PID" 2>/dev/null
  [ -n "$ACT_PID" ] && kill "$ACT_PID" 2>/dev/null
  sleep 0.3
  [ -n "$COL_PID" ] && kill -9 "$COL_PID" 2>/dev/null
  [ -n "$ACT_PID" ] && kill -9 "$ACT_PID" 2>/dev/null
  ip netns pids "$NS_A" 2>/dev/null | xargs -r kill -9 2>/dev/null
  ip netns pids "$NS_B" 2>/dev/null | xargs -r kill -9 2>/dev/null
  ip netns del "$NS_A" 2>/dev/null
  ip netns del "$NS_B" 2>/dev/null
  if [ $rc -ne 0 ] && [ -n "$WORK" ]; then
    for f in "$WORK"/*.log; do
      [ -f "$f" ] || continue
      echo "===== $f (last 40 lines)"; tail -n 40 "$f"
    done
  fi
  [ -n "$WORK" ] && [ -z "${KEEP_WORK:-}" ] && rm -rf "$WORK"
  exit $rc
}

# Two namespaces, veth between them, tbf on both ends (unshaped veth retransmits on its own).
setup_pair() {
  local rate="${1:-200mbit}"
  trap cleanup EXIT
  WORK=$(mktemp -d /tmp/bpftune-it.XXXXXX)
  chmod 0755 "$WORK"
  ip netns add "$NS_A"
  ip netns add "$NS_B"
  ip link add "${T_ID}va" netns "$NS_A" type veth peer name "${T_ID}vb" netns "$NS_B"
  in_a ip link set lo up
  in_b ip link set lo up
  in_a ip addr add "$V4_A/24" dev "${T_ID}va"
  in_b ip addr add "$V4_B/24" dev "${T_ID}vb"
  in_a ip -6 addr add "$V6_A/64" dev "${T_ID}va" nodad
  in_b ip -6 addr add "$V6_B/64" dev "${T_ID}vb" nodad
  in_a ip link set "${T_ID}va" up
  in_b ip link set "${T_ID}vb" up
  in_a tc qdisc add dev "${T_ID}va" root tbf rate "$rate" burst 128kb latency 20ms
  in_b tc qdisc add dev "${T_ID}vb" root tbf rate "$rate" burst 128kb latency 20ms
  in_b ping -c 1 -W 2 "$V4_A" >/dev/null || fail "no IPv4 connectivity between the namespaces"
  in_b ping -6 -c 1 -W 2 "$V6_A" >/dev/null || fail "no IPv6 connectivity between the namespaces"
  RUN_DIR="$WORK/run"
  STATE_DIR="$WORK/state"
  JOURNAL="$STATE_DIR/journal"
  STATUS="$RUN_DIR/collector/status.json"
  prepare_dirs
}

# Same layout `bpftune run` makes: sockets root-owned, status dir owned by the collector,
# journal dir private to root (the jailed actuator appends through a descriptor opened as root).
prepare_dirs() {
  id bpftune >/dev/null 2>&1 || useradd --system --no-create-home --home-dir /nonexistent \
    --shell /usr/sbin/nologin --user-group bpftune
  id bpftune-collector >/dev/null 2>&1 || useradd --system --no-create-home \
    --home-dir /nonexistent --shell /usr/sbin/nologin --user-group bpftune-collector
  install -d -m 0755 -o root -g root "$RUN_DIR"
  install -d -m 0755 -o bpftune-collector -g bpftune-collector "$RUN_DIR/collector"
  install -d -m 0700 -o root -g root "$STATE_DIR"
}

sysctl_a() { in_a cat "/proc/sys/net/ipv4/$1" | tr -s '\t ' ' '; }
set_sysctl_a() { in_a sh -c "echo '$2' > /proc/sys/net/ipv4/$1"; }

# ACTUATOR_WRAPPER: a command prefix in front of the binary (e.g. `env LD_PRELOAD=...`);
# ACTUATOR_LOG: where its output goes (default actuator.log).
start_actuator() {
  # Sockets left by a killed actuator would make the wait below return before the new one runs.
  rm -f "$RUN_DIR/actuator.sock" "$RUN_DIR/admin.sock"
  $(daemon_ns) ${ACTUATOR_WRAPPER:-} "$ACTUATOR" --socket "$RUN_DIR/actuator.sock" --admin-socket "$RUN_DIR/admin.sock" \
    --journal "$JOURNAL" --policy "${POLICY:-$SOURCE_DIR/policy/default.policy}" \
    ${ACTUATOR_OPTIONS:-} >>"${ACTUATOR_LOG:-$WORK/actuator.log}" 2>&1 &
  ACT_PID=$!
  for _ in $(seq 1 100); do
    [ -S "$RUN_DIR/admin.sock" ] && [ -S "$RUN_DIR/actuator.sock" ] && return 0
    kill -0 "$ACT_PID" 2>/dev/null || fail "actuator exited during start"
    sleep 0.05
  done
  fail "actuator sockets did not appear"
}

# METRICS_FILE, when set, is the collector's --metrics-file. COLLECTOR_ARGS: more options (split
# on spaces). TUNERS (comma separated) limits the collector to the tuners a test is about: BPF
# hooks are machine-wide, and a tuner the test does not watch could change a host value it does
# not restore.
start_collector() {
  $(daemon_ns) "$COLLECTOR" --socket "$RUN_DIR/actuator.sock" --status "$STATUS" \
    --learning-rate "${LEARNING_RATE:-4}" --tuners "${TUNERS:-tcp_buffer}" ${COLLECTOR_ARGS:-} \
    ${METRICS_FILE:+--metrics-file "$METRICS_FILE"} >>"$WORK/collector.log" 2>&1 &
  COL_PID=$!
  for _ in $(seq 1 100); do
    [ -f "$STATUS" ] && return 0
    kill -0 "$COL_PID" 2>/dev/null || fail "collector exited during start"
    sleep 0.1
  done
  fail "collector wrote no status within 10 s"
}

# SIGTERM must end a daemon promptly; one that ignores it fails the test instead of hanging it.
stop_daemon() {
  local pid=$1 name=$2
  [ -n "$pid" ] || return 0
  kill "$pid" 2>/dev/null || return 0
  for _ in $(seq 1 50); do
    kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null || true; return 0; }
    sleep 0.1
  done
  kill -9 "$pid" 2>/dev/null
  fail "the $name (pid $pid) did not exit within 5 s of SIGTERM"
}

stop_daemons() {
  stop_daemon "$COL_PID" collector
  COL_PID=""
  stop_daemon "$ACT_PID" actuator
  ACT_PID=""
}

# iperf3 transfer; prints the receiver's rate in Mbit/s. $1: 4|6, $2: which side sends (a|b),
# $3: seconds. The server always runs in B, so rmem/wmem tests differ only in the sender.
transfer() {
  local family=$1 sender=$2 secs=$3 addr reverse=""
  [ "$family" = 6 ] && addr=$V6_B || addr=$V4_B
  [ "$sender" = b ] && reverse="-R"
  in_b iperf3 -s -1 -p 5201 >/dev/null 2>&1 &
  IPERF_PID=$!
  sleep 0.3
  local out
  out=$(in_a iperf3 -c "$addr" -p 5201 -t "$secs" -P "${IPERF_STREAMS:-1}" $reverse -J \
    2>/dev/null) || true
  wait "$IPERF_PID" 2>/dev/null || true
  IPERF_PID=""
  echo "$out" | python3 -c 'import json,sys
try:
    d=json.load(sys.stdin); print("%.1f" % (d["end"]["sum_received"]["bits_per_second"]/1e6))
except Exception:
    print("0")'
}

# Joins another container to B with a tbf-shaped veth pair, like setup_pair joins A and B.
# $1: its `ip link ... netns` argument (a name or a pid), $2: a command prefix that runs inside it,
# $3: interface name suffix, $4/$5: IPv4 of its end and of B's end.
link_to_b() {
  local target=$1 enter=$2 suffix=$3 own=$4 peer=$5
  ip link add "${T_ID}v$suffix" netns "$target" type veth peer name "${T_ID}w$suffix" netns "$NS_B"
  $enter ip link set lo up
  $enter ip addr add "$own/24" dev "${T_ID}v$suffix"
  in_b ip addr add "$peer/24" dev "${T_ID}w$suffix"
  $enter ip link set "${T_ID}v$suffix" up
  in_b ip link set "${T_ID}w$suffix" up
  $enter tc qdisc add dev "${T_ID}v$suffix" root tbf rate 200mbit burst 128kb latency 20ms
  in_b tc qdisc add dev "${T_ID}w$suffix" root tbf rate 200mbit burst 128kb latency 20ms
  $enter ping -c 1 -W 2 "$peer" >/dev/null || fail "no connectivity between $target and B"
}

# One iperf3 run: server inside prefix $1, client inside prefix $2 sends to $3:$4 for $5 s.
iperf_between() {
  local server=$1 client=$2 addr=$3 port=$4 secs=$5
  $server iperf3 -s -1 -p "$port" >/dev/null 2>&1 &
  IPERF_PID=$!
  sleep 0.3
  $client iperf3 -c "$addr" -p "$port" -t "$secs" >/dev/null 2>&1 || true
  wait "$IPERF_PID" 2>/dev/null || true
  IPERF_PID=""
}

journal_count() { "$BPFTUNE" journal --state-dir "$STATE_DIR" | grep -c "$1" || true; }

assert_verify() {
  "$BPFTUNE" verify --state-dir "$STATE_DIR" >"$WORK/verify.out" 2>&1 ||
    { cat "$WORK/verify.out"; fail "bpftune verify failed"; }
}

# Rolls back with no daemon running: the CLI runs the actuator's one-shot rollback in netns A.
rollback_offline() {
  in_a "$BPFTUNE" rollback --run-dir "$RUN_DIR" --state-dir "$STATE_DIR" \
    --policy "${POLICY:-$SOURCE_DIR/policy/default.policy}" >"$WORK/rollback.out" 2>&1 ||
    { cat "$WORK/rollback.out"; fail "bpftune rollback failed"; }
}

# For the tests that interpose an LD_PRELOAD shim ($1) on the actuator and send requests with
# send_request as the collector user; $2 says what the shim does, for the skip message.
require_preload() {
  command -v setpriv >/dev/null || skip "missing tool: setpriv"
  [ -f "$1" ] || fail "not built: $1"
  [ -x "$SEND_REQUEST" ] || fail "not built: $SEND_REQUEST"
  # The shim only works on a dynamically linked actuator (LD_PRELOAD is read by ld.so at exec).
  # Read whole, then searched: `grep -q` in a pipe can end ldd early (SIGPIPE, pipefail).
  local libs
  libs=$(ldd "$ACTUATOR" 2>/dev/null) || true
  grep -q "libc\.so" <<<"$libs" ||
    skip "the actuator is not dynamically linked; LD_PRELOAD cannot $2"
}

rss_kb() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }
fd_count() { ls "/proc/$1/fd" | wc -l; }
# The netns cookie of /run/netns/$1 (NS_GET_ID), via the CLI-independent python ioctl.
netns_cookie() {
  python3 -c 'import fcntl,struct,sys
fd=open(sys.argv[1],"rb")
buf=fcntl.ioctl(fd.fileno(),(2<<30)|(8<<16)|(0xb7<<8)|13,bytes(8))
print(struct.unpack("Q",buf)[0])' "$1"
}
# Waits up to $2 seconds for a pattern in a log file.
wait_for_log() {
  local pattern=$1 secs=$2 file=${3:-$WORK/collector.log}
  for _ in $(seq 1 $(( secs * 10 ))); do
    grep -q -- "$pattern" "$file" 2>/dev/null && return 0
    sleep 0.1
  done
  return 1
}
