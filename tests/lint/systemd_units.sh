#!/usr/bin/env bash
# The systemd units, checked offline (PID 1 is not systemd on our machines):
#  - `systemd-analyze verify` prints nothing for both units, in a staging root that holds them at
#    /usr/lib/systemd/system and the built binaries at their installed paths (/usr/sbin);
#  - `systemd-analyze security --offline=yes` exposure of each unit is at most its ceiling;
#  - sysusers.d and tmpfiles.d, applied to the staging root, make the users and the directories
#    with the owners and modes the daemons expect.
# Usage: systemd_units.sh SOURCE_DIR BUILD_DIR
set -euo pipefail
SOURCE_DIR=$1
BUILD_DIR=$2
UNITS="$SOURCE_DIR/systemd"

fail() { echo "FAIL: $*" >&2; exit 1; }
skip() {
  [ "${CI:-}" = "true" ] && fail "would skip under CI: $*"
  echo "SKIP: $*"
  exit 77
}
for tool in systemd-analyze systemd-sysusers systemd-tmpfiles; do
  command -v "$tool" >/dev/null || skip "missing tool: $tool (Debian package systemd)"
done
for bin in bpftune-actuator bpftune-collector; do
  [ -x "$BUILD_DIR/$bin" ] || fail "not built: $BUILD_DIR/$bin"
done

# Exposure ceilings. The issue asks for <= 1.5 for the actuator and the collector; both meet it
# (the actuator runs as bpftune with CAP_NET_ADMIN alone). bpftune-helpers.service holds what
# entering other network namespaces takes (CAP_SYS_ADMIN, CAP_SYS_PTRACE, CAP_NET_ADMIN), each
# scored by the default assessment: 1.7 is its floor, and it is held to that.
declare -A CEILING=([bpftune-collector.service]=1.5 [bpftune-actuator.service]=1.5
  [bpftune-helpers.service]=1.7)
UNIT_NAMES=(bpftune-helpers.service bpftune-actuator.service bpftune-collector.service)

ROOT=$(mktemp -d)
trap 'rm -rf "$ROOT"' EXIT
mkdir -p "$ROOT/usr/sbin" "$ROOT/usr/lib/systemd" "$ROOT/usr/lib/sysusers.d" \
  "$ROOT/usr/lib/tmpfiles.d" "$ROOT/etc"
cp -a /usr/lib/systemd/system "$ROOT/usr/lib/systemd/"
cp "$UNITS"/*.service "$ROOT/usr/lib/systemd/system/"
cp "$BUILD_DIR/bpftune-actuator" "$BUILD_DIR/bpftune-collector" "$ROOT/usr/sbin/"
cp "$UNITS/sysusers.d/bpftune.conf" "$ROOT/usr/lib/sysusers.d/"
cp "$UNITS/tmpfiles.d/bpftune.conf" "$ROOT/usr/lib/tmpfiles.d/"

status=0
# verify exits 0 on warnings (unknown keys, bad values are "ignoring"): any output is a finding.
# --man=yes with MANPATH at the built pages: every Documentation=man: line must name one of ours.
[ -f "$BUILD_DIR/man/man8/bpftune-actuator.8" ] || fail "man pages not built in $BUILD_DIR/man"
if ! out=$(MANPATH="$BUILD_DIR/man" systemd-analyze verify --man=yes --root="$ROOT" \
  "${UNIT_NAMES[@]}" 2>&1) || [ -n "$out" ]; then
  echo "$out"
  echo "FAIL: systemd-analyze verify is not clean" >&2
  status=1
else
  echo "systemd-analyze verify --man=yes: clean (${UNIT_NAMES[*]}; Documentation= pages found)"
fi

for unit in "${UNIT_NAMES[@]}"; do
  report=$(systemd-analyze security --offline=yes --no-pager "$ROOT/usr/lib/systemd/system/$unit" 2>&1) ||
    { echo "$report"; fail "systemd-analyze security failed for $unit"; }
  score=$(echo "$report" | sed -n 's/^→ Overall exposure level for [^:]*: \([0-9.]*\) .*/\1/p')
  [ -n "$score" ] || { echo "$report"; fail "no exposure score for $unit"; }
  echo "$report" | grep '^✗' || true
  echo "exposure $unit: $score (ceiling ${CEILING[$unit]})"
  if awk -v s="$score" -v c="${CEILING[$unit]}" 'BEGIN { exit !(s > c) }'; then
    echo "FAIL: $unit exposure $score > ${CEILING[$unit]}" >&2
    status=1
  fi
done

# sysusers.d then tmpfiles.d on the staging root (tmpfiles resolves the users from its passwd).
if [ "$(id -u)" = 0 ]; then
  systemd-sysusers --root="$ROOT" || fail "systemd-sysusers failed"
  for user in bpftune bpftune-collector; do
    grep -q "^$user:x:[0-9]*:[0-9]*:.*:/nonexistent:/usr/sbin/nologin$" "$ROOT/etc/passwd" ||
      fail "sysusers.d made no system user $user: $(cat "$ROOT/etc/passwd")"
    grep -q "^$user:" "$ROOT/etc/group" || fail "sysusers.d made no group $user"
  done
  systemd-tmpfiles --create --root="$ROOT" || fail "systemd-tmpfiles failed"
  uid_of() { awk -F: -v u="$1" '$1 == u {print $3}' "$ROOT/etc/passwd"; }
  COL_UID=$(uid_of bpftune-collector)
  ACT_UID=$(uid_of bpftune)
  ACT_GID=$(awk -F: '$1 == "bpftune" {print $3}' "$ROOT/etc/group")
  for expect in "run/bpftune 755 $ACT_UID:$ACT_GID" "run/bpftune/helpers 700 $ACT_UID:$ACT_GID" \
    "run/bpftune/collector 755 $COL_UID:$COL_UID" "var/lib/bpftune 710 0:$ACT_GID" \
    "var/lib/bpftune/journal 660 0:$ACT_GID"; do
    read -r path mode owner <<<"$expect"
    got=$(stat -c '%a %u:%g' "$ROOT/$path" 2>/dev/null) || fail "tmpfiles.d made no /$path"
    [ "$got" = "$mode $owner" ] || fail "/$path is $got, expected $mode $owner"
    echo "tmpfiles.d: /$path $got"
  done
  # Again over a state a root-started `bpftune run` leaves (directory root 0700, journal 0600):
  # tmpfiles.d brings both back to what the units need.
  chmod 0700 "$ROOT/var/lib/bpftune"
  chown 0:0 "$ROOT/var/lib/bpftune/journal"
  chmod 0600 "$ROOT/var/lib/bpftune/journal"
  systemd-tmpfiles --create --root="$ROOT" || fail "systemd-tmpfiles failed (second run)"
  for expect in "var/lib/bpftune 710 0:$ACT_GID" "var/lib/bpftune/journal 660 0:$ACT_GID"; do
    read -r path mode owner <<<"$expect"
    got=$(stat -c '%a %u:%g' "$ROOT/$path")
    [ "$got" = "$mode $owner" ] || fail "after a root-started run: /$path is $got, expected $mode $owner"
    echo "tmpfiles.d over a root-started run's state: /$path $got"
  done
else
  skip "sysusers.d/tmpfiles.d check needs root (chown in the staging root)"
fi
exit $status
