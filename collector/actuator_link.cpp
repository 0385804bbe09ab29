#include "actuator_link.h"

#include <poll.h>

#include <algorithm>

#include "log.h"

namespace bpftune::collector {
namespace {

constexpr std::chrono::milliseconds MIN_BACKOFF{100};
constexpr std::chrono::milliseconds MAX_BACKOFF{5000};

}  // namespace

actuator::SetSysctlArgs toSetSysctlArgs(const tuners::Proposal& proposal) {
  actuator::SetSysctlArgs args;
  args.tuner = proposal.tuner;
  args.scenario = proposal.scenario;
  args.netnsCookie = proposal.netnsCookie;
  args.causeNetnsCookie = proposal.causeNetnsCookie;
  args.tunable = proposal.tunable;
  args.count = proposal.newValues.count;
  args.expected = proposal.oldValues.v;
  args.newValues = proposal.newValues.v;
  args.host = proposal.host;
  return args;
}

ActuatorLink::ActuatorLink(std::string socketPath) : path(std::move(socketPath)) {}

void ActuatorLink::disconnect(const std::string& why) {
  client.reset();
  lastErrorText = why;
  backoff = MIN_BACKOFF;
  nextAttempt = std::chrono::steady_clock::now() + backoff;
  log::warning("actuator connection lost: " + why);
}

bool ActuatorLink::ensureConnected() {
  if (client) {
    // The actuator never speaks unasked: readable or hung up means it went away (restart).
    pollfd pfd{client->fd(), POLLIN, 0};
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
  auto connectedClient = actuator::ActuatorClient::connect(path);
  if (!connectedClient) {
    lastErrorText = describe(connectedClient.error());
    backoff = std::min(MAX_BACKOFF, backoff.count() == 0 ? MIN_BACKOFF : backoff * 2);
    nextAttempt = now + backoff;
    if (!loggedDown) {
      log::warning("actuator not reachable (" + lastErrorText + "); retrying with backoff");
      loggedDown = true;
    }
    return false;
  }
  client.emplace(std::move(*connectedClient));
  ++connectCount;
  backoff = std::chrono::milliseconds(0);
  loggedDown = false;
  lastErrorText.clear();
  log::notice("connected to the actuator at " + path);
  return true;
}

template <typename F>
Result<actuator::ClientReply> ActuatorLink::send(F request) {
  if (!ensureConnected()) {
    return makeError("actuator not connected: " + lastErrorText);
  }
  auto reply = request(*client);
  if (!reply) {
    std::string why = describe(reply.error());
    disconnect(why);
    return makeError(why);
  }
  return reply;
}

Result<actuator::ClientReply> ActuatorLink::call(const tuners::Proposal& proposal) {
  return send([&](actuator::ActuatorClient& c) { return c.setSysctl(toSetSysctlArgs(proposal)); });
}

Result<actuator::ClientReply> ActuatorLink::ping() {
  return send([](actuator::ActuatorClient& c) { return c.ping(); });
}

Result<actuator::ClientReply> ActuatorLink::reportLiveSwitch(
    const actuator::LiveSwitchReport& report) {
  return send([&](actuator::ActuatorClient& c) { return c.reportLiveSwitch(report); });
}

Result<actuator::ClientReply> ActuatorLink::reportOverride(const actuator::OverrideReport& report) {
  return send([&](actuator::ActuatorClient& c) { return c.reportOverride(report); });
}

}  // namespace bpftune::collector
