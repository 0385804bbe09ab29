// Validation of a setSysctl request against the compiled-in table and the policy. Pure
// functions: the actuator supplies the live values, its own netns cookie and the clock.
#pragma once

#include <array>
#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <string>

#include "host_address.h"
#include "policy_file.h"
#include "tunable_table.h"

namespace bpftune::policy {

using Values = std::array<int64_t, 3>;

struct SetSysctl {
  proto::TunerId tuner = proto::TunerId::TCP_BUFFER;
  proto::ScenarioId scenario = proto::ScenarioId::BUFFER_INCREASE;
  uint64_t netnsCookie = 0;
  TunableId tunable = TunableId::TCP_RMEM;
  uint8_t count = 0;
  Values expected{};
  Values newValues{};
  uint64_t causeNetnsCookie = 0;  // netns whose event caused it (0: netnsCookie)
  HostAddress host;               // per-host tunables (routeCongctl); empty for sysctls
};

// Why a request is refused: the request field, the bound crossed (0 when none) and a sentence
// naming both.
struct Refusal {
  std::string field;
  int64_t bound = 0;
  std::string reason;
};

// Identity, netns, count, host, bounds and ordering; everything that needs no live value.
// ownNetnsCookie: the init namespace, the only one holding global tunables.
std::optional<Refusal> checkRequest(const Policy& policy,
                                    const SetSysctl& request,
                                    uint64_t ownNetnsCookie);

// Step limit: every changed element moves at most stepPercent of its live value. Booleans are
// exempt. From a live value of 0 a step of up to 1 is allowed (a percentage of 0 is 0, which
// would freeze the value forever).
std::optional<Refusal> checkStep(const Limits& limits,
                                 const TunableInfo& info,
                                 const Values& live,
                                 const Values& next);

// Accepted-change rate per tunable in a sliding window.
// Per (network namespace, tunable): one busy container does not starve the others.
class RateLimiter {
public:
  std::optional<Refusal> check(const Limits& limits,
                               const TunableInfo& info,
                               int64_t nowNs,
                               uint64_t netns = 0);
  void record(TunableId id, int64_t nowNs, uint64_t netns = 0);

private:
  using Key = std::pair<uint64_t, TunableId>;
  void expire(const Key& key, int64_t windowNs, int64_t nowNs);
  std::map<Key, std::deque<int64_t>> accepted;
};

std::string valuesText(const Values& values, uint8_t count);

}  // namespace bpftune::policy
