// The one list of tuners the collector runs: BPF side (attach) and decision side (factory).
#pragma once

#include <memory>
#include <span>
#include <string_view>

#include "bpf_object.h"
#include "tuner.h"

namespace bpftune::collector {

using TunerFactory = std::unique_ptr<tuners::Tuner> (*)(int learningRate);

struct TunerEntry {
  std::string_view name;
  AttachFn attach;
  TunerFactory makeTuner;
};

std::span<const TunerEntry> tunerRegistry();

}  // namespace bpftune::collector
