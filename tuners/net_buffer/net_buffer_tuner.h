// net_buffer: grows net.core.netdev_max_backlog when CPUs drop packets at a full input backlog
// (and enables flow limits on those CPUs), and grows net.core.netdev_budget/_usecs when NAPI
// polls run out of budget, backing off when that growth correlates with tasks waiting for CPU.
// All four tunables are machine-wide (init netns). Decisions only; see tuner.h.
#pragma once

#include <cstdint>
#include <memory>

#include "tuner.h"

namespace bpftune::tuners {

namespace net_buffer {

// Upstream's ceiling for the time budget: beyond 50 ms per softirq run, tasks starve.
constexpr int64_t BUDGET_USECS_MAX = 50000;
// One change of a tunable family per second at most, so the kernel's counters can show the
// effect of the last step before the next (and the actuator's rate limit is never the brake).
constexpr uint64_t MIN_CHANGE_INTERVAL_NS = 1000ULL * 1000 * 1000;

}  // namespace net_buffer

// learningRate 0..4 (clamped), as bpftune's -r: each step moves a value by 1/2^(6 - rate).
std::unique_ptr<Tuner> makeNetBufferTuner(int learningRate);

}  // namespace bpftune::tuners
