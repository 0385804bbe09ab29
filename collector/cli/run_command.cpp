// `bpftune run`: both halves in the foreground. The launcher itself only prepares users and
// directories and supervises; it parses nothing from the daemons but their exit status.
#include <signal.h>
#include <unistd.h>

#include <array>
#include <iostream>
#include <thread>

#include "admin_link.h"
#include "child_process.h"
#include "commands.h"
#include "log.h"
#include "setup.h"
#include "summary.h"

namespace bpftune::cli {
namespace {

constexpr int MAX_RESTARTS = 5;

std::string binary(const Options& options, const char* name) {
  std::string dir = options.paths.binDir.empty() ? selfDirectory() : options.paths.binDir;
  return dir + "/" + name;
}

std::vector<std::string> actuatorArgs(const Options& options) {
  const Paths& p = options.paths;
  std::vector<std::string> args = {binary(options, "bpftune-actuator"),
                                   "--socket",
                                   p.socket(),
                                   "--admin-socket",
                                   p.adminSocket(),
                                   "--journal",
                                   p.journal(),
                                   "--policy",
                                   resolvePolicy(p),
                                   "--user",
                                   options.actuatorUser,
                                   "--collector-user",
                                   options.collectorUser};
  if (options.advise) {
    args.emplace_back("--advise");
  }
  return args;
}

std::vector<std::string> collectorArgs(const Options& options) {
  std::vector<std::string> args = {binary(options, "bpftune-collector"),
                                   "--socket",
                                   options.paths.socket(),
                                   "--status",
                                   options.paths.statusFile(),
                                   "--metrics-file",
                                   options.metricsFile.empty() ? options.paths.metricsFile()
                                                               : options.metricsFile,
                                   "--user",
                                   options.collectorUser,
                                   "--learning-rate",
                                   std::to_string(options.learningRate)};
  if (options.debug) {
    args.emplace_back("--debug");
  }
  if (!options.tuners.empty()) {
    args.emplace_back("--tuners");
    args.push_back(options.tuners);
  }
  return args;
}

Result<ChildProcess> startActuator(const Options& options) {
  // Otherwise the ping below could be answered by an actuator left over from an earlier run and
  // this one (unable to bind the socket) be taken for started.
  if (actuatorAnswers(options.paths.adminSocket())) {
    return makeError("an actuator is already running on " + options.paths.adminSocket() +
                     "; stop it first");
  }
  auto child = ChildProcess::spawn(actuatorArgs(options));
  if (!child) {
    return child;
  }
  for (int i = 0; i < 100; ++i) {
    if (actuatorAnswers(options.paths.adminSocket())) {
      return child;
    }
    if (auto status = child->poll()) {
      return makeError("the actuator " + describeWaitStatus(*status) + " during start");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return makeError("the actuator did not answer on " + options.paths.adminSocket() + " within 5 s");
}

struct Supervised {
  const char* name;
  Result<ChildProcess> (*start)(const Options&);
  std::optional<ChildProcess> process;
  int restarts = 0;
};

Result<ChildProcess> startCollector(const Options& options) {
  return ChildProcess::spawn(collectorArgs(options));
}

// A daemon that dies is restarted (the actuator recovers from its journal on start), up to
// MAX_RESTARTS times; then the whole run ends with an error.
bool reapAndRestart(Supervised& daemon, const Options& options) {
  auto status = daemon.process->poll();
  if (!status) {
    return true;
  }
  log::error(std::string(daemon.name) + " " + describeWaitStatus(*status));
  if (++daemon.restarts > MAX_RESTARTS) {
    log::error(std::string("giving up on the ") + daemon.name + " after " +
               std::to_string(MAX_RESTARTS) + " restarts");
    return false;
  }
  std::this_thread::sleep_for(std::chrono::seconds(1));
  auto restarted = daemon.start(options);
  if (!restarted) {
    log::error(describe(restarted.error()));
    return false;
  }
  log::notice(std::string("restarted the ") + daemon.name);
  daemon.process.emplace(std::move(*restarted));
  return true;
}

// The signals that end a run in order (stop, optional rollback, summary), plus SIGCHLD; all are
// blocked for the whole run and taken with sigtimedwait.
sigset_t supervisorSignals() {
  sigset_t signals;
  sigemptyset(&signals);
  for (int signal : {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGCHLD}) {
    sigaddset(&signals, signal);
  }
  return signals;
}

// Waits for SIGINT/SIGTERM/SIGHUP/SIGQUIT while supervising; false when a daemon could not be
// kept running.
bool superviseUntilSignal(std::array<Supervised, 2>& daemons, const Options& options) {
  sigset_t waited = supervisorSignals();
  timespec tick{0, 200'000'000};
  while (true) {
    int signal = sigtimedwait(&waited, nullptr, &tick);
    if (signal == SIGINT || signal == SIGTERM || signal == SIGHUP || signal == SIGQUIT) {
      log::notice("stopping on signal " + std::to_string(signal));
      return true;
    }
    for (auto& daemon : daemons) {
      if (!reapAndRestart(daemon, options)) {
        return false;
      }
    }
  }
}

// False when --rollback-on-exit was asked for and the rollback did not happen.
bool shutDown(std::array<Supervised, 2>& daemons, const Options& options) {
  auto& [actuator, collector] = daemons;
  if (collector.process) {
    collector.process->stop(std::chrono::seconds(5));
  }
  bool rolledBack = true;
  if (options.rollbackOnExit && actuator.process) {
    if (actuator.process->running()) {
      auto reply = requestRollback(options.paths.adminSocket());
      if (reply) {
        log::notice("rollback on exit: " + *reply);
      } else {
        log::error("rollback on exit failed: " + describe(reply.error()));
        rolledBack = false;
      }
    } else {
      log::error("rollback on exit failed: the actuator is not running");
      rolledBack = false;
    }
  }
  if (actuator.process) {
    actuator.process->stop(std::chrono::seconds(5));
  }
  return rolledBack;
}

Status prepare(const Options& options) {
  auto actuatorUser = ensureSystemUser(options.actuatorUser);
  if (!actuatorUser) {
    return actuatorUser.error();
  }
  auto collectorUser = ensureSystemUser(options.collectorUser);
  if (!collectorUser) {
    return collectorUser.error();
  }
  return prepareDirectories(options.paths, *actuatorUser, *collectorUser);
}

}  // namespace

int runCommand(const Options& options) {
  log::setPrefix("bpftune");
  if (geteuid() != 0) {
    log::error("bpftune run needs root: it creates the service users and starts both daemons, "
               "which then drop to their users and minimal capabilities");
    return 1;
  }
  if (auto ready = prepare(options); !ready) {
    log::error(describe(ready.error()));
    return 1;
  }
  sigset_t blocked = supervisorSignals();
  sigprocmask(SIG_BLOCK, &blocked, nullptr);

  std::array<Supervised, 2> daemons = {Supervised{"actuator", &startActuator, std::nullopt},
                                       Supervised{"collector", &startCollector, std::nullopt}};
  for (auto& daemon : daemons) {
    auto started = daemon.start(options);
    if (!started) {
      log::error(describe(started.error()));
      shutDown(daemons, options);
      return 1;
    }
    daemon.process.emplace(std::move(*started));
  }
  log::notice("actuator pid " + std::to_string(daemons[0].process->pid()) + ", collector pid " +
              std::to_string(daemons[1].process->pid()) + "; Ctrl-C to stop");
  bool healthy = superviseUntilSignal(daemons, options);
  bool rolledBack = shutDown(daemons, options);
  std::cout << summarizeJournal(options.paths.journal());
  return healthy && rolledBack ? 0 : 1;
}

}  // namespace bpftune::cli
