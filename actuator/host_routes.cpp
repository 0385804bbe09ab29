#include "host_routes.h"

#include <linux/rtnetlink.h>

#include <cstring>

namespace bpftune::actuator {

bool isAdminHostRoute(const RouteLookup& lookup, const HostAddress& host) {
  return lookup.coveringType != RTN_UNSPEC && lookup.covering.coveringLen == host.length() * 8;
}

bool isAdminCongctl(const RouteLookup& lookup) {
  return lookup.coveringType != RTN_UNSPEC && lookup.coveringCongctl;
}

bool isNexthopStale(const RouteLookup& lookup) {
  const auto& ours = lookup.ourNexthop;
  const auto& covering = lookup.covering;
  return lookup.ourAlg != 0 && lookup.coveringType == RTN_UNICAST && lookup.singleNexthop &&
         (ours.table != covering.table || ours.oif != covering.oif ||
          ours.gateway != covering.gateway || ours.prefsrc != covering.prefsrc ||
          lookup.ourOnlink != lookup.coveringOnlink);
}

std::string coveringProblem(const RouteLookup& lookup, const HostAddress& host) {
  const std::string where = "hostAddress: " + host.text() + ": ";
  if (lookup.coveringType == RTN_UNSPEC) {
    return where + "no route for it" +
           (lookup.routeError != 0 ? " (" + std::string(std::strerror(lookup.routeError)) + ")"
                                   : std::string()) +
           ", so no nexthop to copy";
  }
  if (lookup.coveringType != RTN_UNICAST) {
    return where + "its route (" + coveringText(lookup) + ") is of type " +
           std::to_string(lookup.coveringType) + ", not unicast";
  }
  if (lookup.encap) {
    return where + "its route (" + coveringText(lookup) +
           ") sends it through a tunnel encapsulation (MPLS, SRv6, BPF, ip/ip6 metadata); a "
           "route of bpftune's would bypass it, so bpftune leaves the host alone";
  }
  if (lookup.realm) {
    return where + "its route (" + coveringText(lookup) +
           ") has a realm that traffic policy classifies on; a route of bpftune's would drop it, "
           "so bpftune leaves the host alone";
  }
  if (!lookup.singleNexthop) {
    return where + "its route (" + coveringText(lookup) +
           ") has several nexthops, a gateway of another family or a nexthop object; bpftune "
           "copies single nexthops only";
  }
  if (lookup.covering.oif == 0) {
    return where + "its route (" + coveringText(lookup) + ") names no device";
  }
  return "";
}

std::string coveringText(const RouteLookup& lookup) {
  const auto& c = lookup.covering;
  std::string text = "table " + std::to_string(c.table);
  if (!c.gateway.empty()) {
    text += " via " + c.gateway.text();
  }
  if (c.oif != 0) {
    text += " dev " + (c.ifname.empty() ? "?" : c.ifname) + " (" + std::to_string(c.oif) + ")";
  }
  if (!c.prefsrc.empty()) {
    text += " src " + c.prefsrc.text();
  }
  return text + " proto " + std::to_string(lookup.coveringProtocol) + " metric " +
         std::to_string(lookup.coveringPriority) + " /" + std::to_string(c.coveringLen);
}

}  // namespace bpftune::actuator
