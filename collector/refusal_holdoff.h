// After the actuator rejects a proposal (bounds, step, rate, allowlist) or its write fails, the
// same request would meet the same answer on the next event, 25 ms later: one warning line per
// event, and for a failed write two journal records each. The collector holds that (tuner,
// netns, tunable, host) back instead (host: per-host tunables such as routeCongctl, where a
// refusal for one host says nothing about another; empty for sysctls): 1 s after the first refusal,
// doubling up to 64 s while refusals continue; an applied change clears it.
#pragma once

#include <cstdint>
#include <map>
#include <tuple>

#include "bpftune.capnp.h"
#include "host_address.h"

namespace bpftune::collector {

class RefusalHoldoff {
public:
  static constexpr uint64_t FIRST_NS = 1'000'000'000;
  static constexpr uint64_t MAX_NS = 64 * FIRST_NS;
  static constexpr size_t MAX_KEYS = 4096;  // bounded like every per-netns table

  bool held(proto::TunerId tuner,
            uint64_t netns,
            proto::TunableId tunable,
            uint64_t nowNs,
            const HostAddress& host = {}) const;
  void rejected(proto::TunerId tuner,
                uint64_t netns,
                proto::TunableId tunable,
                uint64_t nowNs,
                const HostAddress& host = {});
  void applied(proto::TunerId tuner,
               uint64_t netns,
               proto::TunableId tunable,
               const HostAddress& host = {});
  void forget(uint64_t netns);

private:
  // The host as integers (family, word0, word1): clang-tidy 14 misreads HostAddress's defaulted
  // <=> when it is instantiated (modernize-use-nullptr).
  using Key = std::tuple<proto::TunerId, uint64_t, proto::TunableId, uint8_t, uint64_t, uint64_t>;
  static Key key(proto::TunerId tuner,
                 uint64_t netns,
                 proto::TunableId tunable,
                 const HostAddress& host) {
    return {tuner, netns, tunable, host.family, host.word0(), host.word1()};
  }
  struct Hold {
    uint64_t untilNs = 0;
    uint64_t lengthNs = 0;
  };
  void makeRoom(uint64_t nowNs);
  std::map<Key, Hold> holds;
};

}  // namespace bpftune::collector
