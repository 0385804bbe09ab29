#include "priv_writer_route.h"

#include <linux/rtnetlink.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <sstream>

#include "log.h"
#include "route_io.h"
#include "tunable_table.h"

namespace bpftune::actuator {
namespace {

int64_t nowNs() {
  timespec ts{};
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

WriterReply failed(int error) {
  WriterReply reply;
  reply.error = error;
  return reply;
}

// ENOENT on the writer's wire means "no such namespace"; the kernel's own ENOENT (a table, a
// device) is reported as ESRCH so that it never reads as a vanished namespace.
int kernelErrno(const Error& error) {
  int errnum = error.errnum != 0 ? error.errnum : EIO;
  return errnum == ENOENT ? ESRCH : errnum;
}

// The opener's answer passes through: ENOENT is the namespace's absence. Its death is fatal.
Result<int> socketFor(RouteContext& context, uint64_t cookie) {
  auto fd = context.sockets.get(cookie, nowNs());
  if (!fd && fd.error().errnum == EPIPE) {
    log::error("privileged writer: the netns opener is gone; exiting");
    ::_exit(1);
  }
  return fd;
}

int64_t algOf(const std::optional<RouteEntry>& ours) {
  if (!ours) {
    return static_cast<int64_t>(proto::CongAlg::NONE);
  }
  auto alg = policy::congAlgFromName(ours->ccAlgo);
  return alg ? static_cast<int64_t>(*alg) : ALG_FOREIGN;
}

WireNexthop describe(const std::optional<RouteEntry>& route, const std::string& ifname) {
  if (!route) {
    return WireNexthop{};
  }
  const RouteEntry& r = *route;
  WireNexthop wire = toWire({r.table, r.gateway, r.oif, {}, r.prefsrc, r.dstLen});
  for (size_t i = 0; i < ifname.size() && i + 1 < wire.ifname.size(); ++i) {
    wire.ifname[i] = ifname[i];
  }
  wire.type = r.type;
  wire.protocol = r.protocol;
  const bool plain = !r.complexNexthop && !r.encap && !r.realm;
  wire.flags = static_cast<uint8_t>((plain ? NEXTHOP_SINGLE : 0) | (r.encap ? NEXTHOP_ENCAP : 0) |
                                    (r.realm ? NEXTHOP_REALM : 0) |
                                    (!r.ccAlgo.empty() || r.ccLocked ? NEXTHOP_CONGCTL : 0) |
                                    ((r.flags & RTNH_F_ONLINK) != 0 ? NEXTHOP_ONLINK : 0));
  wire.priority = r.priority;
  return wire;
}

WireNexthop describeCovering(const HostRouteView& view) {
  return describe(view.covering, view.coveringIfname);
}

bool sameNexthop(const WireNexthop& expected, const WireNexthop& found) {
  return expected.table == found.table && expected.oif == found.oif &&
         expected.gateway == found.gateway && expected.prefsrc == found.prefsrc &&
         expected.coveringLen == found.coveringLen;
}

// Listed in tcp_available_congestion_control; unknown when the file was not readable.
bool available(const RouteContext& context, std::string_view name) {
  if (!context.available.valid()) {
    return true;  // the kernel refuses a name it does not know with EINVAL
  }
  char buf[512];
  ssize_t n = ::pread(context.available.get(), buf, sizeof(buf) - 1, 0);
  if (n <= 0) {
    return false;
  }
  std::istringstream in(std::string(buf, static_cast<size_t>(n)));
  std::string word;
  while (in >> word) {
    if (word == name) {
      return true;
    }
  }
  return false;
}

WriterReply refuse(const SetHostRoute& command, int error, const std::string& why) {
  log::warning("privileged writer: host route for " + command.target.host.text() + " in netns " +
               std::to_string(command.target.netnsCookie) + " refused: " + why);
  return failed(error);
}

// Why the covering route cannot give bpftune's route its nexthop (0: it can). EEXIST: the
// administrator decided for the host (a host route of theirs, or congctl on the covering route).
int coveringRefusal(const HostRouteView& view, const HostAddress& host, std::string& why) {
  const RouteEntry* c = view.covering ? &*view.covering : nullptr;
  if (c == nullptr) {
    why = "no covering route";
    return EINVAL;
  }
  if (c->dstLen == host.length() * 8) {
    why = "an administrator's host route (protocol " + std::to_string(c->protocol) + ") wins";
    return EEXIST;
  }
  if (!c->ccAlgo.empty() || c->ccLocked) {
    why = "the covering route carries congctl " + (c->ccAlgo.empty() ? "(locked)" : c->ccAlgo) +
          ", the administrator's choice for its hosts";
    return EEXIST;
  }
  if (c->type != RTN_UNICAST || c->complexNexthop || c->oif == 0) {
    why = "no covering unicast route with a single nexthop";
    return EINVAL;
  }
  if (c->encap || c->realm) {
    why = std::string("the covering route has ") +
          (c->encap ? "a tunnel encapsulation" : "a realm") + ", which a copy would bypass";
    return EINVAL;
  }
  return 0;
}

}  // namespace

WriterReply executeRoute(RouteContext& context, const LookupHostRoute& command) {
  auto fd = socketFor(context, command.target.netnsCookie);
  if (!fd) {
    return failed(fd.error().errnum != 0 ? fd.error().errnum : EIO);
  }
  auto view = lookupHostRoute(*fd, command.target.host, context.nextSeq);
  if (!view) {
    return failed(kernelErrno(view.error()));
  }
  WriterReply reply;
  reply.routeError = view->routeError;
  reply.ourAlg = static_cast<uint32_t>(algOf(view->ours));
  reply.ourTable = view->ours ? view->ours->table : 0;
  reply.ours = describe(view->ours, "");
  reply.covering = describeCovering(*view);
  return reply;
}

WriterReply executeRoute(RouteContext& context, const SetHostRoute& command) {
  const HostAddress& host = command.target.host;
  auto fd = socketFor(context, command.target.netnsCookie);
  if (!fd) {
    return failed(fd.error().errnum != 0 ? fd.error().errnum : EIO);
  }
  auto view = lookupHostRoute(*fd, host, context.nextSeq);
  if (!view) {
    return failed(kernelErrno(view.error()));
  }
  WriterReply reply;
  reply.covering = describeCovering(*view);
  std::string why;
  if (int error = coveringRefusal(*view, host, why); error != 0) {
    return refuse(command, error, why);
  }
  if (algOf(view->ours) != command.expectedAlg ||
      (view->ours && view->ours->table != view->covering->table)) {
    return refuse(command, ESTALE, "bpftune's route is not the one the actuator expected");
  }
  if (!sameNexthop(command.nexthop, reply.covering)) {
    return refuse(command, ESTALE, "the covering nexthop is not the one the actuator journaled");
  }
  if (!available(context, command.name)) {
    return refuse(command, EINVAL, std::string(command.name) + " is not available");
  }
  Status added = addHostRoute(
      *fd, host, *view->covering, command.name, view->ours.has_value(), context.nextSeq);
  reply.error = added ? 0 : kernelErrno(added.error());
  return reply;
}

WriterReply executeRoute(RouteContext& context, const DeleteHostRoute& command) {
  auto fd = socketFor(context, command.target.netnsCookie);
  if (!fd) {
    return failed(fd.error().errnum != 0 ? fd.error().errnum : EIO);
  }
  Status deleted = deleteHostRoute(*fd, command.target.host, command.table, context.nextSeq);
  return failed(deleted ? 0 : kernelErrno(deleted.error()));
}

}  // namespace bpftune::actuator
