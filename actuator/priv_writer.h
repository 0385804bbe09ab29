// The privileged writer: a separate process the actuator forks before it jails itself, for the
// writes the jailed actuator's CAP_NET_ADMIN cannot make safely or at all:
//   - the neighbour thresholds, which only rtnetlink (RTM_SETNEIGHTBL) sets. A NETLINK_ROUTE
//     socket in the actuator would let a compromised actuator send any rtnetlink message with
//     CAP_NET_ADMIN (routes, links, addresses); here the message is built from a table index and
//     three numbers, and the actuator's filter no longer allows a netlink socket at all.
//   - net.core.high_order_alloc_disable, a static key: the kernel checks CAP_SYS_ADMIN of the
//     task that writes (proc_do_static_key), so neither the actuator nor a passed fd can do it.
//   - bpftune's host routes (routeCongctl): a /32 or /128 with protocol 249 and metric 4242
//     carrying RTAX_CC_ALGO, in any namespace. The request names the namespace, the host and an
//     algorithm from a closed enum; the writer looks up the covering route itself and copies its
//     nexthop, and refuses when that nexthop or bpftune's route differs from what the actuator
//     journaled (compare-and-set). So a compromised actuator can pin a host to the nexthop it
//     already uses, with an available algorithm, or delete bpftune's routes; it cannot pick a
//     gateway or device, nor touch a route of another protocol or metric.
// Other namespaces' rtnetlink sockets come from the netns opener over a socketpair of their own
// (a NETLINK_ROUTE socket acts in the namespace that created it): the actuator never holds one.
// The writer holds CAP_NET_ADMIN + CAP_SYS_ADMIN, runs as the actuator's user (so the collector's
// sysctl hook counts its writes as bpftune's own), and reads nothing but one fixed-size
// WriterRequest per datagram, which it re-validates (validateWriterRequest) because the actuator
// parses untrusted requests and may be compromised. Like the netns opener it dies with its
// parent, and its death or a malformed reply is fatal in the actuator.
#pragma once

#include <sys/types.h>

#include <array>
#include <cstdint>
#include <optional>
#include <string_view>
#include <type_traits>
#include <variant>

#include "host_address.h"
#include "host_routes.h"
#include "jail.h"
#include "neigh_table_io.h"
#include "result.h"
#include "sysctl_io.h"
#include "tunable_table.h"
#include "unique_fd.h"

namespace bpftune::actuator {

// The writer's wire format on its SOCK_SEQPACKET socketpair (both ends are ours).
enum class WriterOp : uint32_t {
  SET_NEIGH_THRESHOLDS = 1,          // table, values = gc_thresh1, 2, 3
  SET_HIGH_ORDER_ALLOC_DISABLE = 2,  // values[0] = 0 or 1; table and values[1..2] zero
  LOOKUP_HOST_ROUTE = 3,             // netnsCookie, family, host
  SET_HOST_ROUTE = 4,                // + alg, expectedAlg, nexthop (what the actuator journaled)
  DELETE_HOST_ROUTE = 5,             // netnsCookie, family, host, routeTable
};
enum class NeighTableIndex : uint32_t {
  ARP_CACHE = 0,
  NDISC_CACHE = 1
};

// A route's nexthop. Addresses in the host's family, all zero: none (on-link, no source).
struct WireNexthop {
  uint32_t table = 0;
  uint32_t oif = 0;
  std::array<uint8_t, 16> gateway{};
  std::array<uint8_t, 16> prefsrc{};
  std::array<char, 16> ifname{};  // replies only; NUL terminated
  uint8_t coveringLen = 0;        // prefix length of the route it is copied from
  uint8_t type = 0;               // replies only: rtm_type of that route (0: there is none)
  uint8_t protocol = 0;           // replies only: its rtm_protocol
  uint8_t flags = 0;              // replies only: NEXTHOP_* below
  uint32_t priority = 0;          // replies only: its metric
};

// WireNexthop::flags, a bit set. SINGLE only when bpftune can copy the nexthop: never together
// with ENCAP (a tunnel encapsulation) or REALM (RTA_FLOW). CONGCTL: the route carries an
// RTAX_CC_ALGO of its own, an administrator's choice for the hosts it covers. ONLINK:
// RTNH_F_ONLINK, the gateway is on-link without a prefix.
constexpr uint8_t NEXTHOP_SINGLE = 1;
constexpr uint8_t NEXTHOP_ENCAP = 2;
constexpr uint8_t NEXTHOP_REALM = 4;
constexpr uint8_t NEXTHOP_CONGCTL = 8;
constexpr uint8_t NEXTHOP_ONLINK = 16;

struct WriterRequest {
  uint32_t op = 0;     // a WriterOp
  uint32_t table = 0;  // a NeighTableIndex
  Values values{};
  // Host route ops only (zero for the others).
  uint64_t netnsCookie = 0;
  uint32_t family = 0;       // AF_INET or AF_INET6
  uint32_t alg = 0;          // SET: the proto::CongAlg to carry (not NONE)
  uint32_t expectedAlg = 0;  // SET: what bpftune's route carries now (NONE: no route of ours)
  uint32_t routeTable = 0;   // DELETE: the table of bpftune's route
  std::array<uint8_t, 16> host{};
  WireNexthop nexthop{};  // SET: the nexthop the actuator journaled
};
struct WriterReply {
  int32_t error = 0;       // 0, or the errno of the refusal or of the kernel
  int32_t routeError = 0;  // LOOKUP: the kernel's errno when it has no route for the host
  uint32_t ourAlg = 0;     // LOOKUP: CongAlg on bpftune's route (NONE: none; ALG_FOREIGN)
  uint32_t ourTable = 0;   // LOOKUP: its table
  WireNexthop covering{};  // LOOKUP, SET: the route traffic takes without bpftune's
  WireNexthop ours{};      // LOOKUP: bpftune's route (type 0: none)
};
static_assert(sizeof(WireNexthop) == 64 && sizeof(WriterRequest) == 136 &&
                  sizeof(WriterReply) == 144,
              "fixed wire format without padding");
static_assert(std::is_trivially_copyable_v<WriterRequest> &&
                  std::is_trivially_copyable_v<WriterReply>,
              "sent as bytes");

// A request that passed validation: exactly what the writer will do.
struct NeighThresholds {
  std::string_view table;  // "arp_cache" or "ndisc_cache"
  Values values{};         // 0 <= t1 <= t2 <= t3 <= INT_MAX
};
struct HighOrderAllocDisable {
  bool disable = false;
};
struct HostRouteTarget {
  uint64_t netnsCookie = 0;  // nonzero
  HostAddress host;          // passes hostAddressProblem
};
struct LookupHostRoute {
  HostRouteTarget target;
};
struct SetHostRoute {
  HostRouteTarget target;
  int64_t alg = 0;          // a CongAlg other than NONE
  std::string_view name;    // its kernel name
  int64_t expectedAlg = 0;  // a CongAlg (NONE: no route of ours)
  WireNexthop nexthop{};    // table, oif, gateway, prefsrc, coveringLen to compare with
};
struct DeleteHostRoute {
  HostRouteTarget target;
  uint32_t table = 0;  // nonzero
};
using WriterCommand = std::
    variant<NeighThresholds, HighOrderAllocDisable, LookupHostRoute, SetHostRoute, DeleteHostRoute>;

// Pure: EINVAL for an unknown op or table, thresholds outside 0 <= t1 <= t2 <= t3 <= INT_MAX,
// a flag other than 0/1, a host that is not a sane unicast address, an algorithm outside the
// enum, a nexthop that cannot be one, or a field the op does not use that is not zero.
Result<WriterCommand> validateWriterRequest(const WriterRequest& request);

// The journal's nexthop on the wire and back (type, protocol, single, priority stay zero).
WireNexthop toWire(const journal::RouteNexthop& nexthop);
// A reply's route for the engine. EPROTO for a reply the writer cannot have sent.
Result<RouteLookup> fromWire(const WriterReply& reply, uint8_t family);

// The actuator's handle on the writer process.
class PrivWriter {
public:
  // Forks the writer. `identity` as for the actuator (nullopt: not started as root).
  // openerChannel: the writer's end of its socketpair with the netns opener
  // (NetnsOpener::takeWriterChannel); the writer keeps it, the caller's copy closes on return.
  static Result<PrivWriter> spawn(std::optional<Identity> identity, UniqueFd openerChannel);
  // A writer the helpers daemon forked: `channel` is the actuator's end, `pid` not our child.
  static PrivWriter adopt(UniqueFd channel, pid_t pid) { return {std::move(channel), pid}; }
  // The actuator's end, for the helpers daemon to hand over (this object is spent after).
  UniqueFd takeChannel() { return std::move(socket); }

  // One round trip. Throws when the writer died or sent a malformed reply.
  WriterReply exchange(const WriterRequest& request);
  // The writer's errno (0: done).
  int call(const WriterRequest& request) { return exchange(request).error; }
  pid_t pid() const { return child; }

private:
  PrivWriter(UniqueFd socket, pid_t child) : socket(std::move(socket)), child(child) {}
  UniqueFd socket;
  pid_t child = -1;
};

// The engine's NEIGH_TABLE backend in production: the thresholds go through the writer.
class WriterNeighTables final : public NeighTableWriter {
public:
  explicit WriterNeighTables(PrivWriter& writer) : writer(writer) {}
  Status write(const policy::TunableInfo& info, const Values& values) override;

private:
  PrivWriter& writer;
};

// The engine's HOST_ROUTE backend in production.
class WriterHostRoutes final : public HostRoutes {
public:
  explicit WriterHostRoutes(PrivWriter& writer) : writer(writer) {}
  Result<RouteLookup> lookup(uint64_t cookie, const HostAddress& host) override;
  Status set(uint64_t cookie,
             const HostAddress& host,
             int64_t alg,
             int64_t expectedAlg,
             const journal::RouteNexthop& nexthop) override;
  Status remove(uint64_t cookie, const HostAddress& host, uint32_t table) override;

private:
  PrivWriter& writer;
};

// The engine's STATIC_KEY backend in production.
class WriterStaticKeys final : public StaticKeyWriter {
public:
  explicit WriterStaticKeys(PrivWriter& writer) : writer(writer) {}
  Status write(const policy::TunableInfo& info, const Values& values) override;

private:
  PrivWriter& writer;
};

}  // namespace bpftune::actuator
