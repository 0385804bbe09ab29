// Dropping to the collector's runtime identity once BPF is loaded and attached.
#pragma once

#include <string>

#include "result.h"

namespace bpftune::collector {

// As root: keep exactly CAP_BPF + CAP_PERFMON (effective + permitted), clear the bounding set and
// supplementary groups, switch to `user`, and set no_new_privs. As non-root: require those two
// capabilities and drop everything else without changing uid.
Status dropPrivileges(const std::string& user);

}  // namespace bpftune::collector
