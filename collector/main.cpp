// bpftune-collector: loads the BPF programs as root, drops to an unprivileged user with only
// CAP_BPF+CAP_PERFMON, and turns kernel events into typed requests to the actuator.
#include <unistd.h>

#include <atomic>
#include <csignal>
#include <exception>
#include <iostream>
#include <string>
#include <vector>

#include <kj/exception.h>

#include "daemon.h"
#include "log.h"
#include "plugin_dir.h"
#include "privileges.h"
#include "status.h"

namespace {

// Set from the signal handler, so it has to be a global (a lock-free atomic is signal-safe).
// NOLINTNEXTLINE(cppcoreguidelines-avoid-non-const-global-variables)
std::atomic<bool> stopRequested{false};

void onSignal(int /*signal*/) {
  stopRequested.store(true);
}

void installSignalHandlers() {
  struct sigaction action {};
  action.sa_handler = onSignal;
  sigemptyset(&action.sa_mask);
  action.sa_flags = 0;  // no SA_RESTART: the poll returns EINTR and the loop sees the flag
  sigaction(SIGINT, &action, nullptr);
  sigaction(SIGTERM, &action, nullptr);
  std::signal(SIGPIPE, SIG_IGN);
}

}  // namespace

namespace bpftune::collector {
namespace {

int runCollector(const std::vector<std::string>& args) {
  auto options = collector::parseOptions(args);
  if (!options) {
    std::cerr << "bpftune-collector: " << options.error().message << "\n" << collector::usageText();
    return 2;
  }
  if (options->help) {
    std::cout << collector::usageText();
    return 0;
  }
  if (!options->checkPlugin.empty()) {
    auto checked = collector::checkPluginFile(options->checkPlugin, collector::TrustOwner{0});
    if (!checked) {
      std::cerr << "bpftune-collector: refusing untrusted plugin '"
                << log::sanitize(options->checkPlugin) << "': " << describe(checked.error())
                << "\n";
      return 1;
    }
    std::cout << *checked << "\n";
    return 0;
  }
  log::setPrefix("collector");
  log::setLevel(options->debug ? log::Level::DEBUG : log::Level::INFO);
  installSignalHandlers();

  auto daemon = collector::Daemon::create(*options);
  if (!daemon) {
    log::error("startup failed: " + describe(daemon.error()));
    return 1;
  }
  auto dropped = collector::dropPrivileges(options->user);
  if (!dropped) {
    log::error("privilege drop failed: " + describe(dropped.error()));
    return 1;
  }
  log::notice("running as uid " + std::to_string(::getuid()) + " with CapEff " +
              collector::readCapEff() + ", learning rate " + std::to_string(options->learningRate));
  int rc = (*daemon)->run(stopRequested);
  log::notice("exiting");
  return rc;
}

}  // namespace
}  // namespace bpftune::collector

int main(int argc, char** argv) {
  try {
    return bpftune::collector::runCollector(std::vector<std::string>(argv + 1, argv + argc));
  } catch (const std::exception& e) {
    bpftune::log::error(e.what());
  } catch (const kj::Exception& e) {
    bpftune::log::error(bpftune::log::sanitize(e.getDescription().cStr()));
  }
  return 1;
}
