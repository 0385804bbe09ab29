// The collector's tcp_conn side, pure parts: the candidate algorithms read at start, the live
// switch report and log line, per-host proposals on the wire, in the hold-off and in the log.
#include <sys/socket.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>

#include <gtest/gtest.h>

#include "actuator_link.h"
#include "daemon.h"
#include "live_switch.h"
#include "refusal_holdoff.h"
#include "status.h"
#include "tcp_conn.h"
#include "tcp_conn_setup.h"
#include "tunable_table.h"

namespace bpftune::collector {
namespace {

using proto::CongAlg;

TEST(CongCandidates, AvailableAndAllowedInTheKernelsOrder) {
  EXPECT_EQ(parseCongCandidates("reno bbr cubic\n", "reno bbr\n"),
            (std::vector<CongAlg>{CongAlg::RENO, CongAlg::BBR}));
  EXPECT_EQ(parseCongCandidates("cubic reno bbr", "bbr cubic"),
            (std::vector<CongAlg>{CongAlg::CUBIC, CongAlg::BBR}));
}

TEST(CongCandidates, NamesOutsideTheEnumAndDuplicatesAreLeftOut) {
  // vegas has no CongAlg: the wire and the journal could not name it.
  EXPECT_EQ(parseCongCandidates("vegas htcp dctcp htcp", "dctcp\tvegas htcp"),
            (std::vector<CongAlg>{CongAlg::HTCP, CongAlg::DCTCP}));
  // "none" is CongAlg::NONE's name, never an algorithm.
  EXPECT_TRUE(parseCongCandidates("none bb bbrx", "none bb bbrx").empty());
  EXPECT_TRUE(parseCongCandidates("reno bbr cubic", "").empty());
  EXPECT_TRUE(parseCongCandidates("", "reno").empty());
}

class ProcDir : public ::testing::Test {
protected:
  void SetUp() override {
    dir = std::filesystem::temp_directory_path() /
          ("tcp_conn_collector_test." + std::to_string(::getpid()));
    std::filesystem::create_directories(dir);
  }
  void TearDown() override { std::filesystem::remove_all(dir); }
  void write(const std::string& name, const std::string& text) {
    std::ofstream(dir / name) << text;
  }
  std::filesystem::path dir;
};

TEST_F(ProcDir, ReadsBothFiles) {
  write("tcp_available_congestion_control", "reno bbr cubic\n");
  write("tcp_allowed_congestion_control", "reno bbr\n");
  auto read = readCongCandidates(dir.string());
  ASSERT_TRUE(read.ok());
  EXPECT_EQ(*read, (std::vector<CongAlg>{CongAlg::RENO, CongAlg::BBR}));
}

TEST_F(ProcDir, AMissingFileIsAnError) {
  write("tcp_available_congestion_control", "reno bbr cubic\n");
  auto read = readCongCandidates(dir.string());
  ASSERT_FALSE(read.ok());
  EXPECT_NE(read.error().message.find("tcp_allowed_congestion_control"), std::string::npos);
}

bpftune_event liveSwitchEvent() {
  bpftune_event e{};
  e.tuner = BPFTUNE_TUNER_TCP_CONN;
  e.kind = TCP_CONN_EV_LIVE_SWITCH;
  e.netns_cookie = 4097;
  e.family = AF_INET;
  e.daddr[0] = 10;
  e.daddr[1] = 211;
  e.daddr[2] = 7;
  e.daddr[3] = 2;
  e.dport = 5201;
  e.sport = 40312;
  e.sysctl[TCP_CONN_SWITCH_FROM] = BPFTUNE_CA_CUBIC;
  e.sysctl[TCP_CONN_SWITCH_TO] = BPFTUNE_CA_BBR;
  e.ns_values[TCP_CONN_NS_TOTAL_RETRANS] = 40;
  e.ns_values[TCP_CONN_NS_SEGS_OUT] = 1200;
  return e;
}

TEST(LiveSwitch, OnlyTcpConnsLiveSwitchEvents) {
  bpftune_event e = liveSwitchEvent();
  EXPECT_TRUE(isLiveSwitch(e));
  e.kind = TCP_CONN_EV_CLOSED;
  EXPECT_FALSE(isLiveSwitch(e));
  e = liveSwitchEvent();
  e.tuner = BPFTUNE_TUNER_UDP_BUFFER;  // kind 2 is udp_buffer's EV_MEM
  EXPECT_FALSE(isLiveSwitch(e));
}

TEST(LiveSwitch, ReportCarriesTheConnection) {
  const actuator::LiveSwitchReport r = liveSwitchReport(liveSwitchEvent());
  EXPECT_EQ(r.tuner, proto::TunerId::TCP_CONN);
  EXPECT_EQ(r.netnsCookie, 4097U);
  EXPECT_EQ(r.host.family, AF_INET);
  EXPECT_EQ(r.host.text(), "10.211.7.2");
  EXPECT_EQ(r.fromAlg, CongAlg::CUBIC);
  EXPECT_EQ(r.toAlg, CongAlg::BBR);
  EXPECT_EQ(r.localPort, 40312);
  EXPECT_EQ(r.remotePort, 5201);
  EXPECT_EQ(r.retransmits, 40U);
  EXPECT_EQ(r.segsOut, 1200U);
}

TEST(LiveSwitch, Ipv6HostAndOutOfRangeValues) {
  bpftune_event e = liveSwitchEvent();
  e.family = AF_INET6;
  const uint8_t addr[16] = {0xfd, 0x99, 0x12, 0x34, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2};
  std::memcpy(e.daddr, addr, sizeof(addr));
  e.sysctl[TCP_CONN_SWITCH_FROM] = 42;  // not a CongAlg
  e.sysctl[TCP_CONN_SWITCH_TO] = -1;
  e.ns_values[TCP_CONN_NS_SEGS_OUT] = int64_t{1} << 40;
  const actuator::LiveSwitchReport r = liveSwitchReport(e);
  EXPECT_EQ(r.host.text(), "fd99:1234::2");
  EXPECT_EQ(r.fromAlg, CongAlg::NONE);
  EXPECT_EQ(r.toAlg, CongAlg::NONE);
  EXPECT_EQ(r.segsOut, UINT32_MAX);
}

TEST(LiveSwitch, LogLineSaysWhatWhereAndWhy) {
  actuator::ClientReply ok;
  ok.status = proto::Status::OK;
  ok.journalSeq = 12;
  const std::string line = describeLiveSwitch(liveSwitchReport(liveSwitchEvent()), ok, 800, 350000);
  EXPECT_EQ(line.find("tcp_conn: " +
                      std::string(policy::scenarioName(proto::ScenarioId::CONGCTL_LIVE_SWITCH))),
            0U)
      << line;
  EXPECT_NE(line.find("connection to 10.211.7.2:5201 from local port 40312 in netns 4097"),
            std::string::npos)
      << line;
  EXPECT_NE(line.find("switched cubic -> bbr: ok journal_seq=12 latency_us=800"), std::string::npos)
      << line;
  EXPECT_NE(line.find("40 of 1200 segments sent were retransmitted (more than 1/64), 350 ms after "
                      "it was established"),
            std::string::npos)
      << line;
  actuator::ClientReply refused;
  refused.status = proto::Status::REJECTED;
  refused.reason = "rate";
  const std::string refusedLine =
      describeLiveSwitch(liveSwitchReport(liveSwitchEvent()), refused, 0, 0);
  EXPECT_NE(refusedLine.find("rejected reason=\"rate\""), std::string::npos) << refusedLine;
  EXPECT_EQ(refusedLine.find("established"), std::string::npos) << refusedLine;
}

tuners::Proposal routeProposal(const char* host) {
  tuners::Proposal p;
  p.tuner = proto::TunerId::TCP_CONN;
  p.scenario = proto::ScenarioId::CONGCTL_LOSS;
  p.netnsCookie = 4097;
  p.tunable = proto::TunableId::ROUTE_CONGCTL;
  p.oldValues = {1, {static_cast<int64_t>(CongAlg::CUBIC), 0, 0}};
  p.newValues = {1, {static_cast<int64_t>(CongAlg::BBR), 0, 0}};
  p.host = *HostAddress::parse(host);
  p.why = "loss";
  return p;
}

TEST(PerHost, TheRequestCarriesTheHost) {
  const actuator::SetSysctlArgs args = toSetSysctlArgs(routeProposal("fd99:1234::2"));
  EXPECT_EQ(args.host.text(), "fd99:1234::2");
  EXPECT_EQ(args.tunable, proto::TunableId::ROUTE_CONGCTL);
  EXPECT_EQ(args.expected[0], static_cast<int64_t>(CongAlg::CUBIC));
  EXPECT_EQ(args.newValues[0], static_cast<int64_t>(CongAlg::BBR));
  // A sysctl proposal sends no host.
  tuners::Proposal sysctl;
  EXPECT_TRUE(toSetSysctlArgs(sysctl).host.empty());
}

TEST(PerHost, ARefusalHoldsBackThatHostOnly) {
  const HostAddress a = *HostAddress::parse("10.211.7.2");
  const HostAddress b = *HostAddress::parse("10.211.7.3");
  const auto tuner = proto::TunerId::TCP_CONN;
  const auto route = proto::TunableId::ROUTE_CONGCTL;
  RefusalHoldoff h;
  h.rejected(tuner, 5, route, 0, a);
  EXPECT_TRUE(h.held(tuner, 5, route, 1, a));
  EXPECT_FALSE(h.held(tuner, 5, route, 1, b));
  EXPECT_FALSE(h.held(tuner, 5, route, 1));  // no host: another key
  h.applied(tuner, 5, route, b);
  EXPECT_TRUE(h.held(tuner, 5, route, 1, a));
  h.applied(tuner, 5, route, a);
  EXPECT_FALSE(h.held(tuner, 5, route, 1, a));
}

TEST(PerHost, LogLineNamesTheHostAndAlgorithms) {
  actuator::ClientReply ok;
  ok.status = proto::Status::OK;
  const std::string line = describeOutcome(routeProposal("10.211.7.2"), ok, 5);
  EXPECT_NE(line.find("net.route.host.congctl for host 10.211.7.2 cubic -> bbr in netns 4097"),
            std::string::npos)
      << line;
}

TEST(PerHost, LiveValuesOnlyFromAUsableReply) {
  const tuners::Proposal p = routeProposal("10.211.7.2");
  actuator::ClientReply reply;
  reply.status = proto::Status::OVERRIDDEN;
  reply.count = 1;
  reply.values[0] = static_cast<int64_t>(CongAlg::RENO);
  auto live = liveValues(p, reply);
  ASSERT_TRUE(live.has_value());
  EXPECT_EQ(live->v[0], static_cast<int64_t>(CongAlg::RENO));
  reply.status = proto::Status::FAILED;
  EXPECT_FALSE(liveValues(p, reply).has_value());
  reply.status = proto::Status::OK;
  reply.count = 0;
  EXPECT_FALSE(liveValues(p, reply).has_value());
}

TEST(Status, TunerStateAndIteratorAreRendered) {
  StatusSnapshot s;
  TunerStatus t;
  t.name = "tcp_conn";
  t.stateJson = R"({"hosts": 2})";
  t.hasIterator = true;
  t.iterator.what = "switches \"distressed\" connections";
  t.iterator.runs = 7;
  t.iterator.actions = 1;
  t.iterator.journaled = 1;
  s.tuners.push_back(t);
  TunerStatus plain;
  plain.name = "udp_buffer";
  s.tuners.push_back(plain);
  const std::string json = renderStatusJson(s);
  EXPECT_NE(json.find(R"("state": {"hosts": 2})"), std::string::npos) << json;
  EXPECT_NE(json.find(R"("iterator": {"what": "switches \"distressed\" connections", "runs": 7, )"
                      R"("actions": 1, "journaled": 1)"),
            std::string::npos)
      << json;
  // A tuner without either renders as before.
  const size_t udp = json.find(R"("name": "udp_buffer")");
  ASSERT_NE(udp, std::string::npos);
  EXPECT_EQ(json.find("\"iterator\"", udp), std::string::npos);
  EXPECT_EQ(json.find("\"state\"", udp), std::string::npos);
}

}  // namespace
}  // namespace bpftune::collector
