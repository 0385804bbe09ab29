// One owner per child process: a ChildProcess that goes out of scope while its process still
// runs terminates it (SIGTERM, then SIGKILL), so `bpftune run` never leaves a daemon behind.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "result.h"

namespace bpftune::cli {

class ChildProcess {
public:
  // Starts argv[0] (an absolute path) with default signal handling, an empty signal mask and
  // in a process group of its own, so signals sent to the caller's group (a terminal's Ctrl-C,
  // Ctrl-Z) do not reach it.
  static Result<ChildProcess> spawn(const std::vector<std::string>& argv);

  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;
  ChildProcess(ChildProcess&& other) noexcept;
  ChildProcess& operator=(ChildProcess&& other) noexcept;
  ~ChildProcess();

  pid_t pid() const { return processId; }
  bool running() const { return processId > 0; }

  // Non-blocking: the wait status if the process has ended (and then it is reaped).
  std::optional<int> poll();
  // SIGTERM, wait up to `grace`, then SIGKILL. Returns the wait status.
  int stop(std::chrono::milliseconds grace);

private:
  explicit ChildProcess(pid_t pid) : processId(pid) {}
  pid_t processId = -1;
};

// "exited with 1", "killed by signal 9 (Killed)".
std::string describeWaitStatus(int status);

}  // namespace bpftune::cli
