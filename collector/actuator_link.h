// The collector's end of the actuator socket: one Cap'n Proto message per SOCK_SEQPACKET
// datagram, a persistent connection, reconnect with backoff when the actuator restarts.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

#include <capnp/common.h>
#include <kj/array.h>

#include "bpftune.capnp.h"
#include "result.h"
#include "tuner.h"
#include "unique_fd.h"

namespace bpftune::collector {

struct ReplyInfo {
  uint64_t id = 0;
  proto::Status status = proto::Status::FAILED;
  std::string field;  // sanitized
  int64_t bound = 0;
  std::string reason;  // sanitized
  tuners::Values values;
  uint64_t journalSeq = 0;
  int32_t error = 0;
};

// setSysctl request for a proposal; `expected` is what the collector just read.
kj::Array<capnp::word> encodeRequest(uint64_t id, const tuners::Proposal& proposal);
kj::Array<capnp::word> encodePing(uint64_t id);
// Decodes a reply datagram (word-aligned). Broken messages are an Error: the peer is dropped.
Result<ReplyInfo> decodeReply(kj::ArrayPtr<const capnp::word> words);

std::string_view statusName(proto::Status status);

class ActuatorLink {
public:
  explicit ActuatorLink(std::string socketPath);

  // Connects if disconnected and the backoff delay has passed. True when connected.
  bool ensureConnected();
  bool connected() const { return fd.valid(); }
  // Sends the request and waits (bounded) for its reply. A transport failure disconnects.
  Result<ReplyInfo> call(const tuners::Proposal& proposal);

  uint64_t reconnects() const { return connectCount; }
  const std::string& lastError() const { return lastErrorText; }

private:
  void disconnect(const std::string& why);
  Result<ReplyInfo> exchange(kj::ArrayPtr<const capnp::word> request, uint64_t id);

  std::string path;
  UniqueFd fd;
  uint64_t nextId = 1;
  uint64_t connectCount = 0;
  std::chrono::milliseconds backoff{0};
  std::chrono::steady_clock::time_point nextAttempt{};
  std::string lastErrorText;
  bool loggedDown = false;
};

}  // namespace bpftune::collector
