// What the tcp_conn tuner knows about one remote host in one namespace: per algorithm the
// EWMAs of its connections' min_rtt and delivery rate (and the extremes, for status); the route
// it believes is ours; and what the actuator told it. Learning arithmetic only; the choices are
// made in tcp_conn_tuner.cpp.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

#include "bpftune.capnp.h"
#include "conn_sample.h"
#include "host_address.h"

namespace bpftune::tuners::tcp_conn {

// Indexed by CongAlg value (NONE .. DCTCP). Slot NONE holds no measurements (a connection always
// runs a real algorithm) but has a refusal record: withdrawing our route can be refused too.
constexpr size_t ALG_SLOTS = 6;
constexpr size_t slotOf(proto::CongAlg alg) {
  return static_cast<size_t>(alg);
}

// Costs are fixed point: COST_ONE = 1.0 (upstream scales by 10^6 too).
constexpr int64_t COST_ONE = 1'000'000;

struct AlgStats {
  uint32_t count = 0;        // measured connections
  uint32_t greedyCount = 0;  // of those, how many left it with the host's lowest cost
  int64_t minRttUs = 0;      // best min_rtt of its connections (status only)
  int64_t maxRateBps = 0;    // best delivery rate of its connections (status only)
  int64_t meanRttUs = 0;     // EWMA of its connections' min_rtt
  int64_t meanRateBps = 0;   // EWMA of its connections' delivery rates
};

struct Refusal {
  uint32_t count = 0;    // REJECTED/FAILED in a row for this route value
  uint64_t untilNs = 0;  // not proposed again before this (event time)
};

struct HostState {
  uint64_t netns = 0;
  HostAddress host;
  uint64_t lastSeenNs = 0;
  uint32_t connections = 0;  // measured connections, any algorithm
  uint32_t lossyConnections = 0;
  std::array<AlgStats, ALG_SLOTS> algs{};
  proto::CongAlg nsDefault = proto::CongAlg::NONE;  // as the latest connection saw it
  bool ecn = false;  // the latest connection negotiated ECN (dctcp needs it)

  // The route of ours the tuner believes exists (NONE: none, the default applies); set from
  // the actuator's replies only.
  proto::CongAlg route = proto::CongAlg::NONE;
  uint32_t routeSince = 0;  // `connections` when the belief last changed
  // Algorithms (by slot) routed for minConnections connections without one using them (the
  // applications choose their own): not explored as untried again.
  std::array<bool, ALG_SLOTS> passedOver{};
  bool pending = false;  // a proposal awaits its answer
  proto::CongAlg pendingRoute = proto::CongAlg::NONE;
  uint64_t pendingSinceNs = 0;
  bool overridden = false;    // an administrator's route for the host wins (OVERRIDDEN)
  uint64_t quietUntilNs = 0;  // no proposals before this: OVERRIDDEN or PAUSED
  std::array<Refusal, ALG_SLOTS> refusals{};

  // The algorithm new connections get: our route's, else the namespace default (NONE: unknown).
  proto::CongAlg effectiveAlg() const { return route == proto::CongAlg::NONE ? nsDefault : route; }
};

struct CostScale {
  int64_t rttFloorUs = 1;
  int shift = 2;  // EWMA step 1/2^shift
};

// The host's best: the lowest mean min_rtt and the highest mean rate over its measured
// algorithms (0 when none is measured).
struct HostBest {
  int64_t rttUs = 0;
  int64_t rateBps = 0;
};
HostBest hostBest(const HostState& host);

// Upstream's cost of `alg` for the host, in COST_ONE units, lower is better, 0 = the host's best
// on both: relative min_rtt excess over the best (denominator floored at rttFloorUs) plus
// relative rate deficit under the best. Evaluated from the EWMAs against today's best, so every
// algorithm is judged against the same reference (see docs/tuners/tcp_conn.md). An unmeasured
// algorithm costs 0: it is tried before it is judged.
int64_t algCost(const HostState& host, proto::CongAlg alg, int64_t rttFloorUs);

// Upstream's RL update: the first value is taken as is, later ones move the average
// |target − old| >> shift of the way (α = 1/4 at the default learning rate).
int64_t ewma(int64_t old, int64_t target, int shift);

// Folds one measured connection into its algorithm's averages and extremes.
void record(HostState& host, const ConnSample& sample, const CostScale& scale);

}  // namespace bpftune::tuners::tcp_conn
