// The actuator's side of the helpers handover: it takes exactly two channels from a daemon of its
// own uid, refuses anything else with a reason, and waits for a socket that is not there yet.
#include "helpers.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>

#include <gtest/gtest.h>

#include "server.h"
#include "unique_fd.h"

namespace bpftune::actuator {
namespace {

class Handover : public ::testing::Test {
protected:
  void SetUp() override {
    char tmpl[] = "/tmp/bpftune-helpers-test.XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir = tmpl;
    path = dir + "/helpers.sock";
  }
  void TearDown() override {
    ::unlink(path.c_str());
    ::rmdir(dir.c_str());
  }
  UniqueFd listen() {
    auto fd = listenSeqpacket({path, getuid(), getgid(), 0600});
    EXPECT_TRUE(fd.ok());
    return fd ? std::move(*fd) : UniqueFd();
  }
  std::string dir;
  std::string path;
};

TEST_F(Handover, TakesTwoChannelsAndThePids) {
  UniqueFd listenFd = listen();
  std::thread daemon([&] {
    int fd = listenFd.get();
    // listenSeqpacket makes a non-blocking socket: wait for the peer.
    for (int i = 0; i < 100; ++i) {
      UniqueFd conn(::accept4(fd, nullptr, nullptr, SOCK_CLOEXEC));
      if (conn.valid()) {
        int pair[2][2];
        ASSERT_EQ(::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair[0]), 0);
        ASSERT_EQ(::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair[1]), 0);
        HelperHandover handover{1234, 5678};
        iovec iov{&handover, sizeof(handover)};
        msghdr msg{};
        msg.msg_iov = &iov;
        msg.msg_iovlen = 1;
        alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * 2)] = {};
        msg.msg_control = control;
        msg.msg_controllen = sizeof(control);
        cmsghdr* c = CMSG_FIRSTHDR(&msg);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof(int) * 2);
        int ends[2] = {pair[0][0], pair[1][0]};
        std::memcpy(CMSG_DATA(c), ends, sizeof(ends));
        ASSERT_EQ(::sendmsg(conn.get(), &msg, MSG_NOSIGNAL),
                  static_cast<ssize_t>(sizeof(handover)));
        for (auto& p : pair) {
          ::close(p[0]);
          ::close(p[1]);
        }
        return;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    ADD_FAILURE() << "no peer";
  });
  auto helpers = adoptHelpers(path, 2000);
  daemon.join();
  ASSERT_TRUE(helpers.ok()) << describe(helpers.error());
  EXPECT_EQ(helpers->opener.pid(), 1234);
  EXPECT_EQ(helpers->writer.pid(), 5678);
}

TEST_F(Handover, OneDescriptorIsAMalformedHandover) {
  UniqueFd listenFd = listen();
  std::thread daemon([&] {
    for (int i = 0; i < 100; ++i) {
      UniqueFd conn(::accept4(listenFd.get(), nullptr, nullptr, SOCK_CLOEXEC));
      if (conn.valid()) {
        HelperHandover handover{1, 2};
        ASSERT_EQ(::send(conn.get(), &handover, sizeof(handover), MSG_NOSIGNAL),
                  static_cast<ssize_t>(sizeof(handover)));
        return;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  });
  auto helpers = adoptHelpers(path, 2000);
  daemon.join();
  ASSERT_FALSE(helpers.ok());
  EXPECT_NE(helpers.error().message.find("malformed handover"), std::string::npos)
      << helpers.error().message;
  EXPECT_NE(helpers.error().message.find("0 descriptors"), std::string::npos)
      << helpers.error().message;
}

TEST_F(Handover, NoDaemonIsAnErrorAfterTheWait) {
  auto start = std::chrono::steady_clock::now();
  auto helpers = adoptHelpers(path, 300);
  auto waited = std::chrono::steady_clock::now() - start;
  ASSERT_FALSE(helpers.ok());
  EXPECT_EQ(helpers.error().errnum, ENOENT);
  EXPECT_NE(helpers.error().message.find("bpftune-helpers.service"), std::string::npos);
  EXPECT_GE(waited, std::chrono::milliseconds(300));
  EXPECT_LT(waited, std::chrono::milliseconds(2000));
}

TEST_F(Handover, ASocketThatAppearsLateIsWaitedFor) {
  std::thread daemon([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    UniqueFd listenFd = listen();
    for (int i = 0; i < 100; ++i) {
      UniqueFd conn(::accept4(listenFd.get(), nullptr, nullptr, SOCK_CLOEXEC));
      if (conn.valid()) {
        return;  // closes without a handover
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  });
  auto helpers = adoptHelpers(path, 3000);
  daemon.join();
  ASSERT_FALSE(helpers.ok());
  // It connected (no ENOENT): the daemon closed without a handover.
  EXPECT_NE(helpers.error().message.find("malformed handover (0 bytes"), std::string::npos)
      << helpers.error().message;
}

}  // namespace
}  // namespace bpftune::actuator
