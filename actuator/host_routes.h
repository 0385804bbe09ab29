// routeCongctl as the engine sees it: bpftune's own host route per (netns, host) and the route
// the traffic takes without it. Production goes through the privileged writer (WriterHostRoutes
// in priv_writer.h), which derives the nexthop itself; unit tests use a fake.
#pragma once

#include <cstdint>
#include <string>

#include "host_address.h"
#include "journal_record.h"
#include "result.h"

namespace bpftune::actuator {

// routeCongctl's live value when bpftune's route carries an algorithm outside proto::CongAlg
// (or none: someone edited it). Never equal to a value bpftune writes.
constexpr int64_t ALG_FOREIGN = 255;

struct RouteLookup {
  int64_t ourAlg = 0;     // CongAlg on bpftune's route for the host; NONE: no route of ours
  uint32_t ourTable = 0;  // its table (0: none)
  journal::RouteNexthop ourNexthop;  // its nexthop, as copied when it was last written
  // The route traffic to the host takes without bpftune's (coveringType 0: none): its table,
  // nexthop (gateway, oif, ifname, prefsrc) and prefix length, which a new route of ours copies.
  journal::RouteNexthop covering;
  uint8_t coveringType = 0;  // rtm_type: 1 RTN_UNICAST; blackhole, unreachable ... otherwise
  uint8_t coveringProtocol = 0;
  uint32_t coveringPriority = 0;
  bool singleNexthop = true;  // false: multipath, a gateway of another family, a nexthop object
  bool encap = false;  // the nexthop has a tunnel encapsulation (singleNexthop is then false)
  bool realm = false;  // the route has a realm (RTA_FLOW) (singleNexthop is then false)
  // The covering route carries congctl itself: the administrator chose the hosts' algorithm.
  bool coveringCongctl = false;
  // RTNH_F_ONLINK on the covering route and on bpftune's (copied with the gateway; not journaled).
  bool coveringOnlink = false;
  bool ourOnlink = false;
  int32_t routeError = 0;  // the kernel's errno when it has no route for the host at all
};

// The covering route is itself a host route (not bpftune's): an administrator's, which wins.
bool isAdminHostRoute(const RouteLookup& lookup, const HostAddress& host);
// The covering route carries an administrator's congctl, which bpftune's route would override.
bool isAdminCongctl(const RouteLookup& lookup);
// bpftune's route still sends the host to the nexthop it copied, but the covering route has
// moved on (another table, gateway, device, preferred source or onlink flag): the next write for
// the host, or the actuator's periodic follow (Engine::followRoutes), copies the new one.
bool isNexthopStale(const RouteLookup& lookup);
// Why bpftune cannot put a route of its own for `host` (empty: it can): no route, not unicast,
// not a single plain nexthop (several, a tunnel encapsulation, a realm). Names the field
// ("hostAddress").
std::string coveringProblem(const RouteLookup& lookup, const HostAddress& host);
// "table 254 via 10.0.0.1 dev eth0 (2) proto 3 metric 0 /24" for logs and reasons.
std::string coveringText(const RouteLookup& lookup);

class HostRoutes {
public:
  HostRoutes() = default;
  HostRoutes(const HostRoutes&) = delete;
  HostRoutes& operator=(const HostRoutes&) = delete;
  virtual ~HostRoutes() = default;

  // ENOENT (errnum): the namespace does not exist (any more). No route is not an error.
  virtual Result<RouteLookup> lookup(uint64_t cookie, const HostAddress& host) = 0;
  // Puts bpftune's route carrying `alg` (a CongAlg, not NONE). Compare-and-set: refused unless
  // bpftune's route carries `expectedAlg` now (NONE: there is none) and the covering nexthop is
  // still `nexthop` (what the actuator journaled).
  virtual Status set(uint64_t cookie,
                     const HostAddress& host,
                     int64_t alg,
                     int64_t expectedAlg,
                     const journal::RouteNexthop& nexthop) = 0;
  // Deletes bpftune's route for `host` in `table`; Ok when there is none.
  virtual Status remove(uint64_t cookie, const HostAddress& host, uint32_t table) = 0;
};

}  // namespace bpftune::actuator
