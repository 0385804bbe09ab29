#include "server.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>

#include "client.h"
#include "log.h"
#include "wire.h"

namespace bpftune::actuator {
namespace {

std::string peerText(const Peer& peer) {
  return "uid " + std::to_string(peer.uid) + " pid " + std::to_string(peer.pid);
}

Answer rejected(std::string reason) {
  Answer a;
  a.status = proto::Status::REJECTED;
  a.field = "request";
  a.reason = std::move(reason);
  return a;
}

// A socket someone still accepts on is not stale: never steal a running actuator's socket.
bool socketInUse(const std::string& path) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, path.c_str(), std::min(path.size() + 1, sizeof(addr.sun_path) - 1));
  UniqueFd probe(::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0));
  return probe.valid() &&
         ::connect(probe.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
}

Status removeStale(const std::string& path) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) {
    return errno == ENOENT ? Status(Ok{}) : Status(makeError("lstat " + path, errno));
  }
  if (!S_ISSOCK(st.st_mode)) {
    return makeError(path + " exists and is not a socket; refusing to replace it");
  }
  if (socketInUse(path)) {
    return makeError(path + " is in use: another actuator is serving on it");
  }
  if (::unlink(path.c_str()) != 0) {
    return makeError("unlink stale socket " + path, errno);
  }
  return Ok{};
}

}  // namespace

Result<UniqueFd> listenSeqpacket(const SocketSpec& spec) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (spec.path.size() >= sizeof(addr.sun_path)) {
    return makeError("socket path too long: " + spec.path);
  }
  std::memcpy(addr.sun_path, spec.path.c_str(), spec.path.size() + 1);
  if (auto s = removeStale(spec.path); !s) {
    return s.error();
  }
  UniqueFd fd(::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!fd.valid()) {
    return makeError("socket", errno);
  }
  // The process umask is 077, so the socket is born 0600 and only widened below.
  if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    return makeError("bind " + spec.path, errno);
  }
  if (::chown(spec.path.c_str(), spec.owner, spec.group) != 0 && geteuid() == 0) {
    return makeError("chown " + spec.path, errno);
  }
  if (::chmod(spec.path.c_str(), spec.mode) != 0) {
    return makeError("chmod " + spec.path, errno);
  }
  if (::listen(fd.get(), static_cast<int>(MAX_CONNECTIONS)) != 0) {
    return makeError("listen " + spec.path, errno);
  }
  return fd;
}

Server::Server(UniqueFd collectorListen, UniqueFd adminListen, uid_t collectorUid, Engine& engine)
    : collectorListen(std::move(collectorListen)),
      adminListen(std::move(adminListen)),
      collectorUid(collectorUid),
      engine(engine) {}

void Server::acceptOn(int listenFd, bool admin) {
  UniqueFd fd(::accept4(listenFd, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK));
  if (!fd.valid()) {
    return;  // EAGAIN or the peer went away
  }
  ucred cred{};
  socklen_t len = sizeof(cred);
  if (::getsockopt(fd.get(), SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) {
    log::warning("peer refused: no credentials");
    return;
  }
  Peer peer{cred.uid, cred.pid};
  uid_t wanted = admin ? 0 : collectorUid;
  const char* which = admin ? "admin" : "collector";
  if (cred.uid != wanted) {
    log::warning(std::string("peer refused on the ") + which + " socket: " + peerText(peer) +
                 " (only uid " + std::to_string(wanted) + " may connect)");
    return;
  }
  auto sameKind = [admin](const Connection& c) {
    return c.admin == admin;
  };
  auto open = static_cast<size_t>(std::count_if(connections.begin(), connections.end(), sameKind));
  if (admin && open >= MAX_ADMIN_CONNECTIONS) {
    log::warning("peer refused on the admin socket: " + peerText(peer) + " (" +
                 std::to_string(MAX_ADMIN_CONNECTIONS) + " admin connections already open)");
    return;
  }
  if (!admin && open >= MAX_COLLECTOR_CONNECTIONS) {
    // A restarted collector must get in even if stale connections linger: drop the oldest.
    auto oldest = std::find_if(connections.begin(), connections.end(), sameKind);
    log::warning("collector connection limit " + std::to_string(MAX_COLLECTOR_CONNECTIONS) +
                 " reached: closing the oldest (" + peerText(oldest->peer) + ")");
    connections.erase(oldest);
  }
  log::debug(std::string(which) + " connected: " + peerText(peer));
  connections.push_back(Connection{std::move(fd), admin, peer});
}

bool Server::reply(Connection& conn, uint64_t id, const Answer& answer) {
  auto words = encodeReply(id, answer);
  auto bytes = words.asBytes();
  ssize_t n = ::send(conn.fd.get(), bytes.begin(), bytes.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
  return n == static_cast<ssize_t>(bytes.size());
}

Answer Server::dispatch(Connection& conn, const Decoded& request) {
  switch (request.kind) {
    case RequestKind::PING: {
      Answer a;
      a.reason = engine.paused() ? "pong (paused after an administrator's rollback)" : "pong";
      return a;
    }
    case RequestKind::ROLLBACK:
      if (!conn.admin) {
        return rejected("rollback: only accepted on the admin socket");
      }
      log::notice("rollback requested by " + peerText(conn.peer));
      return engine.rollbackAll(conn.peer);
    case RequestKind::RESUME:
      if (!conn.admin) {
        return rejected("resume: only accepted on the admin socket");
      }
      log::notice("resume requested by " + peerText(conn.peer));
      return engine.resume(request.resume.tuner, request.resume.netnsCookie, conn.peer);
    case RequestKind::SET_SYSCTL:
      if (conn.admin) {
        return rejected("setSysctl: not accepted on the admin socket");
      }
      return engine.setSysctl(request.setSysctl, conn.peer);
    case RequestKind::REPORT_OVERRIDE:
      if (conn.admin) {
        return rejected("reportOverride: not accepted on the admin socket");
      }
      return engine.reportOverride(request.overrideReport, conn.peer);
    case RequestKind::REPORT_LIVE_SWITCH:
      if (conn.admin) {
        return rejected("reportLiveSwitch: not accepted on the admin socket");
      }
      return engine.reportLiveSwitch(request.liveSwitch, conn.peer);
    case RequestKind::APPLY_PROPOSAL:
      if (!conn.admin) {
        return rejected("applyProposal: only accepted on the admin socket");
      }
      log::notice("apply of proposal " + std::to_string(request.proposalSeq) + " requested by " +
                  peerText(conn.peer));
      return engine.applyProposal(request.proposalSeq, conn.peer);
  }
  return rejected("request: unknown kind");
}

namespace {

// The log's verb for a decision: the wire's status names, with the two common ones in words.
std::string decisionVerb(proto::Status status) {
  if (status == proto::Status::OK) {
    return "accepted";
  }
  return status == proto::Status::REJECTED ? "refused" : statusName(status);
}

void logDecision(const Peer& peer, uint64_t id, RequestKind kind, const Answer& a) {
  if (kind == RequestKind::PING) {
    log::debug("ping from " + peerText(peer));
    return;
  }
  std::string line = decisionVerb(a.status) + " request " + std::to_string(id) + " from " +
                     peerText(peer) + ": " + log::sanitize(a.reason);
  if (a.journalSeq != 0) {
    line += " (journal seq " + std::to_string(a.journalSeq) + ")";
  }
  if (a.status == proto::Status::OK) {
    log::info(line);
  } else {
    log::notice(line);
  }
}

}  // namespace

bool Server::serveOne(Connection& conn, short revents) {
  std::array<capnp::word, MAX_REQUEST_BYTES / sizeof(capnp::word)> buffer{};
  iovec iov{buffer.data(), MAX_REQUEST_BYTES};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  ssize_t n = ::recvmsg(conn.fd.get(), &msg, MSG_DONTWAIT);
  if (n < 0) {
    return errno == EAGAIN || errno == EINTR;
  }
  if (n == 0 && (revents & (POLLHUP | POLLERR | POLLRDHUP)) != 0) {
    return false;  // peer closed, or shut down its sending side: no request can follow
  }
  Result<Decoded> decoded =
      makeError("request: datagram larger than " + std::to_string(MAX_REQUEST_BYTES) + " bytes");
  if ((msg.msg_flags & MSG_CTRUNC) != 0) {
    decoded = makeError("request: ancillary data (file descriptors) refused");
  } else if ((msg.msg_flags & MSG_TRUNC) == 0) {
    decoded = decodeRequest(buffer.data(), static_cast<size_t>(n));
  }
  if (!decoded) {
    log::notice("refused from " + peerText(conn.peer) + ": " + decoded.error().message);
    Answer refusal = rejected(decoded.error().message);
    refusal.resumeEpoch = engine.resumeEpoch();
    refusal.advising = engine.advising();
    return reply(conn, 0, refusal);
  }
  Answer answer = dispatch(conn, *decoded);
  answer.resumeEpoch = engine.resumeEpoch();
  answer.advising = engine.advising();
  logDecision(conn.peer, decoded->id, decoded->kind, answer);
  return reply(conn, decoded->id, answer);
}

constexpr int STOP_CHECK_MS = 200;

void Server::run(const volatile sig_atomic_t* stop) {
  while (*stop == 0) {
    std::vector<pollfd> fds;
    fds.push_back({collectorListen.get(), POLLIN, 0});
    fds.push_back({adminListen.get(), POLLIN, 0});
    for (const auto& conn : connections) {
      fds.push_back({conn.fd.get(), POLLIN | POLLRDHUP, 0});
    }
    // Bounded wait: a SIGTERM that lands between the flag check and poll() would otherwise be
    // lost and leave the actuator blocked until the next request.
    int ready = ::poll(fds.data(), fds.size(), STOP_CHECK_MS);
    if (ready < 0) {
      if (errno == EINTR) {
        continue;
      }
      log::error("poll: " + std::string(std::strerror(errno)));
      return;
    }
    // Connections first (indices stay valid), then new ones.
    std::vector<Connection> kept;
    for (size_t i = 0; i < connections.size(); ++i) {
      short revents = fds[i + 2].revents;
      bool keep = revents == 0 || serveOne(connections[i], revents);
      if (keep) {
        kept.push_back(std::move(connections[i]));
      }
    }
    connections = std::move(kept);
    if ((fds[0].revents & POLLIN) != 0) {
      acceptOn(collectorListen.get(), false);
    }
    if ((fds[1].revents & POLLIN) != 0) {
      acceptOn(adminListen.get(), true);
    }
    // Between requests, never inside one: bpftune's host routes follow their covering routes.
    const int64_t now = journal::monotonicNow();
    if (now >= nextFollowNs) {
      engine.followRoutes(now);
      nextFollowNs = now + FOLLOW_INTERVAL_NS;
    }
  }
  log::info("stop requested; exiting");
}

}  // namespace bpftune::actuator
