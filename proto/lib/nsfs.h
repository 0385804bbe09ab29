// Network namespace files, shared by the collector, the actuator's netns opener and the CLI:
// parsing /proc/self/mountinfo (pure) for bind-mounted network namespaces (nsfs mounts whose root
// is "net:[INODE]") and the cgroup v2 mount, and asking an nsfs file for its namespace id
// (ioctl NS_GET_ID, which equals the netns cookie, SO_NETNS_COOKIE).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "result.h"

namespace bpftune::nsfs {

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

// The whole of /proc/self/mountinfo.
Result<std::string> readMountinfo();

// NS_GET_ID of an open nsfs file of a network namespace: its cookie.
Result<uint64_t> netnsCookieOfFd(int nsFd);
// The same for a path (O_NONBLOCK, O_NOFOLLOW: a mount point is the nsfs file itself); the
// descriptor is closed before returning. Needs no privilege: nsfs files are world-readable.
Result<uint64_t> netnsCookieOfFile(const std::string& path);

}  // namespace bpftune::nsfs
