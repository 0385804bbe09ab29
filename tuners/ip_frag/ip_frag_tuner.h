// ip_frag: grows a namespace's ipfrag_high_thresh / ip6frag_high_thresh when fragments are
// dropped with reassembly memory near it, and shrinks it instead when the reassembly failure
// rate rises with the threshold (a fragment flood: more memory only holds more bad fragments).
// Decisions only; see tuner.h.
#pragma once

#include <memory>

#include "tuner.h"

namespace bpftune::tuners {

// learningRate 0..4 (clamped), as bpftune's -r: each step moves a value by 1/2^(6 - rate).
std::unique_ptr<Tuner> makeIpFragTuner(int learningRate);

}  // namespace bpftune::tuners
