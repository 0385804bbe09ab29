// bpftune: the admin CLI and foreground launcher.
#include <iostream>
#include <string>
#include <vector>

#include "commands.h"
#include "options.h"

#ifndef BPFTUNE_VERSION
#define BPFTUNE_VERSION "unknown"
#endif

int main(int argc, char** argv) {
  using bpftune::cli::Command;
  std::vector<std::string> args(argv + 1, argv + argc);
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
    case Command::VERSION:
      std::cout << "bpftune " << BPFTUNE_VERSION << '\n';
      return 0;
    case Command::HELP:
      std::cout << bpftune::cli::usageText();
      return 0;
  }
  return 2;
}
