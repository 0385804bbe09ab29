#include "wire.h"

#include <cstring>

#include <capnp/message.h>
#include <capnp/serialize.h>
#include <kj/exception.h>

#include "bpftune.capnp.h"
#include "log.h"
#include "segment_check.h"

namespace bpftune::actuator {
namespace {

policy::SetSysctl toPlain(proto::Request::SetSysctl::Reader in) {
  policy::SetSysctl out;
  out.tuner = in.getTuner();
  out.scenario = in.getScenario();
  out.netnsCookie = in.getNetnsCookie();
  out.tunable = in.getTunable();
  out.count = in.getCount();
  out.expected = {in.getExpected0(), in.getExpected1(), in.getExpected2()};
  out.newValues = {in.getNew0(), in.getNew1(), in.getNew2()};
  out.causeNetnsCookie = in.getCauseNetnsCookie();
  out.host = HostAddress::fromWords(in.getHostFamily(), in.getHostAddress0(), in.getHostAddress1());
  return out;
}

// Algorithms stay raw numbers here: a value outside the enum is refused by name, not lost.
ReportedLiveSwitch toPlain(proto::Request::ReportLiveSwitch::Reader in) {
  ReportedLiveSwitch out;
  out.tuner = in.getTuner();
  out.netnsCookie = in.getNetnsCookie();
  out.host = HostAddress::fromWords(in.getHostFamily(), in.getHostAddress0(), in.getHostAddress1());
  out.fromAlg = static_cast<int64_t>(in.getFromAlg());
  out.toAlg = static_cast<int64_t>(in.getToAlg());
  out.socket = {in.getLocalPort(), in.getRemotePort(), in.getRetransmits(), in.getSegsOut()};
  return out;
}

// The comm travels as two little-endian words; it is sanitized wherever it is used.
std::string commText(uint64_t lo, uint64_t hi) {
  std::string comm;
  for (uint64_t word : {lo, hi}) {
    for (int i = 0; i < 8; ++i) {
      char c = static_cast<char>((word >> (8 * i)) & 0xff);
      if (c == '\0') {
        return comm;
      }
      comm += c;
    }
  }
  return comm;
}

ReportedOverride toPlain(proto::Request::ReportOverride::Reader in) {
  ReportedOverride out;
  out.tuner = in.getTuner();
  out.netnsCookie = in.getNetnsCookie();
  out.tunable = in.getTunable();
  out.writerPid = in.getWriterPid();
  out.writerUid = in.getWriterUid();
  out.writerComm = commText(in.getWriterComm(), in.getWriterComm2());
  out.count = in.getCount();
  out.values = {in.getValue0(), in.getValue1(), in.getValue2()};
  return out;
}

Result<Decoded> decodeChecked(const capnp::word* words, size_t bytes) {
  capnp::ReaderOptions options;
  options.traversalLimitInWords = TRAVERSAL_LIMIT_WORDS;
  options.nestingLimit = NESTING_LIMIT;
  kj::ArrayPtr<const capnp::word> array(words, bytes / sizeof(capnp::word));
  capnp::FlatArrayMessageReader reader(array, options);
  if (reader.getEnd() != array.end()) {
    return makeError(
        "request: " + std::to_string((array.end() - reader.getEnd()) * sizeof(capnp::word)) +
        " bytes after the end of the message");
  }
  auto root = reader.getRoot<proto::Request>();
  Decoded d;
  d.id = root.getId();
  switch (root.which()) {
    case proto::Request::SET_SYSCTL:
      d.kind = RequestKind::SET_SYSCTL;
      d.setSysctl = toPlain(root.getSetSysctl());
      return d;
    case proto::Request::PING:
      d.kind = RequestKind::PING;
      return d;
    case proto::Request::ROLLBACK:
      d.kind = RequestKind::ROLLBACK;
      return d;
    case proto::Request::REPORT_OVERRIDE:
      d.kind = RequestKind::REPORT_OVERRIDE;
      d.overrideReport = toPlain(root.getReportOverride());
      return d;
    case proto::Request::RESUME:
      d.kind = RequestKind::RESUME;
      d.resume = {root.getResume().getTuner(), root.getResume().getNetnsCookie()};
      return d;
    case proto::Request::REPORT_LIVE_SWITCH:
      d.kind = RequestKind::REPORT_LIVE_SWITCH;
      d.liveSwitch = toPlain(root.getReportLiveSwitch());
      return d;
    case proto::Request::APPLY_PROPOSAL:
      d.kind = RequestKind::APPLY_PROPOSAL;
      d.proposalSeq = root.getApplyProposal();
      return d;
  }
  return makeError("request: unknown kind " + std::to_string(static_cast<unsigned>(root.which())));
}

}  // namespace

Result<Decoded> decodeRequest(const capnp::word* words, size_t bytes) {
  if (bytes == 0) {
    return makeError("request: empty datagram");
  }
  if (bytes > MAX_REQUEST_BYTES) {
    return makeError("request: larger than " + std::to_string(MAX_REQUEST_BYTES) + " bytes");
  }
  if (bytes % sizeof(capnp::word) != 0) {
    return makeError("request: size " + std::to_string(bytes) + " is not a multiple of 8 bytes");
  }
  if (auto problem = singleSegmentProblem(words, bytes / sizeof(capnp::word))) {
    return makeError("request: " + *problem + "; a request is exactly one");
  }
  try {
    return decodeChecked(words, bytes);
  } catch (const kj::Exception& e) {
    return makeError("request: malformed (" + log::sanitize(e.getDescription().cStr()) + ")");
  }
}

kj::Array<capnp::word> encodeReply(uint64_t id, const Answer& a) {
  capnp::MallocMessageBuilder message;
  auto reply = message.initRoot<proto::Reply>();
  reply.setId(id);
  reply.setStatus(a.status);
  reply.setField(a.field);
  reply.setBound(a.bound);
  // Keep the reply far below the client's buffer even for a long rollback summary.
  reply.setReason(a.reason.size() > 3000 ? a.reason.substr(0, 3000) + "..." : a.reason);
  reply.setCount(a.count);
  reply.setValue0(a.values[0]);
  reply.setValue1(a.values[1]);
  reply.setValue2(a.values[2]);
  reply.setJournalSeq(a.journalSeq);
  reply.setError(a.error);
  reply.setResumeEpoch(a.resumeEpoch);
  reply.setAdvising(a.advising);
  return capnp::messageToFlatArray(message);
}

}  // namespace bpftune::actuator
