// The actuator's jail: only CAP_NET_ADMIN, user bpftune, and a seccomp filter whose default is
// KILL_PROCESS. Build the filter while still unconfined (libseccomp probes the kernel and the
// digest goes into the journal's start record), load it last.
#pragma once

#include <linux/capability.h>
#include <seccomp.h>
#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <optional>
#include <vector>

#include "result.h"

namespace bpftune::actuator {

class SeccompFilter {
public:
  // sysnetFd: the only directory openat may be relative to. journaldFd: libsystemd's journal
  // socket, the only descriptor sendmsg may use (-1: no journald, no sendmsg).
  static Result<SeccompFilter> build(int sysnetFd, int journaldFd = -1);
  // The netns opener's filter: find (mountinfo, /proc, NS_GET_ID), setns into network
  // namespaces only, open without creating, create NETLINK_ROUTE sockets (strict checking) for
  // the privileged writer, talk over its two socketpairs.
  static Result<SeccompFilter> buildOpener();
  // The privileged writer's filter: its socketpairs, one NETLINK_ROUTE socket type, pwrite64 on
  // flagFd alone, pread64 on availableFd alone (-1: none), write to stderr alone.
  static Result<SeccompFilter> buildWriter(int flagFd, int availableFd = -1);
  // The helpers daemon's filter once its helpers run: accept one peer (SO_PEERCRED), pass two
  // descriptors, reap the helpers, log.
  static Result<SeccompFilter> buildHelpersDaemon();
  SeccompFilter(SeccompFilter&& other) noexcept;
  SeccompFilter& operator=(SeccompFilter&&) = delete;
  SeccompFilter(const SeccompFilter&) = delete;
  SeccompFilter& operator=(const SeccompFilter&) = delete;
  ~SeccompFilter();

  const std::vector<uint8_t>& digest() const { return sha256; }  // of the exported BPF program
  Status exportPfc(int fd) const;
  Status load();

private:
  explicit SeccompFilter(scmp_filter_ctx ctx) : ctx(ctx) {}
  // KILL_PROCESS by default and for a foreign architecture, the rules `add` allows, digest.
  static Result<SeccompFilter> fromRules(const std::function<Status(scmp_filter_ctx)>& add);
  scmp_filter_ctx ctx;
  std::vector<uint8_t> sha256;
};

struct Identity {
  uid_t uid;
  gid_t gid;
};

// Keeps only `keep` (effective and permitted; the actuator: CAP_NET_ADMIN) and clears the
// bounding set. With an identity (started as root) also switches uid/gid and drops
// supplementary groups.
Status dropPrivileges(std::optional<Identity> identity,
                      const std::vector<int>& keep = {CAP_NET_ADMIN});

// A helper child (netns opener, privileged writer) dies with the actuator: SIGKILL on the
// parent's death. The kernel clears that setting when the euid changes, so a helper arms it
// again after dropPrivileges; an error when `parent` is no longer the parent (it died before).
Status armParentDeathSignal(pid_t parent);

}  // namespace bpftune::actuator
