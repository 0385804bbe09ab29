// bpftune: the admin CLI and foreground launcher.
#include <exception>
#include <iostream>
#include <string>
#include <vector>

#include <kj/exception.h>

#include "commands.h"
#include "options.h"

#ifndef BPFTUNE_VERSION
#define BPFTUNE_VERSION "unknown"
#endif

namespace {

int runCli(const std::vector<std::string>& args) {
  using bpftune::cli::Command;
  auto options = bpftune::cli::parseOptions(args);
  if (!options) {
    std::cerr << "bpftune: " << options.error().message << "\n\n" << bpftune::cli::usageText();
    return 2;
  }
  switch (options->command) {
    case Command::RUN:
      return bpftune::cli::runCommand(*options);
    case Command::STATUS:
      return bpftune::cli::statusCommand(*options);
    case Command::JOURNAL:
      return bpftune::cli::journalCommand(*options);
    case Command::VERIFY:
      return bpftune::cli::verifyCommand(*options);
    case Command::ROLLBACK:
      return bpftune::cli::rollbackCommand(*options);
    case Command::SUPPORT:
      return bpftune::cli::supportCommand(*options);
    case Command::SUMMARY:
      return bpftune::cli::summaryCommand(*options);
    case Command::EXPORT:
      return bpftune::cli::exportCommand(*options);
    case Command::RESUME:
      return bpftune::cli::resumeCommand(*options);
    case Command::ADVICE:
      return bpftune::cli::adviceCommand(*options);
    case Command::APPLY:
      return bpftune::cli::applyCommand(*options);
    case Command::TUNABLES:
      return bpftune::cli::tunablesCommand(*options);
    case Command::VERSION:
      std::cout << "bpftune " << BPFTUNE_VERSION << '\n';
      return 0;
    case Command::HELP:
      std::cout << bpftune::cli::usageText();
      return 0;
  }
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return runCli(std::vector<std::string>(argv + 1, argv + argc));
  } catch (const std::exception& e) {
    std::cerr << "bpftune: " << e.what() << '\n';
  } catch (const kj::Exception& e) {
    std::cerr << "bpftune: " << e.getDescription().cStr() << '\n';
  }
  return 1;
}
