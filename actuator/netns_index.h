// Finds the nsfs file of a network namespace by its cookie, for the netns opener. Sources: nsfs
// bind mounts (ip netns, container runtimes) and /proc/<pid>/ns/net. The ioctl NS_GET_ID on an
// nsfs file returns the namespace id, which equals the netns cookie (SO_NETNS_COOKIE), so no
// setns is needed to identify a namespace. Where a cookie was found is remembered: the next
// lookup opens one file; a full scan happens only for a cookie not seen (or moved) since.
#pragma once

#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

#include "result.h"
#include "unique_fd.h"

namespace bpftune::actuator {

struct OpenedNetns {
  UniqueFd fd;
  uint32_t inode = 0;
};

class NetnsIndex {
public:
  // The namespace whose cookie is `cookie`, opened read-only. ENOENT: no mount or process holds
  // it (it is gone, or only sockets or open files keep it).
  Result<OpenedNetns> open(uint64_t cookie);
  size_t scans() const { return scanCount; }

private:
  Result<OpenedNetns> tryPath(const std::string& path, uint64_t cookie);
  Result<OpenedNetns> scanMounts(uint64_t cookie, std::vector<uint32_t>& seen);
  Result<OpenedNetns> scanProcesses(uint64_t cookie, std::vector<uint32_t>& seen);
  // Records the cookie behind `path`; returns the opened file when it is the wanted one.
  Result<OpenedNetns> consider(const std::string& path, uint64_t wanted);

  std::unordered_map<uint64_t, std::string> where;
  size_t scanCount = 0;
};

}  // namespace bpftune::actuator
