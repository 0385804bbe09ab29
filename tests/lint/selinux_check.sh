#!/usr/bin/env bash
# SELinux module check (offline: SELinux need not be enabled).
#   selinux_check.sh SOURCE_DIR base   compile selinux/bpftune.{te,if,fc}, link it with Debian's
#                                      base.pp and expand (this is where neverallows are checked);
#                                      then the negative test: a copy whose collector may write
#                                      sysctl_net_t must FAIL the same check, naming that rule.
#   selinux_check.sh SOURCE_DIR full   link with base.pp and all modules of selinux-policy-default
#                                      (every rule of the distribution's policy against the
#                                      neverallows), expand.
# Exit 77 (skip, a failure under CI=true) when the tooling is missing.
set -uo pipefail

SOURCE_DIR=$1
MODE=${2:-base}
DEVEL_MAKEFILE=/usr/share/selinux/devel/Makefile
POLICY_DIR=/usr/share/selinux/default

fail() {
  echo "FAIL: $*" >&2
  exit 1
}

skip() {
  if [ "${CI:-}" = "true" ]; then
    fail "would skip under CI: $*"
  fi
  echo "SKIP: $*"
  exit 77
}

[ -r "$DEVEL_MAKEFILE" ] || skip "no $DEVEL_MAKEFILE (apt-get install selinux-policy-dev)"
[ -r "$POLICY_DIR/base.pp.bz2" ] || skip "no $POLICY_DIR/base.pp.bz2 (apt-get install selinux-policy-default)"
for tool in checkmodule semodule_link semodule_expand semodule_package bzcat; do
  command -v "$tool" >/dev/null || skip "missing tool: $tool (checkpolicy, semodule-utils)"
done

WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
bzcat "$POLICY_DIR/base.pp.bz2" >"$WORK/base.pp" || fail "cannot unpack base.pp"

# compile DIR: builds DIR/bpftune.pp with the refpolicy devel Makefile; prints its output.
compile() {
  (cd "$1" && make -s -f "$DEVEL_MAKEFILE" bpftune.pp 2>&1) && [ -s "$1/bpftune.pp" ]
}

# link_expand DIR MODULES...: link base.pp, MODULES and DIR/bpftune.pp, expand to a kernel
# policy. Prints libsepol's messages; fails on any neverallow violation.
link_expand() {
  local dir=$1
  shift
  semodule_link -o "$dir/linked.lnk" "$WORK/base.pp" "$@" "$dir/bpftune.pp" >/dev/null 2>"$dir/link.log" ||
    { cat "$dir/link.log"; return 1; }
  semodule_expand "$dir/linked.lnk" "$dir/policy.bin" 2>&1
}

mkdir "$WORK/good"
cp "$SOURCE_DIR"/selinux/bpftune.te "$SOURCE_DIR"/selinux/bpftune.if "$SOURCE_DIR"/selinux/bpftune.fc "$WORK/good/"
out=$(compile "$WORK/good") || fail "the module does not compile:
$out"

if [ "$MODE" = full ]; then
  mkdir "$WORK/modules"
  n=0
  for pp in "$POLICY_DIR"/*.pp.bz2; do
    name=$(basename "$pp" .bz2)
    [ "$name" = base.pp ] && continue
    bzcat "$pp" >"$WORK/modules/$name" || fail "cannot unpack $pp"
    n=$((n + 1))
  done
  out=$(link_expand "$WORK/good" "$WORK"/modules/*.pp) ||
    fail "the module violates its neverallows against base + $n modules:
$out"
  echo "ok: bpftune.pp links and expands with base.pp + $n modules of $POLICY_DIR, neverallows hold"
  exit 0
fi

out=$(link_expand "$WORK/good") || fail "the module violates its neverallows against base.pp:
$out"
echo "ok: bpftune.pp compiles, links and expands with base.pp, neverallows hold"

# The rules the module grants, read back from the expanded policy when setools is there.
if command -v sesearch >/dev/null; then
  collector_sysctl=$(sesearch -A -s bpftune_collector_t -t sysctl_net_t -c file "$WORK/good/policy.bin")
  echo "$collector_sysctl"
  echo "$collector_sysctl" | grep -q -E '\b(write|append)\b' && fail "the collector may write sysctl_net_t"
  actuator_journal=$(sesearch -A -s bpftune_actuator_t -t bpftune_journal_t -c file "$WORK/good/policy.bin")
  echo "$actuator_journal"
  echo "$actuator_journal" | grep -q append || fail "the actuator cannot append to its journal"
  echo "$actuator_journal" | grep -q -E '\bwrite\b' && fail "the actuator may overwrite its journal"
fi

# Negative test: the same module with one bad rule must fail the check, naming that rule.
mkdir "$WORK/bad"
cp "$WORK/good/bpftune.te" "$WORK/good/bpftune.if" "$WORK/good/bpftune.fc" "$WORK/bad/"
printf '\n# deliberately bad: the collector writes net sysctls\nkernel_rw_net_sysctls(bpftune_collector_t)\n' >>"$WORK/bad/bpftune.te"
out=$(compile "$WORK/bad") || fail "the bad copy does not even compile (the negative test must fail on the neverallow):
$out"
if out=$(link_expand "$WORK/bad"); then
  fail "a module whose collector writes sysctl_net_t passed the neverallow check"
fi
echo "$out"
expected='neverallow violated by allow bpftune_collector_t sysctl_net_t:file'
echo "$out" | grep -q -F "$expected" || fail "the bad copy failed, but not with: $expected"
echo "ok: the bad copy (kernel_rw_net_sysctls(bpftune_collector_t)) is refused: $expected"
