#include "advice.h"

#include "journal_advice.h"
#include "tunable_table.h"

namespace bpftune::cli {
namespace {

std::string netnsText(const journal::Record& p, const NetnsNames& names) {
  std::string text = "netns " + std::to_string(p.netnsCookie);
  if (auto it = names.find(p.netnsCookie); it != names.end()) {
    text += " (" + it->second + ")";
  } else if (p.netnsInode != 0) {
    text += " (inode " + std::to_string(p.netnsInode) + ")";
  }
  if (p.causeNetnsCookie != 0 && p.causeNetnsCookie != p.netnsCookie) {
    text += " for netns " + std::to_string(p.causeNetnsCookie);
  }
  return text;
}

std::string line(const journal::Record& p, const NetnsNames& names) {
  const auto* info = policy::findTunable(p.tunable);
  return "id " + std::to_string(p.seq) + ": " + std::string(policy::tunerName(p.tuner)) + " " +
         (info != nullptr ? std::string(info->name) : "unknown tunable") +
         (p.host.empty() ? "" : " for " + p.host.text()) + " " +
         shownValues(p.tunable, p.oldValues, p.count) + " -> " +
         shownValues(p.tunable, p.newValues, p.count) + " in " + netnsText(p, names) +
         "\n    why: " + std::string(policy::scenarioName(p.scenario)) + " (" +
         std::string(policy::scenarioDescription(p.scenario)) + ")\n";
}

}  // namespace

std::string adviceText(const std::vector<journal::Record>& records,
                       const journal::BootId& boot,
                       bool json,
                       const NetnsNames& names) {
  journal::Advice advice(boot);
  for (const auto& record : records) {
    advice.apply(record);
  }
  std::string out;
  for (const auto& p : advice.open()) {
    out += json ? journal::toJson(p) + "\n" : line(p, names);
  }
  if (out.empty() && !json) {
    out = "# no open proposals in this boot (advice mode: `bpftune run --advise`, or "
          "bpftune-actuator --advise)\n";
  } else if (!json) {
    out += "# apply with `bpftune apply ID...`; an id is refused when it is stale (the live "
           "value is no longer its `from`)\n";
  }
  return out;
}

}  // namespace bpftune::cli
