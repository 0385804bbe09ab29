// The privileged writer's side of the host route ops: it finds the namespace's rtnetlink socket,
// looks the route up itself, checks the actuator's expectations (compare-and-set) and only then
// writes. Runs inside the writer's jail; every refusal is an errno in the reply.
#pragma once

#include <cstdint>

#include "priv_writer.h"
#include "rtnl_sockets.h"
#include "unique_fd.h"

namespace bpftune::actuator {

struct RouteContext {
  RtnlSockets sockets;
  // /proc/sys/net/ipv4/tcp_available_congestion_control, opened before the filter (invalid:
  // unreadable; the kernel still refuses a name it does not know).
  UniqueFd available;
  uint32_t nextSeq = 1;
};

WriterReply executeRoute(RouteContext& context, const LookupHostRoute& command);
// Errors: ESTALE (bpftune's route or the covering nexthop is not what the actuator journaled),
// EEXIST (an administrator's host route), EINVAL (no single unicast nexthop, algorithm not
// available), ENOENT (no such namespace), else the kernel's errno.
WriterReply executeRoute(RouteContext& context, const SetHostRoute& command);
WriterReply executeRoute(RouteContext& context, const DeleteHostRoute& command);

}  // namespace bpftune::actuator
