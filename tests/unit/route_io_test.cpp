// bpftune's host route messages as the privileged writer builds and parses them: our key
// (protocol 249, metric 4242, full-length prefix) on every write, CREATE|EXCL first and REPLACE
// only on our own route, the covering route's nexthop and metrics copied, and the user-space
// longest-prefix match that finds the covering route when ours wins the kernel's lookup.
#include "route_io.h"

#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <sys/socket.h>

#include <cstring>
#include <map>

#include <gtest/gtest.h>

namespace bpftune::actuator {
namespace {

HostAddress addr(const char* text) {
  return *HostAddress::parse(text);
}

RouteEntry route(const char* dst,
                 uint8_t len,
                 uint8_t protocol = RTPROT_STATIC,
                 uint32_t prio = 0) {
  RouteEntry r;
  r.dst = addr(dst);
  r.family = r.dst.family;
  r.dstLen = len;
  r.protocol = protocol;
  r.priority = prio;
  r.type = RTN_UNICAST;
  r.table = RT_TABLE_MAIN;
  r.oif = 2;
  return r;
}

nlmsghdr header(const std::vector<uint8_t>& m) {
  nlmsghdr h{};
  std::memcpy(&h, m.data(), sizeof(h));
  return h;
}

rtmsg rtm(const std::vector<uint8_t>& m) {
  rtmsg r{};
  std::memcpy(&r, m.data() + NLMSG_HDRLEN, sizeof(r));
  return r;
}

// Top-level attributes of a route message: type -> payload.
std::map<uint16_t, std::vector<uint8_t>> attrs(const std::vector<uint8_t>& m, size_t from) {
  std::map<uint16_t, std::vector<uint8_t>> out;
  size_t off = from;
  while (off + NLA_HDRLEN <= m.size()) {
    nlattr a{};
    std::memcpy(&a, m.data() + off, sizeof(a));
    out[a.nla_type] = std::vector<uint8_t>(m.begin() + static_cast<ptrdiff_t>(off + NLA_HDRLEN),
                                           m.begin() + static_cast<ptrdiff_t>(off + a.nla_len));
    off += NLA_ALIGN(a.nla_len);
  }
  return out;
}

std::map<uint16_t, std::vector<uint8_t>> routeAttrs(const std::vector<uint8_t>& m) {
  return attrs(m, NLMSG_HDRLEN + NLMSG_ALIGN(sizeof(rtmsg)));
}

uint32_t u32(const std::vector<uint8_t>& payload) {
  uint32_t v = 0;
  std::memcpy(&v, payload.data(), sizeof(v));
  return v;
}

TEST(RouteMessages, ANewRouteCarriesOurKeyTheCopiedNexthopAndTheAlgorithm) {
  RouteEntry covering = route("10.1.0.0", 16);
  covering.gateway = addr("10.0.0.1");
  covering.prefsrc = addr("10.0.0.5");
  covering.scope = RT_SCOPE_UNIVERSE;
  covering.metrics = {{RTAX_MTU, 1400}, {RTAX_INITCWND, 20}};
  auto m = buildNewHostRoute(addr("10.1.2.3"), covering, "reno", false, 7);
  EXPECT_EQ(header(m).nlmsg_len, m.size());
  EXPECT_EQ(header(m).nlmsg_type, RTM_NEWROUTE);
  EXPECT_EQ(header(m).nlmsg_flags, NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL);
  EXPECT_EQ(header(m).nlmsg_seq, 7U);
  EXPECT_EQ(rtm(m).rtm_family, AF_INET);
  EXPECT_EQ(rtm(m).rtm_dst_len, 32);
  EXPECT_EQ(rtm(m).rtm_protocol, BPFTUNE_ROUTE_PROTOCOL);
  EXPECT_EQ(rtm(m).rtm_type, RTN_UNICAST);
  auto a = routeAttrs(m);
  EXPECT_EQ(u32(a[RTA_PRIORITY]), BPFTUNE_ROUTE_PRIORITY);
  EXPECT_EQ(u32(a[RTA_TABLE]), RT_TABLE_MAIN);
  EXPECT_EQ(u32(a[RTA_OIF]), 2U);
  EXPECT_EQ(a[RTA_DST], (std::vector<uint8_t>{10, 1, 2, 3}));
  EXPECT_EQ(a[RTA_GATEWAY], (std::vector<uint8_t>{10, 0, 0, 1}));
  EXPECT_EQ(a[RTA_PREFSRC], (std::vector<uint8_t>{10, 0, 0, 5}));
  auto metrics = attrs(a[RTA_METRICS], 0);
  EXPECT_EQ(u32(metrics[RTAX_MTU]), 1400U);
  EXPECT_EQ(u32(metrics[RTAX_INITCWND]), 20U);
  EXPECT_EQ(metrics[RTAX_CC_ALGO], (std::vector<uint8_t>{'r', 'e', 'n', 'o', 0}));
  // Parsed back, it is ours and carries what it copied.
  auto parsed = parseRoute(m);
  ASSERT_TRUE(parsed.ok()) << parsed.error().message;
  EXPECT_TRUE(parsed->ours());
  EXPECT_EQ(parsed->ccAlgo, "reno");
  EXPECT_EQ(parsed->gateway, addr("10.0.0.1"));
  EXPECT_EQ(parsed->metrics.size(), 2U);
}

TEST(RouteMessages, ReplaceOnlyOnRequestAndIPv6HasNoGatewayWhenOnLink) {
  RouteEntry covering = route("2001:db8::", 64, RTPROT_KERNEL, 256);
  covering.table = 1000;  // beyond rtm_table's byte: RTA_TABLE alone names it
  auto m = buildNewHostRoute(addr("2001:db8::9"), covering, "bbr", true, 1);
  EXPECT_EQ(header(m).nlmsg_flags, NLM_F_REQUEST | NLM_F_ACK | NLM_F_REPLACE);
  EXPECT_EQ(rtm(m).rtm_dst_len, 128);
  EXPECT_EQ(rtm(m).rtm_table, RT_TABLE_UNSPEC);
  auto a = routeAttrs(m);
  EXPECT_EQ(u32(a[RTA_TABLE]), 1000U);
  EXPECT_EQ(a.count(RTA_GATEWAY), 0U);
  EXPECT_EQ(a.count(RTA_PREFSRC), 0U);
  EXPECT_EQ(a[RTA_DST].size(), 16U);
}

TEST(RouteMessages, DeleteIsQualifiedByOurProtocolAndMetric) {
  auto m = buildDelHostRoute(addr("10.1.2.3"), RT_TABLE_MAIN, 3);
  EXPECT_EQ(header(m).nlmsg_type, RTM_DELROUTE);
  EXPECT_EQ(rtm(m).rtm_protocol, BPFTUNE_ROUTE_PROTOCOL);
  EXPECT_EQ(rtm(m).rtm_dst_len, 32);
  auto a = routeAttrs(m);
  EXPECT_EQ(u32(a[RTA_PRIORITY]), BPFTUNE_ROUTE_PRIORITY);
  EXPECT_EQ(u32(a[RTA_TABLE]), RT_TABLE_MAIN);
}

TEST(RouteMessages, LookupsAskForTheFibEntryAndStrictDumpsFilter) {
  auto v4 = buildFibMatch(addr("10.1.2.3"), 1);
  EXPECT_EQ(rtm(v4).rtm_flags, RTM_F_FIB_MATCH | RTM_F_LOOKUP_TABLE);
  auto v6 = buildFibMatch(addr("2001:db8::9"), 1);
  EXPECT_EQ(rtm(v6).rtm_flags, RTM_F_FIB_MATCH);  // IPv6 refuses RTM_F_LOOKUP_TABLE
  auto dump = buildRouteDump(AF_INET, RT_TABLE_MAIN, BPFTUNE_ROUTE_PROTOCOL, 2);
  EXPECT_EQ(header(dump).nlmsg_flags, NLM_F_REQUEST | NLM_F_ACK | NLM_F_DUMP);
  EXPECT_EQ(rtm(dump).rtm_protocol, BPFTUNE_ROUTE_PROTOCOL);
  EXPECT_EQ(rtm(dump).rtm_dst_len, 0);  // strict dumps refuse a prefix filter
}

TEST(RouteMessages, MalformedRoutesAreRefused) {
  auto m = buildNewHostRoute(addr("10.1.2.3"), route("10.1.0.0", 16), "reno", false, 1);
  auto truncated = m;
  truncated.resize(NLMSG_HDRLEN + 4);
  EXPECT_FALSE(parseRoute(truncated).ok());
  auto badLength = m;
  badLength[NLMSG_HDRLEN + NLMSG_ALIGN(sizeof(rtmsg))] = 0xff;  // first attribute's nla_len
  badLength[NLMSG_HDRLEN + NLMSG_ALIGN(sizeof(rtmsg)) + 1] = 0x7f;
  EXPECT_FALSE(parseRoute(badLength).ok());
  auto badFamily = m;
  badFamily[NLMSG_HDRLEN] = AF_UNIX;
  EXPECT_FALSE(parseRoute(badFamily).ok());
}

TEST(Covering, LongestPrefixThenLowestMetricNeverOursNorTos) {
  const HostAddress host = addr("10.1.2.3");
  RouteEntry ours = route("10.1.2.3", 32, BPFTUNE_ROUTE_PROTOCOL, BPFTUNE_ROUTE_PRIORITY);
  RouteEntry tos = route("10.1.2.0", 24);
  tos.tos = 0x10;
  std::vector<RouteEntry> routes = {route("0.0.0.0", 0),
                                    route("10.1.0.0", 16, RTPROT_STATIC, 100),
                                    route("10.1.0.0", 16, RTPROT_STATIC, 50),
                                    route("10.1.3.0", 24),
                                    tos,
                                    ours};
  auto best = bestCovering(routes, host);
  ASSERT_TRUE(best.has_value());
  EXPECT_EQ(best->dstLen, 16);
  EXPECT_EQ(best->priority, 50U);
  // An administrator's host route of another metric is the covering route: it wins.
  routes.push_back(route("10.1.2.3", 32, RTPROT_STATIC, 5000));
  EXPECT_EQ(bestCovering(routes, host)->dstLen, 32);
  EXPECT_FALSE(bestCovering({ours, route("10.2.0.0", 16)}, host).has_value());
  EXPECT_FALSE(bestCovering({route("2001:db8::", 32)}, host).has_value());
}

TEST(Covering, PrefixesCoverBitExactly) {
  EXPECT_TRUE(route("10.1.2.0", 23).covers(addr("10.1.3.255")));
  EXPECT_FALSE(route("10.1.2.0", 24).covers(addr("10.1.3.1")));
  EXPECT_TRUE(route("0.0.0.0", 0).covers(addr("203.0.113.1")));
  EXPECT_TRUE(route("2001:db8::", 33).covers(addr("2001:db8:7fff::1")));
  EXPECT_FALSE(route("2001:db8::", 33).covers(addr("2001:db8:8000::1")));
  EXPECT_TRUE(route("10.1.2.3", 32, BPFTUNE_ROUTE_PROTOCOL, BPFTUNE_ROUTE_PRIORITY).ours());
  EXPECT_FALSE(route("10.1.2.3", 32, BPFTUNE_ROUTE_PROTOCOL, 0).ours());
  EXPECT_FALSE(route("10.1.2.0", 24, BPFTUNE_ROUTE_PROTOCOL, BPFTUNE_ROUTE_PRIORITY).ours());
}

}  // namespace
}  // namespace bpftune::actuator
