// bpftune's host route messages as the privileged writer builds and parses them: our key
// (protocol 249, metric 4242, full-length prefix) on every write, CREATE|EXCL first and REPLACE
// only on our own route, the covering route's nexthop and metrics copied, and the user-space
// longest-prefix match that finds the covering route when ours wins the kernel's lookup.
#include "route_io.h"

#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstddef>
#include <cstring>
#include <map>
#include <string>

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

// Appends one attribute (padded) to `buf`.
void appendAttr(std::vector<uint8_t>& buf, uint16_t type, const std::vector<uint8_t>& payload) {
  nlattr a{};
  a.nla_type = type;
  a.nla_len = static_cast<uint16_t>(NLA_HDRLEN + payload.size());
  const size_t at = buf.size();
  buf.resize(at + NLA_ALIGN(a.nla_len), 0);
  std::memcpy(buf.data() + at, &a, sizeof(a));
  std::memcpy(buf.data() + at + NLA_HDRLEN, payload.data(), payload.size());
}

// `m` with one more top-level attribute (nlmsg_len updated).
std::vector<uint8_t> withAttr(std::vector<uint8_t> m,
                              uint16_t type,
                              const std::vector<uint8_t>& payload) {
  m.resize(NLMSG_ALIGN(m.size()), 0);
  appendAttr(m, type, payload);
  const auto len = static_cast<uint32_t>(m.size());
  std::memcpy(m.data(), &len, sizeof(len));
  return m;
}

std::vector<uint8_t> u32Bytes(uint32_t v) {
  std::vector<uint8_t> out(sizeof(v));
  std::memcpy(out.data(), &v, sizeof(v));
  return out;
}

// A covering route as the kernel would dump it: 10.1.0.0/16 via 10.0.0.1 (protocol static).
std::vector<uint8_t> coveringMessage() {
  RouteEntry r = route("10.1.0.0", 16);
  r.gateway = addr("10.0.0.1");
  auto m = buildNewHostRoute(addr("10.1.0.0"), r, "reno", false, 1);
  m[NLMSG_HDRLEN + offsetof(rtmsg, rtm_dst_len)] = 16;
  m[NLMSG_HDRLEN + offsetof(rtmsg, rtm_protocol)] = RTPROT_STATIC;
  return m;
}

TEST(RouteMessages, TunnelsAndRealmsAreNoNexthopToCopyAndExpiryIsNotCopied) {
  auto plain = parseRoute(coveringMessage());
  ASSERT_TRUE(plain.ok()) << plain.error().message;
  EXPECT_FALSE(plain->encap || plain->realm || plain->complexNexthop);
  // `ip route add ... encap mpls 100` (RTA_ENCAP_TYPE 1 + nested RTA_ENCAP), each alone too.
  auto encapType = withAttr(coveringMessage(), RTA_ENCAP_TYPE, {1, 0});
  auto encap = withAttr(encapType, RTA_ENCAP, {8, 0, 1, 0, 0, 0x06, 0x41, 0});
  for (const auto& m : {encapType, encap, withAttr(coveringMessage(), RTA_ENCAP, {})}) {
    auto parsed = parseRoute(m);
    ASSERT_TRUE(parsed.ok()) << parsed.error().message;
    EXPECT_TRUE(parsed->encap);
  }
  auto realm = parseRoute(withAttr(coveringMessage(), RTA_FLOW, u32Bytes(5)));
  ASSERT_TRUE(realm.ok());
  EXPECT_TRUE(realm->realm);
  EXPECT_FALSE(realm->encap);
  // An RA-learned IPv6 route: accepted, and ours built from it carries no expiry.
  auto expiring = parseRoute(withAttr(coveringMessage(), RTA_EXPIRES, u32Bytes(300)));
  ASSERT_TRUE(expiring.ok());
  EXPECT_FALSE(expiring->encap || expiring->realm || expiring->complexNexthop);
  auto ours = buildNewHostRoute(addr("10.1.2.3"), *expiring, "bbr", false, 2);
  EXPECT_EQ(routeAttrs(ours).count(RTA_EXPIRES), 0U);
}

TEST(RouteMessages, TheCoveringRoutesCongctlAndItsLockAreNeverCopied) {
  // `ip route add 10.1.0.0/16 via 10.0.0.1 congctl lock cubic mtu lock 1400`.
  const uint32_t locks = (1U << RTAX_CC_ALGO) | (1U << RTAX_MTU);
  std::vector<uint8_t> metrics;
  auto put = [&metrics](uint16_t type, const std::vector<uint8_t>& payload) {
    appendAttr(metrics, type, payload);
  };
  put(RTAX_LOCK, u32Bytes(locks));
  put(RTAX_MTU, u32Bytes(1400));
  put(RTAX_CC_ALGO, {'c', 'u', 'b', 'i', 'c', 0});
  RouteEntry bare = route("10.1.0.0", 16);
  bare.gateway = addr("10.0.0.1");
  // A route message without RTA_METRICS, then the crafted one.
  auto m = buildDelHostRoute(addr("10.1.0.0"), RT_TABLE_MAIN, 1);
  m[NLMSG_HDRLEN + offsetof(rtmsg, rtm_dst_len)] = 16;
  m[NLMSG_HDRLEN + offsetof(rtmsg, rtm_protocol)] = RTPROT_STATIC;
  m[NLMSG_HDRLEN + offsetof(rtmsg, rtm_type)] = RTN_UNICAST;
  m = withAttr(withAttr(m, RTA_OIF, u32Bytes(2)), RTA_METRICS, metrics);
  auto covering = parseRoute(m);
  ASSERT_TRUE(covering.ok()) << covering.error().message;
  EXPECT_EQ(covering->ccAlgo, "cubic");
  EXPECT_TRUE(covering->ccLocked);
  std::map<uint16_t, uint32_t> copied(covering->metrics.begin(), covering->metrics.end());
  EXPECT_EQ(copied[RTAX_LOCK], 1U << RTAX_MTU);  // the mtu lock travels, the congctl lock not
  EXPECT_EQ(copied[RTAX_MTU], 1400U);
  auto ours = buildNewHostRoute(addr("10.1.2.3"), *covering, "bbr", false, 2);
  auto ourMetrics = attrs(routeAttrs(ours)[RTA_METRICS], 0);
  EXPECT_EQ(u32(ourMetrics[RTAX_LOCK]) & (1U << RTAX_CC_ALGO), 0U);
  EXPECT_EQ(ourMetrics[RTAX_CC_ALGO], (std::vector<uint8_t>{'b', 'b', 'r', 0}));
  auto parsed = parseRoute(ours);
  ASSERT_TRUE(parsed.ok());
  EXPECT_FALSE(parsed->ccLocked);
  // Only the congctl lock: no RTAX_LOCK left at all.
  metrics.clear();
  put(RTAX_LOCK, u32Bytes(1U << RTAX_CC_ALGO));
  auto onlyCc = parseRoute(withAttr(coveringMessage(), RTA_METRICS, metrics));
  ASSERT_TRUE(onlyCc.ok());
  EXPECT_TRUE(onlyCc->ccLocked);
  for (const auto& [type, value] : onlyCc->metrics) {
    EXPECT_NE(type, RTAX_LOCK) << value;
  }
}

// The reply parser over crafted datagrams ------------------------------------------------------

std::vector<uint8_t> nlmsg(uint16_t type, uint32_t seq, const std::vector<uint8_t>& payload) {
  nlmsghdr h{};
  h.nlmsg_len = static_cast<uint32_t>(NLMSG_HDRLEN + payload.size());
  h.nlmsg_type = type;
  h.nlmsg_flags = NLM_F_MULTI;
  h.nlmsg_seq = seq;
  std::vector<uint8_t> m(NLMSG_ALIGN(h.nlmsg_len), 0);
  std::memcpy(m.data(), &h, sizeof(h));
  std::memcpy(m.data() + NLMSG_HDRLEN, payload.data(), payload.size());
  return m;
}

std::vector<uint8_t> errorMessage(uint32_t seq, int error) {
  nlmsgerr e{};
  e.error = error;
  e.msg.nlmsg_seq = seq;
  std::vector<uint8_t> payload(sizeof(e));
  std::memcpy(payload.data(), &e, sizeof(e));
  return nlmsg(NLMSG_ERROR, seq, payload);
}

std::vector<uint8_t> doneMessage(uint32_t seq, int32_t result) {
  std::vector<uint8_t> payload(sizeof(result));
  std::memcpy(payload.data(), &result, sizeof(result));
  return nlmsg(NLMSG_DONE, seq, payload);
}

std::vector<uint8_t> routeMessage(uint32_t seq) {
  auto m = coveringMessage();
  nlmsghdr h{};
  std::memcpy(&h, m.data(), sizeof(h));
  h.nlmsg_seq = seq;
  h.nlmsg_flags = NLM_F_MULTI;
  std::memcpy(m.data(), &h, sizeof(h));
  return m;
}

std::vector<uint8_t> concat(std::initializer_list<std::vector<uint8_t>> parts) {
  std::vector<uint8_t> out;
  for (const auto& p : parts) {
    out.insert(out.end(), p.begin(), p.end());
  }
  return out;
}

struct Collected {
  std::vector<uint16_t> types;
  MessageSink sink() {
    return [this](uint16_t type, std::span<const uint8_t>) {
      types.push_back(type);
      return bpftune::Status(Ok{});
    };
  }
};

TEST(ReplyParser, AnAcknowledgementOrAnErrorEndsTheAnswer) {
  Collected c;
  auto ack = consumeReply(errorMessage(5, 0), 5, c.sink());
  ASSERT_TRUE(ack.ok()) << ack.error().message;
  EXPECT_TRUE(*ack);
  auto refused = consumeReply(errorMessage(5, -EEXIST), 5, c.sink());
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().errnum, EEXIST);
  auto nonsense = consumeReply(errorMessage(5, -70000), 5, c.sink());
  ASSERT_FALSE(nonsense.ok());
  EXPECT_EQ(nonsense.error().errnum, EPROTO);
  EXPECT_TRUE(c.types.empty());
}

TEST(ReplyParser, AMultipartDumpEndsWithDoneAndItsErrno) {
  Collected c;
  auto first = consumeReply(concat({routeMessage(9), routeMessage(9)}), 9, c.sink());
  ASSERT_TRUE(first.ok()) << first.error().message;
  EXPECT_FALSE(*first);  // more to come
  auto last = consumeReply(concat({routeMessage(9), doneMessage(9, 0)}), 9, c.sink());
  ASSERT_TRUE(last.ok()) << last.error().message;
  EXPECT_TRUE(*last);
  EXPECT_EQ(c.types, (std::vector<uint16_t>{RTM_NEWROUTE, RTM_NEWROUTE, RTM_NEWROUTE}));
  // A dump that failed part-way is not a complete table.
  auto failed = consumeReply(concat({routeMessage(9), doneMessage(9, -EINTR)}), 9, c.sink());
  ASSERT_FALSE(failed.ok());
  EXPECT_EQ(failed.error().errnum, EINTR);
  auto weird = consumeReply(doneMessage(9, 12), 9, c.sink());
  ASSERT_FALSE(weird.ok());
  EXPECT_EQ(weird.error().errnum, EPROTO);
  // No payload at all (old kernels): complete.
  auto bare = consumeReply(nlmsg(NLMSG_DONE, 9, {}), 9, c.sink());
  ASSERT_TRUE(bare.ok());
  EXPECT_TRUE(*bare);
}

TEST(ReplyParser, OtherSequenceNumbersAreSkipped) {
  Collected c;
  auto late = consumeReply(concat({routeMessage(3), errorMessage(3, -ENOENT)}), 4, c.sink());
  ASSERT_TRUE(late.ok()) << late.error().message;
  EXPECT_FALSE(*late);
  EXPECT_TRUE(c.types.empty());
  auto mixed =
      consumeReply(concat({doneMessage(3, -EIO), routeMessage(4), doneMessage(4, 0)}), 4, c.sink());
  ASSERT_TRUE(mixed.ok()) << mixed.error().message;
  EXPECT_TRUE(*mixed);
  EXPECT_EQ(c.types.size(), 1U);
}

TEST(ReplyParser, TruncatedMessagesAreMalformed) {
  Collected c;
  auto full = concat({routeMessage(9), doneMessage(9, 0)});
  auto cut = full;
  cut.resize(full.size() - 2);  // the DONE message claims more than arrived
  auto truncated = consumeReply(cut, 9, c.sink());
  ASSERT_FALSE(truncated.ok());
  EXPECT_EQ(truncated.error().errnum, EBADMSG);
  auto header = routeMessage(9);
  header.resize(header.size() + 8, 0);  // half a header after the last message
  auto half = consumeReply(header, 9, c.sink());
  ASSERT_FALSE(half.ok());
  EXPECT_EQ(half.error().errnum, EBADMSG);
  auto tiny = routeMessage(9);
  tiny[0] = 4;  // nlmsg_len below a header
  tiny[1] = tiny[2] = tiny[3] = 0;
  EXPECT_FALSE(consumeReply(tiny, 9, c.sink()).ok());
  // An unaligned last message: the padding is not there, and nothing past the end is read.
  auto unaligned = nlmsg(NLMSG_DONE, 9, {0, 0, 0, 0, 0});
  unaligned.resize(NLMSG_HDRLEN + 5);
  auto end = consumeReply(unaligned, 9, c.sink());
  ASSERT_TRUE(end.ok()) << end.error().message;
  EXPECT_TRUE(*end);
  auto noDone = nlmsg(RTM_NEWLINK, 9, {1, 2, 3});
  noDone.resize(NLMSG_HDRLEN + 3);
  auto partial = consumeReply(noDone, 9, c.sink());
  ASSERT_TRUE(partial.ok()) << partial.error().message;
  EXPECT_FALSE(*partial);
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
