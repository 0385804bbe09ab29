// `ip netns` names of network namespaces, by cookie: /run/netns/NAME opened and asked NS_GET_ID
// (the namespace id equals the netns cookie). Used to print names and to accept them on the
// command line.
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "result.h"

namespace bpftune::cli {

std::map<uint64_t, std::string> netnsNames(const std::string& dir = "/run/netns");

// A cookie given as digits, or the cookie of /run/netns/<text>.
Result<uint64_t> netnsCookieFromArg(const std::string& text, const std::string& dir = "/run/netns");

}  // namespace bpftune::cli
