#include "fd_passing.h"

#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace bpftune::actuator {

ssize_t sendWithFds(int sock, const void* data, size_t len, const std::vector<int>& fds) {
  iovec iov{const_cast<void*>(data), len};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * MAX_PASSED_FDS)] = {};
  if (fds.size() > MAX_PASSED_FDS) {
    errno = EINVAL;
    return -1;
  }
  if (!fds.empty()) {
    msg.msg_control = control;
    msg.msg_controllen = CMSG_SPACE(sizeof(int) * fds.size());
    cmsghdr* cmsg = CMSG_FIRSTHDR(&msg);
    cmsg->cmsg_level = SOL_SOCKET;
    cmsg->cmsg_type = SCM_RIGHTS;
    cmsg->cmsg_len = CMSG_LEN(sizeof(int) * fds.size());
    std::memcpy(CMSG_DATA(cmsg), fds.data(), sizeof(int) * fds.size());
  }
  return ::sendmsg(sock, &msg, MSG_NOSIGNAL);
}

Received receiveWithFds(
    int sock, void* data, size_t len, size_t maxFds, std::vector<UniqueFd>& fds) {
  iovec iov{data, len};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * MAX_PASSED_FDS)] = {};
  msg.msg_control = control;
  msg.msg_controllen = CMSG_SPACE(sizeof(int) * std::min(maxFds, MAX_PASSED_FDS));
  Received got;
  do {
    got.bytes = ::recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
  } while (got.bytes < 0 && errno == EINTR);
  if (got.bytes < 0) {
    return got;
  }
  for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) {
      continue;
    }
    size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    for (size_t i = 0; i < count; ++i) {
      int fd = -1;
      std::memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
      fds.emplace_back(fd);
    }
  }
  got.controlTruncated = (msg.msg_flags & MSG_CTRUNC) != 0;
  return got;
}

}  // namespace bpftune::actuator
