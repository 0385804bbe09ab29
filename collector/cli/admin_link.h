// The CLI's side of the actuator's admin socket (uid 0 only).
#pragma once

#include <string>

#include "result.h"

namespace bpftune::cli {

// True once an actuator answers a ping on the admin socket.
bool actuatorAnswers(const std::string& adminSocket);

// Asks the running actuator to roll back; the reply's reason text summarizes what it did.
Result<std::string> requestRollback(const std::string& adminSocket);

}  // namespace bpftune::cli
