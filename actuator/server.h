// The serving loop: two listening SOCK_SEQPACKET sockets (collector, admin), peer uid checks,
// one request per datagram, one reply per request.
#pragma once

#include <sys/types.h>

#include <csignal>
#include <string>
#include <vector>

#include "engine.h"
#include "result.h"
#include "unique_fd.h"
#include "wire.h"

namespace bpftune::actuator {

// Separate budgets, so that connections from the collector's uid can never crowd out the
// administrator (rollback must always get through).
constexpr size_t MAX_COLLECTOR_CONNECTIONS = 4;
constexpr size_t MAX_ADMIN_CONNECTIONS = 4;
constexpr size_t MAX_CONNECTIONS = MAX_COLLECTOR_CONNECTIONS + MAX_ADMIN_CONNECTIONS;

struct SocketSpec {
  std::string path;
  uid_t owner = 0;
  gid_t group = 0;
  mode_t mode = 0600;
};

// Unlinks a stale socket (and only a socket) at the path, binds, sets owner/mode, listens.
Result<UniqueFd> listenSeqpacket(const SocketSpec& spec);

class Server {
public:
  Server(UniqueFd collectorListen, UniqueFd adminListen, uid_t collectorUid, Engine& engine);
  // Serves until *stop becomes nonzero (set by the signal handler).
  void run(const volatile sig_atomic_t* stop);

private:
  struct Connection {
    UniqueFd fd;
    bool admin = false;
    Peer peer;
  };
  void acceptOn(int listenFd, bool admin);
  // false: close the connection
  bool serveOne(Connection& conn, short revents);
  Answer dispatch(Connection& conn, const Decoded& request);
  bool reply(Connection& conn, uint64_t id, const Answer& answer);

  UniqueFd collectorListen;
  UniqueFd adminListen;
  uid_t collectorUid;
  Engine& engine;
  std::vector<Connection> connections;
  int64_t nextFollowNs = 0;  // monotonic; the first pass runs at once (after a restart too)
};

}  // namespace bpftune::actuator
