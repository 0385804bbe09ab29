// Command line of bpftune-collector. Parsing is pure so every usage error is unit-tested.
#pragma once

#include <string>
#include <vector>

#include "result.h"

namespace bpftune::collector {

struct Options {
  std::string socketPath = "/run/bpftune/actuator.sock";
  std::string statusPath = "/run/bpftune/status.json";
  std::string metricsPath;  // Prometheus textfile (.prom); empty: none written
  std::string user = "bpftune-collector";
  std::string actuatorUser = "bpftune";  // its sysctl writes are bpftune's own, not overrides
  int learningRate = 4;
  // Tuners to run (names as policy::tunerName); empty: every registered tuner.
  std::vector<std::string> tuners;
  bool debug = false;
  bool help = false;
};

// args excludes argv[0]. An Error here is a usage error (exit code 2).
Result<Options> parseOptions(const std::vector<std::string>& args);

std::string usageText();

}  // namespace bpftune::collector
