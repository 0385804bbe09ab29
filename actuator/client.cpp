#include "client.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <vector>

#include <capnp/message.h>
#include <capnp/serialize.h>
#include <kj/exception.h>

#include "log.h"
#include "segment_check.h"

namespace bpftune::actuator {
namespace {

constexpr size_t MAX_REPLY_WORDS = MAX_REPLY_BYTES / sizeof(capnp::word);

// Why a reply datagram of `bytes` (the real size, from MSG_TRUNC) is refused; empty if fine.
std::string replySizeProblem(size_t bytes) {
  if (bytes > MAX_REPLY_BYTES) {
    return "actuator reply: oversize (" + std::to_string(bytes) + " bytes)";
  }
  if (bytes % sizeof(capnp::word) != 0) {
    return "actuator reply: bad size " + std::to_string(bytes);
  }
  return {};
}

}  // namespace

Result<ClientReply> decodeReply(kj::ArrayPtr<const capnp::word> words) {
  if (words.size() == 0 || words.size() > MAX_REPLY_WORDS) {
    return makeError("actuator reply: bad size " +
                     std::to_string(words.size() * sizeof(capnp::word)));
  }
  if (auto problem = singleSegmentProblem(words.begin(), words.size())) {
    return makeError("actuator reply: " + *problem + "; a reply is exactly one");
  }
  ClientReply r;
  KJ_IF_MAYBE(exception, kj::runCatchingExceptions([&] {
                capnp::ReaderOptions options;
                options.traversalLimitInWords = MAX_REPLY_WORDS;
                options.nestingLimit = 4;
                capnp::FlatArrayMessageReader reader(words, options);
                auto in = reader.getRoot<proto::Reply>();
                r.id = in.getId();
                r.status = in.getStatus();
                r.field = log::sanitize(std::string_view(in.getField().cStr()));
                r.bound = in.getBound();
                r.reason = log::sanitize(std::string_view(in.getReason().cStr()));
                r.count = in.getCount();
                r.values = {in.getValue0(), in.getValue1(), in.getValue2()};
                r.journalSeq = in.getJournalSeq();
                r.error = in.getError();
                r.resumeEpoch = in.getResumeEpoch();
                r.advising = in.getAdvising();
              })) {
    return makeError("actuator reply: malformed (" +
                     log::sanitize(exception->getDescription().cStr()) + ")");
  }
  if (static_cast<uint16_t>(r.status) > static_cast<uint16_t>(proto::Status::PROPOSED)) {
    return makeError("actuator reply: unknown status " +
                     std::to_string(static_cast<uint16_t>(r.status)));
  }
  return r;
}

Result<ActuatorClient> ActuatorClient::connect(const std::string& socketPath) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (socketPath.size() >= sizeof(addr.sun_path)) {
    return makeError("socket path too long: " + socketPath);
  }
  std::memcpy(addr.sun_path, socketPath.c_str(), socketPath.size() + 1);
  UniqueFd fd(::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0));
  if (!fd.valid()) {
    return makeError("socket", errno);
  }
  if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    return makeError("connect " + socketPath, errno);
  }
  return ActuatorClient(std::move(fd));
}

Result<ClientReply> ActuatorClient::call(capnp::MessageBuilder& request) {
  uint64_t id = nextId++;
  request.getRoot<proto::Request>().setId(id);
  auto words = capnp::messageToFlatArray(request);
  auto bytes = words.asBytes();
  if (::send(socket.get(), bytes.begin(), bytes.size(), MSG_NOSIGNAL) !=
      static_cast<ssize_t>(bytes.size())) {
    return makeError("send to actuator", errno);
  }
  pollfd pfd{socket.get(), POLLIN, 0};
  int ready = ::poll(&pfd, 1, TIMEOUT_MS);
  if (ready <= 0) {
    return makeError("no reply from the actuator within 5 s", ready < 0 ? errno : ETIMEDOUT);
  }
  std::vector<capnp::word> buffer(MAX_REPLY_WORDS);
  // MSG_TRUNC returns the datagram's real length, so an oversize reply is seen, not cut.
  ssize_t n = ::recv(socket.get(), buffer.data(), MAX_REPLY_BYTES, MSG_DONTWAIT | MSG_TRUNC);
  if (n < 0) {
    return makeError("recv from actuator", errno);
  }
  if (n == 0) {
    return makeError("the actuator closed the connection (peer refused?)");
  }
  std::string problem = replySizeProblem(static_cast<size_t>(n));
  if (!problem.empty()) {
    return makeError(problem);
  }
  auto reply =
      decodeReply(kj::arrayPtr(buffer.data(), static_cast<size_t>(n) / sizeof(capnp::word)));
  if (reply && reply->id != id && reply->id != 0) {
    return makeError("actuator reply id " + std::to_string(reply->id) + " does not match " +
                     std::to_string(id));
  }
  return reply;
}

Result<ClientReply> ActuatorClient::ping() {
  capnp::MallocMessageBuilder message;
  message.initRoot<proto::Request>().setPing();
  return call(message);
}

Result<ClientReply> ActuatorClient::rollback() {
  capnp::MallocMessageBuilder message;
  message.initRoot<proto::Request>().setRollback();
  return call(message);
}

Result<ClientReply> ActuatorClient::setSysctl(const SetSysctlArgs& a) {
  capnp::MallocMessageBuilder message;
  auto s = message.initRoot<proto::Request>().initSetSysctl();
  s.setTuner(a.tuner);
  s.setScenario(a.scenario);
  s.setNetnsCookie(a.netnsCookie);
  s.setTunable(a.tunable);
  s.setCount(a.count);
  s.setExpected0(a.expected[0]);
  s.setExpected1(a.expected[1]);
  s.setExpected2(a.expected[2]);
  s.setNew0(a.newValues[0]);
  s.setNew1(a.newValues[1]);
  s.setNew2(a.newValues[2]);
  s.setCauseNetnsCookie(a.causeNetnsCookie);
  s.setHostFamily(a.host.family);
  s.setHostAddress0(a.host.word0());
  s.setHostAddress1(a.host.word1());
  return call(message);
}

Result<ClientReply> ActuatorClient::reportLiveSwitch(const LiveSwitchReport& report) {
  capnp::MallocMessageBuilder message;
  auto r = message.initRoot<proto::Request>().initReportLiveSwitch();
  r.setTuner(report.tuner);
  r.setNetnsCookie(report.netnsCookie);
  r.setHostFamily(report.host.family);
  r.setHostAddress0(report.host.word0());
  r.setHostAddress1(report.host.word1());
  r.setFromAlg(report.fromAlg);
  r.setToAlg(report.toAlg);
  r.setLocalPort(report.localPort);
  r.setRemotePort(report.remotePort);
  r.setRetransmits(report.retransmits);
  r.setSegsOut(report.segsOut);
  return call(message);
}

Result<ClientReply> ActuatorClient::reportOverride(const OverrideReport& report) {
  capnp::MallocMessageBuilder message;
  auto r = message.initRoot<proto::Request>().initReportOverride();
  r.setTuner(report.tuner);
  r.setNetnsCookie(report.netnsCookie);
  r.setTunable(report.tunable);
  r.setWriterPid(report.writerPid);
  r.setWriterUid(report.writerUid);
  std::array<uint8_t, 16> comm{};
  std::memcpy(
      comm.data(), report.writerComm.data(), std::min(comm.size(), report.writerComm.size()));
  uint64_t lo = 0;
  uint64_t hi = 0;
  for (size_t i = 0; i < 8; ++i) {
    lo |= static_cast<uint64_t>(comm[i]) << (8 * i);
    hi |= static_cast<uint64_t>(comm[8 + i]) << (8 * i);
  }
  r.setWriterComm(lo);
  r.setWriterComm2(hi);
  r.setCount(report.count);
  r.setValue0(report.values[0]);
  r.setValue1(report.values[1]);
  r.setValue2(report.values[2]);
  return call(message);
}

Result<ClientReply> ActuatorClient::resume(proto::TunerId tuner, uint64_t netnsCookie) {
  capnp::MallocMessageBuilder message;
  auto r = message.initRoot<proto::Request>().initResume();
  r.setTuner(tuner);
  r.setNetnsCookie(netnsCookie);
  return call(message);
}

Result<ClientReply> ActuatorClient::applyProposal(uint64_t seq) {
  capnp::MallocMessageBuilder message;
  message.initRoot<proto::Request>().setApplyProposal(seq);
  return call(message);
}

Result<ClientReply> pingActuator(const std::string& socketPath) {
  auto client = ActuatorClient::connect(socketPath);
  if (!client) {
    return client.error();
  }
  return client->ping();
}

Result<ClientReply> requestRollback(const std::string& adminSocketPath) {
  auto client = ActuatorClient::connect(adminSocketPath);
  if (!client) {
    return client.error();
  }
  return client->rollback();
}

std::string statusName(proto::Status status) {
  switch (status) {
    case proto::Status::OK:
      return "ok";
    case proto::Status::REJECTED:
      return "rejected";
    case proto::Status::OVERRIDDEN:
      return "overridden";
    case proto::Status::STALE:
      return "stale";
    case proto::Status::FAILED:
      return "failed";
    case proto::Status::PAUSED:
      return "paused";
    case proto::Status::GONE:
      return "gone";
    case proto::Status::PROPOSED:
      return "proposed";
  }
  return "status#" + std::to_string(static_cast<unsigned>(status));
}

}  // namespace bpftune::actuator
