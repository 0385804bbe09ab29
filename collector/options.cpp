#include "options.h"

#include <charconv>
#include <sstream>

#include "tunable_table.h"

namespace bpftune::collector {
namespace {

Result<int> parseLearningRate(const std::string& text) {
  int rate = -1;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), rate);
  if (ec != std::errc() || end != text.data() + text.size() || rate < 0 || rate > 4) {
    return makeError("--learning-rate must be an integer from 0 to 4, got '" + text + "'");
  }
  return rate;
}

Result<int> parseStrategyPeriod(const std::string& text) {
  int ms = -1;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), ms);
  if (ec != std::errc() || end != text.data() + text.size() || ms < 100 || ms > 3600000) {
    return makeError("--strategy-period must be milliseconds from 100 to 3600000, got '" + text +
                     "'");
  }
  return ms;
}

Result<std::vector<std::string>> parseTuners(const std::string& text) {
  std::vector<std::string> names;
  std::istringstream in(text);
  for (std::string name; std::getline(in, name, ',');) {
    if (policy::findTuner(name) == nullptr) {
      std::string known;
      for (proto::TunerId id : policy::allTuners()) {
        known += known.empty() ? "" : ", ";
        known += policy::tunerName(id);
      }
      std::string message = "--tuners: unknown tuner '";
      message += name;
      message += "' (known: ";
      message += known;
      return makeError(message + ")");
    }
    names.push_back(name);
  }
  if (names.empty()) {
    return makeError("--tuners needs at least one tuner name");
  }
  return names;
}

}  // namespace

Result<Options> parseOptions(const std::vector<std::string>& args) {
  Options options;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg == "--help" || arg == "-h") {
      options.help = true;
      continue;
    }
    if (arg == "--debug") {
      options.debug = true;
      continue;
    }
    if (arg == "--no-plugins") {
      options.noPlugins = true;
      continue;
    }
    if (arg != "--socket" && arg != "--status" && arg != "--user" && arg != "--actuator-user" &&
        arg != "--learning-rate" && arg != "--tuners" && arg != "--metrics-file" &&
        arg != "--plugin-dir" && arg != "--strategy-period" && arg != "--check-plugin") {
      return makeError("unknown option '" + arg + "'");
    }
    if (i + 1 >= args.size() || args[i + 1].empty()) {
      return makeError(arg + " needs a value");
    }
    const std::string& value = args[++i];
    if (arg == "--socket") {
      options.socketPath = value;
    } else if (arg == "--status") {
      options.statusPath = value;
    } else if (arg == "--metrics-file") {
      options.metricsPath = value;
    } else if (arg == "--user") {
      options.user = value;
    } else if (arg == "--actuator-user") {
      options.actuatorUser = value;
    } else if (arg == "--plugin-dir") {
      if (value.front() != '/') {
        return makeError("--plugin-dir needs an absolute path, got '" + value + "'");
      }
      options.pluginDirs.push_back(value);
    } else if (arg == "--check-plugin") {
      options.checkPlugin = value;
    } else if (arg == "--strategy-period") {
      auto ms = parseStrategyPeriod(value);
      if (!ms) {
        return ms.error();
      }
      options.strategyPeriodMs = *ms;
    } else if (arg == "--tuners") {
      auto tuners = parseTuners(value);
      if (!tuners) {
        return tuners.error();
      }
      options.tuners = std::move(*tuners);
    } else {
      auto rate = parseLearningRate(value);
      if (!rate) {
        return rate.error();
      }
      options.learningRate = *rate;
    }
  }
  if (options.pluginDirs.empty()) {
    options.pluginDirs = defaultPluginDirs();
  }
  return options;
}

std::vector<std::string> defaultPluginDirs() {
  const std::string local = "/usr/local/lib/bpftune/plugins";
  // A build with prefix /usr/local has the two the same: watched once.
  if (local == BPFTUNE_PLUGIN_DIR) {
    return {local};
  }
  return {BPFTUNE_PLUGIN_DIR, local};
}

std::string usageText() {
  return "usage: bpftune-collector [options]\n"
         "  --socket PATH         actuator socket (default /run/bpftune/actuator.sock)\n"
         "  --status PATH         status file (default /run/bpftune/status.json)\n"
         "  --metrics-file PATH   Prometheus text file for node_exporter's textfile collector\n"
         "                        (written atomically; default: none)\n"
         "  --user NAME           user to run as after loading BPF (default bpftune-collector)\n"
         "  --actuator-user NAME  the actuator's user: its sysctl writes are not overrides\n"
         "                        (default bpftune)\n"
         "  --learning-rate N     0..4, step 1/64 .. 1/4 of a value (default 4)\n"
         "  --tuners A,B,...      run only these tuners (default: all of them)\n"
         "  --plugin-dir DIR      load tuner plugins from DIR, watched while running;\n"
         "                        repeatable (default " BPFTUNE_PLUGIN_DIR "\n"
         "                        and /usr/local/lib/bpftune/plugins)\n"
         "  --no-plugins          load no plugin\n"
         "  --strategy-period MS  evaluate tuners' strategies every MS milliseconds\n"
         "                        (default: each tuner's own, 30 s)\n"
         "  --check-plugin PATH   run the trust checks on PATH and load it as the collector\n"
         "                        would, print what it is and exit (0: it would load)\n"
         "  --debug               verbose logging\n"
         "  --help                this text\n";
}

}  // namespace bpftune::collector
