// tcp_conn: learns, per (netns, remote host), which congestion control algorithm serves new
// connections to that host best, from the measurements of connections that closed
// (TCP_CONN_EV_CLOSED), and proposes it as bpftune's own host route with the congctl metric
// (TunableId::ROUTE_CONGCTL; CongAlg::NONE = no route of ours, the namespace default applies).
// Decisions only; see tuner.h and docs/tuners/tcp_conn.md.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "bpftune.capnp.h"
#include "learning_rate.h"
#include "tuner.h"

namespace bpftune::tuners {

struct TcpConnConfig {
  // The algorithms a route of ours may carry for any host: the collector reads
  // tcp_available_congestion_control ∩ tcp_allowed_congestion_control at start. NONE and
  // duplicates are ignored. The namespace default (the event's sysctl[1]) is always an option
  // too, as "no route" (NONE), whether listed here or not.
  std::vector<proto::CongAlg> candidates;
  // Seeds the exploration draws: the same seed and events give the same proposals. The
  // collector seeds it from the clock or getrandom; tests fix it.
  uint64_t seed = 0x7463705f636f6e6eULL;
  // Hosts remembered (LRU; the least recently seen host is forgotten first). ~0.5 KiB each.
  size_t maxHosts = 4096;
  // Probability of trying a random other algorithm instead of the greedy choice (upstream 1/20).
  double epsilon = 0.05;
  // Learning starts at this many measured connections to the host (upstream: the 4th).
  uint32_t minConnections = 4;
  // As bpftune's -r: each algorithm's mean min_rtt and delivery rate move 1/2^(6 - rate) of the
  // way to each new connection's (1/4 at the default 4); its cost is computed from those.
  int learningRate = LearningRate::DEFAULT_RATE;
  // A connection is measured only when it delivered and sent at least this many data segments:
  // below it the rate sample is a slow-start or control-connection artefact (the spike's
  // 9-segment iperf3 control connection "delivered 891 Mbit/s").
  int64_t minSegments = 100;
  // The loss fast path needs this many segments sent, so 1/64 means at least 4 retransmits.
  int64_t lossMinSegsOut = 256;
  // The RTT term's denominator is max(host min_rtt, this): on veth min_rtt is 3-6 µs, so without
  // a floor a 1 µs jitter would weigh 20 % of the cost.
  int64_t rttFloorUs = 1000;
  // Cost units (10^6 = 1.0). The namespace default keeps a host unless another algorithm's cost
  // is lower by more than this, and a routed choice is kept unless beaten by more than this.
  int64_t hysteresis = 100000;
  // A proposal without an answer (onResult/onReply) is given up after this long (event time).
  uint64_t outstandingTimeoutNs = 30'000'000'000ULL;
  // After OVERRIDDEN (an administrator's route for the host wins) the host is left alone this
  // long, then one proposal asks again.
  uint64_t overrideHoldoffNs = 600'000'000'000ULL;
  // After REJECTED or FAILED the algorithm is not proposed for the host for this long, doubling
  // per repeated refusal; at maxRefusals refusals it is dropped from the host's options.
  uint64_t refusalHoldoffNs = 60'000'000'000ULL;
  uint32_t maxRefusals = 3;
  // statusJson(): the most recently seen hosts shown in full (totals cover all).
  size_t statusHosts = 64;
};

// Never fails: a config value out of range is clamped (epsilon to 0..1, maxHosts to ≥ 1).
std::unique_ptr<Tuner> makeTcpConnTuner(const TcpConnConfig& config);

}  // namespace bpftune::tuners
