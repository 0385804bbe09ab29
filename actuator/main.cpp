// bpftune-actuator: the only process that writes sysctls. Runs as `bpftune` with CAP_NET_ADMIN
// alone under a KILL_PROCESS seccomp filter, and answers typed requests from the collector. Two
// helpers forked before the jail do what CAP_NET_ADMIN alone cannot: the netns opener (other
// namespaces' sysctl files, and rtnetlink sockets for the writer) and the privileged writer
// (neighbour thresholds over rtnetlink, the high_order_alloc_disable static key, bpftune's host
// routes in any namespace).
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <exception>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include <kj/exception.h>

#include "audit_sink.h"
#include "engine.h"
#include "helpers.h"
#include "jail.h"
#include "log.h"
#include "neigh_table_io.h"
#include "netns_opener.h"
#include "netns_sysctls.h"
#include "options.h"
#include "priv_writer.h"
#include "server.h"
#include "setup.h"
#include "sysctl_io.h"

namespace bpftune::actuator {
namespace {

// Set from the signal handler, so it has to be a global volatile sig_atomic_t.
// NOLINTNEXTLINE(cppcoreguidelines-avoid-non-const-global-variables)
volatile sig_atomic_t stopRequested = 0;

void onStopSignal(int /*signal*/) {
  stopRequested = 1;
}

void installSignals() {
  struct sigaction sa {};
  sa.sa_handler = onStopSignal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = 0;  // no SA_RESTART: poll() returns EINTR and the loop sees the flag
  sigaction(SIGTERM, &sa, nullptr);
  sigaction(SIGINT, &sa, nullptr);
  signal(SIGPIPE, SIG_IGN);
}

// How long the actuator waits for the helpers daemon's socket (both units start together).
constexpr int HELPERS_WAIT_MS = 10000;

uint32_t ownNetnsInode() {
  struct stat st {};
  return ::stat("/proc/self/ns/net", &st) == 0 ? static_cast<uint32_t>(st.st_ino) : 0;
}

template <typename T>
T orDie(Result<T> result) {
  if (!result) {
    throw std::runtime_error(describe(result.error()));
  }
  return std::move(*result);
}

void check(const Status& status) {
  if (!status) {
    throw std::runtime_error(describe(status.error()));
  }
}

void jail(SeccompFilter& filter, bool root, const Account& self, bool adopted) {
  std::optional<Identity> identity;
  if (root) {
    identity = Identity{self.uid, self.gid};
  } else if (adopted) {
    log::info("started as uid " + std::to_string(getuid()) +
              " by the service manager; helpers from bpftune-helpers");
  } else {
    log::warning("not started as root: keeping the current user; still dropping capabilities and "
                 "loading the seccomp filter");
  }
  check(dropPrivileges(identity));
  uid_t uid = getuid();
  check(filter.load());
  log::info("jailed: uid " + std::to_string(uid) + ", CAP_NET_ADMIN only, seccomp KILL_PROCESS");
}

int printFilter(const Options& options, int sysnetFd) {
  auto filter = orDie(SeccompFilter::build(sysnetFd));
  UniqueFd out(::open(
      options.printFilter.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644));
  if (!out.valid()) {
    throw std::runtime_error("open " + options.printFilter);
  }
  check(filter.exportPfc(out.get()));
  return 0;
}

void logHelpers(const NetnsOpener& opener, const PrivWriter& privWriter) {
  log::info("netns opener running as pid " + std::to_string(opener.pid()) +
            " (CAP_SYS_ADMIN, CAP_SYS_PTRACE, CAP_NET_ADMIN, seccomp KILL_PROCESS)");
  log::info("privileged writer running as pid " + std::to_string(privWriter.pid()) +
            " (CAP_NET_ADMIN, CAP_SYS_ADMIN, seccomp KILL_PROCESS; rtnetlink sockets of other "
            "namespaces from the opener)");
}

void setAdvise(Engine& engine, bool advise) {
  engine.setAdvise(advise);
  if (advise) {
    log::notice("advice mode: valid requests are journaled as proposals and nothing is written; "
                "`bpftune advice` lists them, `bpftune apply ID` applies one");
  }
}

int rollbackOnly(Engine& engine, SeccompFilter& filter, const Account& self, bool adopted) {
  Peer admin{getuid(), getpid()};
  jail(filter, geteuid() == 0, self, adopted);
  Answer answer = engine.rollbackAll(admin);
  std::string text = answer.reason + "\n";
  ssize_t ignored = ::write(STDOUT_FILENO, text.data(), text.size());
  (void)ignored;
  return answer.status == proto::Status::OK ? 0 : 1;
}

// Binds both sockets, jails itself, serves until a stop signal.
int serve(const Options& options,
          Engine& engine,
          SeccompFilter& filter,
          const Account& self,
          const Account& collector,
          uint64_t cookie) {
  bool root = geteuid() == 0;
  uid_t sockOwner = root ? 0 : getuid();
  check(ensureParent(options.socketPath, 0755, std::nullopt));
  check(ensureParent(options.adminSocketPath, 0755, std::nullopt));
  // Collector socket: the actuator's owner (root when started as root), group = the collector's
  // primary group, 0660. The filesystem already keeps everyone else out; SO_PEERCRED then checks
  // the exact uid.
  UniqueFd collectorSock =
      orDie(listenSeqpacket({options.socketPath, sockOwner, collector.gid, 0660}));
  UniqueFd adminSock =
      orDie(listenSeqpacket({options.adminSocketPath, sockOwner, root ? 0 : getgid(), 0600}));
  jail(filter, root, self, !options.helpersSocket.empty());
  log::info("serving: collector socket " + options.socketPath + " (uid " +
            std::to_string(collector.uid) + "), admin socket " + options.adminSocketPath +
            ", netns cookie " + std::to_string(cookie));
  Server server(std::move(collectorSock), std::move(adminSock), collector.uid, engine);
  server.run(&stopRequested);
  return 0;
}

int runActuator(const Options& options) {
  bool root = geteuid() == 0;
  Account self = root ? orDie(lookupUser(options.user)) : Account{getuid(), getgid()};
  Account collector = orDie(lookupUser(options.collectorUser));
  if (!options.printFilter.empty()) {
    UniqueFd sysnet = orDie(openSysnet());
    return printFilter(options, sysnet.get());
  }
  // Root: fork the helpers here. Otherwise (a unit, User=bpftune) take them from the helpers
  // daemon; a developer run without either gets what the current user can do.
  std::optional<Identity> identity;
  if (root) {
    identity = Identity{self.uid, self.gid};
  }
  AdoptedHelpers helpers = options.helpersSocket.empty()
                               ? orDie(spawnHelpers(identity))
                               : orDie(adoptHelpers(options.helpersSocket, HELPERS_WAIT_MS));
  NetnsOpener& opener = helpers.opener;
  PrivWriter& privWriter = helpers.writer;
  WriterNeighTables neighTables(privWriter);
  WriterStaticKeys staticKeys(privWriter);
  WriterHostRoutes hostRoutes(privWriter);
  CachedNetnsSysctls foreign(opener);
  UniqueFd sysnet = orDie(openSysnet());
  policy::Policy policy = orDie(policy::loadPolicyFile(options.policyPath));
  // The journal and its directory stay root's: the jailed actuator appends through the fd it
  // opened here, and nothing running as its user can rewrite or replace the file.
  check(ensureParent(
      options.journalPath, 0700, root ? std::optional<Account>(Account{0, 0}) : std::nullopt));
  journal::Writer journal = orDie(journal::Writer::open(options.journalPath));
  // Before the filter: it admits sendmsg on journald's socket, made here, and nothing else new.
  AuditSink audit = AuditSink::open(options.journalPath);
  journal.setMirror([&audit](const journal::StoredRecord& stored) { audit.emit(stored); });
  journal::BootId bootId = orDie(journal::readBootId());
  uint64_t cookie = orDie(ownNetnsCookie());
  SeccompFilter filter = orDie(SeccompFilter::build(sysnet.get(), audit.journaldFd()));
  Engine engine(policy,
                journal,
                sysnet.get(),
                cookie,
                bootId,
                ownNetnsInode(),
                Backends{&foreign, &neighTables, &staticKeys, &hostRoutes});
  logHelpers(opener, privWriter);
  engine.setOwnUid(self.uid);
  setAdvise(engine, options.advise);
  engine.recordStart(filter.digest());
  engine.recover();
  if (options.rollbackOnly) {
    return rollbackOnly(engine, filter, self, !options.helpersSocket.empty());
  }
  return serve(options, engine, filter, self, collector, cookie);
}

}  // namespace
}  // namespace bpftune::actuator

int main(int argc, char** argv) {
  using namespace bpftune;  // NOLINT(google-build-using-namespace)
  log::setPrefix("actuator");
  std::string problem;
  auto options = actuator::parseOptions(std::vector<std::string>(argv + 1, argv + argc), problem);
  if (!options) {
    std::fputs(("bpftune-actuator: " + problem + "\n").c_str(), stderr);
    std::fputs(actuator::usageText(), stderr);
    return 2;
  }
  if (options->help) {
    std::fputs(actuator::usageText(), stdout);
    return 0;
  }
  ::umask(077);
  actuator::installSignals();
  try {
    if (options->serveHelpers) {
      log::setPrefix("helpers");
      return actuator::serveHelpers(*options, &actuator::stopRequested);
    }
    return actuator::runActuator(*options);
  } catch (const std::exception& e) {
    log::error(e.what());
  } catch (const kj::Exception& e) {
    log::error(log::sanitize(e.getDescription().cStr()));
  }
  return 1;
}
