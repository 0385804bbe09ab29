#include "ip_frag_tuner.h"

#include <algorithm>
#include <cstdint>
#include <optional>
#include <string>

#include "change_limits.h"
#include "correlation.h"
#include "learning_rate.h"
#include "reasm_history.h"

namespace bpftune::tuners {
namespace {

using ip_frag::ReasmCounters;
using ip_frag::ReasmHistory;

// The threshold enters the correlation in 64-byte units: the smallest step (1/64 of the policy
// minimum 4096) stays visible, and squares of values up to 1 GiB (2^24 units) can be summed
// 65536 times before the running sums overflow and restart.
constexpr int CORRELATION_UNIT_SHIFT = 6;

// One address family: the tunable it changes and the counters that judge it.
struct Family {
  TunableId tunable;
  CounterId reqds;
  CounterId fails;
  const char* name;
};

constexpr Family IPV4{TunableId::IPFRAG_HIGH_THRESH,
                      CounterId::IP_REASM_REQDS,
                      CounterId::IP_REASM_FAILS,
                      "ipfrag_high_thresh"};
constexpr Family IPV6{TunableId::IP6FRAG_HIGH_THRESH,
                      CounterId::IP6_REASM_REQDS,
                      CounterId::IP6_REASM_FAILS,
                      "ip6frag_high_thresh"};

const Family* familyOf(uint32_t kind) {
  switch (kind) {
    case IP_FRAG_EV_V4_NEAR_THRESH:
      return &IPV4;
    case IP_FRAG_EV_V6_NEAR_THRESH:
      return &IPV6;
    default:
      return nullptr;
  }
}

std::string str(int64_t v) {
  return std::to_string(v);
}

// Two decimals without <format> or streams.
std::string formatR(double r) {
  const auto hundredths = static_cast<int64_t>(r * 100);
  const int64_t frac = hundredths % 100;
  return str(hundredths / 100) + (frac < 10 ? ".0" : ".") + str(frac);
}

std::optional<ReasmCounters> countersFor(const CurrentValues& current, const Family& family) {
  auto reqds = current.counters.find(family.reqds);
  auto fails = current.counters.find(family.fails);
  if (reqds == current.counters.end() || fails == current.counters.end()) {
    return std::nullopt;
  }
  return ReasmCounters{reqds->second, fails->second};
}

class IpFragTuner final : public Tuner {
public:
  explicit IpFragTuner(int learningRate) : rate(learningRate) {}

  TunerId id() const override { return TunerId::IP_FRAG; }
  std::string_view name() const override { return "ip_frag"; }
  std::vector<TunableId> tunables() const override {
    return {TunableId::IPFRAG_HIGH_THRESH, TunableId::IP6FRAG_HIGH_THRESH};
  }
  std::vector<CounterId> counters(const bpftune_event& /*event*/) const override {
    return {CounterId::IP_REASM_REQDS,
            CounterId::IP_REASM_FAILS,
            CounterId::IP6_REASM_REQDS,
            CounterId::IP6_REASM_FAILS};
  }

  std::vector<Proposal> onEvent(const bpftune_event& event, const CurrentValues& current) override;

private:
  void recordFailureRate(const bpftune_event& event,
                         const CurrentValues& current,
                         const Family& family,
                         int64_t high);
  std::optional<Proposal> increase(const bpftune_event& event, const Family& family, int64_t high);
  std::optional<Proposal> decrease(const bpftune_event& event,
                                   const Family& family,
                                   int64_t high,
                                   double r);
  std::string lately(const bpftune_event& event, const Family& family) const;
  Proposal proposal(const bpftune_event& event,
                    const Family& family,
                    ScenarioId scenario,
                    int64_t high,
                    int64_t next,
                    std::string why) const;

  LearningRate rate;
  CorrelationTable correlations;
  ReasmHistory history;
};

std::vector<Proposal> IpFragTuner::onEvent(const bpftune_event& event,
                                           const CurrentValues& current) {
  const Family* family = event.tuner == BPFTUNE_TUNER_IP_FRAG ? familyOf(event.kind) : nullptr;
  if (family == nullptr) {
    return {};
  }
  auto live = current.sysctls.find(family->tunable);
  if (live == current.sysctls.end() || live->second.count != 1) {
    return {};
  }
  const int64_t high = live->second.v[0];
  recordFailureRate(event, current, *family, high);
  // An event queued before our last change no longer describes the live threshold; acting on
  // it again would compound the step.
  if (high <= 0 || !rate.nearlyFull(event.value, high)) {
    return {};
  }
  const double r = correlations.r(event.netns_cookie, family->tunable);
  std::optional<Proposal> out = r > Correlation::THRESHOLD ? decrease(event, *family, high, r)
                                                           : increase(event, *family, high);
  if (!out) {
    return {};
  }
  return {std::move(*out)};
}

// One correlation sample per event: the threshold that was live since the previous event
// against the failure rate over that interval. A quiet minute starts the series again, so one
// old episode cannot decide a new one (upstream never ages its sums).
void IpFragTuner::recordFailureRate(const bpftune_event& event,
                                    const CurrentValues& current,
                                    const Family& family,
                                    int64_t high) {
  const std::optional<ReasmCounters> counters = countersFor(current, family);
  if (!counters) {
    return;
  }
  const auto sample = history.observe(event.netns_cookie, family.tunable, *counters, event.ts_ns);
  if (sample.newEpisode) {
    correlations.forget(event.netns_cookie, family.tunable);
  }
  if (!sample.failsPerMille || high <= 0) {
    return;
  }
  correlations.add(event.netns_cookie,
                   family.tunable,
                   static_cast<uint64_t>(high) >> CORRELATION_UNIT_SHIFT,
                   *sample.failsPerMille);
}

std::optional<Proposal> IpFragTuner::increase(const bpftune_event& event,
                                              const Family& family,
                                              int64_t high) {
  const int64_t next = clampStep(high, rate.grow(high));
  if (next <= high) {
    return std::nullopt;
  }
  return proposal(event,
                  family,
                  ScenarioId::FRAG_THRESH_INCREASE,
                  high,
                  next,
                  "a fragment was dropped with reassembly memory at " + str(event.value) +
                      " bytes, over or within 1/" + str(int64_t{1} << rate.shift()) + " of " +
                      family.name + " " + str(high) + lately(event, family) + "; raise it to " +
                      str(next));
}

// The kernel refuses a high threshold below the low one, so the low one (as the event saw it)
// is the floor.
std::optional<Proposal> IpFragTuner::decrease(const bpftune_event& event,
                                              const Family& family,
                                              int64_t high,
                                              double r) {
  const int64_t floor = std::max<int64_t>(event.detail[IP_FRAG_DETAIL_LOW_THRESH], 0);
  const int64_t next = std::max(clampStep(high, rate.shrink(high)), floor);
  if (next >= high) {
    return std::nullopt;
  }
  return proposal(
      event,
      family,
      ScenarioId::FRAG_THRESH_DECREASE,
      high,
      next,
      "reassembly failures rise with " + std::string(family.name) + " (r=" + formatR(r) + " over " +
          str(static_cast<int64_t>(correlations.samples(event.netns_cookie, family.tunable))) +
          " samples" + lately(event, family) +
          "): more memory only holds more bad fragments; lower it from " + str(high) + " to " +
          str(next));
}

// The last interval's failure rate, for the log line; empty before the first sample.
std::string IpFragTuner::lately(const bpftune_event& event, const Family& family) const {
  const auto last = history.lastFailsPerMille(event.netns_cookie, family.tunable);
  return last ? ", " + str(static_cast<int64_t>(*last)) + " failures per 1000 fragments lately"
              : "";
}

Proposal IpFragTuner::proposal(const bpftune_event& event,
                               const Family& family,
                               ScenarioId scenario,
                               int64_t high,
                               int64_t next,
                               std::string why) const {
  return Proposal{TunerId::IP_FRAG,
                  scenario,
                  event.netns_cookie,
                  family.tunable,
                  Values{1, {high, 0, 0}},
                  Values{1, {next, 0, 0}},
                  std::move(why)};
}

}  // namespace

std::unique_ptr<Tuner> makeIpFragTuner(int learningRate) {
  return std::make_unique<IpFragTuner>(learningRate);
}

}  // namespace bpftune::tuners
