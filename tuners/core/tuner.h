// The tuner interface: pure decision logic. Events and current values in, proposed requests out.
// No I/O happens here; the collector reads sysctls, talks to the actuator and logs.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "bpftune.capnp.h"
#include "events.h"

namespace bpftune::tuners {

using proto::ScenarioId;
using proto::TunableId;
using proto::TunerId;

struct Values {
  uint8_t count = 0;
  std::array<int64_t, 3> v{};
  bool operator==(const Values& other) const = default;
};

// What the collector read just before calling the tuner: for its own netns from /proc/sys, for
// any other netns the values the event carries (or newer ones from an actuator reply).
struct CurrentValues {
  std::map<TunableId, Values> sysctls;
  int64_t freeBufferPages = 0;  // nr_free_buffer_pages estimate from /proc/zoneinfo
};

struct Proposal {
  TunerId tuner = TunerId::TCP_BUFFER;
  ScenarioId scenario = ScenarioId::BUFFER_INCREASE;
  uint64_t netnsCookie = 0;  // the event's netns; the collector routes global tunables home
  TunableId tunable = TunableId::TCP_RMEM;
  Values oldValues;
  Values newValues;
  std::string why;                // one sentence for the what-and-why log line
  uint64_t causeNetnsCookie = 0;  // set by routing: the event's netns when netnsCookie is home
};

class Tuner {
public:
  Tuner() = default;
  Tuner(const Tuner&) = delete;
  Tuner& operator=(const Tuner&) = delete;
  virtual ~Tuner() = default;

  virtual TunerId id() const = 0;
  virtual std::string_view name() const = 0;
  // Tunables the collector reads into CurrentValues before each onEvent call.
  virtual std::vector<TunableId> tunables() const = 0;
  virtual std::vector<Proposal> onEvent(const bpftune_event& event,
                                        const CurrentValues& current) = 0;
  // Told after the actuator answered, so the tuner can follow up (e.g. moderate_rcvbuf after an
  // rmem change) on the next event. `applied` is false when the request was refused.
  virtual void onResult(const Proposal& proposal, bool applied) {}
};

}  // namespace bpftune::tuners
