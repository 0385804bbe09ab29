#include "priv_writer.h"

#include <fcntl.h>
#include <linux/netlink.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

#include "log.h"
#include "priv_writer_route.h"
#include "validator.h"

#ifndef SO_NETNS_COOKIE
#define SO_NETNS_COOKIE 71
#endif

namespace bpftune::actuator {
namespace {

constexpr int64_t INT_MAX_VALUE = 2147483647;  // the kernel stores the thresholds as int
// Indexed by NeighTableIndex.
constexpr std::array<std::string_view, 2> NEIGH_TABLES = {"arp_cache", "ndisc_cache"};
constexpr const char* HIGH_ORDER_PATH = "/proc/sys/net/core/high_order_alloc_disable";
constexpr const char* AVAILABLE_CC_PATH = "/proc/sys/net/ipv4/tcp_available_congestion_control";
constexpr int MAX_ERRNO = 4095;

Error refusal(const std::string& why) {
  return makeError("privileged writer request refused: " + why, EINVAL);
}

template <typename T>
bool isZero(const T& value) {
  static_assert(std::is_trivially_copyable_v<T>);
  T zero{};
  return std::memcmp(&value, &zero, sizeof(T)) == 0;
}

// The host route fields, which the neighbour and flag ops do not use.
bool routeFieldsZero(const WriterRequest& r) {
  return r.netnsCookie == 0 && r.family == 0 && r.alg == 0 && r.expectedAlg == 0 &&
         r.routeTable == 0 && isZero(r.host) && isZero(r.nexthop);
}

Result<WriterCommand> validateThresholds(const WriterRequest& request) {
  if (request.table >= NEIGH_TABLES.size()) {
    return refusal("unknown neighbour table " + std::to_string(request.table));
  }
  const Values& t = request.values;
  if (t[0] < 0 || t[0] > t[1] || t[1] > t[2] || t[2] > INT_MAX_VALUE) {
    return refusal("thresholds " + policy::valuesText(t, 3) +
                   " are not 0 <= t1 <= t2 <= t3 <= INT_MAX");
  }
  if (!routeFieldsZero(request)) {
    return refusal("neighbour thresholds take no host route fields");
  }
  return WriterCommand(NeighThresholds{NEIGH_TABLES[request.table], t});
}

Result<WriterCommand> validateFlag(const WriterRequest& request) {
  const Values& v = request.values;
  if (request.table != 0 || v[1] != 0 || v[2] != 0 || (v[0] != 0 && v[0] != 1) ||
      !routeFieldsZero(request)) {
    return refusal("high_order_alloc_disable takes 0 or 1 and nothing else");
  }
  return WriterCommand(HighOrderAllocDisable{v[0] == 1});
}

bool isCongAlg(int64_t alg) {
  return policy::congAlgName(alg) != policy::congAlgName(-1);
}

Result<HostRouteTarget> validateTarget(const WriterRequest& r) {
  if (r.table != 0 || !isZero(r.values)) {
    return refusal("a host route op takes no neighbour table or values");
  }
  if (r.netnsCookie == 0) {
    return refusal("netnsCookie 0 names no namespace");
  }
  HostAddress host;
  host.family = r.family <= 255 ? static_cast<uint8_t>(r.family) : 0;
  host.bytes = r.host;
  if (std::string problem = hostAddressProblem(host); !problem.empty()) {
    return refusal(problem);
  }
  return HostRouteTarget{r.netnsCookie, host};
}

// The nexthop the actuator journaled: a table, a device, addresses of the host's family, and
// the prefix length of a covering (not a host) route; nothing the writer fills in itself.
bool plausibleNexthop(const WireNexthop& n, const HostAddress& host) {
  const size_t len = host.length();
  auto tailZero = [len](const std::array<uint8_t, 16>& a) {
    return std::all_of(
        a.begin() + static_cast<ptrdiff_t>(len), a.end(), [](uint8_t b) { return b == 0; });
  };
  return n.table != 0 && n.oif != 0 && n.coveringLen < len * 8 && tailZero(n.gateway) &&
         tailZero(n.prefsrc) && isZero(n.ifname) && n.type == 0 && n.protocol == 0 &&
         n.flags == 0 && n.priority == 0;
}

Result<WriterCommand> validateHostRoute(const WriterRequest& r, WriterOp op) {
  auto target = validateTarget(r);
  if (!target) {
    return target.error();
  }
  if (op == WriterOp::LOOKUP_HOST_ROUTE) {
    if (r.alg != 0 || r.expectedAlg != 0 || r.routeTable != 0 || !isZero(r.nexthop)) {
      return refusal("a lookup takes a namespace and a host and nothing else");
    }
    return WriterCommand(LookupHostRoute{*target});
  }
  if (op == WriterOp::DELETE_HOST_ROUTE) {
    if (r.alg != 0 || r.expectedAlg != 0 || r.routeTable == 0 || !isZero(r.nexthop)) {
      return refusal("a delete takes a namespace, a host and a table and nothing else");
    }
    return WriterCommand(DeleteHostRoute{*target, r.routeTable});
  }
  if (r.alg == 0 || !isCongAlg(r.alg) || !isCongAlg(r.expectedAlg) || r.routeTable != 0) {
    return refusal("algorithm " + std::to_string(r.alg) + " (expected " +
                   std::to_string(r.expectedAlg) + ") is not one of proto::CongAlg");
  }
  if (!plausibleNexthop(r.nexthop, target->host)) {
    return refusal("the expected nexthop is not one a covering route can have");
  }
  return WriterCommand(SetHostRoute{
      *target, r.alg, policy::congAlgName(r.alg), static_cast<int64_t>(r.expectedAlg), r.nexthop});
}

// The writer's own state: what it opened before its filter closed, and the netlink sequence.
struct WriterState {
  UniqueFd flag;      // high_order_alloc_disable, O_WRONLY (invalid: see flagError)
  int flagError = 0;  // why it could not be opened (ENOENT outside the init netns)
  uint32_t nextSeq = 1;
  std::optional<RouteContext> routes;
};

WriterReply errorReply(int error) {
  WriterReply reply;
  reply.error = error;
  return reply;
}

WriterReply execute(WriterState& state, const NeighThresholds& command) {
  Status sent = sendSetNeighTable(command.table, command.values, state.nextSeq++);
  return errorReply(sent ? 0 : (sent.error().errnum != 0 ? sent.error().errnum : EIO));
}

// pwrite at offset 0: a sysctl ignores writes past the start of the file.
WriterReply execute(WriterState& state, const HighOrderAllocDisable& command) {
  if (!state.flag.valid()) {
    return errorReply(state.flagError);
  }
  const char* text = command.disable ? "1\n" : "0\n";
  ssize_t n = ::pwrite(state.flag.get(), text, 2, 0);
  if (n < 0) {
    return errorReply(errno);
  }
  return errorReply(n == 2 ? 0 : EIO);
}

template <typename Command>
WriterReply execute(WriterState& state, const Command& command) {
  return executeRoute(*state.routes, command);
}

WriterReply serve(WriterState& state, const WriterRequest& request) {
  auto command = validateWriterRequest(request);
  if (!command) {
    // The actuator never builds such a request: it is compromised or broken. Say so, refuse.
    log::warning(describe(command.error()));
    return errorReply(EINVAL);
  }
  return std::visit([&state](const auto& c) { return execute(state, c); }, *command);
}

// Only its two socketpair ends and stdin/out/err survive: not the actuator's end of the netns
// opener's socket nor anything else the actuator had open when it forked us.
bool closeInherited(std::vector<int> keep) {
  std::erase_if(keep, [](int fd) { return fd <= STDERR_FILENO; });
  std::sort(keep.begin(), keep.end());
  unsigned from = STDERR_FILENO + 1;
  for (int fd : keep) {
    if (static_cast<unsigned>(fd) > from &&
        ::close_range(from, static_cast<unsigned>(fd) - 1, 0) != 0) {
      return false;
    }
    from = static_cast<unsigned>(fd) + 1;
  }
  return ::close_range(from, ~0U, 0) == 0;
}

int64_t monotonicNs() {
  timespec ts{};
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

// The writer's own namespace's rtnetlink socket (strict checking, as the opener's) and cookie.
Result<RouteContext> openRoutes(UniqueFd openerChannel) {
  UniqueFd own(::socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE));
  int on = 1;
  if (!own.valid() ||
      ::setsockopt(own.get(), SOL_NETLINK, NETLINK_GET_STRICT_CHK, &on, sizeof(on)) != 0) {
    return makeError("rtnetlink socket with strict checking", errno);
  }
  uint64_t cookie = 0;
  socklen_t len = sizeof(cookie);
  if (::getsockopt(own.get(), SOL_SOCKET, SO_NETNS_COOKIE, &cookie, &len) != 0) {
    return makeError("getsockopt(SO_NETNS_COOKIE)", errno);
  }
  RouteContext routes{RtnlSockets(std::move(own), cookie, std::move(openerChannel)), {}, 1};
  // Without it the writer still cannot set an unknown algorithm: the kernel refuses the name.
  routes.available.reset(::open(AVAILABLE_CC_PATH, O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
  return routes;
}

WriterState openFlag() {
  WriterState state;
  state.flag.reset(::open(HIGH_ORDER_PATH, O_WRONLY | O_CLOEXEC | O_NOFOLLOW));
  if (!state.flag.valid()) {
    state.flagError = errno != 0 ? errno : EIO;
    log::info("privileged writer: " + std::string(HIGH_ORDER_PATH) +
              " not writable here: " + std::strerror(state.flagError));
  }
  return state;
}

// Waits for a request; meanwhile closes idle namespace sockets (they pin their namespace).
bool awaitRequest(int sock, WriterState& state) {
  for (;;) {
    const int64_t now = monotonicNs();
    state.routes->sockets.expire(now);
    pollfd ready{sock, POLLIN, 0};
    int rc = ::poll(&ready, 1, state.routes->sockets.pollTimeoutMs(now));
    if (rc > 0) {
      return true;
    }
    if (rc < 0 && errno != EINTR) {
      return false;
    }
  }
}

[[noreturn]] void serveRequests(int sock, WriterState& state) {
  for (;;) {
    if (!awaitRequest(sock, state)) {
      ::_exit(1);
    }
    WriterRequest request;
    ssize_t n = ::recv(sock, &request, sizeof(request), MSG_TRUNC);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n <= 0) {
      ::_exit(0);  // the actuator closed its end
    }
    if (n != static_cast<ssize_t>(sizeof(request))) {
      log::error("privileged writer: malformed request of " + std::to_string(n) +
                 " bytes; exiting");
      ::_exit(1);
    }
    WriterReply reply = serve(state, request);
    if (::send(sock, &reply, sizeof(reply), MSG_NOSIGNAL) != static_cast<ssize_t>(sizeof(reply))) {
      ::_exit(0);  // the actuator is gone
    }
  }
}

[[noreturn]] void runWriter(int sock, UniqueFd openerChannel, std::optional<Identity> identity) {
  log::setPrefix("priv-writer");
  const pid_t parent = ::getppid();
  if (::prctl(PR_SET_PDEATHSIG, SIGKILL) != 0) {
    ::_exit(1);  // a writer that could outlive the actuator must not run
  }
  (void)::prctl(PR_SET_NAME, "bpftune-writer");  // tells it from the actuator in ps
  if (!closeInherited({sock, openerChannel.get()})) {
    log::error("privileged writer: close_range: " + std::string(std::strerror(errno)));
    ::_exit(1);
  }
  // glibc reads /etc/localtime on the first timestamp (the log's gmtime_r): now, as the filter
  // allows no open.
  ::tzset();
  WriterState state = openFlag();
  auto routes = openRoutes(std::move(openerChannel));
  if (!routes) {
    log::error("privileged writer: " + describe(routes.error()));
    ::_exit(1);
  }
  state.routes.emplace(std::move(*routes));
  auto filter = SeccompFilter::buildWriter(
      state.flag.valid() ? state.flag.get() : -1,
      state.routes->available.valid() ? state.routes->available.get() : -1);
  Status jailed =
      filter ? dropPrivileges(identity, {CAP_NET_ADMIN, CAP_SYS_ADMIN}) : Status(filter.error());
  if (jailed) {
    jailed = armParentDeathSignal(parent);  // the uid change above cleared it
  }
  if (jailed) {
    jailed = filter->load();
  }
  if (!jailed) {
    log::error("privileged writer: " + describe(jailed.error()));
    ::_exit(1);
  }
  serveRequests(sock, state);
}

Status answer(const policy::TunableInfo& info, int error) {
  if (error == 0) {
    return Ok{};
  }
  return makeError(std::string(info.name) + ": the privileged writer could not write it", error);
}

}  // namespace

Result<WriterCommand> validateWriterRequest(const WriterRequest& request) {
  switch (static_cast<WriterOp>(request.op)) {
    case WriterOp::SET_NEIGH_THRESHOLDS:
      return validateThresholds(request);
    case WriterOp::SET_HIGH_ORDER_ALLOC_DISABLE:
      return validateFlag(request);
    case WriterOp::LOOKUP_HOST_ROUTE:
    case WriterOp::SET_HOST_ROUTE:
    case WriterOp::DELETE_HOST_ROUTE:
      return validateHostRoute(request, static_cast<WriterOp>(request.op));
  }
  return refusal("unknown op " + std::to_string(request.op));
}

Result<PrivWriter> PrivWriter::spawn(std::optional<Identity> identity, UniqueFd openerChannel) {
  int pair[2];
  if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair) != 0) {
    return makeError("socketpair for the privileged writer", errno);
  }
  UniqueFd parentEnd(pair[0]);
  UniqueFd childEnd(pair[1]);
  pid_t pid = ::fork();
  if (pid < 0) {
    return makeError("fork the privileged writer", errno);
  }
  if (pid == 0) {
    parentEnd.reset();
    runWriter(childEnd.get(), std::move(openerChannel), identity);
  }
  return PrivWriter(std::move(parentEnd), pid);
}

// recvmsg, not recv: that is the call the actuator's filter allows (recv is recvfrom).
WriterReply PrivWriter::exchange(const WriterRequest& request) {
  if (::send(socket.get(), &request, sizeof(request), MSG_NOSIGNAL) !=
      static_cast<ssize_t>(sizeof(request))) {
    throw std::runtime_error(
        "the privileged writer died (send: " + std::string(std::strerror(errno)) + ")");
  }
  WriterReply reply;
  iovec iov{&reply, sizeof(reply)};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  ssize_t n = -1;
  do {
    n = ::recvmsg(socket.get(), &msg, 0);
  } while (n < 0 && errno == EINTR);
  if (n <= 0) {
    // The writer is ours and never exits while we run: its death is a bug, not an input.
    throw std::runtime_error("the privileged writer died (recvmsg returned " + std::to_string(n) +
                             ")");
  }
  if (n != static_cast<ssize_t>(sizeof(reply)) || (msg.msg_flags & MSG_TRUNC) != 0 ||
      reply.error < 0 || reply.error > MAX_ERRNO || reply.routeError < 0 ||
      reply.routeError > MAX_ERRNO) {
    throw std::runtime_error("the privileged writer sent a malformed reply");
  }
  return reply;
}

Status WriterNeighTables::write(const policy::TunableInfo& info, const Values& values) {
  for (size_t i = 0; i < NEIGH_TABLES.size(); ++i) {
    if (NEIGH_TABLES[i] == info.neighTable) {
      WriterRequest request;
      request.op = static_cast<uint32_t>(WriterOp::SET_NEIGH_THRESHOLDS);
      request.table = static_cast<uint32_t>(i);
      request.values = values;
      return answer(info, writer.call(request));
    }
  }
  return makeError(std::string(info.name) + ": no neighbour table '" +
                       std::string(info.neighTable) + "'",
                   EINVAL);
}

Status WriterStaticKeys::write(const policy::TunableInfo& info, const Values& values) {
  if (info.id != policy::TunableId::HIGH_ORDER_ALLOC_DISABLE) {
    return makeError(std::string(info.name) + " is not a static key the writer knows", EOPNOTSUPP);
  }
  WriterRequest request;
  request.op = static_cast<uint32_t>(WriterOp::SET_HIGH_ORDER_ALLOC_DISABLE);
  request.values = Values{values[0], 0, 0};
  return answer(info, writer.call(request));
}

WireNexthop toWire(const journal::RouteNexthop& nexthop) {
  WireNexthop wire;
  wire.table = nexthop.table;
  wire.oif = nexthop.oif;
  if (!nexthop.gateway.empty()) {
    wire.gateway = nexthop.gateway.bytes;
  }
  if (!nexthop.prefsrc.empty()) {
    wire.prefsrc = nexthop.prefsrc.bytes;
  }
  wire.coveringLen = nexthop.coveringLen;
  return wire;
}

namespace {

// All-zero bytes: none (on-link, no source address).
HostAddress addressOrNone(uint8_t family, const std::array<uint8_t, 16>& bytes) {
  HostAddress a;
  if (std::any_of(bytes.begin(), bytes.end(), [](uint8_t b) { return b != 0; })) {
    a.family = family;
    a.bytes = bytes;
  }
  return a;
}

journal::RouteNexthop nexthopOf(const WireNexthop& wire, uint8_t family) {
  journal::RouteNexthop n;
  n.table = wire.table;
  n.oif = wire.oif;
  n.gateway = addressOrNone(family, wire.gateway);
  n.prefsrc = addressOrNone(family, wire.prefsrc);
  n.ifname = log::sanitize(std::string_view(wire.ifname.data()));
  n.coveringLen = wire.coveringLen;
  return n;
}

bool plausibleReply(const WireNexthop& n, uint8_t family) {
  constexpr uint8_t KNOWN =
      NEXTHOP_SINGLE | NEXTHOP_ENCAP | NEXTHOP_REALM | NEXTHOP_CONGCTL | NEXTHOP_ONLINK;
  const bool copyable = (n.flags & NEXTHOP_SINGLE) != 0;
  return n.ifname.back() == '\0' && n.coveringLen <= (family == AF_INET ? 32 : 128) &&
         (n.flags & ~KNOWN) == 0 && !(copyable && (n.flags & (NEXTHOP_ENCAP | NEXTHOP_REALM)));
}

}  // namespace

Result<RouteLookup> fromWire(const WriterReply& reply, uint8_t family) {
  const WireNexthop& c = reply.covering;
  if ((reply.ourAlg != ALG_FOREIGN && !isCongAlg(reply.ourAlg)) || !plausibleReply(c, family) ||
      !plausibleReply(reply.ours, family)) {
    return makeError("the privileged writer sent an impossible route", EPROTO);
  }
  RouteLookup lookup;
  lookup.ourAlg = reply.ourAlg;
  lookup.ourTable = reply.ourTable;
  lookup.routeError = reply.routeError;
  lookup.coveringType = c.type;
  lookup.coveringProtocol = c.protocol;
  lookup.coveringPriority = c.priority;
  lookup.singleNexthop = (c.flags & NEXTHOP_SINGLE) != 0;
  lookup.encap = (c.flags & NEXTHOP_ENCAP) != 0;
  lookup.realm = (c.flags & NEXTHOP_REALM) != 0;
  lookup.coveringCongctl = (c.flags & NEXTHOP_CONGCTL) != 0;
  lookup.coveringOnlink = (c.flags & NEXTHOP_ONLINK) != 0;
  lookup.ourOnlink = (reply.ours.flags & NEXTHOP_ONLINK) != 0;
  lookup.covering = nexthopOf(c, family);
  lookup.ourNexthop = nexthopOf(reply.ours, family);
  return lookup;
}

namespace {

WriterRequest routeRequest(WriterOp op, uint64_t cookie, const HostAddress& host) {
  WriterRequest request;
  request.op = static_cast<uint32_t>(op);
  request.netnsCookie = cookie;
  request.family = host.family;
  request.host = host.bytes;
  return request;
}

// The writer's refusals, in words (the engine journals the errno).
Error routeError(const HostAddress& host, uint64_t cookie, int error) {
  std::string what = "host route for " + host.text() + " in netns " + std::to_string(cookie);
  switch (error) {
    case ESTALE:
      return makeError(what + ": the privileged writer refused, bpftune's route or the covering "
                              "nexthop changed since the lookup",
                       error);
    case EEXIST:
      return makeError(what + ": the privileged writer refused, an administrator's host route "
                              "or congctl on the covering route is there now",
                       error);
    case EINVAL:
      return makeError(what + ": the privileged writer refused the request as invalid", error);
    default:
      return makeError(what + ": the privileged writer could not change it", error);
  }
}

}  // namespace

Result<RouteLookup> WriterHostRoutes::lookup(uint64_t cookie, const HostAddress& host) {
  WriterReply reply = writer.exchange(routeRequest(WriterOp::LOOKUP_HOST_ROUTE, cookie, host));
  if (reply.error != 0) {
    return makeError("look up the route for " + host.text() + " in netns " + std::to_string(cookie),
                     reply.error);
  }
  return fromWire(reply, host.family);
}

Status WriterHostRoutes::set(uint64_t cookie,
                             const HostAddress& host,
                             int64_t alg,
                             int64_t expectedAlg,
                             const journal::RouteNexthop& nexthop) {
  WriterRequest request = routeRequest(WriterOp::SET_HOST_ROUTE, cookie, host);
  request.alg = static_cast<uint32_t>(alg);
  request.expectedAlg = static_cast<uint32_t>(expectedAlg);
  request.nexthop = toWire(nexthop);
  int error = writer.call(request);
  return error == 0 ? Status(Ok{}) : Status(routeError(host, cookie, error));
}

Status WriterHostRoutes::remove(uint64_t cookie, const HostAddress& host, uint32_t table) {
  WriterRequest request = routeRequest(WriterOp::DELETE_HOST_ROUTE, cookie, host);
  request.routeTable = table;
  int error = writer.call(request);
  return error == 0 ? Status(Ok{}) : Status(routeError(host, cookie, error));
}

}  // namespace bpftune::actuator
