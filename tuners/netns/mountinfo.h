// Parsing /proc/self/mountinfo (pure): bind-mounted network namespaces (nsfs mounts whose root is
// "net:[INODE]") and the cgroup v2 mount the sysctl watch attaches to.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace bpftune::tuners::netns {

struct NsfsMount {
  uint32_t inum = 0;
  std::string mountPoint;  // unescaped (\040 -> ' ')
};

// Every nsfs mount of a network namespace, in file order (a namespace can be mounted twice).
std::vector<NsfsMount> parseNetnsMounts(std::string_view mountinfo);

// Mount point of the first cgroup2 mount, if any.
std::optional<std::string> findCgroup2Mount(std::string_view mountinfo);

// The kernel escapes ' ', '\t', '\n' and '\\' in mountinfo paths as \ooo.
std::string unescapeMountPath(std::string_view field);

}  // namespace bpftune::tuners::netns
