// `bpftune apply ID...`: asks the running actuator, on its admin socket, to apply each proposal
// through its usual checks and journal. (`bpftune advice` reads the journal: summary_command.cpp.)
#include <unistd.h>

#include <iostream>

#include "client.h"
#include "commands.h"

namespace bpftune::cli {

int applyCommand(const Options& options) {
  if (geteuid() != 0) {
    std::cerr << "bpftune: apply needs root (the admin socket accepts only uid 0)\n";
    return 1;
  }
  auto client = actuator::ActuatorClient::connect(options.paths.adminSocket());
  if (!client) {
    std::cerr << "bpftune: no actuator answers on " << options.paths.adminSocket() << " ("
              << describe(client.error()) << ")\n";
    return 1;
  }
  int exitCode = 0;
  for (uint64_t id : options.proposalIds) {
    auto reply = client->applyProposal(id);
    if (!reply) {
      std::cerr << "bpftune: apply " << id << " failed: " << describe(reply.error()) << '\n';
      return 1;
    }
    if (reply->status != proto::Status::OK) {
      std::cerr << "bpftune: not applied (" << actuator::statusName(reply->status)
                << "): " << reply->reason << '\n';
      exitCode = 1;
      continue;
    }
    std::cout << reply->reason
              << (reply->journalSeq != 0
                      ? " (journal seq " + std::to_string(reply->journalSeq) + ")"
                      : std::string())
              << '\n';
  }
  return exitCode;
}

}  // namespace bpftune::cli
