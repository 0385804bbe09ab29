#!/usr/bin/env bash
# The Debian packages end to end, as root (`./quickstart.sh package`; CI runs it after the tests):
#   1. dpkg-buildpackage -us -uc -b in a copy of the tree (the source tree stays clean)
#   2. lintian on the .changes: its output printed; an error or a warning fails
#   3. dpkg -i bpftune and bpftune-selinux; files, conffile, users (sysusers.d) and directories
#      (tmpfiles.d, owners and modes as the installed conf says) checked
#   4. each installed unit (bpftune-helpers, if there, then bpftune-actuator, bpftune-collector)
#      started with its own credentials read from the installed unit file, by setpriv inside a
#      fresh network namespace; ready (the sockets and status file its ExecStart= names), still up
#      after 2 s, `bpftune status` and `bpftune journal` answer; stopped with SIGTERM
#   5. conffile: an edit to /etc/bpftune/policy survives `dpkg -i` of the same .deb
#   6. dpkg --purge both: nothing of ours left (files, directories, conffile, state); the system
#      users stay (Debian convention, debian/README.Debian)
# On any exit: our daemons killed, our packages purged, the namespace deleted.
# Skips (exit 77) without root or tools; under CI=true a skip is a failure.
# KEEP=1 keeps the work directory (build tree, logs, .debs).
set -euo pipefail
SOURCE_DIR=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck source=../lib/unit_credentials.sh
source "$SOURCE_DIR/tests/lib/unit_credentials.sh"

T_START=$(date +%s.%N)
note() { echo "deb_test: $*"; }
fail() {
  echo "deb_test: FAIL: $*" >&2
  exit 1
}
skip() {
  if [ "${CI:-}" = true ]; then
    fail "would skip under CI: $*"
  fi
  echo "deb_test: SKIP: $*" >&2
  exit 77
}
elapsed() { awk -v a="$1" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f s", b - a }'; }

[ "$(id -u)" = 0 ] || skip "needs root (dpkg -i, setpriv, network namespaces)"
for tool in dpkg-buildpackage dh lintian fakeroot setpriv nsenter ip flock getent systemd-sysusers; do
  command -v "$tool" >/dev/null || skip "missing tool: $tool (./quickstart.sh package installs them)"
done

PACKAGES=(bpftune bpftune-selinux)
installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "ok installed\|config-files"; }
for p in "${PACKAGES[@]}"; do
  installed "$p" && fail "$p is already installed here; this test installs and purges it (dpkg --purge $p first)"
done
for path in /etc/bpftune /run/bpftune /var/lib/bpftune; do
  [ ! -e "$path" ] || fail "$path exists before the install; it would be taken for the package's"
done

WORK=$(mktemp -d /tmp/bpftune-deb.XXXXXX)
NETNS=bpftune-deb-$$
PIDS=()
WE_INSTALLED=0
LOCKED=0
# Kills what is left in our namespace (SIGKILL, by pid) until it is empty, for at most 5 s; the
# actuator's helpers leave on their own once the actuator is gone. Returns 1 if some remain.
netns_empty() {
  local pids
  [ -e "/run/netns/$NETNS" ] || return 0
  for _ in $(seq 1 50); do
    pids=$(ip netns pids "$NETNS" 2>/dev/null)
    [ -z "$pids" ] && return 0
    [ "${1:-}" = wait ] || kill -KILL $pids 2>/dev/null
    sleep 0.1
  done
  [ -z "$(ip netns pids "$NETNS" 2>/dev/null)" ]
}
cleanup() {
  local rc=$? pid
  set +e
  for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null; done
  for pid in "${PIDS[@]}"; do
    kill -KILL "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
  done
  # Whatever still runs in our namespace was started by this test (the daemons' own children).
  netns_empty
  [ -e "/run/netns/$NETNS" ] && ip netns del "$NETNS"
  if [ "$WE_INSTALLED" = 1 ]; then
    dpkg --purge bpftune-selinux bpftune >>"$WORK/cleanup.log" 2>&1 ||
      echo "deb_test: cleanup: dpkg --purge failed: $(tail -n 3 "$WORK/cleanup.log")" >&2
  fi
  [ "$LOCKED" = 1 ] && flock -u 9
  if [ "$rc" != 0 ]; then
    for log in "$WORK"/*.daemon.log; do
      [ -f "$log" ] && { echo "--- $log"; tail -n 30 "$log"; }
    done
    echo "deb_test: work directory kept: $WORK" >&2
  elif [ "${KEEP:-0}" = 1 ]; then
    note "work directory kept: $WORK"
  else
    rm -rf "$WORK"
  fi
  note "total $(elapsed "$T_START"), exit $rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- 1. build in a copy ------------------------------------------------------------------------
VERSION=$(dpkg-parsechangelog -l "$SOURCE_DIR/debian/changelog" -S Version)
TREE="$WORK/bpftune-$VERSION"
mkdir -p "$TREE"
HAVE_GIT=0
if git -C "$SOURCE_DIR" rev-parse --git-dir >/dev/null 2>&1; then
  HAVE_GIT=1
  TREE_STATE=$(git -C "$SOURCE_DIR" status --porcelain)
  # Tracked and new files, as they are in the work tree (not build/ and other ignored output).
  git -C "$SOURCE_DIR" ls-files -z -c -o --exclude-standard |
    tar -C "$SOURCE_DIR" --null --ignore-failed-read -T - -cf - 2>/dev/null | tar -C "$TREE" -xf -
else
  tar -C "$SOURCE_DIR" --exclude=./build --exclude=./.git -cf - . | tar -C "$TREE" -xf -
fi
JOBS=${DEB_JOBS:-2}
note "dpkg-buildpackage -us -uc -b -j$JOBS in $TREE"
T=$(date +%s.%N)
(cd "$TREE" && dpkg-buildpackage -us -uc -b -j"$JOBS") >"$WORK/build.log" 2>&1 || {
  tail -n 40 "$WORK/build.log"
  fail "dpkg-buildpackage failed (log: $WORK/build.log)"
}
note "dpkg-buildpackage: ok in $(elapsed "$T")"
ARCH=$(dpkg --print-architecture)
CHANGES="$WORK/bpftune_${VERSION}_${ARCH}.changes"
DEB="$WORK/bpftune_${VERSION}_${ARCH}.deb"
DEB_SELINUX="$WORK/bpftune-selinux_${VERSION}_all.deb"
for f in "$CHANGES" "$DEB" "$DEB_SELINUX"; do [ -f "$f" ] || fail "not built: $f"; done
if [ "$HAVE_GIT" = 1 ]; then
  [ "$(git -C "$SOURCE_DIR" status --porcelain 2>/dev/null)" = "$TREE_STATE" ] ||
    fail "the source tree changed during the build"
fi
ls -l "$WORK"/*.deb | sed 's/^/deb_test:   /'

# --- 2. lintian ---------------------------------------------------------------------------------
note "lintian --display-info --show-overrides --fail-on error,warning $(basename "$CHANGES")"
T=$(date +%s.%N)
LINTIAN_RC=0
lintian --display-info --show-overrides --fail-on error,warning "$CHANGES" >"$WORK/lintian.txt" 2>&1 || LINTIAN_RC=$?
grep -v '^running with root privileges is not recommended!$' "$WORK/lintian.txt" | sed 's/^/lintian: /' || true
note "lintian: exit $LINTIAN_RC, $(grep -c '^E:' "$WORK/lintian.txt" || true) errors, $(grep -c '^W:' "$WORK/lintian.txt" || true) warnings, $(grep -c '^[IP]:' "$WORK/lintian.txt" || true) info, $(grep -c '^O:' "$WORK/lintian.txt" || true) overridden (reasons: debian/*.lintian-overrides), $(elapsed "$T")"
[ "$LINTIAN_RC" = 0 ] || fail "lintian reports errors or warnings (above)"

# --- 3. install ---------------------------------------------------------------------------------
# SELinux is not enabled on this machine, so bpftune-selinux's scripts would take no branch:
# stand-ins for selinuxenabled (says enabled), semodule and restorecon on the maintainer scripts'
# PATH record what the scripts would do on an SELinux host (the module's own checks are
# tests/lint/selinux_check.sh).
FAKE="$WORK/fake-selinux"
mkdir -p "$FAKE"
printf '#!/bin/sh\nexit 0\n' >"$FAKE/selinuxenabled"
printf '#!/bin/sh\necho "semodule $*" >>"%s/calls"\n[ "$1" = -l ] && [ -f "%s/loaded" ] && echo bpftune\n[ "$1" = -i ] && touch "%s/loaded"\n[ "$1" = -r ] && rm -f "%s/loaded"\nexit 0\n' \
  "$FAKE" "$FAKE" "$FAKE" "$FAKE" >"$FAKE/semodule"
printf '#!/bin/sh\necho "restorecon $*" >>"%s/calls"\n' "$FAKE" >"$FAKE/restorecon"
chmod +x "$FAKE"/*
T=$(date +%s.%N)
WE_INSTALLED=1
PATH="$FAKE:$PATH" dpkg -i "$DEB" "$DEB_SELINUX" </dev/null >"$WORK/install.log" 2>&1 || {
  cat "$WORK/install.log"
  fail "dpkg -i failed"
}
note "dpkg -i: ok in $(elapsed "$T")"
grep -qx "semodule -i /usr/share/selinux/packages/bpftune.pp" "$FAKE/calls" ||
  fail "bpftune-selinux's postinst did not load the module with SELinux (stand-in) enabled"
grep -q "^restorecon -R -i /usr/sbin/bpftune-actuator " "$FAKE/calls" ||
  fail "bpftune-selinux's postinst did not relabel"
note "bpftune-selinux postinst, SELinux stand-in enabled: $(tr '\n' ';' <"$FAKE/calls")"
for p in "${PACKAGES[@]}"; do installed "$p" || fail "$p is not installed after dpkg -i"; done

for f in /usr/sbin/bpftune /usr/sbin/bpftune-actuator /usr/sbin/bpftune-collector; do
  [ -x "$f" ] || fail "missing executable $f"
done
for f in /etc/bpftune/policy /usr/share/bpftune/default.policy /usr/lib/sysusers.d/bpftune.conf \
  /usr/lib/tmpfiles.d/bpftune.conf /usr/share/selinux/packages/bpftune.pp \
  /usr/share/man/man8/bpftune.8.gz /usr/share/man/man5/bpftune-policy.5.gz; do
  [ -f "$f" ] || fail "missing $f"
done
cmp -s /etc/bpftune/policy /usr/share/bpftune/default.policy || fail "/etc/bpftune/policy is not the shipped default"
dpkg-query -W -f='${Conffiles}\n' bpftune | grep -q '^ /etc/bpftune/policy ' ||
  fail "/etc/bpftune/policy is not a conffile of bpftune"
UNIT_FILES=()
for unit in bpftune-helpers.service bpftune-actuator.service bpftune-collector.service; do
  path=$(dpkg -L bpftune | grep -m 1 "/systemd/system/$unit\$" || true)
  [ -n "$path" ] && UNIT_FILES+=("$path")
done
[ ${#UNIT_FILES[@]} -ge 2 ] || fail "the package installs ${#UNIT_FILES[@]} of the units"
note "units: ${UNIT_FILES[*]}"
for path in "${UNIT_FILES[@]}"; do
  name=$(basename "$path")
  for wants in /etc/systemd/system/*.wants/"$name"; do
    [ -e "$wants" ] && fail "$name was enabled at install ($wants)"
  done
done
# sysusers.d: every user it names exists (systemd-sysusers ran in postinst).
while read -r type name _; do
  case $type in u)
    getent passwd "$name" >/dev/null || fail "user $name (sysusers.d) was not created"
    getent group "$name" >/dev/null || fail "group $name (sysusers.d) was not created"
    note "user $(getent passwd "$name" | cut -d: -f1,3,4,6,7)"
    ;;
  esac
done < <(grep -v '^#' /usr/lib/sysusers.d/bpftune.conf)
# tmpfiles.d: every directory it names exists with its owner and mode (systemd-tmpfiles ran).
while read -r type path mode user group _; do
  case $type in d)
    [ -d "$path" ] || fail "directory $path (tmpfiles.d) was not created"
    want="${user}:${group} ${mode#0}"
    got=$(stat -c '%U:%G %a' "$path")
    [ "$got" = "$want" ] || fail "$path is $got, tmpfiles.d says $want"
    note "dir $path $got"
    ;;
  esac
done < <(grep -v '^#' /usr/lib/tmpfiles.d/bpftune.conf)

# --- 4. start each unit's daemon with its installed credentials --------------------------------
exec 9>/tmp/bpftune-it.lock
T=$(date +%s.%N)
flock -w 1200 9 || fail "no lock /tmp/bpftune-it.lock within 20 min (another BPF test runs)"
LOCKED=1
note "lock /tmp/bpftune-it.lock after $(elapsed "$T")"
ip netns add "$NETNS"
ip -n "$NETNS" link set lo up
T=$(date +%s.%N)
# What ExecStart= says the daemon makes once it is ready: each --*socket PATH, and --status PATH.
ready_paths() {
  local prev="" arg
  for arg in $1; do
    case $prev in --*socket) echo "S $arg" ;; --status) echo "f $arg" ;; esac
    prev=$arg
  done
}
declare -A UNIT_PID
for path in "${UNIT_FILES[@]}"; do
  name=$(basename "$path")
  args=$(setpriv_args "$path" | tr '\n' ' ') || fail "$name: no credentials"
  cmd=$(exec_start "$path") || fail "$name: no ExecStart="
  note "$name: nsenter --net=/run/netns/$NETNS setpriv $args-- $cmd"
  # shellcheck disable=SC2086 # the option and command strings are word lists
  nsenter --net="/run/netns/$NETNS" setpriv $args -- $cmd >"$WORK/$name.daemon.log" 2>&1 9>&- &
  pid=$!
  PIDS+=("$pid")
  UNIT_PID[$name]=$pid
  waits=$(ready_paths "$cmd")
  [ -n "$waits" ] || fail "$name: its ExecStart= names no socket or status file to wait for"
  T_UNIT=$(date +%s.%N)
  while read -r kind file; do
    for _ in $(seq 1 200); do
      [ "$kind" = S ] && [ -S "$file" ] && break
      [ "$kind" = f ] && [ -f "$file" ] && break
      kill -0 "$pid" 2>/dev/null || fail "$name exited during its start under its unit's credentials"
      sleep 0.05
    done
    if [ "$kind" = S ]; then [ -S "$file" ]; else [ -f "$file" ]; fi ||
      fail "$name: $file did not appear within 10 s"
  done <<<"$waits"
  note "$name: ready in $(elapsed "$T_UNIT") (pid $pid, uid $(awk '$1 == "Uid:" {print $2}' "/proc/$pid/status"), $(echo "$waits" | awk '{print $2}' | tr '\n' ' '))"
done
sleep 2
for path in "${UNIT_FILES[@]}"; do
  name=$(basename "$path")
  kill -0 "${UNIT_PID[$name]}" 2>/dev/null || fail "$name died within 2 s of being ready"
done
note "all up 2 s after the last was ready"
# The daemons' children (the actuator's netns opener and privileged writer): they are jailed and
# not dumpable, so `ip netns pids` does not see them; they leave on their own shortly after the
# actuator, and must have left before this test ends.
CHILDREN=()
for pid in "${PIDS[@]}"; do
  for child in $(pgrep -P "$pid" || true); do CHILDREN+=("$child"); done
done
PIDS+=("${CHILDREN[@]}")
note "children of the daemons: ${CHILDREN[*]:-none}"
/usr/sbin/bpftune status >"$WORK/status.txt" 2>&1 || {
  cat "$WORK/status.txt"
  fail "bpftune status failed"
}
head -n 15 "$WORK/status.txt" | sed 's/^/status: /'
/usr/sbin/bpftune journal >"$WORK/journal.txt" 2>&1 || {
  cat "$WORK/journal.txt"
  fail "bpftune journal failed"
}
note "bpftune journal: ok, $(wc -l <"$WORK/journal.txt") lines"
# Stop in reverse order of start.
for ((i = ${#UNIT_FILES[@]} - 1; i >= 0; i--)); do
  name=$(basename "${UNIT_FILES[$i]}")
  pid=${UNIT_PID[$name]}
  how="stopped by SIGTERM"
  # bpftune-helpers exits by itself once its actuator (stopped just before) is gone.
  for _ in $(seq 1 20); do
    [ "$name" = bpftune-helpers.service ] && kill -0 "$pid" 2>/dev/null && sleep 0.1
  done
  if kill -TERM "$pid" 2>/dev/null; then
    :
  elif [ "$name" = bpftune-helpers.service ]; then
    how="exited with its actuator"
  else
    fail "$name (pid $pid) was gone before its SIGTERM"
  fi
  for _ in $(seq 1 100); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  kill -0 "$pid" 2>/dev/null && fail "$name did not exit within 10 s of SIGTERM"
  rc=0
  wait "$pid" || rc=$?
  [ "$rc" = 0 ] || fail "$name: $how, exit status $rc"
  note "$name: $how, exit status $rc"
done
for child in "${CHILDREN[@]}"; do
  for _ in $(seq 1 100); do
    kill -0 "$child" 2>/dev/null || break
    sleep 0.1
  done
  kill -0 "$child" 2>/dev/null && fail "pid $child ($(cat "/proc/$child/comm")) still runs 10 s after the daemons stopped"
done
note "children gone"
PIDS=()
netns_empty wait ||
  fail "processes left in the namespace 5 s after the daemons stopped: $(ip netns pids "$NETNS" | tr '\n' ' ')"
ip netns del "$NETNS"
flock -u 9
LOCKED=0
note "start/serve/stop: ok in $(elapsed "$T")"

# --- 5. conffile ----------------------------------------------------------------------------------
echo "# edited by deb_test.sh $$" >>/etc/bpftune/policy
T=$(date +%s.%N)
dpkg -i "$DEB" </dev/null >"$WORK/reinstall.log" 2>&1 || {
  cat "$WORK/reinstall.log"
  fail "dpkg -i of the same .deb failed"
}
grep -q "^# edited by deb_test.sh $$\$" /etc/bpftune/policy || fail "the edit to /etc/bpftune/policy was lost"
note "conffile: the edit to /etc/bpftune/policy survives dpkg -i again ($(elapsed "$T")); dpkg --verify: $(dpkg --verify bpftune | tr '\n' ' ')"

# --- 6. purge ---------------------------------------------------------------------------------------
T=$(date +%s.%N)
: >"$FAKE/calls"
PATH="$FAKE:$PATH" dpkg --purge bpftune-selinux bpftune </dev/null >"$WORK/purge.log" 2>&1 || {
  cat "$WORK/purge.log"
  fail "dpkg --purge failed"
}
WE_INSTALLED=0
grep -qx "semodule -r bpftune" "$FAKE/calls" ||
  fail "bpftune-selinux's postrm did not remove the module with SELinux (stand-in) enabled"
note "bpftune-selinux postrm, SELinux stand-in enabled: $(tr '\n' ';' <"$FAKE/calls")"
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "not-installed" ||
    [ -z "$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null)" ] || fail "$p still known to dpkg after purge"
done
leftover=()
for path in /etc/bpftune /run/bpftune /var/lib/bpftune /usr/share/bpftune /usr/sbin/bpftune \
  /usr/sbin/bpftune-actuator /usr/sbin/bpftune-collector /usr/lib/sysusers.d/bpftune.conf \
  /usr/lib/tmpfiles.d/bpftune.conf /usr/share/selinux/packages/bpftune.pp \
  /usr/share/doc/bpftune /usr/share/doc/bpftune-selinux; do
  [ -e "$path" ] && leftover+=("$path")
done
for path in "${UNIT_FILES[@]}"; do [ -e "$path" ] && leftover+=("$path"); done
for path in /usr/share/man/man*/bpftune* /etc/systemd/system/*/bpftune-* \
  /var/lib/systemd/deb-systemd-helper-enabled/*bpftune* /var/lib/systemd/deb-systemd-helper-masked/*bpftune*; do
  [ -e "$path" ] && leftover+=("$path")
done
[ ${#leftover[@]} = 0 ] || fail "left after purge: ${leftover[*]}"
note "dpkg --purge: ok in $(elapsed "$T"); nothing left; users kept: $(getent passwd bpftune bpftune-collector | cut -d: -f1 | tr '\n' ' ')"
note "PASS"
