// One datagram with descriptors attached (SCM_RIGHTS), for the actuator's socketpairs and the
// helpers' handover. Uses only sendmsg/recvmsg, the calls every jailed process here may make.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <vector>

#include "unique_fd.h"

namespace bpftune::actuator {

constexpr size_t MAX_PASSED_FDS = 32;

// Sends `len` bytes of `data` with `fds` (at most MAX_PASSED_FDS; none: a plain datagram).
// Returns sendmsg's result (-1 with errno on failure).
ssize_t sendWithFds(int sock, const void* data, size_t len, const std::vector<int>& fds);

struct Received {
  ssize_t bytes = -1;             // recvmsg's result (EINTR retried)
  bool controlTruncated = false;  // descriptors beyond maxFds were dropped (MSG_CTRUNC)
};

// Receives one datagram into `data` and takes ownership of every descriptor attached (close-on-
// exec), room for `maxFds` of them (at most MAX_PASSED_FDS).
Received receiveWithFds(
    int sock, void* data, size_t len, size_t maxFds, std::vector<UniqueFd>& fds);

}  // namespace bpftune::actuator
