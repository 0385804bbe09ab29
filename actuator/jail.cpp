#include "jail.h"

#include <fcntl.h>
#include <linux/netlink.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstring>
#include <functional>
#include <string>

#include <cap-ng.h>

#include "journal_file.h"
#include "unique_fd.h"

namespace bpftune::actuator {
namespace {

// Found by strace-ing the serving loop under load (poll/accept4/recvmsg/sendto, journal
// write+fdatasync, sysctl openat/pread/pwrite, log write+getpid), admin rollback and
// --rollback-only. The privileged writer's round trip is sendto + recvmsg on its socketpair
// (already listed); no socket may be created here, so no netlink one. Allocator calls (brk, mmap
// family, futex) are kept for larger allocations; clock_gettime is normally vDSO but may fall
// back to the syscall.
constexpr int PLAIN_ALLOWED[] = {
    SCMP_SYS(write),        SCMP_SYS(pread64), SCMP_SYS(pwrite64),      SCMP_SYS(close),
    SCMP_SYS(fdatasync),    SCMP_SYS(poll),    SCMP_SYS(accept4),       SCMP_SYS(recvmsg),
    SCMP_SYS(sendto),       SCMP_SYS(brk),     SCMP_SYS(munmap),        SCMP_SYS(mremap),
    SCMP_SYS(madvise),      SCMP_SYS(futex),   SCMP_SYS(clock_gettime), SCMP_SYS(getpid),
    SCMP_SYS(rt_sigreturn), SCMP_SYS(exit),    SCMP_SYS(exit_group),    SCMP_SYS(restart_syscall),
};

// O_TMPFILE includes O_DIRECTORY; only its own bit means "create an unnamed file".
constexpr scmp_datum_t TMPFILE_BIT = O_TMPFILE & ~O_DIRECTORY;

Status rule(scmp_filter_ctx ctx, int syscall, unsigned count, const scmp_arg_cmp* args) {
  int rc = seccomp_rule_add_array(ctx, SCMP_ACT_ALLOW, syscall, count, args);
  if (rc != 0) {
    return makeError("seccomp_rule_add for syscall " + std::to_string(syscall), -rc);
  }
  return Ok{};
}

// The audit copy to journald (actuator/audit_sink.cpp): sd_journal_sendv is one sendmsg on the
// socket libsystemd made before the jail, and on no other descriptor (no SCM_RIGHTS elsewhere).
// When journald's queue refuses the datagram (ENOBUFS, EAGAIN, EMSGSIZE), libsystemd retries
// through a memfd: it reads its thread name (prctl PR_GET_NAME, measured with strace
// -e inject=sendmsg:error=ENOBUFS), then memfd_create, which fails here with EPERM, so the copy is
// lost (warned about, counted) instead of the actuator being killed.
Status addJournaldRules(scmp_filter_ctx ctx, int journaldFd) {
  const scmp_arg_cmp sendmsgArgs[] = {
      scmp_arg_cmp{0, SCMP_CMP_EQ, static_cast<scmp_datum_t>(journaldFd), 0}};
  const scmp_arg_cmp prctlArgs[] = {scmp_arg_cmp{0, SCMP_CMP_EQ, PR_GET_NAME, 0}};
  for (auto s :
       {rule(ctx, SCMP_SYS(sendmsg), 1, sendmsgArgs), rule(ctx, SCMP_SYS(prctl), 1, prctlArgs)}) {
    if (!s) {
      return s;
    }
  }
  int rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(memfd_create), 0);
  return rc == 0 ? Status(Ok{}) : Status(makeError("seccomp_rule_add memfd_create", -rc));
}

Status addRules(scmp_filter_ctx ctx, int sysnetFd, int journaldFd) {
  for (int syscall : PLAIN_ALLOWED) {
    if (auto s = rule(ctx, syscall, 0, nullptr); !s) {
      return s;
    }
  }
  // openat only below /proc/sys/net and never creating or truncating anything.
  const scmp_arg_cmp openatArgs[] = {
      scmp_arg_cmp{0, SCMP_CMP_EQ, static_cast<scmp_datum_t>(sysnetFd), 0},
      scmp_arg_cmp{2, SCMP_CMP_MASKED_EQ, O_CREAT | O_TRUNC | TMPFILE_BIT, 0},
  };
  // Only SO_PEERCRED of an accepted connection.
  const scmp_arg_cmp getsockoptArgs[] = {scmp_arg_cmp{1, SCMP_CMP_EQ, SOL_SOCKET, 0},
                                         scmp_arg_cmp{2, SCMP_CMP_EQ, SO_PEERCRED, 0}};
  // Anonymous memory for the allocator, never executable.
  const scmp_arg_cmp mmapArgs[] = {scmp_arg_cmp{2, SCMP_CMP_MASKED_EQ, PROT_EXEC, 0}};
  const scmp_arg_cmp mprotectArgs[] = {scmp_arg_cmp{2, SCMP_CMP_MASKED_EQ, PROT_EXEC, 0}};
  for (auto s : {rule(ctx, SCMP_SYS(openat), 2, openatArgs),
                 rule(ctx, SCMP_SYS(getsockopt), 2, getsockoptArgs),
                 rule(ctx, SCMP_SYS(mmap), 1, mmapArgs),
                 rule(ctx, SCMP_SYS(mprotect), 1, mprotectArgs)}) {
    if (!s) {
      return s;
    }
  }
  return journaldFd >= 0 ? addJournaldRules(ctx, journaldFd) : Status(Ok{});
}

// Measured by running the opener under strace against mounted and process-only namespaces,
// serving both its channels (poll).
constexpr int OPENER_ALLOWED[] = {
    SCMP_SYS(poll),         SCMP_SYS(read),    SCMP_SYS(write),         SCMP_SYS(close),
    SCMP_SYS(recvfrom),     SCMP_SYS(sendmsg), SCMP_SYS(getdents64),    SCMP_SYS(newfstatat),
    SCMP_SYS(fstat),        SCMP_SYS(brk),     SCMP_SYS(munmap),        SCMP_SYS(mremap),
    SCMP_SYS(madvise),      SCMP_SYS(futex),   SCMP_SYS(clock_gettime), SCMP_SYS(getpid),
    SCMP_SYS(rt_sigreturn), SCMP_SYS(exit),    SCMP_SYS(exit_group),    SCMP_SYS(restart_syscall),
    SCMP_SYS(lseek),
};

// NS_GET_ID (linux/nsfs.h, 6.11+): the only ioctl nsfs::netnsCookieOfFd issues.
constexpr scmp_datum_t NS_GET_ID_IOCTL = _IOR(0xb7, 13, uint64_t);

Status addOpenerRules(scmp_filter_ctx ctx) {
  for (int syscall : OPENER_ALLOWED) {
    if (auto s = rule(ctx, syscall, 0, nullptr); !s) {
      return s;
    }
  }
  const scmp_arg_cmp openatArgs[] = {
      scmp_arg_cmp{2, SCMP_CMP_MASKED_EQ, O_CREAT | O_TRUNC | TMPFILE_BIT, 0}};
  const scmp_arg_cmp setnsArgs[] = {scmp_arg_cmp{1, SCMP_CMP_EQ, CLONE_NEWNET, 0}};
  const scmp_arg_cmp ioctlArgs[] = {scmp_arg_cmp{1, SCMP_CMP_EQ, NS_GET_ID_IOCTL, 0}};
  const scmp_arg_cmp mmapArgs[] = {scmp_arg_cmp{2, SCMP_CMP_MASKED_EQ, PROT_EXEC, 0}};
  // The privileged writer's per-namespace rtnetlink socket, with strict checking, and no other.
  const scmp_arg_cmp socketArgs[] = {
      scmp_arg_cmp{0, SCMP_CMP_EQ, AF_NETLINK, 0},
      scmp_arg_cmp{1, SCMP_CMP_EQ, SOCK_RAW | SOCK_CLOEXEC, 0},
      scmp_arg_cmp{2, SCMP_CMP_EQ, NETLINK_ROUTE, 0},
  };
  const scmp_arg_cmp setsockoptArgs[] = {
      scmp_arg_cmp{1, SCMP_CMP_EQ, SOL_NETLINK, 0},
      scmp_arg_cmp{2, SCMP_CMP_EQ, NETLINK_GET_STRICT_CHK, 0},
  };
  for (auto s : {rule(ctx, SCMP_SYS(openat), 1, openatArgs),
                 rule(ctx, SCMP_SYS(setns), 1, setnsArgs),
                 rule(ctx, SCMP_SYS(ioctl), 1, ioctlArgs),
                 rule(ctx, SCMP_SYS(socket), 3, socketArgs),
                 rule(ctx, SCMP_SYS(setsockopt), 2, setsockoptArgs),
                 rule(ctx, SCMP_SYS(mmap), 1, mmapArgs),
                 rule(ctx, SCMP_SYS(mprotect), 1, mmapArgs)}) {
    if (!s) {
      return s;
    }
  }
  return Ok{};
}

// Measured by running the privileged writer under strace (requests, refusals, every op, the
// rtnetlink round trips): poll + recvfrom/sendto on its socketpair, one NETLINK_ROUTE socket per
// threshold write (socket, sendto, poll, recvmsg, close), pwrite64 of the flag, pread64 of the
// available congestion controls, sendto + recvmsg (SCM_RIGHTS) on the netns opener's channel for
// another namespace's rtnetlink socket, log lines.
constexpr int WRITER_ALLOWED[] = {
    SCMP_SYS(close),
    SCMP_SYS(recvfrom),
    SCMP_SYS(sendto),
    SCMP_SYS(recvmsg),
    SCMP_SYS(poll),
    SCMP_SYS(brk),
    SCMP_SYS(munmap),
    SCMP_SYS(mremap),
    SCMP_SYS(madvise),
    SCMP_SYS(futex),
    SCMP_SYS(clock_gettime),
    SCMP_SYS(getpid),
    SCMP_SYS(exit),
    SCMP_SYS(exit_group),
    SCMP_SYS(rt_sigreturn),
    SCMP_SYS(restart_syscall),
};

Status addWriterRules(scmp_filter_ctx ctx, int flagFd, int availableFd) {
  for (int syscall : WRITER_ALLOWED) {
    if (auto s = rule(ctx, syscall, 0, nullptr); !s) {
      return s;
    }
  }
  // RTM_SETNEIGHTBL: this one socket type and no other.
  const scmp_arg_cmp socketArgs[] = {
      scmp_arg_cmp{0, SCMP_CMP_EQ, AF_NETLINK, 0},
      scmp_arg_cmp{1, SCMP_CMP_EQ, SOCK_RAW | SOCK_CLOEXEC, 0},
      scmp_arg_cmp{2, SCMP_CMP_EQ, NETLINK_ROUTE, 0},
  };
  // Log lines only; the flag only through its own descriptor.
  const scmp_arg_cmp writeArgs[] = {scmp_arg_cmp{0, SCMP_CMP_EQ, STDERR_FILENO, 0}};
  const scmp_arg_cmp pwriteArgs[] = {
      scmp_arg_cmp{0, SCMP_CMP_EQ, static_cast<scmp_datum_t>(flagFd), 0}};
  const scmp_arg_cmp preadArgs[] = {
      scmp_arg_cmp{0, SCMP_CMP_EQ, static_cast<scmp_datum_t>(availableFd), 0}};
  const scmp_arg_cmp mmapArgs[] = {scmp_arg_cmp{2, SCMP_CMP_MASKED_EQ, PROT_EXEC, 0}};
  for (auto s : {rule(ctx, SCMP_SYS(socket), 3, socketArgs),
                 rule(ctx, SCMP_SYS(write), 1, writeArgs),
                 flagFd >= 0 ? rule(ctx, SCMP_SYS(pwrite64), 1, pwriteArgs) : Status(Ok{}),
                 availableFd >= 0 ? rule(ctx, SCMP_SYS(pread64), 1, preadArgs) : Status(Ok{}),
                 rule(ctx, SCMP_SYS(mmap), 1, mmapArgs),
                 rule(ctx, SCMP_SYS(mprotect), 1, mmapArgs)}) {
    if (!s) {
      return s;
    }
  }
  return Ok{};
}

// Measured by running the helpers daemon under strace through a handover, a refused peer and
// its helpers' exit.
constexpr int HELPERS_DAEMON_ALLOWED[] = {
    SCMP_SYS(poll),   SCMP_SYS(accept4),       SCMP_SYS(sendmsg),
    SCMP_SYS(close),  SCMP_SYS(wait4),         SCMP_SYS(kill),
    SCMP_SYS(write),  SCMP_SYS(getpid),        SCMP_SYS(brk),
    SCMP_SYS(munmap), SCMP_SYS(mremap),        SCMP_SYS(madvise),
    SCMP_SYS(futex),  SCMP_SYS(clock_gettime), SCMP_SYS(rt_sigreturn),
    SCMP_SYS(exit),   SCMP_SYS(exit_group),    SCMP_SYS(restart_syscall),
    SCMP_SYS(getuid),
};

Status addHelpersDaemonRules(scmp_filter_ctx ctx) {
  for (int syscall : HELPERS_DAEMON_ALLOWED) {
    if (auto s = rule(ctx, syscall, 0, nullptr); !s) {
      return s;
    }
  }
  const scmp_arg_cmp getsockoptArgs[] = {scmp_arg_cmp{1, SCMP_CMP_EQ, SOL_SOCKET, 0},
                                         scmp_arg_cmp{2, SCMP_CMP_EQ, SO_PEERCRED, 0}};
  const scmp_arg_cmp mmapArgs[] = {scmp_arg_cmp{2, SCMP_CMP_MASKED_EQ, PROT_EXEC, 0}};
  for (auto s : {rule(ctx, SCMP_SYS(getsockopt), 2, getsockoptArgs),
                 rule(ctx, SCMP_SYS(mmap), 1, mmapArgs),
                 rule(ctx, SCMP_SYS(mprotect), 1, mmapArgs)}) {
    if (!s) {
      return s;
    }
  }
  return Ok{};
}

Result<std::vector<uint8_t>> digestOf(scmp_filter_ctx ctx) {
  UniqueFd fd(::memfd_create("bpftune-seccomp", MFD_CLOEXEC));
  if (!fd.valid()) {
    return makeError("memfd_create", errno);
  }
  int rc = seccomp_export_bpf(ctx, fd.get());
  if (rc != 0) {
    return makeError("seccomp_export_bpf", -rc);
  }
  std::vector<uint8_t> program;
  uint8_t buf[4096];
  ssize_t n = 0;
  off_t offset = 0;
  while ((n = ::pread(fd.get(), buf, sizeof(buf), offset)) > 0) {
    program.insert(program.end(), buf, buf + n);
    offset += n;
  }
  if (n < 0) {
    return makeError("read exported seccomp program", errno);
  }
  auto hash = journal::sha256(program.data(), program.size());
  return std::vector<uint8_t>(hash.begin(), hash.end());
}

}  // namespace

Result<SeccompFilter> SeccompFilter::fromRules(const std::function<Status(scmp_filter_ctx)>& add) {
  scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_KILL_PROCESS);
  if (ctx == nullptr) {
    return makeError("seccomp_init failed");
  }
  SeccompFilter filter(ctx);
  int rc = seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS);
  if (rc != 0) {
    return makeError("seccomp_attr_set BADARCH", -rc);
  }
  if (auto s = add(ctx); !s) {
    return s.error();
  }
  auto digest = digestOf(ctx);
  if (!digest) {
    return digest.error();
  }
  filter.sha256 = std::move(*digest);
  return filter;
}

Result<SeccompFilter> SeccompFilter::build(int sysnetFd, int journaldFd) {
  return fromRules(
      [sysnetFd, journaldFd](scmp_filter_ctx ctx) { return addRules(ctx, sysnetFd, journaldFd); });
}

Result<SeccompFilter> SeccompFilter::buildOpener() {
  return fromRules(addOpenerRules);
}

Result<SeccompFilter> SeccompFilter::buildHelpersDaemon() {
  return fromRules(addHelpersDaemonRules);
}

Result<SeccompFilter> SeccompFilter::buildWriter(int flagFd, int availableFd) {
  return fromRules([flagFd, availableFd](scmp_filter_ctx ctx) {
    return addWriterRules(ctx, flagFd, availableFd);
  });
}

SeccompFilter::SeccompFilter(SeccompFilter&& other) noexcept
    : ctx(std::exchange(other.ctx, nullptr)), sha256(std::move(other.sha256)) {}

SeccompFilter::~SeccompFilter() {
  if (ctx != nullptr) {
    seccomp_release(ctx);
  }
}

Status SeccompFilter::exportPfc(int fd) const {
  int rc = seccomp_export_pfc(ctx, fd);
  return rc == 0 ? Status(Ok{}) : Status(makeError("seccomp_export_pfc", -rc));
}

Status SeccompFilter::load() {
  int rc = seccomp_load(ctx);
  return rc == 0 ? Status(Ok{}) : Status(makeError("seccomp_load", -rc));
}

Status dropPrivileges(std::optional<Identity> identity, const std::vector<int>& keep) {
  auto both = static_cast<capng_type_t>(CAPNG_EFFECTIVE | CAPNG_PERMITTED);
  capng_clear(CAPNG_SELECT_BOTH);
  if (identity) {
    for (int cap : keep) {
      capng_update(CAPNG_ADD, both, static_cast<unsigned>(cap));
    }
    int rc =
        capng_change_id(static_cast<int>(identity->uid),
                        static_cast<int>(identity->gid),
                        static_cast<capng_flags_t>(CAPNG_DROP_SUPP_GRP | CAPNG_CLEAR_BOUNDING));
    if (rc != 0) {
      return makeError("capng_change_id to uid " + std::to_string(identity->uid) + " failed (" +
                       std::to_string(rc) + ")");
    }
    return Ok{};
  }
  // A developer run without root: keep a capability only if we already have it; the bounding
  // set cannot be changed without CAP_SETPCAP.
  capng_get_caps_process();
  std::vector<int> held;
  for (int cap : keep) {
    if (capng_have_capability(CAPNG_PERMITTED, static_cast<unsigned>(cap)) != 0) {
      held.push_back(cap);
    }
  }
  capng_clear(CAPNG_SELECT_CAPS);
  for (int cap : held) {
    capng_update(CAPNG_ADD, both, static_cast<unsigned>(cap));
  }
  if (capng_apply(CAPNG_SELECT_CAPS) != 0) {
    return makeError("capng_apply failed");
  }
  return Ok{};
}

Status armParentDeathSignal(pid_t parent) {
  if (::prctl(PR_SET_PDEATHSIG, SIGKILL) != 0) {
    return makeError("prctl(PR_SET_PDEATHSIG)", errno);
  }
  if (::getppid() != parent) {
    return makeError("the actuator (pid " + std::to_string(parent) + ") is gone");
  }
  return Ok{};
}

}  // namespace bpftune::actuator
