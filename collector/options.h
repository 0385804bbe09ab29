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
  // Plugin directories (--plugin-dir, repeatable; default: the compiled-in two). A missing one
  // is skipped; an untrusted one is refused.
  std::vector<std::string> pluginDirs;
  bool noPlugins = false;
  // Overrides every tuner's strategy period (0: each tuner's own, upstream's 30 s).
  int strategyPeriodMs = 0;
  std::string checkPlugin;  // --check-plugin PATH: check and load it, print what it is, exit
  bool debug = false;
  bool help = false;
};

// args excludes argv[0]. An Error here is a usage error (exit code 2).
Result<Options> parseOptions(const std::vector<std::string>& args);

std::string usageText();

// The plugin directories when none is given: <libdir>/bpftune/plugins of this build and
// /usr/local/lib/bpftune/plugins.
std::vector<std::string> defaultPluginDirs();

}  // namespace bpftune::collector
