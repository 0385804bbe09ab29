#include "options.h"

#include <charconv>
#include <map>
#include <string_view>

namespace bpftune::cli {
namespace {

const std::map<std::string_view, Command>& commandNames() {
  static const std::map<std::string_view, Command> NAMES = {
      {"run", Command::RUN},
      {"status", Command::STATUS},
      {"journal", Command::JOURNAL},
      {"verify", Command::VERIFY},
      {"rollback", Command::ROLLBACK},
      {"support", Command::SUPPORT},
      {"summary", Command::SUMMARY},
      {"export", Command::EXPORT},
      {"resume", Command::RESUME},
      {"advice", Command::ADVICE},
      {"apply", Command::APPLY},
      {"tunables", Command::TUNABLES},
      {"help", Command::HELP},
      {"--help", Command::HELP},
      {"-h", Command::HELP},
      {"--version", Command::VERSION},
  };
  return NAMES;
}

// Which flags each command accepts: a flag given to the wrong command is a usage error, not
// something silently ignored.
bool accepts(Command command, std::string_view flag) {
  if (flag == "--run-dir" || flag == "--state-dir" || flag == "--bin-dir") {
    return true;
  }
  switch (command) {
    case Command::RUN:
      return flag == "--learning-rate" || flag == "--rollback-on-exit" || flag == "--policy" ||
             flag == "--debug" || flag == "--user" || flag == "--collector-user" ||
             flag == "--tuners" || flag == "--advise" || flag == "--metrics-file";
    case Command::STATUS:
    case Command::TUNABLES:
    case Command::ADVICE:
      return flag == "--json";
    case Command::JOURNAL:
      return flag == "--json" || flag == "--since" || flag == "--tuner" || flag == "--netns";
    case Command::VERIFY:
      return flag == "--head";
    case Command::ROLLBACK:
      return flag == "--policy" || flag == "--user" || flag == "--collector-user";
    case Command::RESUME:
      return flag == "--netns";
    case Command::EXPORT:
      return flag == "--sysctl-d";
    default:
      return false;
  }
}

bool takesValue(std::string_view flag) {
  return flag == "--run-dir" || flag == "--state-dir" || flag == "--bin-dir" ||
         flag == "--learning-rate" || flag == "--policy" || flag == "--user" ||
         flag == "--collector-user" || flag == "--netns" || flag == "--tuners" ||
         flag == "--metrics-file" || flag == "--since" || flag == "--tuner";
}

Result<int> parseLearningRate(std::string_view text) {
  int value = -1;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || value < 0 || value > 4) {
    return makeError("--learning-rate: expected an integer from 0 to 4, got '" + std::string(text) +
                     "'");
  }
  return value;
}

Result<uint64_t> parseProposalId(std::string_view text) {
  uint64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || value == 0) {
    return makeError("apply: '" + std::string(text) +
                     "' is not a proposal id (a positive number from `bpftune advice`)");
  }
  return value;
}

Status applyFlag(Options& options, std::string_view flag, const std::string& value) {
  if (flag == "--run-dir") {
    options.paths.runDir = value;
  } else if (flag == "--state-dir") {
    options.paths.stateDir = value;
  } else if (flag == "--bin-dir") {
    options.paths.binDir = value;
  } else if (flag == "--policy") {
    options.paths.policy = value;
  } else if (flag == "--user") {
    options.actuatorUser = value;
  } else if (flag == "--collector-user") {
    options.collectorUser = value;
  } else if (flag == "--learning-rate") {
    auto rate = parseLearningRate(value);
    if (!rate) {
      return rate.error();
    }
    options.learningRate = *rate;
  } else if (flag == "--rollback-on-exit") {
    options.rollbackOnExit = true;
  } else if (flag == "--json") {
    options.json = true;
  } else if (flag == "--debug") {
    options.debug = true;
  } else if (flag == "--netns") {
    if (value.empty()) {
      return makeError("--netns: expected a namespace cookie or an `ip netns` name");
    }
    options.netns = value;
  } else if (flag == "--advise") {
    options.advise = true;
  } else if (flag == "--since") {
    auto since = parseSince(value, journal::realtimeNow());
    if (!since) {
      return since.error();
    }
    options.journalFilter.sinceNs = *since;
  } else if (flag == "--tuner") {
    auto tuner = parseTunerFilter(value);
    if (!tuner) {
      return tuner.error();
    }
    options.journalFilter.tuner = *tuner;
  } else if (flag == "--head") {
    options.head = true;
  } else if (flag == "--sysctl-d") {
    options.sysctlD = true;
  } else if (flag == "--metrics-file") {
    options.metricsFile = value;
  } else if (flag == "--tuners") {
    // Checked by the collector, which knows the tuners (a usage error there stops `run`).
    options.tuners = value;
  }
  if ((flag == "--run-dir" || flag == "--state-dir" || flag == "--policy" || flag == "--bin-dir" ||
       flag == "--metrics-file") &&
      (value.empty() || value[0] != '/')) {
    return makeError(std::string(flag) + ": expected an absolute path, got '" + value + "'");
  }
  return Ok{};
}

}  // namespace

Result<Options> parseOptions(const std::vector<std::string>& args) {
  Options options;
  if (args.empty()) {
    return makeError("missing command");
  }
  auto found = commandNames().find(args[0]);
  if (found == commandNames().end()) {
    return makeError("unknown command '" + args[0] + "'");
  }
  options.command = found->second;
  for (size_t i = 1; i < args.size(); ++i) {
    std::string_view arg = args[i];
    std::string value;
    if (options.command == Command::RESUME && !arg.starts_with("-") && options.tuner.empty()) {
      options.tuner = std::string(arg);
      continue;
    }
    if (options.command == Command::APPLY && !arg.starts_with("-")) {
      auto id = parseProposalId(arg);
      if (!id) {
        return id.error();
      }
      options.proposalIds.push_back(*id);
      continue;
    }
    if (auto eq = arg.find('='); arg.starts_with("--") && eq != std::string_view::npos) {
      value = std::string(arg.substr(eq + 1));
      arg = arg.substr(0, eq);
    } else if (takesValue(arg)) {
      if (i + 1 >= args.size()) {
        return makeError(std::string(arg) + ": missing value");
      }
      value = args[++i];
    }
    if (!accepts(options.command, arg)) {
      return makeError("'" + std::string(arg) + "' is not an option of '" + args[0] + "'");
    }
    auto applied = applyFlag(options, arg, value);
    if (!applied) {
      return applied.error();
    }
  }
  if (options.command == Command::RESUME && options.tuner.empty()) {
    return makeError("resume: missing the tuner's name (e.g. bpftune resume tcp_buffer)");
  }
  if (options.command == Command::APPLY && options.proposalIds.empty()) {
    return makeError("apply: name the proposals to apply (ids from `bpftune advice`)");
  }
  if (options.command == Command::EXPORT && !options.sysctlD) {
    return makeError("export: name the format (--sysctl-d)");
  }
  return options;
}

const char* usageText() {
  return "usage: bpftune <command> [options]\n"
         "\n"
         "commands:\n"
         "  run        start the actuator and the collector in the foreground (root);\n"
         "             logs go to stderr, a summary of changes is printed on exit\n"
         "             --learning-rate N (0..4, default 4)  --rollback-on-exit  --debug\n"
         "             --policy FILE  --user NAME (actuator, default bpftune)\n"
         "             --collector-user NAME (default bpftune-collector)\n"
         "             --tuners A,B,... (default: every tuner)\n"
         "             --advise (advice mode: changes are proposed and journaled, not made)\n"
         "             --metrics-file FILE (Prometheus text file, default\n"
         "             RUN_DIR/collector/bpftune.prom)\n"
         "  status     what the collector is doing (--json: the status document, with\n"
         "             upstream's jstatus keys)\n"
         "  tunables   what each tuner may change (--json: upstream's jtunables shape)\n"
         "  journal    every journaled change (--json for one JSON object per line)\n"
         "             --since 10m|@SECONDS|2026-01-31T08:00Z  --tuner NAME\n"
         "             --netns COOKIE|NAME (changed in, or caused by, that namespace)\n"
         "  verify     check the journal's hash chain; names the first bad record\n"
         "             --head: also print the chain head (seq and SHA-256) to anchor elsewhere\n"
         "  rollback   restore every value bpftune changed in this boot (root)\n"
         "  support    which kernel hooks and features work here, and why not\n"
         "  summary    per tuner, scenario and namespace: what changed, old -> new, overrides\n"
         "  export --sysctl-d\n"
         "             the learned values as a sysctl.d file (init namespace)\n"
         "  resume TUNER [--netns COOKIE|NAME]\n"
         "             hand control back after an administrator's change (root); without\n"
         "             --netns: every namespace, and lifts the pause left by rollback\n"
         "  advice     proposals of advice mode not applied yet: id, tuner, why, tunable,\n"
         "             from -> to, namespace (--json for one JSON object per line)\n"
         "  apply ID...\n"
         "             apply chosen proposals through the actuator's checks and journal (root);\n"
         "             refuses an unknown, applied, superseded or stale one, saying why\n"
         "  help, --version\n"
         "\n"
         "options of every command:\n"
         "  --run-dir DIR    sockets and status (default /run/bpftune)\n"
         "  --state-dir DIR  journal (default /var/lib/bpftune)\n"
         "  --bin-dir DIR    where bpftune-actuator and bpftune-collector are\n";
}

}  // namespace bpftune::cli
