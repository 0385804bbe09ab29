#include "audit_entry.h"

#include <syslog.h>

#include "tunable_table.h"

namespace bpftune::actuator {
namespace {

using proto::OutcomeResult;
using proto::RecordKind;

std::string_view outcomeId(OutcomeResult result) {
  switch (result) {
    case OutcomeResult::APPLIED:
      return message_id::APPLIED;
    case OutcomeResult::NOT_APPLIED:
      return message_id::NOT_APPLIED;
    case OutcomeResult::WRITE_FAILED:
      return message_id::WRITE_FAILED;
    case OutcomeResult::MISMATCH:
      return message_id::MISMATCH;
    case OutcomeResult::NETNS_GONE:
      return message_id::NETNS_GONE;
  }
  return message_id::NOT_APPLIED;  // unreachable: decode refuses unknown enum values
}

class Fields {
public:
  void add(std::string_view name, std::string_view value) {
    std::string field(name);
    field += '=';
    field += value;
    list.push_back(std::move(field));
  }
  void add(std::string_view name, uint64_t value) { add(name, std::to_string(value)); }
  void add(std::string_view name, int64_t value) { add(name, std::to_string(value)); }
  std::vector<std::string> finish() { return std::move(list); }

private:
  std::vector<std::string> list;
};

bool hasResult(RecordKind kind) {
  return kind == RecordKind::OUTCOME || kind == RecordKind::RECOVERED;
}

void addChange(Fields& f, const journal::Record& r) {
  f.add("BPFTUNE_TUNER", policy::tunerName(r.tuner));
  if (journal::recordHasScenario(r.kind)) {
    f.add("BPFTUNE_SCENARIO", policy::scenarioName(r.scenario));
  }
  f.add("BPFTUNE_NETNS_COOKIE", r.netnsCookie);
  if (r.netnsInode != 0) {
    f.add("BPFTUNE_NETNS_INODE", uint64_t{r.netnsInode});
  }
  f.add("BPFTUNE_CAUSE_NETNS_COOKIE", r.causeNetnsCookie != 0 ? r.causeNetnsCookie : r.netnsCookie);
  f.add("BPFTUNE_TUNABLE", journal::tunableName(r.tunable));
  if (!r.host.empty()) {
    f.add("BPFTUNE_HOST", r.host.text());
  }
  f.add("BPFTUNE_OLD", journal::recordValuesText(r, r.oldValues));
  f.add("BPFTUNE_NEW", journal::recordValuesText(r, r.newValues));
  f.add("BPFTUNE_REQUESTER_UID", uint64_t{r.requesterUid});
  f.add("BPFTUNE_REQUESTER_PID", int64_t{r.requesterPid});
  if (r.proposalSeq != 0) {  // an intent or outcome applying an advice-mode proposal
    f.add("BPFTUNE_PROPOSAL_SEQ", r.proposalSeq);
  }
}

void addKindSpecific(Fields& f, const journal::Record& r) {
  if (hasResult(r.kind)) {
    f.add("BPFTUNE_OUTCOME", journal::outcomeName(r.result));
    f.add("BPFTUNE_INTENT_SEQ", r.intentSeq);
    f.add("BPFTUNE_ACTUAL", journal::recordValuesText(r, r.actual));
    f.add("BPFTUNE_ERRNO", int64_t{r.error});
  } else if (r.kind == RecordKind::OVERRIDE) {
    f.add("BPFTUNE_ACTUAL", journal::recordValuesText(r, r.actual));
    f.add("BPFTUNE_WRITER_UID", uint64_t{r.writerUid});
    f.add("BPFTUNE_WRITER_PID", int64_t{r.writerPid});
    f.add("BPFTUNE_WRITER_COMM", r.writerComm);  // sanitized when journaled and when read
  } else if (r.kind == RecordKind::RESUME) {
    f.add("BPFTUNE_ACTUAL", journal::recordValuesText(r, r.actual));
  } else if (r.kind == RecordKind::LIVE_SWITCH && r.error != 0) {
    f.add("BPFTUNE_ERRNO", int64_t{r.error});
  }
}

}  // namespace

std::string_view messageIdFor(const journal::Record& record) {
  switch (record.kind) {
    case RecordKind::START:
      return message_id::START;
    case RecordKind::INTENT:
      return message_id::INTENT;
    case RecordKind::OUTCOME:
      return outcomeId(record.result);
    case RecordKind::RECOVERED:
      return message_id::RECOVERED;
    case RecordKind::OVERRIDE:
      return message_id::OVERRIDE;
    case RecordKind::RESUME:
      return message_id::RESUME;
    case RecordKind::LIVE_SWITCH:
      return message_id::LIVE_SWITCH;
    case RecordKind::PROPOSAL:
      return message_id::PROPOSAL;
  }
  return message_id::INTENT;  // unreachable: decode refuses unknown enum values
}

int priorityFor(const journal::Record& record) {
  if (hasResult(record.kind) &&
      (record.result == OutcomeResult::WRITE_FAILED || record.result == OutcomeResult::MISMATCH)) {
    return LOG_WARNING;
  }
  if (record.kind == RecordKind::OVERRIDE ||
      (hasResult(record.kind) && record.result != OutcomeResult::APPLIED) ||
      (record.kind == RecordKind::LIVE_SWITCH && record.error != 0)) {
    return LOG_NOTICE;
  }
  return LOG_INFO;
}

std::vector<std::string> journalFields(const journal::StoredRecord& stored) {
  const journal::Record& r = stored.record;
  Fields f;
  f.add("MESSAGE_ID", messageIdFor(r));
  f.add("MESSAGE", "bpftune: " + journal::toText(r));
  f.add("PRIORITY", int64_t{priorityFor(r)});
  f.add("SYSLOG_IDENTIFIER", SYSLOG_IDENTIFIER);
  f.add("BPFTUNE_SEQ", r.seq);
  f.add("BPFTUNE_KIND", journal::recordKindName(r.kind));
  // The chain hash up to this record: an anchor for `bpftune verify --head` kept in journald.
  f.add("BPFTUNE_CHAIN_HASH", journal::hex(stored.hash.data(), stored.hash.size()));
  if (r.kind == RecordKind::START) {
    f.add("BPFTUNE_ACTUATOR_PID", int64_t{r.actuatorPid});
    f.add("BPFTUNE_FILTER_DIGEST", journal::hex(r.filterDigest.data(), r.filterDigest.size()));
    return f.finish();
  }
  addChange(f, r);
  addKindSpecific(f, r);
  return f.finish();
}

std::vector<std::string> startedFields(std::string_view journalPath, std::string_view target) {
  Fields f;
  f.add("MESSAGE_ID", message_id::AUDIT_STARTED);
  f.add("MESSAGE",
        "bpftune: journal " + std::string(journalPath) + " mirrored to " + std::string(target));
  f.add("PRIORITY", int64_t{LOG_INFO});
  f.add("SYSLOG_IDENTIFIER", SYSLOG_IDENTIFIER);
  f.add("BPFTUNE_JOURNAL", journalPath);
  return f.finish();
}

std::vector<iovec> toIovecs(const std::vector<std::string>& fields) {
  std::vector<iovec> out;
  out.reserve(fields.size());
  for (const auto& field : fields) {
    // sd_journal_sendv only reads through iov_base; the cast drops const for the C struct.
    out.push_back(iovec{const_cast<char*>(field.data()), field.size()});  // NOLINT
  }
  return out;
}

std::string syslogDatagram(const journal::StoredRecord& stored, pid_t pid) {
  const journal::Record& r = stored.record;
  std::string out = "<" + std::to_string(LOG_DAEMON | priorityFor(r)) + ">" +
                    std::string(SYSLOG_IDENTIFIER) + "[" + std::to_string(pid) +
                    "]: bpftune: " + journal::toText(r) +
                    " message_id=" + std::string(messageIdFor(r)) +
                    " hash=" + journal::hex(stored.hash.data(), stored.hash.size());
  return out;
}

}  // namespace bpftune::actuator
