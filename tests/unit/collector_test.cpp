// Collector unit tests: pure parts only (no root, no BPF).
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include <gtest/gtest.h>

#include "actuator_link.h"
#include "daemon.h"
#include "options.h"
#include "proc_counters.h"
#include "refusal_holdoff.h"
#include "status.h"
#include "sysctl_watch.h"
#include "system_info.h"

namespace bpftune::collector {
namespace {

constexpr const char* ZONEINFO = R"(Node 0, zone      DMA
  pages free     3840
        high     30
        managed  3840
Node 0, zone    DMA32
  pages free     772915
        high     18277
        managed  772915
Node 0, zone   Normal
  pages free     100000
        high     1000
        managed  200000
        protection: (0, 0, 0, 0)
Node 1, zone   Normal
        high     500
        managed  10500
)";

TEST(Zoneinfo, SumsNormalZones) {
  EXPECT_EQ(freeBufferPagesFromZoneinfo(ZONEINFO), 209000);
}

TEST(Zoneinfo, FallsBackToDma32) {
  std::string small = "Node 0, zone    DMA32\n        high     100\n        managed  1100\n"
                      "Node 0, zone   Normal\n        high     0\n        managed  0\n";
  EXPECT_EQ(freeBufferPagesFromZoneinfo(small), 1000);
}

TEST(Zoneinfo, EmptyInputGivesZero) {
  EXPECT_EQ(freeBufferPagesFromZoneinfo(""), 0);
}

TEST(Sysctl, ParsesTriple) {
  auto v = parseSysctlValues("4096\t131072\t6291456\n", 3);
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(v->count, 3);
  EXPECT_EQ(v->v[2], 6291456);
}

TEST(Sysctl, CountMismatchIsError) {
  EXPECT_FALSE(parseSysctlValues("1\n", 3).ok());
  EXPECT_FALSE(parseSysctlValues("1 2 3 4\n", 3).ok());
  EXPECT_FALSE(parseSysctlValues("x\n", 1).ok());
}

// flow_limit_cpu_bitmap is a hex cpumask: the collector must read it as the actuator writes it.
TEST(Sysctl, CpuMaskIsReadAsHex) {
  char dir[] = "/tmp/bpftune-sysnet-XXXXXX";
  ASSERT_NE(::mkdtemp(dir), nullptr);
  const std::string root(dir);
  ASSERT_EQ(::mkdir((root + "/core").c_str(), 0700), 0);
  const std::string file = root + "/core/flow_limit_cpu_bitmap";
  auto readAs = [&](const char* text) {
    std::ofstream(file, std::ios::trunc) << text;
    return readTunable(proto::TunableId::FLOW_LIMIT_CPU_BITMAP, root);
  };
  auto v = readAs("1a\n");
  ASSERT_TRUE(v.ok()) << v.error().message;
  EXPECT_EQ(*v, (tuners::Values{1, {0x1a, 0, 0}}));
  v = readAs("00000001,8000000f\n");
  ASSERT_TRUE(v.ok()) << v.error().message;
  EXPECT_EQ(v->v[0], 0x18000000fLL);
  EXPECT_FALSE(readAs("xyz\n").ok());
  ::unlink(file.c_str());
  ::rmdir((root + "/core").c_str());
  ::rmdir(dir);
}

// The neighbour thresholds live in three files, one value each (gc_thresh1..3).
TEST(Sysctl, ReadsNeighThresholdsFromThreeFiles) {
  char tmpl[] = "/tmp/collector_test.XXXXXX";
  ASSERT_NE(::mkdtemp(tmpl), nullptr);
  const std::filesystem::path root(tmpl);
  std::filesystem::create_directories(root / "ipv4/neigh/default");
  const std::array<const char*, 3> values = {"128\n", "512\n", "1024\n"};
  for (size_t i = 0; i < values.size(); ++i) {
    std::ofstream(root / ("ipv4/neigh/default/gc_thresh" + std::to_string(i + 1))) << values[i];
  }
  auto read = readTunable(proto::TunableId::NEIGH_ARP_GC_THRESH, root.string());
  ASSERT_TRUE(read.ok()) << read.error().message;
  EXPECT_EQ(*read, (tuners::Values{3, {128, 512, 1024}}));
  // IPv6 disabled at boot: no ipv6 directory, an error the daemon decides without.
  EXPECT_FALSE(readTunable(proto::TunableId::NEIGH_NDISC_GC_THRESH, root.string()).ok());
  std::filesystem::remove_all(root);
}

tuners::Proposal sampleProposal() {
  tuners::Proposal p;
  p.tuner = proto::TunerId::TCP_BUFFER;
  p.scenario = proto::ScenarioId::BUFFER_INCREASE;
  p.netnsCookie = 4103;
  p.tunable = proto::TunableId::TCP_RMEM;
  p.oldValues = {3, {4096, 131072, 131072}};
  p.newValues = {3, {4096, 131072, 163840}};
  p.why = "rcvbuf at max";
  return p;
}

TEST(Encoding, ProposalBecomesSetSysctlArgs) {
  actuator::SetSysctlArgs args = toSetSysctlArgs(sampleProposal());
  EXPECT_EQ(args.tuner, proto::TunerId::TCP_BUFFER);
  EXPECT_EQ(args.scenario, proto::ScenarioId::BUFFER_INCREASE);
  EXPECT_EQ(args.netnsCookie, 4103U);
  EXPECT_EQ(args.tunable, proto::TunableId::TCP_RMEM);
  EXPECT_EQ(args.count, 3);
  EXPECT_EQ(args.expected, (std::array<int64_t, 3>{4096, 131072, 131072}));
  EXPECT_EQ(args.newValues, (std::array<int64_t, 3>{4096, 131072, 163840}));
  EXPECT_EQ(args.causeNetnsCookie, 0U);
}

TEST(Encoding, GlobalProposalCarriesItsCause) {
  tuners::Proposal p = sampleProposal();
  p.causeNetnsCookie = 4200;
  EXPECT_EQ(toSetSysctlArgs(p).causeNetnsCookie, 4200U);
}

TEST(Encoding, SingleValueProposalKeepsItsCount) {
  tuners::Proposal p = sampleProposal();
  p.oldValues = {1, {7, 0, 0}};
  p.newValues = {1, {9, 0, 0}};
  actuator::SetSysctlArgs args = toSetSysctlArgs(p);
  EXPECT_EQ(args.count, 1);
  EXPECT_EQ(args.expected[0], 7);
  EXPECT_EQ(args.newValues[0], 9);
}

TEST(Outcome, LineNamesWhatAndWhy) {
  actuator::ClientReply reply;
  reply.status = proto::Status::OK;
  std::string line = describeOutcome(sampleProposal(), reply, 812);
  EXPECT_NE(line.find("net.ipv4.tcp_rmem 4096 131072 131072 -> 4096 131072 163840"),
            std::string::npos);
  EXPECT_NE(line.find("netns 4103"), std::string::npos);
  EXPECT_NE(line.find("latency_us=812"), std::string::npos);
  EXPECT_NE(line.find("why: rcvbuf at max"), std::string::npos);
  reply.status = proto::Status::OVERRIDDEN;
  reply.reason = "changed by admin";
  line = describeOutcome(sampleProposal(), reply, 0);
  EXPECT_NE(line.find("overridden"), std::string::npos);
  EXPECT_NE(line.find("tuner stops"), std::string::npos);
}

TEST(StatusJson, RendersTunersAndNamespaces) {
  StatusSnapshot s;
  s.pid = 12;
  s.uid = 999;
  s.capEff = "000000c000000000";
  s.homeNetnsCookie = 1;
  s.actuatorState = "disconnected: \"x\"";
  TunerStatus t;
  t.name = "tcp_buffer";
  t.netnsState[1] = "disabled: changed by the administrator";
  t.events = 3;
  t.adminOverrides = 1;
  t.refused["stale"] = 2;
  t.latency.add(10);
  t.latency.add(30);
  s.tuners.push_back(t);
  s.netns.present = 2;
  s.netns.discoveryMs = 7;
  s.netns.sysctlWatch = "attached to /sys/fs/cgroup";
  s.namespacesJson = "[{\"cookie\": 77}]";
  s.objects.push_back({"tcp_buffer", {"tp_btf/x"}, {{"x", 100, 25, 4}}, {1, 2, 3}});
  std::string json = renderStatusJson(s);
  EXPECT_NE(json.find("\"cap_eff\": \"000000c000000000\""), std::string::npos);
  EXPECT_NE(json.find("\"1\": \"disabled: changed by the administrator\""), std::string::npos);
  EXPECT_NE(json.find("\"admin_overrides\": 1"), std::string::npos);
  EXPECT_NE(json.find("{\"count\": 2, \"min_us\": 10, \"avg_us\": 20, \"max_us\": 30}"),
            std::string::npos);
  EXPECT_NE(json.find("\"present\": 2, \"gone\": 0, \"discovery_ms\": 7"), std::string::npos);
  EXPECT_NE(json.find("\"resume_epoch\": null"), std::string::npos);
  EXPECT_NE(json.find("\"namespaces\": [{\"cookie\": 77}]"), std::string::npos);
  EXPECT_NE(json.find("\\\"x\\\""), std::string::npos);
  EXPECT_NE(json.find("\"sample_every\": 4"), std::string::npos);
}

TEST(StatusJson, RendersEveryNamespaceWithItsTunerStates) {
  tuners::netns::NetnsTable table;
  table.applyScan({{1, 4026531840, "", true, false}, {7, 4026532177, "colt1", false, true}});
  table.disable(proto::TunerId::TCP_BUFFER, 7);
  table.observe(9, 4026532300);
  table.markGone(9);
  std::string json = renderNamespacesJson(table, {{proto::TunerId::TCP_BUFFER, "tcp_buffer"}});
  EXPECT_NE(json.find("{\"cookie\": 1, \"inode\": 4026531840, \"name\": \"\", \"state\": "
                      "\"present\", \"held_by\": \"task\", \"events\": 0, \"tuners\": "
                      "{\"tcp_buffer\": \"active\"}}"),
            std::string::npos);
  EXPECT_NE(json.find("\"name\": \"colt1\", \"state\": \"present\", \"held_by\": \"mount\""),
            std::string::npos);
  EXPECT_NE(json.find("\"tcp_buffer\": \"disabled: changed by the administrator\""),
            std::string::npos);
  EXPECT_NE(json.find("\"state\": \"gone\", \"held_by\": \"\""), std::string::npos);
  EXPECT_EQ(renderNamespacesJson(tuners::netns::NetnsTable(), {}), "[]");
}

TEST(AdminWrite, LineNamesTheWriterAndWhatStops) {
  AdminWrite w;
  w.tuner = "tcp_buffer";
  w.tunable = "net.ipv4.tcp_rmem";
  w.pid = 4242;
  w.uid = 0;
  w.comm = "sysctl";
  w.value = "4096 131072 6291456";
  w.writerNetns = 4103;
  w.writerInode = 4026532177;
  w.writerName = "colt1";
  w.stoppedNetns = 4103;
  std::string line = describeAdminWrite(w);
  EXPECT_NE(line.find("net.ipv4.tcp_rmem overridden by the administrator: pid 4242 comm \"sysctl\" "
                      "uid 0 wrote \"4096 131072 6291456\" in netns 4103 (inode 4026532177, name "
                      "\"colt1\"); tuner stops for this netns"),
            std::string::npos);
  w.global = true;
  w.stoppedNetns = 1;
  EXPECT_NE(describeAdminWrite(w).find("stops for the home netns 1 (global tunable)"),
            std::string::npos);
}

TEST(Outcome, GlobalChangeNamesItsCause) {
  tuners::Proposal p = sampleProposal();
  p.tunable = proto::TunableId::TCP_MEM;
  p.netnsCookie = 1;
  p.causeNetnsCookie = 4103;
  actuator::ClientReply reply;
  EXPECT_NE(describeOutcome(p, reply, 5).find("in netns 1 (global; for netns 4103): ok"),
            std::string::npos);
}

TEST(SysctlWatch, HookNameFromProcPath) {
  EXPECT_EQ(sysctlHookName("ipv4/tcp_rmem"), "net/ipv4/tcp_rmem");
}

TEST(StatusJson, EscapesControlCharacters) {
  EXPECT_EQ(jsonEscape("a\nb"), "a\\u000ab");
}

TEST(Options, Defaults) {
  auto o = parseOptions({});
  ASSERT_TRUE(o.ok());
  EXPECT_EQ(o->socketPath, "/run/bpftune/actuator.sock");
  EXPECT_EQ(o->statusPath, "/run/bpftune/status.json");
  EXPECT_EQ(o->user, "bpftune-collector");
  EXPECT_EQ(o->actuatorUser, "bpftune");
  EXPECT_EQ(o->learningRate, 4);
}

TEST(Options, ParsesAll) {
  auto o = parseOptions({"--socket",
                         "/s",
                         "--status",
                         "/t",
                         "--user",
                         "u",
                         "--actuator-user",
                         "a",
                         "--learning-rate",
                         "0",
                         "--debug"});
  ASSERT_TRUE(o.ok());
  EXPECT_EQ(o->socketPath, "/s");
  EXPECT_EQ(o->statusPath, "/t");
  EXPECT_EQ(o->user, "u");
  EXPECT_EQ(o->actuatorUser, "a");
  EXPECT_EQ(o->learningRate, 0);
  EXPECT_TRUE(o->debug);
}

TEST(Options, UsageErrors) {
  EXPECT_FALSE(parseOptions({"--learning-rate", "5"}).ok());
  auto tuners = parseOptions({"--tuners", "ip_frag,tcp_buffer"});
  ASSERT_TRUE(tuners.ok());
  EXPECT_EQ(tuners->tuners, (std::vector<std::string>{"ip_frag", "tcp_buffer"}));
  auto unknown = parseOptions({"--tuners", "tcp_buffer,route_table"});
  ASSERT_FALSE(unknown.ok());
  EXPECT_NE(unknown.error().message.find("unknown tuner 'route_table' (known: tcp_buffer,"),
            std::string::npos);
  EXPECT_FALSE(parseOptions({"--tuners", ","}).ok());
  EXPECT_FALSE(parseOptions({"--learning-rate", "-1"}).ok());
  EXPECT_FALSE(parseOptions({"--learning-rate", "2x"}).ok());
  EXPECT_FALSE(parseOptions({"--learning-rate"}).ok());
  EXPECT_FALSE(parseOptions({"--socket"}).ok());
  EXPECT_FALSE(parseOptions({"--actuator-user"}).ok());
  EXPECT_FALSE(parseOptions({"--bogus"}).ok());
}

}  // namespace
}  // namespace bpftune::collector

namespace bpftune::collector {
namespace {

using tuners::CounterId;

TEST(ProcCounters, PairedTablesByPrefixAndName) {
  Counters c;
  parsePairedTable("TcpExt: SyncookiesSent SyncookiesRecv SyncookiesFailed ListenDrops\n"
                   "TcpExt: 5 0 1500 7\n"
                   "IpExt: InNoRoutes\nIpExt: 3\n",
                   c);
  parsePairedTable("Ip: Forwarding ReasmReqds ReasmFails\nIp: 1 40 12\n"
                   "Tcp: RtoMin PassiveOpens\nTcp: 200 9\n"
                   "Udp: InDatagrams RcvbufErrors\nUdp: 100 4\n",
                   c);
  EXPECT_EQ(c[CounterId::TCPEXT_SYNCOOKIES_SENT], 5);
  EXPECT_EQ(c[CounterId::TCPEXT_SYNCOOKIES_FAILED], 1500);
  EXPECT_EQ(c[CounterId::TCPEXT_LISTEN_DROPS], 7);
  EXPECT_EQ(c[CounterId::TCP_PASSIVE_OPENS], 9);
  EXPECT_EQ(c[CounterId::IP_REASM_REQDS], 40);
  EXPECT_EQ(c[CounterId::IP_REASM_FAILS], 12);
  EXPECT_EQ(c[CounterId::UDP_RCVBUF_ERRORS], 4);
}

TEST(ProcCounters, Snmp6AddsToTheIpv4UdpCounters) {
  Counters c;
  parsePairedTable("Udp: InDatagrams RcvbufErrors\nUdp: 100 4\n", c);
  parseSnmp6("Ip6ReasmReqds                   \t8\nIp6ReasmFails 2\nUdp6InDatagrams 50\n"
             "Udp6RcvbufErrors 6\n",
             c);
  EXPECT_EQ(c[CounterId::IP6_REASM_REQDS], 8);
  EXPECT_EQ(c[CounterId::IP6_REASM_FAILS], 2);
  EXPECT_EQ(c[CounterId::UDP_IN_DATAGRAMS], 150);
  EXPECT_EQ(c[CounterId::UDP_RCVBUF_ERRORS], 10);
}

TEST(ProcCounters, SoftnetColumnsAreHexSummedOverCpus) {
  Counters c;
  parseSoftnetStat("00180b4e 00000103 0000000a 00000000\n001aa4ce 000000fd 00000001 00000000\n", c);
  EXPECT_EQ(c[CounterId::SOFTNET_DROPPED], 0x103 + 0xfd);
  EXPECT_EQ(c[CounterId::SOFTNET_TIME_SQUEEZE], 11);
}

TEST(ProcCounters, SchedWaitFromSchedstatOrPressure) {
  Counters c;
  parseSchedstat("version 15\ntimestamp 1\ncpu0 0 0 10 2 5 1 1000 300 7\n"
                 "cpu1 0 0 10 2 5 1 3000 100 7\ndomain0 3 1 2 3\n",
                 c);
  EXPECT_EQ(c[CounterId::SCHED_RUN_NS], 4000);
  EXPECT_EQ(c[CounterId::SCHED_WAIT_NS], 400);
  Counters p;
  parsePressureCpu("some avg10=0.00 avg60=0.01 avg300=0.20 total=150323401\nfull total=0\n", p);
  parseProcStat("cpu  100 0 50 9999 7 0 3 0 0 0\ncpu0 100 0 50 9999 7 0 3 0 0 0\n", p);
  EXPECT_EQ(p[CounterId::SCHED_WAIT_NS], 150323401000LL);
  EXPECT_EQ(p[CounterId::SCHED_RUN_NS], 153 * (1000000000 / ::sysconf(_SC_CLK_TCK)));
}

TEST(ProcCounters, ReadsOnlyWhatWasAskedForFromTheOwnNamespace) {
  const std::array<CounterId, 2> wanted = {CounterId::TCP_PASSIVE_OPENS,
                                           CounterId::SOFTNET_DROPPED};
  Counters c = readCounters(wanted, "/proc/self/net");
  EXPECT_TRUE(c.contains(CounterId::TCP_PASSIVE_OPENS));
  EXPECT_TRUE(c.contains(CounterId::SOFTNET_DROPPED));
  EXPECT_EQ(c.size(), 2U);
  // No process known in the namespace: machine-wide counters only.
  EXPECT_EQ(readCounters(wanted, "").size(), 1U);
}

}  // namespace
}  // namespace bpftune::collector

namespace bpftune::collector {
namespace {

TEST(RefusalHoldoff, DoublesWhileRejectedAndClearsWhenApplied) {
  using proto::TunableId;
  using proto::TunerId;
  constexpr uint64_t S = RefusalHoldoff::FIRST_NS;
  RefusalHoldoff h;
  EXPECT_FALSE(h.held(TunerId::UDP_BUFFER, 7, TunableId::RMEM_MAX, 0));
  h.rejected(TunerId::UDP_BUFFER, 7, TunableId::RMEM_MAX, 0);
  EXPECT_TRUE(h.held(TunerId::UDP_BUFFER, 7, TunableId::RMEM_MAX, S - 1));
  EXPECT_FALSE(h.held(TunerId::UDP_BUFFER, 7, TunableId::RMEM_MAX, S));
  // Only that key: another namespace, tunable or tuner is not held.
  EXPECT_FALSE(h.held(TunerId::UDP_BUFFER, 8, TunableId::RMEM_MAX, 0));
  EXPECT_FALSE(h.held(TunerId::UDP_BUFFER, 7, TunableId::RMEM_DEFAULT, 0));
  EXPECT_FALSE(h.held(TunerId::TCP_BUFFER, 7, TunableId::RMEM_MAX, 0));
  h.rejected(TunerId::UDP_BUFFER, 7, TunableId::RMEM_MAX, S);
  EXPECT_TRUE(h.held(TunerId::UDP_BUFFER, 7, TunableId::RMEM_MAX, 3 * S - 1));
  for (int i = 0; i < 20; ++i) {
    h.rejected(TunerId::UDP_BUFFER, 7, TunableId::RMEM_MAX, 100 * S);
  }
  EXPECT_TRUE(
      h.held(TunerId::UDP_BUFFER, 7, TunableId::RMEM_MAX, 100 * S + RefusalHoldoff::MAX_NS - 1));
  EXPECT_FALSE(
      h.held(TunerId::UDP_BUFFER, 7, TunableId::RMEM_MAX, 100 * S + RefusalHoldoff::MAX_NS));
  h.applied(TunerId::UDP_BUFFER, 7, TunableId::RMEM_MAX);
  EXPECT_FALSE(h.held(TunerId::UDP_BUFFER, 7, TunableId::RMEM_MAX, 100 * S));
  h.rejected(TunerId::UDP_BUFFER, 9, TunableId::RMEM_MAX, 0);
  h.forget(9);
  EXPECT_FALSE(h.held(TunerId::UDP_BUFFER, 9, TunableId::RMEM_MAX, 0));
}

TEST(RefusalHoldoff, StaysBounded) {
  RefusalHoldoff h;
  for (uint64_t netns = 1; netns <= RefusalHoldoff::MAX_KEYS + 10; ++netns) {
    h.rejected(proto::TunerId::IP_FRAG, netns, proto::TunableId::IPFRAG_HIGH_THRESH, netns);
  }
  EXPECT_TRUE(h.held(proto::TunerId::IP_FRAG,
                     RefusalHoldoff::MAX_KEYS + 10,
                     proto::TunableId::IPFRAG_HIGH_THRESH,
                     RefusalHoldoff::MAX_KEYS + 10));
  // The oldest holds made room.
  EXPECT_FALSE(h.held(proto::TunerId::IP_FRAG, 1, proto::TunableId::IPFRAG_HIGH_THRESH, 1));
}

}  // namespace
}  // namespace bpftune::collector
