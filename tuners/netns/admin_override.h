// The administrator always wins: where a write by someone else stops a tuner, which namespace a
// request goes to, what the written text means, and when a `bpftune resume` re-enables tuners.
// Pure functions and small state; the collector does the I/O.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string_view>

#include "tunable_table.h"
#include "tuner.h"

namespace bpftune::tuners::netns {

// The namespace whose tuners stop after `tunable` was written from `writerNetns`: the writer's
// own for a per-namespace tunable, the home (init) namespace for a global one (it only exists
// there, whoever wrote it).
uint64_t overrideTarget(const policy::TunableInfo& tunable,
                        uint64_t writerNetns,
                        uint64_t homeNetns);

// Where a proposal goes: per-namespace tunables into the event's namespace; global ones into the
// home namespace, remembering the event's namespace as the cause.
void routeProposal(Proposal& proposal, const policy::TunableInfo& tunable, uint64_t homeNetns);

// The values in what a writer wrote ("4096 131072 6291456\n", tabs allowed); nullopt when it is
// not exactly `count` integers (the write was refused by the kernel or is not ours to read).
std::optional<Values> parseWrittenValues(std::string_view text, uint8_t count);

// Notices `bpftune resume`: the actuator's resumeEpoch (in every reply) changes. While any tuner
// is disabled by the administrator the collector pings at most once per PING_PERIOD to see it.
class ResumeWatch {
public:
  using Clock = std::chrono::steady_clock;
  static constexpr std::chrono::seconds PING_PERIOD{1};

  // True when a ping should be sent now (and records that it is sent).
  bool pingDue(Clock::time_point now, bool anyDisabled);
  // Feeds a reply's epoch. True when it differs from the last one seen: re-enable. The first
  // reply after start only sets the baseline.
  bool onEpoch(uint64_t epoch);

private:
  std::optional<uint64_t> lastEpoch;
  Clock::time_point lastPing{};
};

}  // namespace bpftune::tuners::netns
