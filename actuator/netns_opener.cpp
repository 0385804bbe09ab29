#include "netns_opener.h"

#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <bit>
#include <cerrno>
#include <cstring>
#include <stdexcept>

#include "log.h"
#include "netns_index.h"

namespace bpftune::actuator {
namespace {

constexpr size_t MAX_FDS = 32;  // one per per-netns tunable (OpenerReply::present)

Status sendReply(int sock, const OpenerReply& reply, const std::vector<UniqueFd>& fds) {
  iovec iov{const_cast<OpenerReply*>(&reply), sizeof(reply)};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * MAX_FDS)] = {};
  if (!fds.empty()) {
    msg.msg_control = control;
    msg.msg_controllen = CMSG_SPACE(sizeof(int) * fds.size());
    cmsghdr* cmsg = CMSG_FIRSTHDR(&msg);
    cmsg->cmsg_level = SOL_SOCKET;
    cmsg->cmsg_type = SCM_RIGHTS;
    cmsg->cmsg_len = CMSG_LEN(sizeof(int) * fds.size());
    for (size_t i = 0; i < fds.size(); ++i) {
      int fd = fds[i].get();
      std::memcpy(CMSG_DATA(cmsg) + i * sizeof(int), &fd, sizeof(int));
    }
  }
  if (::sendmsg(sock, &msg, MSG_NOSIGNAL) != static_cast<ssize_t>(sizeof(reply))) {
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

// One request: find, enter, open, come back. Never returns while in a foreign namespace.
void serveOne(int sock, int homeNetFd, NetnsIndex& index, uint64_t cookie) {
  OpenerReply reply;
  std::vector<UniqueFd> fds;
  auto netns = index.open(cookie);
  if (!netns) {
    reply.error = netns.error().errnum != 0 ? netns.error().errnum : EIO;
  } else if (::setns(netns->fd.get(), CLONE_NEWNET) != 0) {
    reply.error = errno;
  } else {
    auto opened = openTunablesHere(reply.present);
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

[[noreturn]] void runOpener(int sock, std::optional<Identity> identity) {
  log::setPrefix("netns-opener");
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
    jailed = filter->load();
  }
  if (!jailed) {
    log::error("netns opener: " + describe(jailed.error()));
    ::_exit(1);
  }
  NetnsIndex index;
  for (;;) {
    OpenerRequest request;
    ssize_t n = ::recv(sock, &request, sizeof(request), MSG_TRUNC);
    if (n == 0 || (n < 0 && errno != EINTR)) {
      ::_exit(0);  // the actuator closed its end
    }
    if (n != static_cast<ssize_t>(sizeof(request))) {
      log::error("netns opener: malformed request of " + std::to_string(n) + " bytes; exiting");
      ::_exit(1);
    }
    serveOne(sock, home.get(), index, request.cookie);
  }
}

Result<NetnsFiles> receiveFiles(int sock) {
  OpenerReply reply;
  iovec iov{&reply, sizeof(reply)};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * MAX_FDS)] = {};
  msg.msg_control = control;
  msg.msg_controllen = sizeof(control);
  ssize_t n = ::recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
  if (n <= 0) {
    // The opener is ours and never exits while we run: its death is a bug, not an input.
    throw std::runtime_error("the netns opener died (recvmsg returned " + std::to_string(n) + ")");
  }
  NetnsFiles files;
  for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) {
      continue;
    }
    size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    for (size_t i = 0; i < count; ++i) {
      int fd = -1;
      std::memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
      files.fds.emplace_back(fd);  // owned from here on, also on the error paths below
    }
  }
  if (n != static_cast<ssize_t>(sizeof(reply)) || (msg.msg_flags & MSG_CTRUNC) != 0) {
    return makeError("netns opener: malformed reply", EPROTO);
  }
  if (reply.error != 0) {
    return makeError("netns opener", reply.error);
  }
  const size_t slots = perNetnsTunables().size();
  if (reply.count != files.fds.size() ||
      static_cast<size_t>(std::popcount(reply.present)) != files.fds.size() ||
      (slots < 32 && (reply.present >> slots) != 0)) {
    return makeError("netns opener: sent " + std::to_string(files.fds.size()) + " descriptors",
                     EPROTO);
  }
  // Spread the received descriptors over their slots; absent files stay invalid.
  std::vector<UniqueFd> bySlot(slots);
  size_t next = 0;
  for (size_t i = 0; i < slots; ++i) {
    if ((reply.present >> i & 1U) != 0) {
      bySlot[i] = std::move(files.fds[next++]);
    }
  }
  files.fds = std::move(bySlot);
  files.inode = reply.inode;
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
  if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair) != 0) {
    return makeError("socketpair for the netns opener", errno);
  }
  UniqueFd parentEnd(pair[0]);
  UniqueFd childEnd(pair[1]);
  pid_t pid = ::fork();
  if (pid < 0) {
    return makeError("fork the netns opener", errno);
  }
  if (pid == 0) {
    parentEnd.reset();
    runOpener(childEnd.get(), identity);
  }
  return NetnsOpener(std::move(parentEnd), pid);
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

}  // namespace bpftune::actuator
