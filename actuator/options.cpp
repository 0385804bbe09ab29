#include "options.h"

namespace bpftune::actuator {

const char* usageText() {
  return "usage: bpftune-actuator [options]\n"
         "  --socket PATH          collector socket (default /run/bpftune/actuator.sock)\n"
         "  --admin-socket PATH    admin socket, uid 0 only (default /run/bpftune/admin.sock)\n"
         "  --journal PATH         write-ahead journal (default /var/lib/bpftune/journal)\n"
         "  --policy PATH          policy file (default /etc/bpftune/policy)\n"
         "  --collector-user NAME  the only user accepted on --socket (default bpftune-collector)\n"
         "  --user NAME            user to run as when started as root (default bpftune)\n"
         "  --helpers-socket PATH  take the netns opener and privileged writer from the helpers\n"
         "                         daemon on PATH instead of forking them (needs no root)\n"
         "  --serve-helpers        be that daemon: fork both helpers, hand them to the first\n"
         "                         peer of our uid on --helpers-socket, exit when they do\n"
         "  --advise               advice mode: validate and journal each request as a\n"
         "                         proposal, write nothing (`bpftune apply ID` applies one)\n"
         "  --rollback-only        recover, roll back every change of this boot, print, exit\n"
         "  --print-filter PATH    write the seccomp filter (PFC text) to PATH and exit\n"
         "  --help                 this text\n";
}

namespace {

struct Valued {
  const char* name;
  std::string* target;
};

enum class Match {
  NONE,
  TAKEN,
  MISSING_VALUE
};

// Options that take a value: consumes args[i + 1] into the matching target.
Match takeValued(Options& o, const std::vector<std::string>& args, size_t& i) {
  const Valued valued[] = {{"--socket", &o.socketPath},
                           {"--admin-socket", &o.adminSocketPath},
                           {"--journal", &o.journalPath},
                           {"--policy", &o.policyPath},
                           {"--collector-user", &o.collectorUser},
                           {"--user", &o.user},
                           {"--helpers-socket", &o.helpersSocket},
                           {"--print-filter", &o.printFilter}};
  const std::string& arg = args[i];
  for (const auto& v : valued) {
    if (arg != v.name) {
      continue;
    }
    if (i + 1 >= args.size() || args[i + 1].empty()) {
      return Match::MISSING_VALUE;
    }
    *v.target = args[++i];
    return Match::TAKEN;
  }
  return Match::NONE;
}

}  // namespace

std::optional<Options> parseOptions(const std::vector<std::string>& args, std::string& problem) {
  Options o;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg == "--help" || arg == "-h") {
      o.help = true;
      continue;
    }
    if (arg == "--rollback-only") {
      o.rollbackOnly = true;
      continue;
    }
    if (arg == "--advise") {
      o.advise = true;
      continue;
    }
    if (arg == "--serve-helpers") {
      o.serveHelpers = true;
      continue;
    }
    switch (takeValued(o, args, i)) {
      case Match::TAKEN:
        continue;
      case Match::MISSING_VALUE:
        problem = arg + " needs a value";
        return std::nullopt;
      case Match::NONE:
        break;
    }
    problem = "unknown argument '" + arg + "'";
    return std::nullopt;
  }
  if (o.serveHelpers && o.helpersSocket.empty()) {
    problem = "--serve-helpers needs --helpers-socket PATH";
    return std::nullopt;
  }
  return o;
}

}  // namespace bpftune::actuator
