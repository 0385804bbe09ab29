// The privileged writer: its request validation (pure; the writer trusts nothing the possibly
// compromised actuator sends), and the process itself: it answers refusals under its own filter,
// keeps serving, holds exactly CAP_NET_ADMIN + CAP_SYS_ADMIN, and its death is fatal to the
// caller. No test here sends a valid threshold or flag request: that would change the host's
// (the integration tests it_neigh_table and it_tcp_syn_lowmem do, and restore them). Host routes
// are changed for real, under the writer's filter, inside a private network namespace.
#include "priv_writer.h"

#include <fcntl.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <sched.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>

#include <gtest/gtest.h>

#include "netns_opener.h"
#include "sysctl_io.h"

namespace bpftune::actuator {
namespace {

constexpr int64_t INT_MAX_VALUE = 2147483647;
constexpr auto NEIGH = static_cast<uint32_t>(WriterOp::SET_NEIGH_THRESHOLDS);
constexpr auto FLAG = static_cast<uint32_t>(WriterOp::SET_HIGH_ORDER_ALLOC_DISABLE);
constexpr uint32_t ARP = 0;
constexpr uint32_t NDISC = 1;

int refusal(const WriterRequest& request) {
  auto checked = validateWriterRequest(request);
  return checked ? 0 : checked.error().errnum;
}

TEST(WriterRequests, OrderedThresholdsForAKnownTablePass) {
  auto arp = validateWriterRequest({NEIGH, ARP, Values{128, 512, 1024}});
  ASSERT_TRUE(arp.ok()) << arp.error().message;
  const auto* t = std::get_if<NeighThresholds>(&*arp);
  ASSERT_NE(t, nullptr);
  EXPECT_EQ(t->table, "arp_cache");
  EXPECT_EQ(t->values, (Values{128, 512, 1024}));
  auto ndisc = validateWriterRequest({NEIGH, NDISC, Values{0, 0, INT_MAX_VALUE}});
  ASSERT_TRUE(ndisc.ok()) << ndisc.error().message;
  EXPECT_EQ(std::get<NeighThresholds>(*ndisc).table, "ndisc_cache");
  EXPECT_TRUE(validateWriterRequest({NEIGH, ARP, Values{7, 7, 7}}).ok());
}

TEST(WriterRequests, UnknownOpsAndTablesAreRefused) {
  for (uint32_t op : {0U, 3U, 0x80000001U, UINT32_MAX}) {
    EXPECT_EQ(refusal({op, ARP, Values{128, 512, 1024}}), EINVAL) << op;
  }
  for (uint32_t table : {2U, 3U, UINT32_MAX}) {
    EXPECT_EQ(refusal({NEIGH, table, Values{128, 512, 1024}}), EINVAL) << table;
  }
}

TEST(WriterRequests, ThresholdsOutOfOrderOrRangeAreRefused) {
  for (const Values& v : {Values{-1, 512, 1024},
                          Values{513, 512, 1024},
                          Values{128, 1025, 1024},
                          Values{1024, 512, 128},
                          Values{128, 512, INT_MAX_VALUE + 1},
                          Values{INT64_MIN, 0, 0},
                          Values{0, 0, INT64_MAX}}) {
    EXPECT_EQ(refusal({NEIGH, ARP, v}), EINVAL) << v[0] << " " << v[1] << " " << v[2];
  }
}

TEST(WriterRequests, TheFlagTakesZeroOrOneAndNothingElse) {
  auto on = validateWriterRequest({FLAG, 0, Values{1, 0, 0}});
  ASSERT_TRUE(on.ok()) << on.error().message;
  EXPECT_TRUE(std::get<HighOrderAllocDisable>(*on).disable);
  auto off = validateWriterRequest({FLAG, 0, Values{0, 0, 0}});
  ASSERT_TRUE(off.ok()) << off.error().message;
  EXPECT_FALSE(std::get<HighOrderAllocDisable>(*off).disable);
  EXPECT_EQ(refusal({FLAG, 0, Values{2, 0, 0}}), EINVAL);
  EXPECT_EQ(refusal({FLAG, 0, Values{-1, 0, 0}}), EINVAL);
  EXPECT_EQ(refusal({FLAG, 0, Values{1, 1, 0}}), EINVAL);  // unused fields must be zero
  EXPECT_EQ(refusal({FLAG, 0, Values{1, 0, 1}}), EINVAL);
  EXPECT_EQ(refusal({FLAG, 1, Values{1, 0, 0}}), EINVAL);
}

// Host route requests ---------------------------------------------------------------------------

constexpr auto LOOKUP = static_cast<uint32_t>(WriterOp::LOOKUP_HOST_ROUTE);
constexpr auto SET = static_cast<uint32_t>(WriterOp::SET_HOST_ROUTE);
constexpr auto DELETE = static_cast<uint32_t>(WriterOp::DELETE_HOST_ROUTE);
constexpr uint32_t RENO = 1;
constexpr uint32_t BBR = 3;

WriterRequest routeRequest(uint32_t op, const char* host, uint64_t cookie = 4096) {
  WriterRequest r;
  r.op = op;
  r.netnsCookie = cookie;
  auto parsed = HostAddress::parse(host);
  r.family = parsed ? parsed->family : 0;
  r.host = parsed ? parsed->bytes : std::array<uint8_t, 16>{};
  return r;
}

WireNexthop nexthop() {
  WireNexthop n;
  n.table = 254;
  n.oif = 2;
  n.gateway = HostAddress::parse("10.0.0.1")->bytes;
  n.coveringLen = 8;
  return n;
}

WriterRequest setRequest(const char* host, uint32_t alg, uint32_t expected) {
  WriterRequest r = routeRequest(SET, host);
  r.alg = alg;
  r.expectedAlg = expected;
  r.nexthop = nexthop();
  return r;
}

TEST(WriterRequests, HostRouteOpsPass) {
  auto lookup = validateWriterRequest(routeRequest(LOOKUP, "10.1.2.3"));
  ASSERT_TRUE(lookup.ok()) << lookup.error().message;
  EXPECT_EQ(std::get<LookupHostRoute>(*lookup).target.host, *HostAddress::parse("10.1.2.3"));
  EXPECT_EQ(std::get<LookupHostRoute>(*lookup).target.netnsCookie, 4096U);
  auto set = validateWriterRequest(setRequest("10.1.2.3", BBR, RENO));
  ASSERT_TRUE(set.ok()) << set.error().message;
  EXPECT_EQ(std::get<SetHostRoute>(*set).name, "bbr");
  EXPECT_EQ(std::get<SetHostRoute>(*set).expectedAlg, RENO);
  WriterRequest del = routeRequest(DELETE, "2001:db8::1");
  del.routeTable = 254;
  auto deleted = validateWriterRequest(del);
  ASSERT_TRUE(deleted.ok()) << deleted.error().message;
  EXPECT_EQ(std::get<DeleteHostRoute>(*deleted).table, 254U);
}

TEST(WriterRequests, HostRouteOpsRefuseWhatTheyDoNotTake) {
  // Hosts: not unicast, not sane, not a family.
  for (const char* host : {"127.0.0.1", "224.0.0.1", "0.0.0.0", "169.254.1.1", "fe80::1", "::1"}) {
    EXPECT_EQ(refusal(routeRequest(LOOKUP, host)), EINVAL) << host;
  }
  WriterRequest r = routeRequest(LOOKUP, "10.1.2.3");
  r.family = 7;
  EXPECT_EQ(refusal(r), EINVAL);
  r = routeRequest(LOOKUP, "10.1.2.3");
  r.host[5] = 1;  // beyond an IPv4 address
  EXPECT_EQ(refusal(r), EINVAL);
  EXPECT_EQ(refusal(routeRequest(LOOKUP, "10.1.2.3", 0)), EINVAL);  // no namespace
  // Algorithms: never NONE (that is a delete), never outside the enum.
  for (uint32_t alg : {0U, 6U, 255U, UINT32_MAX}) {
    EXPECT_EQ(refusal(setRequest("10.1.2.3", alg, 0)), EINVAL) << alg;
  }
  EXPECT_EQ(refusal(setRequest("10.1.2.3", RENO, 9)), EINVAL);
  // Nexthops a covering route cannot have, or fields only the writer fills in.
  auto withNexthop = [](auto change) {
    WriterRequest s = setRequest("10.1.2.3", RENO, 0);
    change(s.nexthop);
    return refusal(s);
  };
  EXPECT_EQ(withNexthop([](WireNexthop& n) { n.table = 0; }), EINVAL);
  EXPECT_EQ(withNexthop([](WireNexthop& n) { n.oif = 0; }), EINVAL);
  EXPECT_EQ(withNexthop([](WireNexthop& n) { n.coveringLen = 32; }), EINVAL);
  EXPECT_EQ(withNexthop([](WireNexthop& n) { n.gateway[4] = 1; }), EINVAL);
  EXPECT_EQ(withNexthop([](WireNexthop& n) { n.ifname[0] = 'x'; }), EINVAL);
  EXPECT_EQ(withNexthop([](WireNexthop& n) { n.type = RTN_UNICAST; }), EINVAL);
  // Fields of other ops.
  WriterRequest lookupWithAlg = routeRequest(LOOKUP, "10.1.2.3");
  lookupWithAlg.alg = RENO;
  EXPECT_EQ(refusal(lookupWithAlg), EINVAL);
  WriterRequest deleteWithoutTable = routeRequest(DELETE, "10.1.2.3");
  EXPECT_EQ(refusal(deleteWithoutTable), EINVAL);
  WriterRequest setWithValues = setRequest("10.1.2.3", RENO, 0);
  setWithValues.values = Values{1, 0, 0};
  EXPECT_EQ(refusal(setWithValues), EINVAL);
  WriterRequest thresholdsWithHost{NEIGH, ARP, Values{128, 512, 1024}};
  thresholdsWithHost.netnsCookie = 4096;
  EXPECT_EQ(refusal(thresholdsWithHost), EINVAL);
  WriterRequest flagWithHost{FLAG, 0, Values{1, 0, 0}};
  flagWithHost.family = AF_INET;
  EXPECT_EQ(refusal(flagWithHost), EINVAL);
}

TEST(WriterReplies, ImpossibleRoutesAreRefused) {
  WriterReply reply;
  reply.ourAlg = 9;
  EXPECT_FALSE(fromWire(reply, AF_INET).ok());
  reply.ourAlg = static_cast<uint32_t>(ALG_FOREIGN);
  EXPECT_TRUE(fromWire(reply, AF_INET).ok());
  reply.covering.coveringLen = 33;
  EXPECT_FALSE(fromWire(reply, AF_INET).ok());
  reply.covering.coveringLen = 24;
  reply.covering.ifname.fill('x');  // no terminating NUL
  EXPECT_FALSE(fromWire(reply, AF_INET).ok());
}

// The process ----------------------------------------------------------------------------------

std::string statusField(pid_t pid, const std::string& key) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(key + ":", 0) == 0) {
      std::string value = line.substr(key.size() + 1);
      return value.substr(value.find_first_not_of(" \t"));
    }
  }
  return "";
}

// The writer with a channel to the netns opener that nobody serves (no test here asks for another
// namespace); the test keeps the other end open.
Result<PrivWriter> spawnWriter(std::optional<Identity> identity, UniqueFd& openerEnd) {
  int pair[2];
  if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair) != 0) {
    return makeError("socketpair", errno);
  }
  openerEnd.reset(pair[0]);
  return PrivWriter::spawn(identity, UniqueFd(pair[1]));
}

int reap(pid_t pid) {
  int status = 0;
  if (::waitpid(pid, &status, 0) != pid) {
    return -1;
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

TEST(WriterProcess, RefusesBadRequestsUnderItsFilterAndKeepsServing) {
  UniqueFd opener;
  auto spawned = spawnWriter(std::nullopt, opener);
  ASSERT_TRUE(spawned.ok()) << spawned.error().message;
  std::optional<PrivWriter> writer(std::move(*spawned));
  const pid_t pid = writer->pid();
  EXPECT_EQ(writer->call({NEIGH, 9, Values{128, 512, 1024}}), EINVAL);
  EXPECT_EQ(writer->call({FLAG, 0, Values{2, 0, 0}}), EINVAL);
  EXPECT_EQ(writer->call({0, 0, Values{}}), EINVAL);
  // Jailed before it served the first request; the refusals' log lines did not kill it.
  EXPECT_EQ(statusField(pid, "Seccomp"), "2");
  EXPECT_EQ(statusField(pid, "NoNewPrivs"), "1");
  EXPECT_EQ(::kill(pid, 0), 0);
  // Whatever this test runs as, the writer keeps at most CAP_NET_ADMIN + CAP_SYS_ADMIN.
  const uint64_t eff = std::stoull(statusField(pid, "CapEff"), nullptr, 16);
  EXPECT_EQ(eff & ~((1ULL << CAP_NET_ADMIN) | (1ULL << CAP_SYS_ADMIN)), 0U) << std::hex << eff;
  writer.reset();  // closing our end ends it
  EXPECT_EQ(reap(pid), 0);
}

TEST(WriterProcess, ItsDeathIsFatalToTheCaller) {
  UniqueFd opener;
  auto writer = spawnWriter(std::nullopt, opener);
  ASSERT_TRUE(writer.ok()) << writer.error().message;
  EXPECT_EQ(writer->call({0, 0, Values{}}), EINVAL);
  ASSERT_EQ(::kill(writer->pid(), SIGKILL), 0);
  EXPECT_EQ(reap(writer->pid()), 128 + SIGKILL);
  EXPECT_THROW(writer->call({NEIGH, ARP, Values{128, 512, 1024}}), std::runtime_error);
}

TEST(WriterProcess, RunsAsTheIdentityWithExactlyNetAdminAndSysAdmin) {
  if (geteuid() != 0) {
    const char* ci = std::getenv("CI");
    if (ci != nullptr && std::string(ci) == "true") {
      FAIL() << "needs root to change uid (CI=true: a skip is a failure)";
    }
    std::puts("SKIP: needs root to change uid");
    GTEST_SKIP();
  }
  UniqueFd opener;
  auto spawned = spawnWriter(Identity{65534, 65534}, opener);
  ASSERT_TRUE(spawned.ok()) << spawned.error().message;
  std::optional<PrivWriter> writer(std::move(*spawned));
  EXPECT_EQ(writer->call({FLAG, 0, Values{1, 1, 1}}), EINVAL);
  const pid_t pid = writer->pid();
  EXPECT_EQ(statusField(pid, "CapEff"), "0000000000201000");
  EXPECT_EQ(statusField(pid, "CapPrm"), "0000000000201000");
  EXPECT_EQ(statusField(pid, "CapBnd"), "0000000000000000");
  EXPECT_EQ(statusField(pid, "CapAmb"), "0000000000000000");
  EXPECT_EQ(statusField(pid, "Uid"), "65534\t65534\t65534\t65534");
  EXPECT_EQ(statusField(pid, "Seccomp"), "2");
  std::ifstream comm("/proc/" + std::to_string(pid) + "/comm");
  std::string name;
  std::getline(comm, name);
  EXPECT_EQ(name, "bpftune-writer");
  writer.reset();
  EXPECT_EQ(reap(pid), 0);
}

// Host routes for real, in a private network namespace ------------------------------------------
// Runs in a forked child (unshare needs a single-threaded process and must not touch the test's
// namespace): the child sets up covering routes with `ip`, spawns the writer (which loads its
// filter) and plays the netns opener on the writer's channel for a "foreign" cookie, handing it a
// NETLINK_ROUTE socket of the same private namespace. Failures are printed; the exit code counts.

constexpr uint64_t FOREIGN = 0xf0f0;
constexpr int SKIP_EXIT = 77;

struct Checks {
  int failed = 0;
  void operator()(bool ok, const std::string& what) {
    if (!ok) {
      std::fprintf(stderr, "FAILED: %s\n", what.c_str());
      ++failed;
    }
  }
};

bool run(const std::string& command) {
  return std::system((command + " >/dev/null 2>&1").c_str()) == 0;
}

std::string output(const std::string& command) {
  std::string text;
  FILE* p = ::popen(command.c_str(), "r");
  if (p == nullptr) {
    return text;
  }
  char buf[512];
  while (std::fgets(buf, sizeof(buf), p) != nullptr) {
    text += buf;
  }
  ::pclose(p);
  return text;
}

bool writeFile(const std::string& path, const std::string& text) {
  std::ofstream out(path);
  out << text;
  return static_cast<bool>(out.flush());
}

// Root: a new network namespace. Otherwise a user namespace first, mapping us to its root.
bool enterPrivateNetns() {
  if (geteuid() == 0) {
    return ::unshare(CLONE_NEWNET) == 0;
  }
  const uid_t uid = geteuid();
  const gid_t gid = getegid();
  return ::unshare(CLONE_NEWUSER | CLONE_NEWNET) == 0 &&
         writeFile("/proc/self/setgroups", "deny") &&
         writeFile("/proc/self/uid_map", "0 " + std::to_string(uid) + " 1") &&
         writeFile("/proc/self/gid_map", "0 " + std::to_string(gid) + " 1");
}

// The netns opener's side of the writer's channel: FOREIGN gets a socket of this namespace,
// every other cookie ENOENT. Ends when the writer closes its end.
void fakeOpener(int channel) {
  OpenerRequest request;
  while (::recv(channel, &request, sizeof(request), 0) == static_cast<ssize_t>(sizeof(request))) {
    OpenerReply reply;
    UniqueFd fd;
    if (request.cookie == FOREIGN) {
      fd.reset(::socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE));
      int on = 1;
      ::setsockopt(fd.get(), SOL_NETLINK, NETLINK_GET_STRICT_CHK, &on, sizeof(on));
      reply.count = 1;
    } else {
      reply.error = ENOENT;
    }
    iovec iov{&reply, sizeof(reply)};
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
    if (fd.valid()) {
      msg.msg_control = control;
      msg.msg_controllen = sizeof(control);
      cmsghdr* c = CMSG_FIRSTHDR(&msg);
      c->cmsg_level = SOL_SOCKET;
      c->cmsg_type = SCM_RIGHTS;
      c->cmsg_len = CMSG_LEN(sizeof(int));
      int raw = fd.get();
      std::memcpy(CMSG_DATA(c), &raw, sizeof(raw));
    }
    if (::sendmsg(channel, &msg, MSG_NOSIGNAL) < 0) {
      return;
    }
  }
}

WriterRequest fromLookup(
    const WriterReply& found, const char* host, uint32_t alg, uint32_t expected, uint64_t cookie) {
  WriterRequest r = routeRequest(SET, host, cookie);
  r.alg = alg;
  r.expectedAlg = expected;
  auto lookup = fromWire(found, r.family == AF_INET ? AF_INET : AF_INET6);
  r.nexthop = lookup ? toWire(lookup->covering) : WireNexthop{};
  return r;
}

// NOLINTNEXTLINE(readability-function-size): one scenario, step by step
int routeScenario() {
  if (!enterPrivateNetns()) {
    std::fprintf(
        stderr, "SKIP: no private network namespace (unshare: %s)\n", std::strerror(errno));
    return SKIP_EXIT;
  }
  if (!run("ip link set lo up") || !run("ip route add 10.9.0.0/16 via 10.8.0.2 dev lo onlink") ||
      !run("ip route add 10.6.0.0/16 dev lo mtu 1400") ||
      !run("ip route add blackhole 10.7.0.0/16") ||
      !run("ip -6 route add 2001:db8:9::/48 dev lo")) {
    std::fprintf(stderr, "SKIP: cannot set up routes with ip(8)\n");
    return SKIP_EXIT;
  }
  auto own = ownNetnsCookie();
  int pair[2];
  if (!own || ::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair) != 0) {
    return 1;
  }
  UniqueFd openerEnd(pair[0]);
  auto spawned = PrivWriter::spawn(std::nullopt, UniqueFd(pair[1]));
  if (!spawned) {
    return 1;
  }
  std::optional<PrivWriter> running(std::move(*spawned));
  std::thread opener(fakeOpener, openerEnd.get());
  Checks check;
  {
    PrivWriter& writer = *running;
    const uint64_t self = *own;
    // The covering route via a gateway, and no route of ours yet.
    WriterReply found = writer.exchange(routeRequest(LOOKUP, "10.9.1.1", self));
    check(found.error == 0 && found.ourAlg == 0, "lookup 10.9.1.1");
    check(found.covering.coveringLen == 16 && found.covering.table == RT_TABLE_MAIN &&
              found.covering.type == RTN_UNICAST &&
              found.covering.flags == (NEXTHOP_SINGLE | NEXTHOP_ONLINK) &&
              found.covering.oif == if_nametoindex("lo") &&
              std::string(found.covering.ifname.data()) == "lo" &&
              found.covering.gateway == HostAddress::parse("10.8.0.2")->bytes,
          "covering route of 10.9.1.1 is 10.9.0.0/16 via 10.8.0.2 dev lo in main");
    // Compare-and-set: the wrong expectation of our route, a nexthop that is not the covering one.
    check(writer.call(fromLookup(found, "10.9.1.1", RENO, BBR, self)) == ESTALE, "expected bbr");
    WriterRequest elsewhere = fromLookup(found, "10.9.1.1", RENO, 0, self);
    elsewhere.nexthop.gateway = HostAddress::parse("10.8.0.99")->bytes;
    check(writer.call(elsewhere) == ESTALE, "another gateway than the covering route's");
    check(output("ip route show table all proto 249").empty(), "no route after refusals");
    // Put ours; it wins the kernel's lookup, and the covering route is still found beside it.
    int set = writer.call(fromLookup(found, "10.9.1.1", RENO, 0, self));
    check(set == 0, "set reno via an onlink gateway: " + std::string(std::strerror(set)));
    std::string routes = output("ip -d route show table all proto 249");
    check(routes.find("10.9.1.1 via 10.8.0.2 dev lo") != std::string::npos &&
              routes.find("metric 4242") != std::string::npos &&
              routes.find("congctl reno") != std::string::npos,
          "bpftune's route as ip shows it: " + routes);
    WriterReply after = writer.exchange(routeRequest(LOOKUP, "10.9.1.1", self));
    check(after.ourAlg == RENO && after.ourTable == RT_TABLE_MAIN &&
              after.covering.coveringLen == 16 && after.ours.coveringLen == 32 &&
              after.ours.gateway == HostAddress::parse("10.8.0.2")->bytes &&
              (after.ours.flags & NEXTHOP_ONLINK) != 0 &&
              (after.covering.flags & NEXTHOP_ONLINK) != 0,
          "lookup with ours in place (both onlink)");
    // Creating again is refused by the kernel (CREATE|EXCL); replacing needs ours expected.
    check(writer.call(fromLookup(found, "10.9.1.1", RENO, RENO, self)) == 0, "replace ours");
    // An administrator's host route appearing after the actuator's lookup.
    WriterReply before = writer.exchange(routeRequest(LOOKUP, "10.9.2.2", self));
    check(run("ip route add 10.9.2.2/32 via 10.8.0.2 dev lo onlink proto static"), "admin route");
    check(writer.call(fromLookup(before, "10.9.2.2", RENO, 0, self)) == EEXIST, "admin wins");
    // An administrator's congctl on the covering route is theirs: EEXIST, as a host route.
    check(run("ip route add 10.5.0.0/16 dev lo congctl lock cubic"), "congctl covering route");
    WriterReply cc = writer.exchange(routeRequest(LOOKUP, "10.5.1.1", self));
    check(cc.error == 0 && cc.covering.flags == (NEXTHOP_SINGLE | NEXTHOP_CONGCTL),
          "the covering route's congctl is reported");
    check(writer.call(fromLookup(cc, "10.5.1.1", RENO, 0, self)) == EEXIST, "admin congctl wins");
    // A realm or a tunnel encapsulation: no nexthop bpftune copies.
    check(run("ip route add 10.3.0.0/16 dev lo realm 5"), "realm covering route");
    WriterReply realm = writer.exchange(routeRequest(LOOKUP, "10.3.1.1", self));
    check(realm.error == 0 && realm.covering.flags == NEXTHOP_REALM, "the realm is reported");
    check(writer.call(fromLookup(realm, "10.3.1.1", RENO, 0, self)) == EINVAL, "realm refused");
    if (run("ip route add 10.2.0.0/16 encap ip id 5 dst 10.8.0.9 dev lo")) {
      WriterReply tunnel = writer.exchange(routeRequest(LOOKUP, "10.2.1.1", self));
      check(tunnel.error == 0 && tunnel.covering.flags == NEXTHOP_ENCAP, "encap is reported");
      check(writer.call(fromLookup(tunnel, "10.2.1.1", RENO, 0, self)) == EINVAL,
            "a tunnel encapsulation refused");
    } else {
      std::fprintf(stderr, "note: no lwtunnel ip encapsulation here; not checked\n");
    }
    const std::string ours = output("ip route show table all proto 249");
    check(ours.find("10.5.1.1") == std::string::npos &&
              ours.find("10.3.1.1") == std::string::npos &&
              ours.find("10.2.1.1") == std::string::npos,
          "no route of ours for them: " + ours);
    // No unicast route: nothing to copy.
    WriterReply blackhole = writer.exchange(routeRequest(LOOKUP, "10.7.1.1", self));
    check(blackhole.error == 0 && blackhole.covering.type == 0 && blackhole.routeError != 0,
          "blackhole: no unicast route, the kernel's errno reported");
    // The covering route's metrics travel with ours.
    WriterReply mtu = writer.exchange(routeRequest(LOOKUP, "10.6.1.1", self));
    check(writer.call(fromLookup(mtu, "10.6.1.1", RENO, 0, self)) == 0, "set under mtu 1400");
    check(output("ip route show 10.6.1.1 proto 249").find("mtu 1400") != std::string::npos,
          "mtu copied");
    // IPv6, through the opener's socket for a "foreign" namespace.
    WriterReply v6 = writer.exchange(routeRequest(LOOKUP, "2001:db8:9::1", FOREIGN));
    check(v6.error == 0 && v6.covering.coveringLen == 48, "IPv6 lookup via the opener's socket");
    check(writer.call(fromLookup(v6, "2001:db8:9::1", RENO, 0, FOREIGN)) == 0, "IPv6 set");
    check(output("ip -6 route show proto 249").find("2001:db8:9::1 dev lo metric 4242") !=
              std::string::npos,
          "IPv6 route of bpftune's");
    check(writer.exchange(routeRequest(LOOKUP, "2001:db8:9::1", 99)).error == ENOENT,
          "a namespace the opener cannot find is ENOENT");
    // Deletes: ours only, and a second delete finds nothing, which is fine.
    for (const char* host : {"10.9.1.1", "10.6.1.1", "2001:db8:9::1", "10.9.1.1"}) {
      WriterRequest del = routeRequest(DELETE, host, self);
      del.routeTable = RT_TABLE_MAIN;
      check(writer.call(del) == 0, std::string("delete ") + host);
    }
    check(output("ip route show table all proto 249").empty() &&
              output("ip -6 route show table all proto 249").empty(),
          "no route of bpftune's left");
    check(output("ip route show 10.9.2.2").find("proto static") != std::string::npos,
          "the administrator's route stays");
  }
  running.reset();  // the writer exits, which closes its channel: the fake opener ends
  opener.join();
  return check.failed;
}

TEST(WriterProcess, ChangesOnlyItsOwnHostRoutesInAPrivateNamespace) {
  ::fflush(nullptr);
  pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    ::_exit(routeScenario());
  }
  int code = reap(child);
  if (code == SKIP_EXIT) {
    const char* ci = std::getenv("CI");
    if (ci != nullptr && std::string(ci) == "true") {
      FAIL() << "needs a private network namespace (CI=true: a skip is a failure)";
    }
    GTEST_SKIP() << "no private network namespace here";
  }
  EXPECT_EQ(code, 0) << "see FAILED lines above";
}

}  // namespace
}  // namespace bpftune::actuator
