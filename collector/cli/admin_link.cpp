#include "admin_link.h"

#include "client.h"

namespace bpftune::cli {

bool actuatorAnswers(const std::string& adminSocket) {
  auto reply = actuator::pingActuator(adminSocket);
  return reply && reply->status == proto::Status::OK;
}

Result<std::string> requestRollback(const std::string& adminSocket) {
  auto reply = actuator::requestRollback(adminSocket);
  if (!reply) {
    return reply.error();
  }
  if (reply->status != proto::Status::OK) {
    return makeError("the actuator answered " + actuator::statusName(reply->status) + ": " +
                     reply->reason);
  }
  return reply->reason;
}

}  // namespace bpftune::cli
