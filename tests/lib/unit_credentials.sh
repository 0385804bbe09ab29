# shellcheck shell=bash
# A systemd unit's credentials as a setpriv command line, for starting a daemon the way its unit
# would without systemd as PID 1. Sourced by tests/integration/systemd_privileges.sh (units of the
# source tree) and tests/package/deb_test.sh (the installed units).
# A UNIT argument is a path, or a bare file name looked up in $UNIT_DIR.
# Read: User=, Group=, SupplementaryGroups=, CapabilityBoundingSet=, AmbientCapabilities=,
# NoNewPrivileges=, ExecStart=, EnvironmentFile=. Not replayed: the mount sandbox (ProtectSystem= & co.) and
# systemd's syscall filter.

unit_file() {
  case $1 in
  */*) echo "$1" ;;
  *) echo "${UNIT_DIR:?UNIT_DIR is not set}/$1" ;;
  esac
}

# The value of KEY in a unit file (its last assignment, as systemd reads a single-valued key).
unit_get() { sed -n "s/^$2=//p" "$(unit_file "$1")" | tail -n 1; }

# "CAP_BPF CAP_PERFMON" -> "-all,+bpf,+perfmon" (setpriv's capability list).
cap_list() {
  local out="-all" cap
  for cap in $1; do
    out="$out,+$(echo "${cap#CAP_}" | tr 'A-Z' 'a-z')"
  done
  echo "$out"
}

# The unit's credentials as setpriv options, one group per line. Fails (status 1, a message on
# stderr) on a unit without CapabilityBoundingSet= or with a group that does not resolve.
setpriv_args() {
  local unit=$1 user group groups bounding ambient
  user=$(unit_get "$unit" User)
  group=$(unit_get "$unit" Group)
  groups=$(unit_get "$unit" SupplementaryGroups)
  bounding=$(unit_get "$unit" CapabilityBoundingSet)
  ambient=$(unit_get "$unit" AmbientCapabilities)
  if [ -z "$bounding" ]; then
    echo "unit_credentials: $unit has no CapabilityBoundingSet=" >&2
    return 1
  fi
  # As systemd does: User='s own groups (initgroups) plus SupplementaryGroups=.
  local gids="" g gid
  if [ -n "$user" ]; then
    echo "--reuid $user --regid ${group:-$user}"
    gids=$(id -G "$user" | tr ' ' ',') || {
      echo "unit_credentials: $unit: User=$user does not exist" >&2
      return 1
    }
  fi
  for g in $groups; do
    gid=$(getent group "$g" | cut -d: -f3)
    if [ -z "$gid" ]; then
      echo "unit_credentials: $unit: SupplementaryGroups= names '$g', which does not exist" >&2
      return 1
    fi
    gids="${gids:+$gids,}$gid"
  done
  if [ -n "$gids" ]; then
    echo "--groups $gids"
  else
    echo "--clear-groups"
  fi
  if [ -n "$ambient" ]; then
    echo "--inh-caps $(cap_list "$ambient") --ambient-caps $(cap_list "$ambient")"
  fi
  echo "--bounding-set $(cap_list "$bounding")"
  [ "$(unit_get "$unit" NoNewPrivileges)" = yes ] && echo "--no-new-privs"
  return 0
}

# The unit's ExecStart= as it stands (systemd's prefixes -@+!: are not supported: fails).
exec_start() {
  local cmd
  cmd=$(unit_get "$1" ExecStart)
  case $cmd in
  "" | [-@+!:]*)
    echo "unit_credentials: $1: ExecStart='$cmd' is empty or has a prefix this replay lacks" >&2
    return 1
    ;;
  esac
  # $NAME words as systemd expands them: from the unit's EnvironmentFile= when that exists (a
  # '-' prefix makes it optional), split into words; unset, a $NAME word is no word at all.
  local env_file word out=""
  env_file=$(unit_get "$1" EnvironmentFile)
  env_file=${env_file#-}
  for word in $cmd; do
    if [[ $word =~ ^\$([A-Za-z_][A-Za-z0-9_]*)$ ]]; then
      [ -n "$env_file" ] && [ -r "$env_file" ] &&
        out="$out $(sed -n "s/^${BASH_REMATCH[1]}=//p" "$env_file" | tail -n 1)"
      continue
    fi
    out="$out $word"
  done
  echo "${out# }"
}
