// Reading and writing one sysctl relative to the pre-opened /proc/sys/net directory. Paths come
// from the compiled-in table only; nothing from the wire becomes a path.
#pragma once

#include <array>
#include <cstdint>
#include <string>

#include "result.h"
#include "tunable_table.h"

namespace bpftune::actuator {

using Values = std::array<int64_t, 3>;

Result<Values> readSysctl(int sysnetFd, const policy::TunableInfo& info);
// Returns an Error carrying errno when the kernel refuses the write.
Status writeSysctl(int sysnetFd, const policy::TunableInfo& info, const Values& values);
// The same through an already open sysctl file (a namespace's handle from the netns opener).
Result<Values> readSysctlFd(int fd, const policy::TunableInfo& info);
Status writeSysctlFd(int fd, const policy::TunableInfo& info, const Values& values);
std::string formatValues(const Values& values, uint8_t count);  // "v0\tv1\tv2\n"
Result<Values> parseValues(const std::string& text, uint8_t count);

bool sameValues(const Values& a, const Values& b, uint8_t count);

// A STATIC_KEY sysctl: the kernel wants CAP_SYS_ADMIN of the writing task, which the actuator
// does not hold, so the engine asks the privileged writer through this (unit tests: a fake).
class StaticKeyWriter {
public:
  StaticKeyWriter() = default;
  StaticKeyWriter(const StaticKeyWriter&) = delete;
  StaticKeyWriter& operator=(const StaticKeyWriter&) = delete;
  virtual ~StaticKeyWriter() = default;

  virtual Status write(const policy::TunableInfo& info, const Values& values) = 0;
};

// The netns cookie of the namespace this process lives in.
Result<uint64_t> ownNetnsCookie();

}  // namespace bpftune::actuator
