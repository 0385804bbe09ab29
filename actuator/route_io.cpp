#include "route_io.h"

#include <linux/if_link.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <poll.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>
#include <functional>

namespace bpftune::actuator {
namespace {

// rtnetlink answers in the sender's context; the wait only guards against a kernel that does not.
constexpr int REPLY_TIMEOUT_MS = 1000;
// A dump message is at most 32 KiB; a larger buffer never truncates one.
constexpr size_t RECV_BYTES = size_t{64} * 1024;
constexpr size_t MAX_READS = 1U << 20;  // a full Internet table is ~1M routes, a few per read
constexpr size_t IFNAME_BYTES = 16;

// A message under construction: header, fixed part, attributes (nested ones by offset).
class Message {
public:
  Message(uint16_t type, uint16_t flags, uint32_t seq, const void* fixed, size_t fixedLen) {
    buf.resize(NLMSG_HDRLEN + NLMSG_ALIGN(fixedLen), 0);
    nlmsghdr hdr{};
    hdr.nlmsg_type = type;
    hdr.nlmsg_flags = static_cast<uint16_t>(flags | NLM_F_REQUEST | NLM_F_ACK);
    hdr.nlmsg_seq = seq;
    std::memcpy(buf.data(), &hdr, sizeof(hdr));
    std::memcpy(buf.data() + NLMSG_HDRLEN, fixed, fixedLen);
  }
  void attr(uint16_t type, const void* data, size_t len) {
    const size_t at = begin(type);
    buf.resize(at + NLA_HDRLEN + len, 0);
    std::memcpy(buf.data() + at + NLA_HDRLEN, data, len);
    end(at);
  }
  void u32(uint16_t type, uint32_t value) { attr(type, &value, sizeof(value)); }
  void address(uint16_t type, const HostAddress& a) { attr(type, a.bytes.data(), a.length()); }
  // Opens a nested attribute; end(offset) closes it.
  size_t begin(uint16_t type) {
    const size_t at = buf.size();
    nlattr nla{};
    nla.nla_type = type;
    buf.resize(at + NLA_HDRLEN, 0);
    std::memcpy(buf.data() + at, &nla, sizeof(nla));
    return at;
  }
  void end(size_t at) {
    const auto len = static_cast<uint16_t>(buf.size() - at);
    std::memcpy(buf.data() + at, &len, sizeof(len));  // nla_len is the first field
    buf.resize(NLA_ALIGN(buf.size()), 0);
  }
  std::vector<uint8_t> done() {
    const auto len = static_cast<uint32_t>(buf.size());
    std::memcpy(buf.data(), &len, sizeof(len));  // nlmsg_len is the first field
    return std::move(buf);
  }

private:
  std::vector<uint8_t> buf;
};

uint8_t fullLength(uint8_t family) {
  return family == AF_INET ? 32 : 128;
}

// The table id travels in RTA_TABLE; rtm_table holds it only when it fits.
uint8_t shortTable(uint32_t table) {
  return table < 256 ? static_cast<uint8_t>(table) : static_cast<uint8_t>(RT_TABLE_UNSPEC);
}

template <typename T>
bool readFixed(std::span<const uint8_t> data, T& out) {
  if (data.size() < sizeof(T)) {
    return false;
  }
  std::memcpy(&out, data.data(), sizeof(T));
  return true;
}

// Calls `visit(type, payload)` for every attribute in `data`; false when one is malformed.
bool forEachAttr(std::span<const uint8_t> data,
                 const std::function<bool(uint16_t, std::span<const uint8_t>)>& visit) {
  size_t off = 0;
  while (data.size() - off >= NLA_HDRLEN) {
    nlattr nla{};
    std::memcpy(&nla, data.data() + off, sizeof(nla));
    if (nla.nla_len < NLA_HDRLEN || nla.nla_len > data.size() - off) {
      return false;
    }
    auto payload = data.subspan(off + NLA_HDRLEN, nla.nla_len - NLA_HDRLEN);
    if (!visit(static_cast<uint16_t>(nla.nla_type & NLA_TYPE_MASK), payload)) {
      return false;
    }
    off += NLA_ALIGN(nla.nla_len);
    if (off > data.size()) {
      break;
    }
  }
  return true;
}

bool readAddress(uint8_t family, std::span<const uint8_t> payload, HostAddress& out) {
  out.family = family;
  if (payload.size() != out.length()) {
    return false;
  }
  std::memcpy(out.bytes.data(), payload.data(), payload.size());
  return true;
}

bool readMetrics(std::span<const uint8_t> payload, RouteEntry& r) {
  return forEachAttr(payload, [&r](uint16_t type, std::span<const uint8_t> value) {
    if (type == RTAX_CC_ALGO) {
      std::string name(reinterpret_cast<const char*>(value.data()), value.size());
      r.ccAlgo = name.substr(0, name.find('\0'));
      return true;
    }
    uint32_t v = 0;
    if (!readFixed(value, v)) {
      return false;
    }
    if (type == RTAX_LOCK) {
      // A locked congctl pins the algorithm: sockets on a route carrying it refuse
      // TCP_CONGESTION (the live switch). Ours names its own algorithm and never locks it.
      constexpr uint32_t CC_LOCK = 1U << RTAX_CC_ALGO;
      r.ccLocked = (v & CC_LOCK) != 0;
      v &= ~CC_LOCK;
      if (v == 0) {
        return true;
      }
    }
    r.metrics.emplace_back(type, v);
    return true;
  });
}

bool readRouteAttr(uint16_t type, std::span<const uint8_t> payload, RouteEntry& r) {
  switch (type) {
    case RTA_TABLE:
      return readFixed(payload, r.table);
    case RTA_DST:
      return readAddress(r.family, payload, r.dst);
    case RTA_GATEWAY:
      return readAddress(r.family, payload, r.gateway);
    case RTA_PREFSRC:
      return readAddress(r.family, payload, r.prefsrc);
    case RTA_OIF:
      return readFixed(payload, r.oif);
    case RTA_PRIORITY:
      return readFixed(payload, r.priority);
    case RTA_METRICS:
      return readMetrics(payload, r);
    case RTA_MULTIPATH:
    case RTA_VIA:
    case RTA_NH_ID:
      r.complexNexthop = true;
      return true;
    case RTA_ENCAP:
    case RTA_ENCAP_TYPE:
      r.encap = true;
      return true;
    case RTA_FLOW:
      r.realm = true;
      return true;
    default:
      // Including RTA_EXPIRES: an IPv6 route learned from a router advertisement, valid for the
      // router's lifetime. Accepted and not copied: ours must not vanish behind the journal's
      // back, and once the covering route expires the actuator's follow withdraws ours.
      return true;
  }
}

Status malformed(const std::string& what) {
  return makeError("malformed rtnetlink " + what, EBADMSG);
}

Status checkError(std::span<const uint8_t> message) {
  nlmsgerr err{};
  if (!readFixed(message.subspan(NLMSG_HDRLEN), err)) {
    return malformed("error message");
  }
  if (err.error == 0) {
    return Ok{};
  }
  const int errnum = err.error < 0 && err.error > -4096 ? -err.error : EPROTO;
  return makeError("the kernel refused the request", errnum);
}

// The end of a dump carries the dump's own result: a negative errno when it failed part-way
// (the routes before it are then not the whole table). No payload (very old kernels): complete.
Status checkDone(std::span<const uint8_t> message) {
  int32_t result = 0;
  if (!readFixed(message.subspan(NLMSG_HDRLEN), result) || result == 0) {
    return Ok{};
  }
  const int errnum = result < 0 && result > -4096 ? -result : EPROTO;
  return makeError("the kernel's dump ended with an error", errnum);
}

}  // namespace

Result<bool> consumeReply(std::span<const uint8_t> datagram,
                          uint32_t seq,
                          const MessageSink& sink) {
  size_t off = 0;
  // `off` can pass the end by the alignment padding of the last message: stop there.
  while (off < datagram.size()) {
    if (datagram.size() - off < sizeof(nlmsghdr)) {
      return malformed("reply (a truncated header)").error();
    }
    nlmsghdr hdr{};
    std::memcpy(&hdr, datagram.data() + off, sizeof(hdr));
    if (hdr.nlmsg_len < sizeof(nlmsghdr) || hdr.nlmsg_len > datagram.size() - off) {
      return malformed("reply").error();
    }
    auto message = datagram.subspan(off, hdr.nlmsg_len);
    off += NLMSG_ALIGN(hdr.nlmsg_len);
    if (hdr.nlmsg_seq != seq) {
      continue;  // a late answer to an earlier request on a cached socket
    }
    if (hdr.nlmsg_type == NLMSG_ERROR || hdr.nlmsg_type == NLMSG_DONE) {
      Status status = hdr.nlmsg_type == NLMSG_ERROR ? checkError(message) : checkDone(message);
      if (!status) {
        return status.error();
      }
      return true;
    }
    if (Status s = sink(hdr.nlmsg_type, message); !s) {
      return s.error();
    }
  }
  return false;
}

Status transact(int fd,
                const std::vector<uint8_t>& request,
                uint32_t seq,
                const MessageSink& sink) {
  sockaddr_nl kernel{};
  kernel.nl_family = AF_NETLINK;
  // sendto with an address: the kernel then checks only the sender's CAP_NET_ADMIN, not the
  // creds of whoever opened the socket (measured, docs/design/tcp_conn_spike.md section 2).
  ssize_t sent = ::sendto(fd,
                          request.data(),
                          request.size(),
                          0,
                          reinterpret_cast<const sockaddr*>(&kernel),
                          sizeof(kernel));
  if (sent != static_cast<ssize_t>(request.size())) {
    return makeError("send to rtnetlink", sent < 0 ? errno : EIO);
  }
  std::vector<uint8_t> buf(RECV_BYTES);
  for (size_t read = 0; read < MAX_READS; ++read) {
    pollfd ready{fd, POLLIN, 0};
    int rc = ::poll(&ready, 1, REPLY_TIMEOUT_MS);
    if (rc < 0 && errno == EINTR) {
      continue;
    }
    if (rc <= 0) {
      return makeError("no rtnetlink answer within 1 s", rc < 0 ? errno : ETIMEDOUT);
    }
    sockaddr_nl from{};
    iovec iov{buf.data(), buf.size()};
    msghdr msg{};
    msg.msg_name = &from;
    msg.msg_namelen = sizeof(from);
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    ssize_t n = ::recvmsg(fd, &msg, MSG_DONTWAIT);
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
      continue;
    }
    if (n < 0) {
      return makeError("recvmsg on rtnetlink", errno);
    }
    if ((msg.msg_flags & MSG_TRUNC) != 0) {
      return makeError("rtnetlink answer larger than the buffer", EMSGSIZE);
    }
    if (from.nl_pid != 0) {
      continue;  // only the kernel (port 0) answers
    }
    auto finished =
        consumeReply(std::span<const uint8_t>(buf.data(), static_cast<size_t>(n)), seq, sink);
    if (!finished) {
      return finished.error();
    }
    if (*finished) {
      return Ok{};
    }
  }
  return makeError("rtnetlink answer without end", EPROTO);
}

namespace {

// Collects the routes of an answer.
MessageSink routeCollector(std::vector<RouteEntry>& out) {
  return [&out](uint16_t type, std::span<const uint8_t> message) -> Status {
    if (type != RTM_NEWROUTE) {
      return Ok{};
    }
    auto route = parseRoute(message);
    if (!route) {
      return route.error();
    }
    out.push_back(std::move(*route));
    return Ok{};
  };
}

// Lookup errors that mean "no unicast route for this host" (unreachable, prohibit, blackhole).
bool isNoRoute(int errnum) {
  return errnum == ENETUNREACH || errnum == EHOSTUNREACH || errnum == EACCES || errnum == EINVAL;
}

std::string ifnameOf(int fd, uint32_t ifindex, uint32_t& seq) {
  std::string name;
  uint32_t mine = seq++;
  Status s = transact(fd, buildGetLink(ifindex, mine), mine, [&name](uint16_t type, auto message) {
    if (type != RTM_NEWLINK || message.size() < NLMSG_HDRLEN + sizeof(ifinfomsg)) {
      return Status(Ok{});
    }
    forEachAttr(message.subspan(NLMSG_HDRLEN + NLMSG_ALIGN(sizeof(ifinfomsg))),
                [&name](uint16_t attr, std::span<const uint8_t> value) {
                  if (attr == IFLA_IFNAME) {
                    std::string raw(reinterpret_cast<const char*>(value.data()), value.size());
                    name = raw.substr(0, std::min(raw.find('\0'), IFNAME_BYTES - 1));
                  }
                  return true;
                });
    return Status(Ok{});
  });
  return s ? name : std::string();  // a device gone since the lookup has no name
}

Result<std::vector<RouteEntry>> dump(
    int fd, uint8_t family, uint32_t table, uint8_t protocol, uint32_t& seq) {
  std::vector<RouteEntry> routes;
  uint32_t mine = seq++;
  if (Status s =
          transact(fd, buildRouteDump(family, table, protocol, mine), mine, routeCollector(routes));
      !s) {
    return s.error();
  }
  return routes;
}

// bpftune's route for `host`, preferring the table the traffic uses.
std::optional<RouteEntry> findOurs(const std::vector<RouteEntry>& routes,
                                   const HostAddress& host,
                                   uint32_t table) {
  std::optional<RouteEntry> found;
  for (const auto& r : routes) {
    if (r.ours() && r.dst == host && (!found || r.table == table)) {
      found = r;
    }
  }
  return found;
}

}  // namespace

bool RouteEntry::ours() const {
  return protocol == BPFTUNE_ROUTE_PROTOCOL && priority == BPFTUNE_ROUTE_PRIORITY &&
         dstLen == fullLength(family);
}

bool RouteEntry::covers(const HostAddress& host) const {
  if (host.family != family || dstLen > fullLength(family)) {
    return false;
  }
  for (uint8_t bit = 0; bit < dstLen; ++bit) {
    const auto mask = static_cast<uint8_t>(0x80U >> (bit % 8));
    if ((host.bytes[bit / 8] & mask) != (dst.bytes[bit / 8] & mask)) {
      return false;
    }
  }
  return true;
}

std::vector<uint8_t> buildFibMatch(const HostAddress& host, uint32_t seq) {
  rtmsg rtm{};
  rtm.rtm_family = host.family;
  rtm.rtm_dst_len = fullLength(host.family);
  // The FIB entry itself, not a resolved clone; RTM_F_LOOKUP_TABLE (IPv4 only: IPv6 refuses the
  // flag and always reports the table) names the table it was found in.
  rtm.rtm_flags = RTM_F_FIB_MATCH | (host.family == AF_INET ? RTM_F_LOOKUP_TABLE : 0);
  Message m(RTM_GETROUTE, 0, seq, &rtm, sizeof(rtm));
  m.address(RTA_DST, host);
  return m.done();
}

std::vector<uint8_t> buildRouteDump(uint8_t family,
                                    uint32_t table,
                                    uint8_t protocol,
                                    uint32_t seq) {
  rtmsg rtm{};
  rtm.rtm_family = family;
  rtm.rtm_table = shortTable(table);
  rtm.rtm_protocol = protocol;
  Message m(RTM_GETROUTE, NLM_F_DUMP, seq, &rtm, sizeof(rtm));
  if (table != 0) {
    m.u32(RTA_TABLE, table);
  }
  return m.done();
}

std::vector<uint8_t> buildNewHostRoute(const HostAddress& host,
                                       const RouteEntry& covering,
                                       std::string_view alg,
                                       bool replace,
                                       uint32_t seq) {
  rtmsg rtm{};
  rtm.rtm_family = host.family;
  rtm.rtm_dst_len = fullLength(host.family);
  rtm.rtm_table = shortTable(covering.table);
  rtm.rtm_protocol = BPFTUNE_ROUTE_PROTOCOL;
  rtm.rtm_scope = covering.scope;
  rtm.rtm_type = RTN_UNICAST;
  // A gateway the covering route reaches "onlink" (no prefix for it) needs the same flag here.
  rtm.rtm_flags = covering.flags & RTNH_F_ONLINK;
  const uint16_t flags = replace ? NLM_F_REPLACE : NLM_F_CREATE | NLM_F_EXCL;
  Message m(RTM_NEWROUTE, flags, seq, &rtm, sizeof(rtm));
  m.u32(RTA_TABLE, covering.table);
  m.address(RTA_DST, host);
  m.u32(RTA_PRIORITY, BPFTUNE_ROUTE_PRIORITY);
  if (!covering.gateway.empty()) {
    m.address(RTA_GATEWAY, covering.gateway);
  }
  if (covering.oif != 0) {
    m.u32(RTA_OIF, covering.oif);
  }
  if (!covering.prefsrc.empty()) {
    m.address(RTA_PREFSRC, covering.prefsrc);
  }
  // RTA_METRICS is one attribute: the covering route's mtu, initcwnd... travel with ours.
  const size_t metrics = m.begin(RTA_METRICS);
  for (const auto& [type, value] : covering.metrics) {
    m.u32(type, value);
  }
  const std::string name(alg);
  m.attr(RTAX_CC_ALGO, name.c_str(), name.size() + 1);
  m.end(metrics);
  return m.done();
}

std::vector<uint8_t> buildDelHostRoute(const HostAddress& host, uint32_t table, uint32_t seq) {
  rtmsg rtm{};
  rtm.rtm_family = host.family;
  rtm.rtm_dst_len = fullLength(host.family);
  rtm.rtm_table = shortTable(table);
  rtm.rtm_protocol = BPFTUNE_ROUTE_PROTOCOL;
  rtm.rtm_scope = RT_SCOPE_NOWHERE;  // any scope (IPv4); type RTN_UNSPEC: any type
  Message m(RTM_DELROUTE, 0, seq, &rtm, sizeof(rtm));
  m.u32(RTA_TABLE, table);
  m.address(RTA_DST, host);
  m.u32(RTA_PRIORITY, BPFTUNE_ROUTE_PRIORITY);
  return m.done();
}

std::vector<uint8_t> buildGetLink(uint32_t ifindex, uint32_t seq) {
  ifinfomsg ifi{};
  ifi.ifi_family = AF_UNSPEC;
  ifi.ifi_index = static_cast<int>(ifindex);
  Message m(RTM_GETLINK, 0, seq, &ifi, sizeof(ifi));
  m.u32(IFLA_EXT_MASK, RTEXT_FILTER_SKIP_STATS);
  return m.done();
}

Result<RouteEntry> parseRoute(std::span<const uint8_t> message) {
  rtmsg rtm{};
  if (message.size() < NLMSG_HDRLEN || !readFixed(message.subspan(NLMSG_HDRLEN), rtm)) {
    return malformed("route").error();
  }
  RouteEntry r;
  r.family = rtm.rtm_family;
  if (r.family != AF_INET && r.family != AF_INET6) {
    return malformed("route family " + std::to_string(r.family)).error();
  }
  r.dstLen = rtm.rtm_dst_len;
  r.tos = rtm.rtm_tos;
  r.protocol = rtm.rtm_protocol;
  r.scope = rtm.rtm_scope;
  r.type = rtm.rtm_type;
  r.flags = rtm.rtm_flags;
  r.table = rtm.rtm_table;
  r.dst.family = r.family;  // a default route has no RTA_DST
  const size_t attrs = NLMSG_HDRLEN + NLMSG_ALIGN(sizeof(rtmsg));
  if (message.size() < attrs) {
    return malformed("route").error();
  }
  bool ok = forEachAttr(message.subspan(attrs), [&r](uint16_t type, std::span<const uint8_t> p) {
    return readRouteAttr(type, p, r);
  });
  if (!ok || r.dstLen > fullLength(r.family)) {
    return malformed("route attributes").error();
  }
  return r;
}

std::optional<RouteEntry> bestCovering(const std::vector<RouteEntry>& routes,
                                       const HostAddress& host) {
  const RouteEntry* best = nullptr;
  for (const auto& r : routes) {
    if (r.ours() || r.tos != 0 || !r.covers(host)) {
      continue;
    }
    if (best == nullptr || r.dstLen > best->dstLen ||
        (r.dstLen == best->dstLen && r.priority < best->priority)) {
      best = &r;
    }
  }
  return best != nullptr ? std::optional<RouteEntry>(*best) : std::nullopt;
}

Result<HostRouteView> lookupHostRoute(int fd, const HostAddress& host, uint32_t& seq) {
  HostRouteView view;
  std::vector<RouteEntry> matched;
  uint32_t mine = seq++;
  if (Status s = transact(fd, buildFibMatch(host, mine), mine, routeCollector(matched)); !s) {
    if (!isNoRoute(s.error().errnum)) {
      return s.error();
    }
    view.routeError = s.error().errnum;
  }
  const uint32_t table = matched.empty() ? 0 : matched.front().table;
  auto ours = dump(fd, host.family, 0, BPFTUNE_ROUTE_PROTOCOL, seq);
  if (!ours) {
    return ours.error();
  }
  view.ours = findOurs(*ours, host, table);
  if (!matched.empty() && !matched.front().ours()) {
    view.covering = matched.front();
  } else if (!matched.empty()) {
    // Ours won the lookup: the covering route is what the same table holds besides it.
    auto all = dump(fd, host.family, table, 0, seq);
    if (!all) {
      return all.error();
    }
    view.covering = bestCovering(*all, host);
  }
  if (view.covering && view.covering->oif != 0) {
    view.coveringIfname = ifnameOf(fd, view.covering->oif, seq);
  }
  return view;
}

Status addHostRoute(int fd,
                    const HostAddress& host,
                    const RouteEntry& covering,
                    std::string_view alg,
                    bool replace,
                    uint32_t& seq) {
  uint32_t mine = seq++;
  return transact(fd,
                  buildNewHostRoute(host, covering, alg, replace, mine),
                  mine,
                  [](uint16_t, std::span<const uint8_t>) { return Status(Ok{}); });
}

Status deleteHostRoute(int fd, const HostAddress& host, uint32_t table, uint32_t& seq) {
  uint32_t mine = seq++;
  Status s = transact(fd,
                      buildDelHostRoute(host, table, mine),
                      mine,
                      [](uint16_t, std::span<const uint8_t>) { return Status(Ok{}); });
  if (!s && (s.error().errnum == ESRCH || s.error().errnum == ENOENT)) {
    return Ok{};  // already gone: someone removed it, which is what we wanted
  }
  return s;
}

}  // namespace bpftune::actuator
