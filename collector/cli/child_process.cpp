#include "child_process.h"

#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>  // environ (declared under _GNU_SOURCE)

#include <cstring>
#include <thread>
#include <utility>

namespace bpftune::cli {

Result<ChildProcess> ChildProcess::spawn(const std::vector<std::string>& argv) {
  std::vector<char*> raw;
  raw.reserve(argv.size() + 1);
  for (const auto& arg : argv) {
    raw.push_back(const_cast<char*>(arg.c_str()));  // NOLINT(cppcoreguidelines-pro-type-const-cast)
  }
  raw.push_back(nullptr);

  posix_spawnattr_t attributes;
  posix_spawnattr_init(&attributes);
  sigset_t empty;
  sigemptyset(&empty);
  sigset_t all;
  sigfillset(&all);
  posix_spawnattr_setsigmask(&attributes, &empty);
  posix_spawnattr_setsigdefault(&attributes, &all);
  // Its own process group: terminal signals (Ctrl-C, Ctrl-Z) reach only the supervisor, which
  // then stops the children in order (collector, rollback request, actuator).
  posix_spawnattr_setpgroup(&attributes, 0);
  posix_spawnattr_setflags(&attributes,
                           POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETPGROUP);
  pid_t pid = -1;
  int rc = posix_spawn(&pid, raw[0], nullptr, &attributes, raw.data(), environ);
  posix_spawnattr_destroy(&attributes);
  if (rc != 0) {
    return makeError("cannot start " + argv[0], rc);
  }
  return ChildProcess(pid);
}

ChildProcess::ChildProcess(ChildProcess&& other) noexcept
    : processId(std::exchange(other.processId, -1)) {}

ChildProcess& ChildProcess::operator=(ChildProcess&& other) noexcept {
  if (this != &other) {
    if (running()) {
      stop(std::chrono::seconds(5));
    }
    processId = std::exchange(other.processId, -1);
  }
  return *this;
}

ChildProcess::~ChildProcess() {
  if (running()) {
    stop(std::chrono::seconds(5));
  }
}

std::optional<int> ChildProcess::poll() {
  if (!running()) {
    return std::nullopt;
  }
  int status = 0;
  pid_t done = waitpid(processId, &status, WNOHANG);
  if (done == processId) {
    processId = -1;
    return status;
  }
  return std::nullopt;
}

int ChildProcess::stop(std::chrono::milliseconds grace) {
  if (!running()) {
    return 0;
  }
  kill(processId, SIGTERM);
  auto deadline = std::chrono::steady_clock::now() + grace;
  while (std::chrono::steady_clock::now() < deadline) {
    if (auto status = poll()) {
      return *status;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  kill(processId, SIGKILL);
  int status = 0;
  waitpid(processId, &status, 0);
  processId = -1;
  return status;
}

std::string describeWaitStatus(int status) {
  if (WIFEXITED(status)) {
    return "exited with " + std::to_string(WEXITSTATUS(status));
  }
  if (WIFSIGNALED(status)) {
    return "killed by signal " + std::to_string(WTERMSIG(status)) + " (" +
           strsignal(WTERMSIG(status)) + ")";
  }
  return "ended with status " + std::to_string(status);
}

}  // namespace bpftune::cli
