// The measurement and learning pieces of tcp_conn: reading an event, the cost, the LRU.
#include <sys/socket.h>

#include <cstdint>

#include <gtest/gtest.h>

#include "conn_sample.h"
#include "host_state.h"
#include "host_table.h"

namespace bpftune::tuners::tcp_conn {
namespace {

using proto::CongAlg;

HostAddress v4(uint8_t last) {
  return *HostAddress::parse("10.225.0." + std::to_string(last));
}

// The spike's cubic data flow (setup A, 0 % loss) as the BPF program reports it.
bpftune_event spikeCubicFlow() {
  bpftune_event ev{};
  ev.tuner = BPFTUNE_TUNER_TCP_CONN;
  ev.kind = TCP_CONN_EV_CLOSED;
  ev.netns_cookie = 30920;
  ev.value = 119615078;  // bytes_acked
  ev.limit = 5000000;    // 5 s
  ev.srtt_us = 1869;
  ev.ns_values[0] = 82610;  // delivered
  ev.ns_values[1] = 0;      // total_retrans
  ev.ns_values[2] = 82642;  // segs_out
  ev.ns_values[3] = 82640;  // data_segs_out
  ev.detail[0] = 5;         // rtt_min
  ev.detail[1] = 31;        // rate_delivered
  ev.detail[2] = 1914;      // rate_interval_us
  ev.detail[3] = 1448;      // mss
  ev.sysctl[0] = static_cast<int64_t>(CongAlg::CUBIC);
  ev.sysctl[1] = static_cast<int64_t>(CongAlg::BBR);
  ev.family = AF_INET;
  ev.daddr[0] = 10;
  ev.daddr[1] = 225;
  ev.daddr[2] = 0;
  ev.daddr[3] = 2;
  return ev;
}

TEST(TcpConnSample, AverageGoodputFirstLastSampleWithoutDuration) {
  bpftune_event ev = spikeCubicFlow();
  // 119615078 B * 8 / 5 s = 191.38 Mbit/s, iperf3's figure.
  EXPECT_EQ(deliveryRateBps(ev), 191384124);
  ev.limit = 0;
  // 31 * 1448 B * 8 / 1914 µs = 187.6 Mbit/s: the last sample.
  EXPECT_EQ(deliveryRateBps(ev), 187619644);
  ev.detail[2] = 0;
  EXPECT_EQ(deliveryRateBps(ev), 0);
}

TEST(TcpConnSample, ReadsTheSlotContract) {
  bpftune_event ev = spikeCubicFlow();
  ev.sysctl[2] = 0x3;  // ECN, passive
  ConnSample s;
  ASSERT_EQ(readSample(ev, {100}, s), SampleSkip::NONE);
  EXPECT_EQ(s.netns, 30920U);
  EXPECT_EQ(s.host, v4(2));
  EXPECT_EQ(s.alg, CongAlg::CUBIC);
  EXPECT_EQ(s.nsDefault, CongAlg::BBR);
  EXPECT_TRUE(s.ecn);
  EXPECT_TRUE(s.passive);
  EXPECT_EQ(s.minRttUs, 5);
  EXPECT_EQ(s.segsOut, 82642);
}

TEST(TcpConnSample, ControlConnectionsListenersAndUnknownsTeachNothing) {
  // The spike's iperf3 control connection: 9 segments, a "891 Mbit/s" last sample.
  bpftune_event control = spikeCubicFlow();
  control.value = 9 * 1448;
  control.limit = 0;
  control.ns_values[0] = 9;
  control.ns_values[2] = 10;
  control.ns_values[3] = 9;
  control.detail[1] = 1;
  control.detail[2] = 13;
  ConnSample s;
  EXPECT_EQ(readSample(control, {100}, s), SampleSkip::SMALL);
  EXPECT_GT(deliveryRateBps(control), 800000000);  // what it would have taught

  bpftune_event listener = spikeCubicFlow();
  listener.ns_values[0] = 0;
  listener.detail[0] = 0xffffffffLL;
  EXPECT_EQ(readSample(listener, {0}, s), SampleSkip::SMALL);
  listener.ns_values[0] = 500;
  EXPECT_EQ(readSample(listener, {0}, s), SampleSkip::RTT);

  bpftune_event other = spikeCubicFlow();
  other.sysctl[0] = 0;  // vegas, say
  EXPECT_EQ(readSample(other, {100}, s), SampleSkip::ALGORITHM);
  other.sysctl[0] = 9;  // a newer producer's value
  EXPECT_EQ(readSample(other, {100}, s), SampleSkip::ALGORITHM);

  bpftune_event loopback = spikeCubicFlow();
  loopback.daddr[0] = 127;
  EXPECT_EQ(readSample(loopback, {100}, s), SampleSkip::HOST);
  bpftune_event badFamily = spikeCubicFlow();
  badFamily.family = 99;
  EXPECT_EQ(readSample(badFamily, {100}, s), SampleSkip::HOST);
}

TEST(TcpConnSample, Ipv4ReadsFourBytesIpv6Sixteen) {
  bpftune_event ev = spikeCubicFlow();
  ev.daddr[9] = 0xaa;  // beyond an IPv4 address: not part of it
  EXPECT_EQ(eventHost(ev), v4(2));
  ev.family = AF_INET6;
  const HostAddress six = *HostAddress::parse("fd25:1::2");
  std::copy(six.bytes.begin(), six.bytes.end(), ev.daddr);
  EXPECT_EQ(eventHost(ev), six);
}

TEST(TcpConnSample, LossThresholdIsOneSixtyFourthWithEnoughSegments) {
  ConnSample s;
  s.segsOut = 6400;
  s.totalRetrans = 100;  // exactly 1/64
  EXPECT_FALSE(lossy(s, 256));
  s.totalRetrans = 101;
  EXPECT_TRUE(lossy(s, 256));
  s.segsOut = 200;  // 50 % of too few segments
  s.totalRetrans = 100;
  EXPECT_FALSE(lossy(s, 256));
  // The spike's bbr flow at 3 % loss: 2527 > 82649 / 64 = 1291.
  s.segsOut = 82649;
  s.totalRetrans = 2527;
  EXPECT_TRUE(lossy(s, 256));
}

ConnSample measured(CongAlg alg, int64_t rttUs, int64_t mbit) {
  ConnSample s;
  s.alg = alg;
  s.minRttUs = rttUs;
  s.rateBps = mbit * 1000000;
  return s;
}

TEST(TcpConnLearning, EwmaTakesTheFirstValueThenAQuarterOfTheWay) {
  EXPECT_EQ(ewma(1000, 2000, 2), 1250);
  EXPECT_EQ(ewma(1000, 0, 2), 750);
  HostState host;
  record(host, measured(CongAlg::CUBIC, 100, 100), {1000, 2});
  EXPECT_EQ(host.algs[slotOf(CongAlg::CUBIC)].meanRateBps, 100000000);
  record(host, measured(CongAlg::CUBIC, 100, 20), {1000, 2});
  EXPECT_EQ(host.algs[slotOf(CongAlg::CUBIC)].meanRateBps, 80000000);
  EXPECT_EQ(host.algs[slotOf(CongAlg::CUBIC)].maxRateBps, 100000000);
  EXPECT_EQ(host.connections, 2U);
}

TEST(TcpConnLearning, CostIsRelativeRttExcessPlusRateDeficit) {
  HostState host;
  const CostScale scale{1000, 2};
  record(host, measured(CongAlg::BBR, 20000, 200), scale);
  record(host, measured(CongAlg::CUBIC, 30000, 50), scale);
  EXPECT_EQ(algCost(host, CongAlg::BBR, scale.rttFloorUs), 0);
  // (30000 - 20000) / 20000 + (200 - 50) / 200 = 0.5 + 0.75
  EXPECT_EQ(algCost(host, CongAlg::CUBIC, scale.rttFloorUs), 1250000);
  EXPECT_EQ(algCost(host, CongAlg::RENO, scale.rttFloorUs), 0);  // untried: optimistic
  EXPECT_EQ(host.algs[slotOf(CongAlg::BBR)].greedyCount, 1U);
  EXPECT_EQ(host.algs[slotOf(CongAlg::CUBIC)].greedyCount, 0U);
}

TEST(TcpConnLearning, RttFloorKeepsMicrosecondJitterSmall) {
  // veth: min_rtt 5 vs 6 µs at the same rate.
  HostState host;
  record(host, measured(CongAlg::BBR, 5, 190), {1000, 2});
  record(host, measured(CongAlg::CUBIC, 6, 190), {1000, 2});
  EXPECT_EQ(algCost(host, CongAlg::CUBIC, 1000), 1000);  // 1 µs / 1 ms = 0.001
  EXPECT_EQ(algCost(host, CongAlg::CUBIC, 1), 200000);   // unfloored: 20 %
}

TEST(TcpConnLearning, LaterBetterMeasurementsRejudgeEveryAlgorithm) {
  // Upstream keeps each connection's cost against the references of its day; here cubic,
  // measured alone first, is judged against bbr as soon as bbr shows a better rate.
  HostState host;
  for (int i = 0; i < 3; ++i) {
    record(host, measured(CongAlg::CUBIC, 50, 60), {1000, 2});
  }
  EXPECT_EQ(algCost(host, CongAlg::CUBIC, 1000), 0);
  record(host, measured(CongAlg::BBR, 50, 180), {1000, 2});
  EXPECT_EQ(algCost(host, CongAlg::CUBIC, 1000), 666667);
}

TEST(TcpConnHostTable, EvictsTheLeastRecentlySeenAtTheCap) {
  HostTable table(3);
  table.touch(1, v4(1)).connections = 11;
  table.touch(1, v4(2)).connections = 12;
  table.touch(1, v4(3)).connections = 13;
  table.touch(1, v4(1));  // seen again: now the most recent
  table.touch(1, v4(4));  // full: v4(2) goes
  EXPECT_EQ(table.size(), 3U);
  EXPECT_EQ(table.evicted(), 1U);
  EXPECT_EQ(table.find(1, v4(2)), nullptr);
  ASSERT_NE(table.find(1, v4(1)), nullptr);
  EXPECT_EQ(table.find(1, v4(1))->connections, 11U);
  EXPECT_EQ(table.byRecency().front().host, v4(4));
  EXPECT_EQ(table.byRecency().back().host, v4(3));
  // Forgotten state starts over.
  EXPECT_EQ(table.touch(1, v4(2)).connections, 0U);
  EXPECT_EQ(table.evicted(), 2U);
}

TEST(TcpConnHostTable, NamespacesAreSeparateAndForgottenTogether) {
  HostTable table(10);
  table.touch(1, v4(1)).connections = 1;
  table.touch(2, v4(1)).connections = 2;
  table.touch(2, v4(2));
  EXPECT_EQ(table.find(1, v4(1))->connections, 1U);
  EXPECT_EQ(table.find(2, v4(1))->connections, 2U);
  table.forgetNetns(2);
  EXPECT_EQ(table.size(), 1U);
  EXPECT_EQ(table.find(2, v4(1)), nullptr);
  EXPECT_NE(table.find(1, v4(1)), nullptr);
}

}  // namespace
}  // namespace bpftune::tuners::tcp_conn
