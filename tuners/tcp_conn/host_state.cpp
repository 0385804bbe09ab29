#include "host_state.h"

#include <algorithm>
#include <cmath>

namespace bpftune::tuners::tcp_conn {
namespace {

int64_t relative(int64_t excess, int64_t base) {
  if (excess <= 0 || base <= 0) {
    return 0;
  }
  const double r =
      static_cast<double>(excess) * static_cast<double>(COST_ONE) / static_cast<double>(base);
  return static_cast<int64_t>(std::llround(std::min(r, 1e15)));
}

int64_t minKnown(int64_t best, int64_t v) {
  return best == 0 ? v : std::min(best, v);
}

// Greedy: no other measured algorithm of the host costs less.
bool lowestCost(const HostState& host, proto::CongAlg alg, int64_t floorUs) {
  const int64_t mine = algCost(host, alg, floorUs);
  for (size_t i = 1; i < ALG_SLOTS; ++i) {
    const auto other = static_cast<proto::CongAlg>(i);
    if (other != alg && host.algs[i].count > 0 && algCost(host, other, floorUs) < mine) {
      return false;
    }
  }
  return true;
}

}  // namespace

HostBest hostBest(const HostState& host) {
  HostBest best;
  for (const AlgStats& alg : host.algs) {
    if (alg.count == 0) {
      continue;
    }
    best.rttUs = minKnown(best.rttUs, alg.meanRttUs);
    best.rateBps = std::max(best.rateBps, alg.meanRateBps);
  }
  return best;
}

int64_t algCost(const HostState& host, proto::CongAlg alg, int64_t rttFloorUs) {
  const AlgStats& stats = host.algs[slotOf(alg)];
  if (stats.count == 0) {
    return 0;
  }
  const HostBest best = hostBest(host);
  const int64_t rttBase = std::max(best.rttUs, std::max<int64_t>(rttFloorUs, 1));
  return relative(stats.meanRttUs - best.rttUs, rttBase) +
         relative(best.rateBps - stats.meanRateBps, best.rateBps);
}

int64_t ewma(int64_t old, int64_t target, int shift) {
  const int64_t step = (target > old ? target - old : old - target) >> shift;
  return target > old ? old + step : old - step;
}

void record(HostState& host, const ConnSample& sample, const CostScale& scale) {
  AlgStats& alg = host.algs[slotOf(sample.alg)];
  ++host.connections;
  alg.minRttUs = minKnown(alg.minRttUs, sample.minRttUs);
  alg.maxRateBps = std::max(alg.maxRateBps, sample.rateBps);
  const bool first = alg.count == 0;
  alg.meanRttUs = first ? sample.minRttUs : ewma(alg.meanRttUs, sample.minRttUs, scale.shift);
  alg.meanRateBps = first ? sample.rateBps : ewma(alg.meanRateBps, sample.rateBps, scale.shift);
  ++alg.count;
  if (lowestCost(host, sample.alg, scale.rttFloorUs)) {
    ++alg.greedyCount;
  }
}

}  // namespace bpftune::tuners::tcp_conn
