// One function per subcommand; each returns the process exit code.
#pragma once

#include "options.h"

namespace bpftune::cli {

int runCommand(const Options& options);
int statusCommand(const Options& options);
int journalCommand(const Options& options);
int verifyCommand(const Options& options);
int rollbackCommand(const Options& options);
int supportCommand(const Options& options);
int summaryCommand(const Options& options);
int exportCommand(const Options& options);
int resumeCommand(const Options& options);
int adviceCommand(const Options& options);
int applyCommand(const Options& options);
int tunablesCommand(const Options& options);

}  // namespace bpftune::cli
