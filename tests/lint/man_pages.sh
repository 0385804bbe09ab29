#!/usr/bin/env bash
# lint_man_pages: every man page renders with `man -l` (MANWIDTH=80, all groff warnings on) with
# no warning and real output, and the pages cannot drift from the code: every subcommand and flag
# of collector/cli, every flag of both daemons, every policy key and tunable, and every registered
# tuner must appear in its page. Usage: man_pages.sh MAN_BUILD_DIR (run from the source tree).
set -euo pipefail
dir=${1:?usage: man_pages.sh MAN_BUILD_DIR}
export LANG=C.UTF-8 LC_ALL=C.UTF-8 MANWIDTH=80
unset MANROFFOPT MANPAGER PAGER
failures=0
fail() {
  echo "FAIL: $*" >&2
  failures=$((failures + 1))
}
command -v man >/dev/null || { echo "FAIL: man (man-db) is not installed" >&2; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

tuners=$(grep -oE '^ *\{"[a-z_]+", &attach' collector/tuner_registry.cpp | grep -oE '[a-z_]+' | head -n 100 | grep -v '^attach$')
[ -n "$tuners" ] || fail "no tuner found in collector/tuner_registry.cpp"
pages="man8/bpftune.8 man8/bpftune-collector.8 man8/bpftune-actuator.8 man5/bpftune-policy.5 man7/bpftune-plugins.7"
for t in $tuners; do pages+=" man7/bpftune-$t.7"; done

# Rendering: as a reader sees it, warnings on; then without hyphenation for the content checks,
# with lines broken after a '-' joined again.
for page in $pages; do
  file=$dir/$page
  name=$(basename "$page")
  if [ ! -s "$file" ]; then
    fail "$page: missing or empty (built by the 'man' target)"
    continue
  fi
  if ! man --warnings=w -l "$file" >"$work/$name.out" 2>"$work/$name.err"; then
    fail "$page: man -l failed: $(head -c 500 "$work/$name.err")"
  fi
  if [ -s "$work/$name.err" ]; then
    fail "$page: warnings: $(head -c 1000 "$work/$name.err")"
  fi
  lines=$(grep -c '[^[:space:]]' "$work/$name.out" || true)
  if [ "$lines" -lt 15 ] || ! grep -q '^NAME' "$work/$name.out"; then
    fail "$page: rendered to $lines lines of text (no NAME section?)"
  fi
  if awk 'length($0) > 80 { bad = 1 } END { exit !bad }' "$work/$name.out"; then
    fail "$page: a rendered line is wider than 80 columns"
  fi
  MANROFFOPT=-rHY=0 man -l "$file" 2>/dev/null |
    sed -e ':a' -e '/-$/{N;s/-\n[[:space:]]*/-/;ba}' >"$work/$name.txt"
done

# has PAGE TOKEN: TOKEN appears in PAGE's text as a whole token.
has() {
  local escaped
  escaped=$(printf '%s' "$2" | sed 's/[.[\*^$]/\\&/g')
  grep -qE -- "(^|[^A-Za-z0-9_.-])${escaped}([^A-Za-z0-9_-]|$)" "$work/$1.txt" 2>/dev/null
}

# bpftune(8): each subcommand is an entry of COMMANDS, each flag is mentioned.
commands=$(grep -oE '\{"[a-z]+", Command::' collector/cli/options.cpp | grep -oE '"[a-z]+"' | tr -d '"')
[ "$(echo "$commands" | wc -w)" -ge 9 ] || fail "found only '$commands' in collector/cli/options.cpp"
for c in $commands; do
  grep -qE "^       (\\*)?$c( |,|\$)" "$work/bpftune.8.txt" ||
    fail "bpftune.8: subcommand '$c' has no entry under COMMANDS"
done
check_flags() {  # SOURCE PAGE
  local flags
  flags=$(grep -oE '"--[a-z][a-z-]*"' "$1" | tr -d '"' | sort -u)
  [ -n "$flags" ] || fail "no flags found in $1"
  for f in $flags; do
    has "$2" "$f" || fail "$2: flag $f (from $1) is not documented"
  done
}
check_flags collector/cli/options.cpp bpftune.8
check_flags collector/options.cpp bpftune-collector.8
check_flags actuator/options.cpp bpftune-actuator.8

# bpftune-policy(5): every key the parser knows, every tunable of the compiled-in table and of the
# shipped policy; every tunable is described by some tuner's page.
for key in $(grep -oE 'key == "[a-z]+"' policy/policy_file.cpp | grep -oE '"[a-z]+"' | tr -d '"'); do
  grep -qE "(^|[^a-z])$key=" "$work/bpftune-policy.5.txt" || fail "bpftune-policy.5: key $key= missing"
done
tunables=$(grep -oE 'TunableId::[A-Z0-9_]+, "[a-z0-9_.]+"' policy/tunable_table.cpp | grep -oE '"[^"]+"' | tr -d '"')
[ "$(echo "$tunables" | wc -w)" -ge 20 ] || fail "found too few tunables in policy/tunable_table.cpp"
tunables+=" $(sed -e 's/#.*//' policy/default.policy | awk 'NF { print $1 }')"
for t in $(echo "$tunables" | tr ' ' '\n' | sort -u); do
  has bpftune-policy.5 "$t" || fail "bpftune-policy.5: tunable $t missing"
  found=0
  for tuner in $tuners; do
    has "bpftune-$tuner.7" "$t" && found=1
  done
  [ $found = 1 ] || fail "tunable $t is in no tuner page (bpftune-*.7)"
done
# Every tuner page is named from bpftune(8).
for t in $tuners; do
  has bpftune.8 "bpftune-$t(7)" || has bpftune.8 "bpftune-$t" || fail "bpftune.8 does not refer to bpftune-$t(7)"
done

if [ $failures -gt 0 ]; then
  echo "lint_man_pages: $failures problem(s)" >&2
  exit 1
fi
echo "lint_man_pages: $(echo $pages | wc -w) pages render cleanly at 80 columns;" \
  "$(echo $commands | wc -w) subcommands, the daemons' flags, the policy's keys and" \
  "$(echo "$tunables" | tr ' ' '\n' | sort -u | grep -c .) tunables are documented"
