// What the actuator tells journald (or syslog) about each journal record: pure functions, so
// the exact fields are unit-tested without a journald. Every value is one of our own names or
// digits, or text the journal already sanitized (a writer's comm, an interface name); nothing is
// ever used as a format string.
#pragma once

#include <sys/types.h>
#include <sys/uio.h>

#include <string>
#include <string_view>
#include <vector>

#include "journal_file.h"

namespace bpftune::actuator {

// Stable MESSAGE_IDs (128-bit, as `journalctl MESSAGE_ID=...` takes them), one per record kind
// and, for outcomes, per result. Documented in man/bpftune-actuator.8 (AUDIT TRAIL); never
// change one, operators' filters and SIEM rules depend on them.
namespace message_id {
constexpr std::string_view START = "1f12f9645de041ee8e082ca7595c034b";
constexpr std::string_view INTENT = "46b7c39611b648e4801b8952ab7616d9";
constexpr std::string_view APPLIED = "06f864c1e94340ed856c85cb9734f03a";
constexpr std::string_view NOT_APPLIED = "885917600f6249dea20d022360b26a8e";
constexpr std::string_view WRITE_FAILED = "6939b9fde4c14c09adb546dcd340ae40";
constexpr std::string_view MISMATCH = "e1a6fb149c9d4a5a84a57a8756d7461b";
constexpr std::string_view NETNS_GONE = "74e0cc95f2674638907f4cb4c3d5ad52";
constexpr std::string_view RECOVERED = "b27f10968f5f4e4ba417442a077282ed";
constexpr std::string_view OVERRIDE = "70366a98965d49f78d37bee3e7330289";
constexpr std::string_view RESUME = "74fd499ed6ff4c92af369de35d37dfcb";
constexpr std::string_view LIVE_SWITCH = "6faa97cb0b08466a9c35c2c8c06f559a";
constexpr std::string_view PROPOSAL =
    "841998fc0d5a4e9fa68257d0735361dd";  // advice mode: proposed, not applied
// Not a record: the actuator announcing where its audit trail goes (sent once at start).
constexpr std::string_view AUDIT_STARTED = "5a5520b6654e4479ad9d8cd2b674e546";
}  // namespace message_id

constexpr std::string_view SYSLOG_IDENTIFIER = "bpftune-actuator";

std::string_view messageIdFor(const journal::Record& record);
// syslog(3) priority: warning for failed or mismatched writes, notice for what an operator
// should look at (overrides, refused or moot changes), info otherwise.
int priorityFor(const journal::Record& record);

// The journald entry's fields, each "NAME=value", MESSAGE_ID first.
std::vector<std::string> journalFields(const journal::StoredRecord& stored);
// The announcement sent once when the trail is opened.
std::vector<std::string> startedFields(std::string_view journalPath, std::string_view target);

// iovecs over the strings (which must outlive them), for sd_journal_sendv.
std::vector<iovec> toIovecs(const std::vector<std::string>& fields);

// One RFC 3164 datagram for /dev/log (facility daemon; the receiver adds the time stamp):
// "<PRI>bpftune-actuator[PID]: MESSAGE message_id=ID hash=HEX" (MESSAGE carries seq=N).
std::string syslogDatagram(const journal::StoredRecord& stored, pid_t pid);

}  // namespace bpftune::actuator
