#include "summary.h"

#include <map>
#include <sstream>

#include "journal_file.h"
#include "tunable_table.h"

namespace bpftune::cli {
namespace {

struct Change {
  const journal::Record* firstIntent = nullptr;
  journal::Values current{};
  std::map<proto::ScenarioId, int> applied;
  uint64_t lastSeq = 0;
};

std::string valuesText(const journal::Values& values, uint8_t count) {
  std::string text;
  for (uint8_t i = 0; i < count && i < values.size(); ++i) {
    text += (i ? " " : "") + std::to_string(values[i]);
  }
  return text;
}

using Key = std::pair<uint64_t, proto::TunableId>;

std::map<Key, Change> collect(const std::vector<journal::Record>& records,
                              const journal::BootId& boot) {
  std::map<uint64_t, const journal::Record*> intents;
  std::map<Key, Change> changes;
  for (const auto& record : records) {
    if (record.bootId != boot) {
      continue;
    }
    if (record.kind == proto::RecordKind::INTENT) {
      intents[record.seq] = &record;
      Change& change = changes[{record.netnsCookie, record.tunable}];
      if (change.firstIntent == nullptr) {
        change.firstIntent = &record;
        change.current = record.oldValues;
      }
      continue;
    }
    bool resolves =
        record.kind == proto::RecordKind::OUTCOME || record.kind == proto::RecordKind::RECOVERED;
    auto intent = intents.find(record.intentSeq);
    if (!resolves || intent == intents.end() || record.result != proto::OutcomeResult::APPLIED) {
      continue;
    }
    Change& change = changes[{intent->second->netnsCookie, intent->second->tunable}];
    change.current = record.actual;
    change.applied[intent->second->scenario]++;
    change.lastSeq = record.seq;
  }
  return changes;
}

}  // namespace

std::string summarize(const std::vector<journal::Record>& records, const journal::BootId& boot) {
  auto changes = collect(records, boot);
  std::ostringstream out;
  out << "# Summary of changes made by bpftune in this boot (from the journal):\n";
  if (changes.empty()) {
    out << "# no changes\n";
    return out.str();
  }
  for (const auto& [key, change] : changes) {
    const auto* info = policy::findTunable(key.second);
    std::string name = info != nullptr ? std::string(info->name) : "unknown tunable";
    uint8_t count = change.firstIntent->count;
    std::string from = valuesText(change.firstIntent->oldValues, count);
    std::string to = valuesText(change.current, count);
    out << "# " << name << " in netns " << key.first << ":\n";
    for (const auto& [scenario, times] : change.applied) {
      out << "#   scenario '" << policy::scenarioName(scenario) << "' applied " << times
          << " time(s)\n";
    }
    if (from == to) {
      out << "#   now at its original value (" << from << ")\n";
      continue;
    }
    out << "#   changed from (" << from << ") -> (" << to << ")\n";
    out << "#   to replicate on another system: sysctl -w " << name << "=\"" << to << "\"\n";
    out << "#   to restore the original: sysctl -w " << name << "=\"" << from << "\"\n";
  }
  return out.str();
}

std::string summarizeJournal(const std::string& journalPath) {
  auto journal = journal::readJournal(journalPath);
  if (!journal) {
    return "# no summary: " + describe(journal.error()) + "\n";
  }
  auto boot = journal::readBootId();
  if (!boot) {
    return "# no summary: " + describe(boot.error()) + "\n";
  }
  std::vector<journal::Record> records;
  records.reserve(journal->records.size());
  for (const auto& stored : journal->records) {
    records.push_back(stored.record);
  }
  return summarize(records, *boot);
}

}  // namespace bpftune::cli
