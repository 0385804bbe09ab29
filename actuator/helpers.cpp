#include "helpers.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstring>
#include <optional>
#include <thread>
#include <vector>

#include "fd_passing.h"
#include "jail.h"
#include "log.h"
#include "server.h"
#include "setup.h"

namespace bpftune::actuator {
namespace {

constexpr size_t HANDOVER_FDS = 2;  // opener channel, writer channel

Status sendHandover(int sock, const HelperHandover& handover, int openerFd, int writerFd) {
  if (sendWithFds(sock, &handover, sizeof(handover), {openerFd, writerFd}) !=
      static_cast<ssize_t>(sizeof(handover))) {
    return makeError("send the helpers' channels", errno);
  }
  return Ok{};
}

Result<uid_t> peerUid(int sock) {
  ucred cred{};
  socklen_t len = sizeof(cred);
  if (::getsockopt(sock, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) {
    return makeError("SO_PEERCRED", errno);
  }
  return cred.uid;
}

// Both helpers gone (0), or one of them before the handover (1, the other one killed).
int reapHelpers(pid_t opener, pid_t writer, bool handedOver, const volatile sig_atomic_t* stop) {
  int alive = 2;
  while (alive > 0) {
    int status = 0;
    pid_t pid = ::waitpid(-1, &status, handedOver ? 0 : WNOHANG);
    if (pid < 0 && errno == EINTR) {
      if (*stop != 0) {
        return 0;  // the helpers die with us (PDEATHSIG)
      }
      continue;
    }
    if (pid <= 0) {
      return -1;  // still running, nothing handed over yet
    }
    if (pid != opener && pid != writer) {
      continue;
    }
    --alive;
    if (!handedOver) {
      log::error(std::string(pid == opener ? "netns opener" : "privileged writer") +
                 " exited before an actuator connected (status " + std::to_string(status) + ")");
      ::kill(pid == opener ? writer : opener, SIGKILL);
      return 1;
    }
  }
  log::info("both helpers exited (their actuator is gone); exiting for the next one");
  return 0;
}

// Accepts until a peer with our uid connects, then hands the channels over.
Status handOver(int listenFd,
                NetnsOpener& opener,
                PrivWriter& writer,
                const volatile sig_atomic_t* stop) {
  const uid_t self = ::getuid();
  while (*stop == 0) {
    pollfd pfd{listenFd, POLLIN, 0};
    int ready = ::poll(&pfd, 1, 1000);
    if (ready < 0 && errno != EINTR) {
      return makeError("poll", errno);
    }
    if (reapHelpers(opener.pid(), writer.pid(), false, stop) == 1) {
      return makeError("a helper died before the handover");
    }
    if (ready <= 0) {
      continue;
    }
    UniqueFd conn(::accept4(listenFd, nullptr, nullptr, SOCK_CLOEXEC));
    if (!conn.valid()) {
      continue;
    }
    auto uid = peerUid(conn.get());
    if (!uid || *uid != self) {
      log::warning("helpers socket: peer refused (uid " +
                   (uid ? std::to_string(*uid) : std::string("unknown")) + ", only uid " +
                   std::to_string(self) + " may take the helpers)");
      continue;
    }
    HelperHandover handover{opener.pid(), writer.pid()};
    UniqueFd openerEnd = opener.takeChannel();
    UniqueFd writerEnd = writer.takeChannel();
    if (auto sent = sendHandover(conn.get(), handover, openerEnd.get(), writerEnd.get()); !sent) {
      return sent.error();  // our copies close: the helpers exit, so does this daemon
    }
    log::info("helpers handed to the actuator (uid " + std::to_string(self) + ")");
    return Ok{};
  }
  return makeError("stopped before an actuator connected", EINTR);
}

}  // namespace

Result<AdoptedHelpers> spawnHelpers(std::optional<Identity> identity) {
  // The opener first, so it inherits no descriptor but its own channels.
  auto opener = NetnsOpener::spawn(identity);
  if (!opener) {
    return opener.error();
  }
  // It closes everything it inherits but its channel to the opener, which the caller drops here.
  auto writer = PrivWriter::spawn(identity, opener->takeWriterChannel());
  if (!writer) {
    return writer.error();
  }
  return AdoptedHelpers{std::move(*opener), std::move(*writer)};
}

int serveHelpers(const Options& options, const volatile sig_atomic_t* stop) {
  std::optional<Identity> identity;
  if (::geteuid() == 0) {
    auto self = lookupUser(options.user);
    if (!self) {
      log::error(describe(self.error()));
      return 1;
    }
    identity = Identity{self->uid, self->gid};
  }
  auto helpers = spawnHelpers(identity);
  if (!helpers) {
    log::error(describe(helpers.error()));
    return 1;
  }
  log::info("netns opener pid " + std::to_string(helpers->opener.pid()) +
            ", privileged writer pid " + std::to_string(helpers->writer.pid()));
  // This process keeps no capability: it only accepts one peer and passes two descriptors on.
  Status ready = dropPrivileges(identity, {});
  if (ready) {
    ready = ensureParent(options.helpersSocket, 0700, std::nullopt);
  }
  std::optional<UniqueFd> listenFd;
  if (ready) {
    auto bound = listenSeqpacket({options.helpersSocket, ::getuid(), ::getgid(), 0600});
    ready = bound ? Status(Ok{}) : Status(bound.error());
    if (bound) {
      listenFd.emplace(std::move(*bound));
    }
  }
  if (ready) {
    auto filter = SeccompFilter::buildHelpersDaemon();
    ready = filter ? filter->load() : Status(filter.error());
  }
  if (ready) {
    log::info("helpers waiting for the actuator on " + options.helpersSocket);
    ready = handOver(listenFd->get(), helpers->opener, helpers->writer, stop);
  }
  if (!ready) {
    if (*stop != 0) {
      return 0;
    }
    log::error(describe(ready.error()));
    return 1;
  }
  listenFd.reset();
  return reapHelpers(helpers->opener.pid(), helpers->writer.pid(), true, stop);
}

Result<AdoptedHelpers> adoptHelpers(const std::string& socketPath, int waitMs) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (socketPath.size() >= sizeof(addr.sun_path)) {
    return makeError("helpers socket path too long: " + socketPath);
  }
  std::memcpy(addr.sun_path, socketPath.c_str(), socketPath.size() + 1);
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(waitMs);
  UniqueFd sock;
  for (;;) {
    sock.reset(::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0));
    if (!sock.valid()) {
      return makeError("socket", errno);
    }
    if (::connect(sock.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0) {
      break;
    }
    // The helpers unit starts beside this one; its socket may not be there yet.
    bool notYet = errno == ENOENT || errno == ECONNREFUSED;
    if (!notYet || std::chrono::steady_clock::now() >= deadline) {
      return makeError("connect to the helpers at " + socketPath +
                           " (is bpftune-helpers.service running?)",
                       errno);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  auto uid = peerUid(sock.get());
  if (!uid) {
    return uid.error();
  }
  if (*uid != ::getuid()) {
    return makeError("helpers socket " + socketPath + " is served by uid " + std::to_string(*uid) +
                     ", not by ours (" + std::to_string(::getuid()) + ")");
  }
  timeval timeout{5, 0};
  ::setsockopt(sock.get(), SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
  HelperHandover handover;
  std::vector<UniqueFd> fds;
  Received got = receiveWithFds(sock.get(), &handover, sizeof(handover), HANDOVER_FDS, fds);
  ssize_t n = got.bytes;
  if (n < 0) {
    return makeError("receive the helpers' channels from " + socketPath, errno);
  }
  if (n != static_cast<ssize_t>(sizeof(handover)) || fds.size() != HANDOVER_FDS ||
      got.controlTruncated) {
    return makeError("helpers at " + socketPath + " sent a malformed handover (" +
                         std::to_string(n) + " bytes, " + std::to_string(fds.size()) +
                         " descriptors)",
                     EPROTO);
  }
  return AdoptedHelpers{NetnsOpener::adopt(std::move(fds[0]), handover.openerPid),
                        PrivWriter::adopt(std::move(fds[1]), handover.writerPid)};
}

}  // namespace bpftune::actuator
