#!/usr/bin/env bash
# Quick start. Installs what the project needs (Debian 12), builds, then either runs the daemon
# pair in the foreground or runs the whole test suite.
#   sudo ./quickstart.sh run  [bpftune run options]
#   sudo ./quickstart.sh test [ctest options]
#   sudo ./quickstart.sh package   build the .debs, lintian, install, start, purge (tests/package)
#   ./quickstart.sh fuzz           clang libFuzzer build (build-fuzz/), 5 s per target from its seeds
set -euo pipefail
cd "$(dirname "$0")"

PACKAGES=(cmake make g++ clang llvm libclang-rt-14-dev pkg-config bpftool libbpf-dev libelf-dev
  zlib1g-dev capnproto libcapnp-dev libssl-dev libseccomp-dev seccomp libsystemd-dev libcap-ng-dev
  libnl-3-dev
  libnl-route-3-dev libgtest-dev nlohmann-json3-dev clang-format iperf3 iproute2 iputils-ping python3 procps
  passwd util-linux systemd scdoc man-db
  selinux-policy-dev selinux-policy-default checkpolicy semodule-utils setools)

# What dpkg-buildpackage and lintian need beyond PACKAGES (debian/control's Build-Depends are
# in PACKAGES already; debhelper 13.11 provides dh-sequence-installsysusers).
PACKAGING_PACKAGES=(debhelper dpkg-dev fakeroot lintian)

install_packages() {
  local missing=()
  for p in "${PACKAGES[@]}" "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ "$(id -u)" != 0 ]; then
    echo "quickstart: missing packages (${missing[*]}); run as root to install them" >&2
    exit 1
  fi
  echo "quickstart: installing ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
}

build() {
  # The CLI's fallback policy is the tree's own until the package installs one.
  cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DBPFTUNE_SHIPPED_POLICY="$PWD/policy/default.policy" >/dev/null
  cmake --build build -j"$(nproc)"
}

case "${1:-}" in
  run)
    shift
    install_packages
    build
    exec build/bpftune run "$@"
    ;;
  test)
    shift
    install_packages
    build
    cd build
    # Integration tests run one at a time (resource lock "kernel"); lint and unit tests beside them.
    exec ctest --output-on-failure --parallel "$(nproc)" "$@"
    ;;
  package)
    shift
    install_packages "${PACKAGING_PACKAGES[@]}"
    exec bash tests/package/deb_test.sh "$@"
    ;;
  fuzz)
    shift
    install_packages
    # A build of its own (clang, sanitizers) beside build/; label fuzz (docs/RELIABILITY.md).
    fuzz/run.sh build
    cd build-fuzz
    exec ctest --output-on-failure -L fuzz "$@"
    ;;
  *)
    echo "usage: $0 run|test|package|fuzz [options]" >&2
    exit 2
    ;;
esac
