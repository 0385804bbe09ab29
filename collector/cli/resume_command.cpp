// `bpftune resume TUNER [--netns COOKIE|NAME]`: hands control back to a tuner that stopped
// because an administrator changed one of its tunables, without restarting anything. The
// running actuator journals it; the collector sees the new resume epoch within a second.
#include <unistd.h>

#include <iostream>

#include "client.h"
#include "commands.h"
#include "netns_names.h"
#include "tunable_table.h"

namespace bpftune::cli {
namespace {

Result<proto::TunerId> tunerByName(const std::string& name) {
  if (const proto::TunerId* id = policy::findTuner(name)) {
    return *id;
  }
  std::string known;
  for (proto::TunerId id : policy::allTuners()) {
    known += (known.empty() ? "" : ", ") + std::string(policy::tunerName(id));
  }
  return makeError("resume: unknown tuner '" + name + "' (known: " + known + ")");
}

}  // namespace

int resumeCommand(const Options& options) {
  if (geteuid() != 0) {
    std::cerr << "bpftune: resume needs root (the admin socket accepts only uid 0)\n";
    return 1;
  }
  auto tuner = tunerByName(options.tuner);
  if (!tuner) {
    std::cerr << "bpftune: " << tuner.error().message << '\n';
    return 2;
  }
  uint64_t cookie = 0;
  if (!options.netns.empty()) {
    auto found = netnsCookieFromArg(options.netns);
    if (!found) {
      std::cerr << "bpftune: " << found.error().message << '\n';
      return 2;
    }
    cookie = *found;
  }
  auto client = actuator::ActuatorClient::connect(options.paths.adminSocket());
  if (!client) {
    std::cerr << "bpftune: no actuator answers on " << options.paths.adminSocket() << " ("
              << describe(client.error()) << "); a restarted actuator starts resumed\n";
    return 1;
  }
  auto reply = client->resume(*tuner, cookie);
  if (!reply) {
    std::cerr << "bpftune: resume failed: " << describe(reply.error()) << '\n';
    return 1;
  }
  if (reply->status != proto::Status::OK) {
    std::cerr << "bpftune: resume refused: " << reply->reason << '\n';
    return 1;
  }
  std::cout << reply->reason << '\n';
  return 0;
}

}  // namespace bpftune::cli
