// Client side of the actuator sockets (collector socket and admin socket): one capnp Request
// per SOCK_SEQPACKET datagram, one Reply back, 5 s timeout. Links only bpftune_proto.
#pragma once

#include <array>
#include <cstdint>
#include <string>

#include <capnp/common.h>
#include <kj/common.h>

#include "bpftune.capnp.h"
#include "host_address.h"
#include "result.h"
#include "unique_fd.h"

namespace bpftune::actuator {

// A decoded Reply. `field` and `reason` are sanitized (callers log them); status is known.
struct ClientReply {
  uint64_t id = 0;
  proto::Status status = proto::Status::OK;
  std::string field;
  int64_t bound = 0;
  std::string reason;
  uint8_t count = 0;
  std::array<int64_t, 3> values{};
  uint64_t journalSeq = 0;
  int32_t error = 0;
  uint64_t resumeEpoch = 0;  // changes whenever an administrator runs `bpftune resume`
  bool advising = false;     // the actuator runs in advice mode (proposes, writes nothing)
};

struct SetSysctlArgs {
  proto::TunerId tuner = proto::TunerId::TCP_BUFFER;
  proto::ScenarioId scenario = proto::ScenarioId::BUFFER_INCREASE;
  uint64_t netnsCookie = 0;
  proto::TunableId tunable = proto::TunableId::TCP_RMEM;
  uint8_t count = 0;
  std::array<int64_t, 3> expected{};
  std::array<int64_t, 3> newValues{};
  uint64_t causeNetnsCookie = 0;  // netns whose event caused it (0: netnsCookie)
  // routeCongctl: the remote host whose route carries the algorithm (family AF_INET or
  // AF_INET6; an IPv4-mapped IPv6 address is sent as AF_INET). Empty (family 0) for every other
  // tunable. For routeCongctl count is 1 and expected[0]/newValues[0] are proto::CongAlg values
  // (NONE: no route of bpftune's for the host).
  HostAddress host;
};

// The collector's BPF iterator switched a live connection's congestion control in place; the
// actuator journals it (socketCongctl, a liveSwitch record) and writes nothing.
struct LiveSwitchReport {
  proto::TunerId tuner = proto::TunerId::TCP_CONN;
  uint64_t netnsCookie = 0;
  HostAddress host;  // the connection's remote host
  proto::CongAlg fromAlg = proto::CongAlg::NONE;
  proto::CongAlg toAlg = proto::CongAlg::BBR;
  uint16_t localPort = 0;
  uint16_t remotePort = 0;
  uint32_t retransmits = 0;  // total_retrans when it was switched
  uint32_t segsOut = 0;
};

// Someone other than bpftune wrote a tunable a tuner manages (seen by the cgroup/sysctl hook).
struct OverrideReport {
  proto::TunerId tuner = proto::TunerId::TCP_BUFFER;
  uint64_t netnsCookie = 0;
  proto::TunableId tunable = proto::TunableId::TCP_RMEM;
  int32_t writerPid = 0;
  uint32_t writerUid = 0;
  std::string writerComm;  // at most 16 bytes are sent
  uint8_t count = 0;       // values parsed from what was written (0: unparsable)
  std::array<int64_t, 3> values{};
};

// Largest reply datagram accepted; bigger ones (detected with MSG_TRUNC) are refused.
constexpr size_t MAX_REPLY_BYTES = 8192;

// Decodes one reply datagram (word-aligned). Broken messages and an unknown status are an Error.
Result<ClientReply> decodeReply(kj::ArrayPtr<const capnp::word> words);

class ActuatorClient {
public:
  static constexpr int TIMEOUT_MS = 5000;

  // Connects once; keep the client for many calls (the collector) or use the one-shot helpers.
  static Result<ActuatorClient> connect(const std::string& socketPath);

  Result<ClientReply> ping();
  Result<ClientReply> rollback();  // admin socket only
  Result<ClientReply> setSysctl(const SetSysctlArgs& args);
  Result<ClientReply> reportOverride(const OverrideReport& report);
  // OK with journalSeq of the liveSwitch record; REJECTED (field, reason) when invalid or over
  // the rate of net.persock.tcp.congestion_control.
  Result<ClientReply> reportLiveSwitch(const LiveSwitchReport& report);
  // Admin socket only. netnsCookie 0: every namespace (and lifts a rollback's pause).
  Result<ClientReply> resume(proto::TunerId tuner, uint64_t netnsCookie);
  // Admin socket only: applies the proposal journaled under `seq` (advice mode).
  Result<ClientReply> applyProposal(uint64_t seq);
  // Sends a prepared Request (its id is overwritten) and waits for the reply. Any Error means
  // the connection is no longer usable.
  Result<ClientReply> call(capnp::MessageBuilder& request);
  int fd() const { return socket.get(); }

private:
  explicit ActuatorClient(UniqueFd socket) : socket(std::move(socket)) {}
  UniqueFd socket;
  uint64_t nextId = 1;
};

Result<ClientReply> pingActuator(const std::string& socketPath);
Result<ClientReply> requestRollback(const std::string& adminSocketPath);

std::string statusName(proto::Status status);

}  // namespace bpftune::actuator
