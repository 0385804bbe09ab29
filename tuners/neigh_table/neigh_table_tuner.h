// neigh_table: grows gc_thresh1/2/3 of the arp or ndisc table when its entries near gc_thresh3
// (or a create was refused: table full), up to the address space of the prefixes of the devices
// filling it; shrinks them toward the kernel defaults (128/512/1024) when the table is nearly
// empty. The thresholds are global (init netns only): a container's event changes them for the
// whole host, and the why text says so. Decisions only; see tuner.h.
#pragma once

#include <memory>

#include "tuner.h"

namespace bpftune::tuners {

// learningRate 0..4 (clamped), as bpftune's -r: each step moves a value by 1/2^(6 - rate).
std::unique_ptr<Tuner> makeNeighTableTuner(int learningRate);

}  // namespace bpftune::tuners
