#include "summary.h"

#include <map>
#include <sstream>
#include <tuple>

#include "journal_file.h"
#include "netns_names.h"
#include "tunable_table.h"

namespace bpftune::cli {
namespace {

// (netns, tunable, host): routeCongctl changes are per remote host.
using Key = std::tuple<uint64_t, proto::TunableId, HostAddress>;

Key keyOf(const journal::Record& r) {
  return {r.netnsCookie, r.tunable, r.host};
}

struct Change {
  const journal::Record* firstIntent = nullptr;
  journal::Values current{};
  uint64_t lastSeq = 0;
};

struct Override {
  const journal::Record* record = nullptr;
  bool resumed = false;
};

struct BootView {
  uint64_t initCookie = 0;  // the actuator's namespace, from its start record
  std::map<Key, Change> changes;
  // (tuner, scenario, netns) -> applied changes
  std::map<std::tuple<proto::TunerId, proto::ScenarioId, uint64_t>, int> counts;
  std::vector<Override> overrides;
};

std::string valuesText(const journal::Values& values, uint8_t count) {
  std::string text;
  for (uint8_t i = 0; i < count && i < values.size(); ++i) {
    text += (i ? " " : "") + std::to_string(values[i]);
  }
  return text;
}

std::string tunableName(proto::TunableId id) {
  const auto* info = policy::findTunable(id);
  return info != nullptr ? std::string(info->name) : "unknown tunable";
}

// " for 10.0.0.2" for a per-host record.
std::string hostText(const HostAddress& host) {
  return host.empty() ? "" : " for " + host.text();
}

}  // namespace

std::string shownValues(proto::TunableId id, const journal::Values& values, uint8_t count) {
  const auto* info = policy::findTunable(id);
  if (info != nullptr && info->kind == policy::ValueKind::CONG_ALG) {
    return std::string(policy::congAlgName(values[0]));
  }
  return valuesText(values, count);
}

namespace {

// Routes and live switches have no sysctl.d form.
bool isSysctl(proto::TunableId id) {
  const auto* info = policy::findTunable(id);
  return info != nullptr && info->backend != policy::Backend::HOST_ROUTE &&
         info->backend != policy::Backend::JOURNAL_ONLY;
}

std::string netnsText(uint64_t cookie, const BootView& view, const NetnsNames& names) {
  std::string text = "netns " + std::to_string(cookie);
  if (auto it = names.find(cookie); it != names.end()) {
    text += " (" + it->second + ")";
  } else if (cookie == view.initCookie) {
    text += " (init)";
  }
  return text;
}

void applyOutcome(BootView& view,
                  const journal::Record& record,
                  const std::map<uint64_t, const journal::Record*>& intents) {
  auto intent = intents.find(record.intentSeq);
  if (intent == intents.end() || record.result != proto::OutcomeResult::APPLIED) {
    return;
  }
  const journal::Record& i = *intent->second;
  Change& change = view.changes[keyOf(i)];
  change.current = record.actual;
  change.lastSeq = record.seq;
  view.counts[{
      i.tuner, i.scenario, i.causeNetnsCookie != 0 ? i.causeNetnsCookie : i.netnsCookie}]++;
}

// NOLINTNEXTLINE(readability-function-size): one case per record kind
BootView collect(const std::vector<journal::Record>& records, const journal::BootId& boot) {
  BootView view;
  std::map<uint64_t, const journal::Record*> intents;
  for (const auto& record : records) {
    if (record.bootId != boot) {
      continue;
    }
    switch (record.kind) {
      case proto::RecordKind::START:
        view.initCookie = record.netnsCookie;
        break;
      case proto::RecordKind::INTENT: {
        intents[record.seq] = &record;
        Change& change = view.changes[keyOf(record)];
        if (change.firstIntent == nullptr) {
          change.firstIntent = &record;
          change.current = record.oldValues;
        }
        break;
      }
      case proto::RecordKind::OUTCOME:
      case proto::RecordKind::RECOVERED:
        applyOutcome(view, record, intents);
        break;
      case proto::RecordKind::LIVE_SWITCH:
        view.counts[{record.tuner, record.scenario, record.netnsCookie}]++;
        break;
      case proto::RecordKind::PROPOSAL:
        break;  // advice, not a change: `bpftune advice` lists them
      case proto::RecordKind::OVERRIDE:
        view.overrides.push_back({&record, false});
        if (auto it = view.changes.find(keyOf(record)); it != view.changes.end()) {
          it->second.current = record.actual;
        }
        break;
      case proto::RecordKind::RESUME:
        for (auto& o : view.overrides) {
          bool sameKey = keyOf(*o.record) == keyOf(record);
          o.resumed = o.resumed || (record.count != 0 && sameKey) ||
                      (record.count == 0 && record.netnsCookie == 0);
        }
        break;
    }
  }
  return view;
}

void printCounts(std::ostringstream& out, const BootView& view, const NetnsNames& names) {
  out << "# Applied changes per tuner, scenario and namespace (the namespace whose event caused "
         "it):\n";
  for (const auto& [key, times] : view.counts) {
    const auto& [tuner, scenario, cookie] = key;
    out << "#   " << policy::tunerName(tuner) << ": '" << policy::scenarioName(scenario) << "' in "
        << netnsText(cookie, view, names) << ": " << times << "\n";
  }
}

void printChanges(std::ostringstream& out, const BootView& view, const NetnsNames& names) {
  out << "# Changed tunables (old -> now):\n";
  for (const auto& [key, change] : view.changes) {
    const auto& [cookie, tunable, host] = key;
    uint8_t count = change.firstIntent->count;
    std::string from = shownValues(tunable, change.firstIntent->oldValues, count);
    std::string to = shownValues(tunable, change.current, count);
    out << "#   " << tunableName(tunable) << hostText(host) << " in "
        << netnsText(cookie, view, names) << ": (" << from << ") -> (" << to << ")"
        << (from == to ? " (back at its original value)" : "") << "\n";
  }
}

void printOverrides(std::ostringstream& out, const BootView& view, const NetnsNames& names) {
  if (view.overrides.empty()) {
    return;
  }
  out << "# Administrator overrides (bpftune left these alone):\n";
  for (const auto& o : view.overrides) {
    const journal::Record& r = *o.record;
    std::string who = r.writerPid != 0 ? "pid " + std::to_string(r.writerPid) + " '" +
                                             r.writerComm + "' uid " + std::to_string(r.writerUid)
                                       : "an unseen writer (compare-and-set)";
    if (r.route.table != 0) {
      who = "an administrator's host route (table " + std::to_string(r.route.table) + " dev " +
            r.route.ifname + ")";
    }
    out << "#   " << tunableName(r.tunable) << hostText(r.host) << " in "
        << netnsText(r.netnsCookie, view, names) << " set to ("
        << shownValues(r.tunable, r.actual, r.count) << ") by " << who
        << (o.resumed ? "; resumed since" : "; tuner stopped there until `bpftune resume`") << "\n";
  }
}

std::string renderSysctlD(const BootView& view, const NetnsNames& names) {
  std::ostringstream out;
  out << "# Written by `bpftune export --sysctl-d`: values bpftune learned in this boot.\n"
         "# Install as /etc/sysctl.d/90-bpftune.conf to keep them after a reboot.\n";
  size_t settings = 0;
  for (const auto& [key, change] : view.changes) {
    const auto& [cookie, tunable, host] = key;
    uint8_t count = change.firstIntent->count;
    if (valuesText(change.current, count) == valuesText(change.firstIntent->oldValues, count)) {
      continue;
    }
    if (!isSysctl(tunable)) {
      out << "# " << tunableName(tunable) << hostText(host) << " in "
          << netnsText(cookie, view, names) << ": " << shownValues(tunable, change.current, count)
          << " (bpftune's host route; no sysctl.d form, it ends at reboot or rollback)\n";
      continue;
    }
    std::string line = tunableName(tunable) + " = " + valuesText(change.current, count);
    if (cookie == view.initCookie) {
      out << line << "\n";
      ++settings;
    } else {
      out << "# " << netnsText(cookie, view, names)
          << " (sysctl.d applies to the init namespace only; set it in that container's own "
             "configuration): "
          << line << "\n";
    }
  }
  if (settings == 0) {
    out << "# nothing learned in the init namespace\n";
  }
  return out.str();
}

}  // namespace

std::string exportSysctlD(const std::vector<journal::Record>& records,
                          const journal::BootId& boot,
                          const NetnsNames& names) {
  return renderSysctlD(collect(records, boot), names);
}

std::string summarize(const std::vector<journal::Record>& records,
                      const journal::BootId& boot,
                      const NetnsNames& names) {
  BootView view = collect(records, boot);
  std::ostringstream out;
  out << "# Summary of changes made by bpftune in this boot (from the journal):\n";
  if (view.changes.empty() && view.overrides.empty()) {
    out << "# no changes\n";
    return out.str();
  }
  printCounts(out, view, names);
  printChanges(out, view, names);
  printOverrides(out, view, names);
  out << "# To make the learned values permanent (also `bpftune export --sysctl-d`):\n";
  out << renderSysctlD(view, names);
  return out.str();
}

Result<std::vector<journal::Record>> readRecords(const std::string& journalPath) {
  auto journal = journal::readJournal(journalPath);
  if (!journal) {
    return journal.error();
  }
  std::vector<journal::Record> records;
  records.reserve(journal->records.size());
  for (const auto& stored : journal->records) {
    records.push_back(stored.record);
  }
  return records;
}

std::string summarizeJournal(const std::string& journalPath) {
  auto records = readRecords(journalPath);
  if (!records) {
    return "# no summary: " + describe(records.error()) + "\n";
  }
  auto boot = journal::readBootId();
  if (!boot) {
    return "# no summary: " + describe(boot.error()) + "\n";
  }
  return summarize(*records, *boot, netnsNames());
}

}  // namespace bpftune::cli
