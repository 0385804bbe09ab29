// bpftune's host routes over rtnetlink, as the privileged writer reads and writes them. The
// conventions (docs/ARCHITECTURE.md): protocol 249 ("bpftune"), priority (metric) 4242, a /32 or
// /128 in the table the traffic uses, nexthop and metrics copied from the covering route, and
// RTAX_CC_ALGO naming the algorithm. The key (table, dst/len, priority) never collides with an
// administrator's route (metric 0 on IPv4, 1024 on IPv6 by default), so bpftune never edits a
// route it did not create; an administrator's host route wins the lookup.
// Hand-built messages on a socket the caller owns (the writer's own, or one the netns opener made
// in another namespace): a NETLINK_ROUTE socket acts in the namespace that created it.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "host_address.h"
#include "result.h"

namespace bpftune::actuator {

constexpr uint8_t BPFTUNE_ROUTE_PROTOCOL = 249;
constexpr uint32_t BPFTUNE_ROUTE_PRIORITY = 4242;

// One route as rtnetlink reports it: the fields bpftune decides on or copies.
struct RouteEntry {
  uint8_t family = 0;
  uint8_t dstLen = 0;
  uint8_t tos = 0;
  uint8_t protocol = 0;
  uint8_t scope = 0;
  uint8_t type = 0;    // RTN_UNICAST, RTN_BLACKHOLE, ...
  uint32_t flags = 0;  // rtm_flags (RTNH_F_ONLINK: the gateway is on-link without a prefix)
  uint32_t table = 0;
  uint32_t priority = 0;
  HostAddress dst;  // the prefix (family set, bytes zero for a default route)
  HostAddress gateway;
  HostAddress prefsrc;
  uint32_t oif = 0;
  // RTA_MULTIPATH, RTA_VIA (a gateway of another family) or RTA_NH_ID: not one nexthop that
  // bpftune can copy.
  bool complexNexthop = false;
  // RTA_ENCAP / RTA_ENCAP_TYPE (MPLS, SRv6, BPF, metadata tunnels) or RTA_FLOW (a realm that
  // tc and iptables classify on): a copy without them would send the host around the tunnel or
  // the policy, so such a route is no nexthop bpftune copies either.
  bool encap = false;
  bool realm = false;
  std::string ccAlgo;     // RTAX_CC_ALGO; empty: none (on a covering route: the admin's choice)
  bool ccLocked = false;  // RTAX_LOCK held the RTAX_CC_ALGO bit (stripped from `metrics`)
  // Every other RTAX_*, copied to ours; RTAX_LOCK without the RTAX_CC_ALGO bit.
  std::vector<std::pair<uint16_t, uint32_t>> metrics;

  // protocol 249, priority 4242, a full-length prefix: bpftune's.
  bool ours() const;
  bool covers(const HostAddress& host) const;
};

// What the writer found for a host in one namespace.
struct HostRouteView {
  std::optional<RouteEntry> ours;      // bpftune's host route (any table, the traffic's first)
  std::optional<RouteEntry> covering;  // the best route for the host other than ours
  std::string coveringIfname;          // of covering->oif, at lookup time
  int routeError = 0;                  // the kernel's errno when it has no route for the host
};

// Message builders (exposed for unit tests).
std::vector<uint8_t> buildFibMatch(const HostAddress& host, uint32_t seq);
// A strict dump (NETLINK_GET_STRICT_CHK): the kernel filters on table (0: all) and protocol.
std::vector<uint8_t> buildRouteDump(uint8_t family, uint32_t table, uint8_t protocol, uint32_t seq);
// bpftune's route for `host` with `covering`'s table, scope, nexthop and metrics plus
// RTAX_CC_ALGO `alg`. replace: NLM_F_REPLACE of our own key; otherwise NLM_F_CREATE|NLM_F_EXCL.
std::vector<uint8_t> buildNewHostRoute(const HostAddress& host,
                                       const RouteEntry& covering,
                                       std::string_view alg,
                                       bool replace,
                                       uint32_t seq);
// RTM_DELROUTE qualified by our protocol and priority: it can only ever match bpftune's route.
std::vector<uint8_t> buildDelHostRoute(const HostAddress& host, uint32_t table, uint32_t seq);
std::vector<uint8_t> buildGetLink(uint32_t ifindex, uint32_t seq);

// Receives every message of an answer but the final NLMSG_ERROR / NLMSG_DONE.
using MessageSink = std::function<Status(uint16_t type, std::span<const uint8_t> message)>;
// Feeds one datagram of the kernel's answer to request `seq` to `sink` (exposed for unit tests).
// true: the answer is complete (an acknowledgement, or NLMSG_DONE with a zero errno); false: more
// datagrams follow. Errors: the kernel's errno (NLMSG_ERROR, or a dump that failed part-way:
// NLMSG_DONE with a negative errno), EBADMSG for a truncated or malformed message. Messages of
// other sequence numbers (late answers to earlier requests) are skipped.
Result<bool> consumeReply(std::span<const uint8_t> datagram, uint32_t seq, const MessageSink& sink);
// The writer's one rtnetlink round trip (routes and neighbour tables): sends `request` (numbered
// `seq`) with a kernel address and feeds every answer to `sink` until the kernel's
// acknowledgement, error or end of dump (1 s at most).
Status transact(int fd, const std::vector<uint8_t>& request, uint32_t seq, const MessageSink& sink);

// One RTM_NEWROUTE message (header included). EBADMSG for a malformed one.
Result<RouteEntry> parseRoute(std::span<const uint8_t> message);
// Longest prefix covering `host`, lowest priority among equals, never ours and never a
// TOS-specific route: what the kernel would pick in that table without bpftune's route.
std::optional<RouteEntry> bestCovering(const std::vector<RouteEntry>& routes,
                                       const HostAddress& host);

// Round trips on `fd`. `seq` is the next sequence number (advanced per message sent).
Result<HostRouteView> lookupHostRoute(int fd, const HostAddress& host, uint32_t& seq);
Status addHostRoute(int fd,
                    const HostAddress& host,
                    const RouteEntry& covering,
                    std::string_view alg,
                    bool replace,
                    uint32_t& seq);
// Ok also when there was no route of ours (ESRCH: someone removed it already).
Status deleteHostRoute(int fd, const HostAddress& host, uint32_t table, uint32_t& seq);

}  // namespace bpftune::actuator
