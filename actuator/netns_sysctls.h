// Sysctls of network namespaces other than the actuator's own. The engine talks to the
// interface; production uses CachedNetnsSysctls, unit tests a fake.
#pragma once

#include <cstdint>
#include <unordered_map>

#include "netns_opener.h"
#include "sysctl_io.h"

namespace bpftune::actuator {

class ForeignSysctls {
public:
  ForeignSysctls() = default;
  ForeignSysctls(const ForeignSysctls&) = delete;
  ForeignSysctls& operator=(const ForeignSysctls&) = delete;
  virtual ~ForeignSysctls() = default;

  // ENOENT (errnum) means the namespace does not exist (any more).
  virtual Result<Values> read(uint64_t cookie, const policy::TunableInfo& info) = 0;
  virtual Status write(uint64_t cookie, const policy::TunableInfo& info, const Values& values) = 0;
  virtual uint32_t inode(uint64_t cookie) const = 0;  // 0 when not known
  // Ok when the namespace exists (opening its handles if need be, which also makes its inode
  // known); ENOENT when it does not.
  virtual Status reach(uint64_t cookie) = 0;
};

// Handles per namespace, opened once through the netns opener and kept (LRU, CAPACITY
// namespaces): a write costs one hash lookup and one pwrite however many namespaces exist. A
// handle whose namespace died answers ENOENT; the entry is dropped then, so nothing leaks.
class CachedNetnsSysctls : public ForeignSysctls {
public:
  static constexpr size_t CAPACITY = 256;

  explicit CachedNetnsSysctls(NetnsOpener& opener) : opener(opener) {}

  Result<Values> read(uint64_t cookie, const policy::TunableInfo& info) override;
  Status write(uint64_t cookie, const policy::TunableInfo& info, const Values& values) override;
  uint32_t inode(uint64_t cookie) const override;
  Status reach(uint64_t cookie) override;
  size_t cached() const { return entries.size(); }

private:
  struct Entry {
    NetnsFiles files;
    uint64_t lastUse = 0;
  };
  Result<int> handle(uint64_t cookie, const policy::TunableInfo& info);
  void evictOldest();
  // A per-netns sysctl file of a live namespace always exists: ENOENT means it died.
  Error gone(uint64_t cookie, const Error& error);

  NetnsOpener& opener;
  std::unordered_map<uint64_t, Entry> entries;
  uint64_t clock = 0;
};

}  // namespace bpftune::actuator
