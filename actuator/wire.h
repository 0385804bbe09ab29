// Decoding requests and encoding replies. The reader limits are the hardening: a request is
// one flat datagram of at most 4 KiB, and the reader follows at most 512 words, 4 levels deep.
#pragma once

#include <cstddef>
#include <cstdint>

#include <capnp/common.h>
#include <kj/array.h>

#include "engine.h"
#include "result.h"
#include "validator.h"

namespace bpftune::actuator {

constexpr size_t MAX_REQUEST_BYTES = 4096;
constexpr uint64_t TRAVERSAL_LIMIT_WORDS = 512;
constexpr unsigned NESTING_LIMIT = 4;

enum class RequestKind {
  SET_SYSCTL,
  PING,
  ROLLBACK,
  REPORT_OVERRIDE,
  RESUME,
  REPORT_LIVE_SWITCH,
  APPLY_PROPOSAL
};

struct ResumeArgs {
  proto::TunerId tuner = proto::TunerId::TCP_BUFFER;
  uint64_t netnsCookie = 0;
};

struct Decoded {
  uint64_t id = 0;
  RequestKind kind = RequestKind::PING;
  policy::SetSysctl setSysctl;
  ReportedOverride overrideReport;
  ResumeArgs resume;
  ReportedLiveSwitch liveSwitch;
  uint64_t proposalSeq = 0;  // APPLY_PROPOSAL
};

// `bytes` bytes at `words` (word aligned). Every failure is an Error whose message starts with
// "request: " and says why; nothing throws.
Result<Decoded> decodeRequest(const capnp::word* words, size_t bytes);

kj::Array<capnp::word> encodeReply(uint64_t id, const Answer& answer);

}  // namespace bpftune::actuator
