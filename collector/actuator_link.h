// The collector's end of the actuator socket: a persistent actuator::ActuatorClient,
// reconnected with backoff when the actuator restarts. The wire format lives in client.h.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

#include "client.h"
#include "result.h"
#include "tuner.h"

namespace bpftune::collector {

// The setSysctl request for a proposal; `expected` is what the collector just read (for a
// per-host tunable: what the tuner believes the host's route carries), `host` the proposal's.
actuator::SetSysctlArgs toSetSysctlArgs(const tuners::Proposal& proposal);

class ActuatorLink {
public:
  explicit ActuatorLink(std::string socketPath);

  // Connects if disconnected and the backoff delay has passed. True when connected.
  bool ensureConnected();
  bool connected() const { return client.has_value(); }
  // Sends the request and waits (bounded) for its reply. A transport or decode failure
  // disconnects.
  Result<actuator::ClientReply> call(const tuners::Proposal& proposal);
  // Liveness and the resume epoch (every reply carries it).
  Result<actuator::ClientReply> ping();
  // Someone else wrote a managed tunable: the actuator journals it and leaves the key alone.
  Result<actuator::ClientReply> reportOverride(const actuator::OverrideReport& report);
  // A BPF iterator of ours switched a live connection in place: the actuator journals it.
  Result<actuator::ClientReply> reportLiveSwitch(const actuator::LiveSwitchReport& report);

  uint64_t reconnects() const { return connectCount; }
  const std::string& lastError() const { return lastErrorText; }

private:
  void disconnect(const std::string& why);
  template <typename F>
  Result<actuator::ClientReply> send(F request);

  std::string path;
  std::optional<actuator::ActuatorClient> client;
  uint64_t connectCount = 0;
  std::chrono::milliseconds backoff{0};
  std::chrono::steady_clock::time_point nextAttempt{};
  std::string lastErrorText;
  bool loggedDown = false;
};

}  // namespace bpftune::collector
