#include "netns_opener.h"

#include <fcntl.h>
#include <linux/netlink.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <bit>
#include <cerrno>
#include <cstring>
#include <stdexcept>

#include "fd_passing.h"
#include "log.h"
#include "netns_index.h"

namespace bpftune::actuator {
namespace {

constexpr size_t MAX_FDS = MAX_PASSED_FDS;  // one per per-netns tunable (OpenerReply::present)

Status sendReply(int sock, const OpenerReply& reply, const std::vector<UniqueFd>& fds) {
  std::vector<int> raw;
  raw.reserve(fds.size());
  for (const auto& fd : fds) {
    raw.push_back(fd.get());
  }
  if (sendWithFds(sock, &reply, sizeof(reply), raw) != static_cast<ssize_t>(sizeof(reply))) {
    return makeError("sendmsg", errno);
  }
  return Ok{};
}

// Inside the target namespace: open every per-netns tunable for reading and writing. A file the
// namespace does not have (ENOENT: IPv6 disabled there) is left out and its bit stays clear.
Result<std::vector<UniqueFd>> openTunablesHere(uint32_t& present) {
  std::vector<UniqueFd> fds;
  present = 0;
  const auto& tunables = perNetnsTunables();
  for (size_t i = 0; i < tunables.size(); ++i) {
    std::string path = "/proc/sys/net/" + std::string(tunables[i]->procPath);
    UniqueFd fd(::open(path.c_str(), O_RDWR | O_CLOEXEC | O_NOFOLLOW));
    if (!fd.valid()) {
      if (errno == ENOENT) {
        continue;
      }
      return makeError("open " + std::string(tunables[i]->name), errno);
    }
    present |= 1U << i;
    fds.push_back(std::move(fd));
  }
  return fds;
}

// Inside the target namespace: one NETLINK_ROUTE socket for the privileged writer, with strict
// checking so that its dumps are filtered by the kernel (table, protocol).
Result<std::vector<UniqueFd>> openRtnlHere(uint32_t& present) {
  present = 0;
  UniqueFd fd(::socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE));
  if (!fd.valid()) {
    return makeError("socket(AF_NETLINK, NETLINK_ROUTE)", errno);
  }
  int on = 1;
  if (::setsockopt(fd.get(), SOL_NETLINK, NETLINK_GET_STRICT_CHK, &on, sizeof(on)) != 0) {
    return makeError("setsockopt(NETLINK_GET_STRICT_CHK)", errno);
  }
  std::vector<UniqueFd> fds;
  fds.push_back(std::move(fd));
  return fds;
}

using OpenHere = Result<std::vector<UniqueFd>> (*)(uint32_t& present);

// One request: find, enter, open, come back. Never returns while in a foreign namespace.
void serveOne(int sock, int homeNetFd, NetnsIndex& index, uint64_t cookie, OpenHere openHere) {
  OpenerReply reply;
  std::vector<UniqueFd> fds;
  auto netns = index.open(cookie);
  if (!netns) {
    reply.error = netns.error().errnum != 0 ? netns.error().errnum : EIO;
  } else if (::setns(netns->fd.get(), CLONE_NEWNET) != 0) {
    reply.error = errno;
  } else {
    auto opened = openHere(reply.present);
    if (::setns(homeNetFd, CLONE_NEWNET) != 0) {
      log::error("netns opener: cannot return to its own namespace; exiting");
      ::_exit(1);
    }
    if (opened) {
      fds = std::move(*opened);
      reply.inode = netns->inode;
      reply.count = static_cast<uint32_t>(fds.size());
    } else {
      reply.error = opened.error().errnum != 0 ? opened.error().errnum : EIO;
    }
  }
  if (!sendReply(sock, reply, fds)) {
    ::_exit(0);  // the actuator is gone
  }
}

// One cookie from `sock`; nullopt when the peer closed its end (or the read failed).
std::optional<uint64_t> readCookie(int sock) {
  OpenerRequest request;
  ssize_t n = -1;
  do {
    n = ::recv(sock, &request, sizeof(request), MSG_TRUNC);
  } while (n < 0 && errno == EINTR);
  if (n <= 0) {
    return std::nullopt;
  }
  if (n != static_cast<ssize_t>(sizeof(request))) {
    log::error("netns opener: malformed request of " + std::to_string(n) + " bytes; exiting");
    ::_exit(1);
  }
  return request.cookie;
}

// The actuator's channel gets sysctl files; the writer's channel (its end only in the writer)
// gets rtnetlink sockets. The opener lives as long as the actuator's channel.
[[noreturn]] void serveChannels(int actuatorSock, int writerSock, int homeNetFd) {
  NetnsIndex index;
  std::array<pollfd, 2> fds{pollfd{actuatorSock, POLLIN, 0}, pollfd{writerSock, POLLIN, 0}};
  for (;;) {
    if (::poll(fds.data(), fds.size(), -1) < 0) {
      if (errno == EINTR) {
        continue;
      }
      ::_exit(1);
    }
    if (fds[0].revents != 0) {
      auto cookie = readCookie(actuatorSock);
      if (!cookie) {
        ::_exit(0);  // the actuator closed its end
      }
      serveOne(actuatorSock, homeNetFd, index, *cookie, openTunablesHere);
    }
    if (fds[1].revents != 0) {
      auto cookie = readCookie(writerSock);
      if (!cookie) {
        fds[1].fd = -1;  // the writer is gone; the actuator notices and exits
        continue;
      }
      serveOne(writerSock, homeNetFd, index, *cookie, openRtnlHere);
    }
  }
}

[[noreturn]] void runOpener(int sock, int writerSock, std::optional<Identity> identity) {
  log::setPrefix("netns-opener");
  const pid_t parent = ::getppid();
  if (::prctl(PR_SET_PDEATHSIG, SIGKILL) != 0) {
    ::_exit(1);  // an opener that could outlive the actuator must not run
  }
  UniqueFd home(::open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC));
  if (!home.valid()) {
    log::error("netns opener: open /proc/self/ns/net: " + std::string(std::strerror(errno)));
    ::_exit(1);
  }
  auto filter = SeccompFilter::buildOpener();
  Status jailed = filter ? dropPrivileges(identity, {CAP_SYS_ADMIN, CAP_SYS_PTRACE, CAP_NET_ADMIN})
                         : Status(filter.error());
  if (jailed) {
    jailed = armParentDeathSignal(parent);  // the uid change above cleared it
  }
  if (jailed) {
    jailed = filter->load();
  }
  if (!jailed) {
    log::error("netns opener: " + describe(jailed.error()));
    ::_exit(1);
  }
  serveChannels(sock, writerSock, home.get());
}

// Reads one reply and the descriptors attached to it (owned from here on, also on errors).
Result<OpenerReply> receiveReply(int sock, std::vector<UniqueFd>& fds) {
  OpenerReply reply;
  Received got = receiveWithFds(sock, &reply, sizeof(reply), MAX_FDS, fds);
  if (got.bytes <= 0) {
    return makeError("the netns opener is gone", EPIPE);
  }
  if (got.bytes != static_cast<ssize_t>(sizeof(reply)) || got.controlTruncated) {
    return makeError("netns opener: malformed reply", EPROTO);
  }
  if (reply.error != 0) {
    return makeError("netns opener", reply.error);
  }
  if (reply.count != fds.size()) {
    return makeError("netns opener: sent " + std::to_string(fds.size()) + " descriptors", EPROTO);
  }
  return reply;
}

Result<NetnsFiles> receiveFiles(int sock) {
  NetnsFiles files;
  auto reply = receiveReply(sock, files.fds);
  if (!reply && reply.error().errnum == EPIPE) {
    // The opener is ours and never exits while we run: its death is a bug, not an input.
    throw std::runtime_error("the netns opener died");
  }
  if (!reply) {
    return reply.error();
  }
  const size_t slots = perNetnsTunables().size();
  if (static_cast<size_t>(std::popcount(reply->present)) != files.fds.size() ||
      (slots < 32 && (reply->present >> slots) != 0)) {
    return makeError("netns opener: sent " + std::to_string(files.fds.size()) + " descriptors",
                     EPROTO);
  }
  // Spread the received descriptors over their slots; absent files stay invalid.
  std::vector<UniqueFd> bySlot(slots);
  size_t next = 0;
  for (size_t i = 0; i < slots; ++i) {
    if ((reply->present >> i & 1U) != 0) {
      bySlot[i] = std::move(files.fds[next++]);
    }
  }
  files.fds = std::move(bySlot);
  files.inode = reply->inode;
  return files;
}

}  // namespace

const std::vector<const policy::TunableInfo*>& perNetnsTunables() {
  static const std::vector<const policy::TunableInfo*> TUNABLES = [] {
    std::vector<const policy::TunableInfo*> out;
    for (const auto& info : policy::allTunables()) {
      if (info.perNetns && !info.procPath.empty()) {  // routes, journal-only: no file
        out.push_back(&info);
      }
    }
    // OpenerReply::present has one bit per entry.
    if (out.size() > 32) {
      throw std::logic_error("more than 32 per-netns tunables");
    }
    return out;
  }();
  return TUNABLES;
}

Result<NetnsOpener> NetnsOpener::spawn(std::optional<Identity> identity) {
  int pair[2];
  int writerPair[2];
  if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair) != 0) {
    return makeError("socketpair for the netns opener", errno);
  }
  UniqueFd parentEnd(pair[0]);
  UniqueFd childEnd(pair[1]);
  if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, writerPair) != 0) {
    return makeError("socketpair between the netns opener and the privileged writer", errno);
  }
  UniqueFd writerEnd(writerPair[0]);
  UniqueFd openerWriterEnd(writerPair[1]);
  pid_t pid = ::fork();
  if (pid < 0) {
    return makeError("fork the netns opener", errno);
  }
  if (pid == 0) {
    parentEnd.reset();
    writerEnd.reset();
    runOpener(childEnd.get(), openerWriterEnd.get(), identity);
  }
  return NetnsOpener(std::move(parentEnd), std::move(writerEnd), pid);
}

Result<NetnsFiles> NetnsOpener::open(uint64_t cookie) {
  OpenerRequest request{cookie};
  if (::send(socket.get(), &request, sizeof(request), MSG_NOSIGNAL) !=
      static_cast<ssize_t>(sizeof(request))) {
    throw std::runtime_error("the netns opener died (send: " + std::string(std::strerror(errno)) +
                             ")");
  }
  return receiveFiles(socket.get());
}

Result<UniqueFd> requestRtnlSocket(int channel, uint64_t cookie) {
  OpenerRequest request{cookie};
  if (::send(channel, &request, sizeof(request), MSG_NOSIGNAL) !=
      static_cast<ssize_t>(sizeof(request))) {
    return makeError("the netns opener is gone", EPIPE);
  }
  std::vector<UniqueFd> fds;
  auto reply = receiveReply(channel, fds);
  if (!reply) {
    return reply.error();
  }
  if (fds.size() != 1) {
    return makeError("netns opener: sent " + std::to_string(fds.size()) +
                         " descriptors for one rtnetlink socket",
                     EPROTO);
  }
  return std::move(fds.front());
}

}  // namespace bpftune::actuator
