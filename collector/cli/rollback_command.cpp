// `bpftune rollback`: a running actuator rolls back on request (admin socket, uid 0 only) so
// that the journal keeps a single writer; with no actuator running, the actuator binary runs its
// one-shot rollback under the same jail.
#include <sys/wait.h>
#include <unistd.h>

#include <iostream>

#include "admin_link.h"
#include "child_process.h"
#include "commands.h"
#include "setup.h"

namespace bpftune::cli {

int rollbackCommand(const Options& options) {
  if (geteuid() != 0) {
    std::cerr << "bpftune: rollback needs root (the admin socket accepts only uid 0)\n";
    return 1;
  }
  const Paths& paths = options.paths;
  if (actuatorAnswers(paths.adminSocket())) {
    auto reply = requestRollback(paths.adminSocket());
    if (!reply) {
      std::cerr << "bpftune: rollback failed: " << describe(reply.error()) << '\n';
      return 1;
    }
    std::cout << *reply << '\n';
    return 0;
  }
  std::string dir = paths.binDir.empty() ? selfDirectory() : paths.binDir;
  auto child = ChildProcess::spawn({dir + "/bpftune-actuator",
                                    "--rollback-only",
                                    "--journal",
                                    paths.journal(),
                                    "--policy",
                                    resolvePolicy(paths),
                                    "--user",
                                    options.actuatorUser,
                                    "--collector-user",
                                    options.collectorUser});
  if (!child) {
    std::cerr << "bpftune: " << describe(child.error()) << '\n';
    return 1;
  }
  while (true) {
    if (auto status = child->poll()) {
      if (WIFEXITED(*status) && WEXITSTATUS(*status) == 0) {
        return 0;
      }
      std::cerr << "bpftune: the one-shot rollback " << describeWaitStatus(*status) << '\n';
      return 1;
    }
    usleep(20000);
  }
}

}  // namespace bpftune::cli
