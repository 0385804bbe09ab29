#include "actuator_link.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <cerrno>
#include <cstring>

#include <capnp/message.h>
#include <capnp/serialize.h>
#include <kj/exception.h>

#include "log.h"

namespace bpftune::collector {
namespace {

constexpr size_t MAX_REPLY_WORDS = 1024;  // replies are a few hundred bytes
constexpr int REPLY_TIMEOUT_MS = 5000;    // the actuator fsyncs twice per request
constexpr std::chrono::milliseconds MAX_BACKOFF{5000};

capnp::ReaderOptions replyLimits() {
  capnp::ReaderOptions options;
  options.traversalLimitInWords = MAX_REPLY_WORDS;
  options.nestingLimit = 4;
  return options;
}

}  // namespace

std::string_view statusName(proto::Status status) {
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
  }
  return "unknown";
}

kj::Array<capnp::word> encodeRequest(uint64_t id, const tuners::Proposal& proposal) {
  capnp::MallocMessageBuilder message;
  auto request = message.initRoot<proto::Request>();
  request.setId(id);
  auto set = request.initSetSysctl();
  set.setTuner(proposal.tuner);
  set.setScenario(proposal.scenario);
  set.setNetnsCookie(proposal.netnsCookie);
  set.setTunable(proposal.tunable);
  set.setCount(proposal.newValues.count);
  set.setExpected0(proposal.oldValues.v[0]);
  set.setExpected1(proposal.oldValues.v[1]);
  set.setExpected2(proposal.oldValues.v[2]);
  set.setNew0(proposal.newValues.v[0]);
  set.setNew1(proposal.newValues.v[1]);
  set.setNew2(proposal.newValues.v[2]);
  return capnp::messageToFlatArray(message);
}

kj::Array<capnp::word> encodePing(uint64_t id) {
  capnp::MallocMessageBuilder message;
  auto request = message.initRoot<proto::Request>();
  request.setId(id);
  request.setPing();
  return capnp::messageToFlatArray(message);
}

Result<ReplyInfo> decodeReply(kj::ArrayPtr<const capnp::word> words) {
  ReplyInfo info;
  KJ_IF_MAYBE(exception, kj::runCatchingExceptions([&] {
                capnp::FlatArrayMessageReader reader(words, replyLimits());
                auto reply = reader.getRoot<proto::Reply>();
                info.id = reply.getId();
                info.status = reply.getStatus();
                info.field = log::sanitize(std::string_view(reply.getField().cStr()));
                info.bound = reply.getBound();
                info.reason = log::sanitize(std::string_view(reply.getReason().cStr()));
                info.values.count = reply.getCount() > 3 ? 3 : reply.getCount();
                info.values.v = {reply.getValue0(), reply.getValue1(), reply.getValue2()};
                info.journalSeq = reply.getJournalSeq();
                info.error = reply.getError();
              })) {
    return makeError("malformed reply: " + log::sanitize(exception->getDescription().cStr()));
  }
  if (static_cast<uint16_t>(info.status) > static_cast<uint16_t>(proto::Status::PAUSED)) {
    return makeError("reply has an unknown status");
  }
  return info;
}

ActuatorLink::ActuatorLink(std::string socketPath) : path(std::move(socketPath)) {}

void ActuatorLink::disconnect(const std::string& why) {
  fd.reset();
  lastErrorText = why;
  backoff = std::chrono::milliseconds(100);
  nextAttempt = std::chrono::steady_clock::now() + backoff;
  log::warning("actuator connection lost: " + why);
}

bool ActuatorLink::ensureConnected() {
  if (fd.valid()) {
    // The actuator never speaks unasked: readable or hung up means it went away (restart).
    pollfd pfd{fd.get(), POLLIN, 0};
    if (::poll(&pfd, 1, 0) == 0) {
      return true;
    }
    disconnect("actuator closed the connection");
    nextAttempt = std::chrono::steady_clock::now();
  }
  auto now = std::chrono::steady_clock::now();
  if (now < nextAttempt) {
    return false;
  }
  UniqueFd sock(::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0));
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (!sock.valid() || path.size() >= sizeof(addr.sun_path)) {
    lastErrorText = sock.valid() ? "socket path too long" : std::strerror(errno);
    return false;
  }
  std::memcpy(addr.sun_path, path.data(), path.size());
  if (::connect(sock.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    lastErrorText = "connect " + path + ": " + std::strerror(errno);
    backoff =
        std::min(MAX_BACKOFF, backoff.count() == 0 ? std::chrono::milliseconds(100) : backoff * 2);
    nextAttempt = now + backoff;
    if (!loggedDown) {
      log::warning("actuator not reachable (" + lastErrorText + "); retrying with backoff");
      loggedDown = true;
    }
    return false;
  }
  fd = std::move(sock);
  ++connectCount;
  backoff = std::chrono::milliseconds(0);
  loggedDown = false;
  lastErrorText.clear();
  log::notice("connected to the actuator at " + path);
  return true;
}

Result<ReplyInfo> ActuatorLink::call(const tuners::Proposal& proposal) {
  if (!ensureConnected()) {
    return makeError("actuator not connected: " + lastErrorText);
  }
  uint64_t id = nextId++;
  auto request = encodeRequest(id, proposal);
  return exchange(request, id);
}

Result<ReplyInfo> ActuatorLink::exchange(kj::ArrayPtr<const capnp::word> request, uint64_t id) {
  auto bytes = request.asBytes();
  if (::send(fd.get(), bytes.begin(), bytes.size(), MSG_NOSIGNAL) !=
      static_cast<ssize_t>(bytes.size())) {
    std::string why = std::string("send: ") + std::strerror(errno);
    disconnect(why);
    return makeError(why);
  }
  pollfd pfd{fd.get(), POLLIN, 0};
  int ready = ::poll(&pfd, 1, REPLY_TIMEOUT_MS);
  if (ready <= 0) {
    std::string why =
        ready == 0 ? "no reply within 5 s" : std::string("poll: ") + std::strerror(errno);
    disconnect(why);
    return makeError(why);
  }
  auto buffer = kj::heapArray<capnp::word>(MAX_REPLY_WORDS);
  ssize_t got = ::recv(fd.get(), buffer.begin(), buffer.size() * sizeof(capnp::word), MSG_TRUNC);
  if (got <= 0 || got % sizeof(capnp::word) != 0 ||
      static_cast<size_t>(got) > buffer.size() * sizeof(capnp::word)) {
    std::string why = got == 0 ? "actuator closed the connection"
                               : "bad reply datagram size " + std::to_string(got);
    disconnect(why);
    return makeError(why);
  }
  auto reply = decodeReply(buffer.slice(0, got / sizeof(capnp::word)));
  if (!reply) {
    disconnect(reply.error().message);
    return reply;
  }
  if (reply->id != id) {
    std::string why =
        "reply id " + std::to_string(reply->id) + " for request " + std::to_string(id);
    disconnect(why);
    return makeError(why);
  }
  return reply;
}

}  // namespace bpftune::collector
