// The seccomp filters kill what the actuator and its privileged writer never need. Every deny is
// paired with an allow so a filter that kills everything cannot pass. Death tests re-execute the
// binary ("threadsafe") so no filter leaks into the runner.
#include "jail.h"

#include <fcntl.h>
#include <linux/netlink.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include <gtest/gtest.h>

#include "neigh_table_io.h"
#include "unique_fd.h"

namespace bpftune::actuator {
namespace {

int openSysnet() {
  return ::open("/proc/sys/net", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
}

// Builds and loads the real filter for `sysnet` or exits 99 (so a setup failure is not a pass).
void loadFilter(int sysnet) {
  auto filter = SeccompFilter::build(sysnet);
  if (!filter.ok() || !filter->load().ok()) {
    _exit(99);
  }
}

class Jail : public ::testing::Test {
protected:
  void SetUp() override {
    GTEST_FLAG_SET(death_test_style, "threadsafe");
    sysnet = openSysnet();
    ASSERT_GE(sysnet, 0);
  }
  void TearDown() override { close(sysnet); }
  int sysnet = -1;
};

TEST_F(Jail, OpenatBelowSysnetIsAllowed) {
  EXPECT_EXIT(
      {
        loadFilter(sysnet);
        int fd = openat(sysnet, "ipv4/tcp_rmem", O_RDONLY | O_CLOEXEC);
        char buf[64];
        _exit(fd >= 0 && pread(fd, buf, sizeof(buf), 0) > 0 ? 0 : 1);
      },
      ::testing::ExitedWithCode(0),
      "");
}

TEST_F(Jail, OpenatElsewhereKills) {
  EXPECT_EXIT(
      {
        loadFilter(sysnet);
        openat(AT_FDCWD, "/etc/hostname", O_RDONLY | O_CLOEXEC);
        _exit(0);
      },
      ::testing::KilledBySignal(SIGSYS),
      "");
}

TEST_F(Jail, OpenatWithCreateKills) {
  EXPECT_EXIT(
      {
        loadFilter(sysnet);
        openat(sysnet, "x", O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
        _exit(0);
      },
      ::testing::KilledBySignal(SIGSYS),
      "");
}

TEST_F(Jail, OpenatForWritingBelowSysnetIsAllowed) {
  // The kernel may refuse (EACCES) without CAP_NET_ADMIN; the filter must not kill.
  EXPECT_EXIT(
      {
        loadFilter(sysnet);
        openat(sysnet, "ipv4/tcp_rmem", O_WRONLY | O_CLOEXEC);
        _exit(0);
      },
      ::testing::ExitedWithCode(0),
      "");
}

TEST_F(Jail, InetSocketKills) {
  EXPECT_EXIT(
      {
        loadFilter(sysnet);
        socket(AF_INET, SOCK_STREAM, 0);
        _exit(0);
      },
      ::testing::KilledBySignal(SIGSYS),
      "");
}

// The actuator creates no socket at all since the privileged writer sends the neighbour
// thresholds: not even the NETLINK_ROUTE socket it used to (with CAP_NET_ADMIN, any rtnetlink
// request: routes, links, addresses).
TEST_F(Jail, NetlinkSocketsKill) {
  EXPECT_EXIT(
      {
        loadFilter(sysnet);
        socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
        _exit(0);
      },
      ::testing::KilledBySignal(SIGSYS),
      "");
  EXPECT_EXIT(
      {
        loadFilter(sysnet);
        socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_GENERIC);
        _exit(0);
      },
      ::testing::KilledBySignal(SIGSYS),
      "");
}

// The actuator's side of a writer round trip: send (sendto) and recvmsg; true when 'r' came back.
bool roundTrip(int fd) {
  char c = 0;
  iovec iov{&c, 1};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  return send(fd, "q", 1, MSG_NOSIGNAL) == 1 && recvmsg(fd, &msg, 0) == 1 && c == 'r';
}

TEST_F(Jail, SocketpairRoundTripIsAllowed) {
  int pair[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, pair), 0);
  ASSERT_EQ(send(pair[1], "r", 1, 0), 1);
  EXPECT_EXIT(
      {
        loadFilter(sysnet);
        _exit(roundTrip(pair[0]) ? 0 : 1);
      },
      ::testing::ExitedWithCode(0),
      "");
  close(pair[0]);
  close(pair[1]);
}

TEST_F(Jail, PeercredIsAllowedOtherSockoptsKill) {
  int pair[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, pair), 0);
  EXPECT_EXIT(
      {
        loadFilter(sysnet);
        ucred cred{};
        socklen_t len = sizeof(cred);
        _exit(getsockopt(pair[0], SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0 ? 0 : 1);
      },
      ::testing::ExitedWithCode(0),
      "");
  EXPECT_EXIT(
      {
        loadFilter(sysnet);
        int value = 0;
        socklen_t len = sizeof(value);
        getsockopt(pair[0], SOL_SOCKET, SO_RCVBUF, &value, &len);
        _exit(0);
      },
      ::testing::KilledBySignal(SIGSYS),
      "");
  close(pair[0]);
  close(pair[1]);
}

TEST_F(Jail, ExecutableMemoryKills) {
  EXPECT_EXIT(
      {
        loadFilter(sysnet);
        void* p = mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        _exit(p != MAP_FAILED ? 0 : 1);
      },
      ::testing::ExitedWithCode(0),
      "");
  EXPECT_EXIT(
      {
        loadFilter(sysnet);
        mmap(nullptr, 4096, PROT_READ | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        _exit(0);
      },
      ::testing::KilledBySignal(SIGSYS),
      "");
}

TEST_F(Jail, ExecveKills) {
  EXPECT_EXIT(
      {
        loadFilter(sysnet);
        execl("/bin/true", "true", static_cast<char*>(nullptr));
        _exit(0);
      },
      ::testing::KilledBySignal(SIGSYS),
      "");
}

TEST_F(Jail, NoNewPrivsIsSet) {
  EXPECT_EXIT(
      {
        int status = open("/proc/self/status", O_RDONLY | O_CLOEXEC);
        loadFilter(sysnet);
        char buf[4096] = {};
        ssize_t n = pread(status, buf, sizeof(buf) - 1, 0);
        _exit(n > 0 && std::strstr(buf, "NoNewPrivs:\t1") != nullptr &&
                      std::strstr(buf, "Seccomp:\t2")
                  ? 0
                  : 1);
      },
      ::testing::ExitedWithCode(0),
      "");
}

TEST_F(Jail, DigestIsStableAndCoversTheDirfd) {
  auto a = SeccompFilter::build(sysnet);
  auto b = SeccompFilter::build(sysnet);
  auto c = SeccompFilter::build(sysnet + 100);
  ASSERT_TRUE(a.ok() && b.ok() && c.ok());
  EXPECT_EQ(a->digest().size(), 32U);
  EXPECT_EQ(a->digest(), b->digest());
  EXPECT_NE(a->digest(), c->digest());
}

TEST_F(Jail, DefaultAndBadArchActionsKillTheProcess) {
  auto filter = SeccompFilter::build(sysnet);
  ASSERT_TRUE(filter.ok());
  UniqueFd out(memfd_create("pfc", MFD_CLOEXEC));
  ASSERT_TRUE(filter->exportPfc(out.get()).ok());
  std::string pfc(65536, '\0');
  ssize_t n = pread(out.get(), pfc.data(), pfc.size(), 0);
  ASSERT_GT(n, 0);
  pfc.resize(static_cast<size_t>(n));
  EXPECT_NE(pfc.find("# default action\n  action KILL_PROCESS;"), std::string::npos) << pfc;
  EXPECT_NE(pfc.find("# invalid architecture action\naction KILL_PROCESS;"), std::string::npos)
      << pfc;
}

// The privileged writer's filter ---------------------------------------------------------------

// Builds and loads the writer's filter (pwrite64 only on flagFd) or exits 99.
void loadWriterFilter(int flagFd) {
  auto filter = SeccompFilter::buildWriter(flagFd);
  if (!filter.ok() || !filter->load().ok()) {
    _exit(99);
  }
}

int scratchFd() {
  return memfd_create("flag", MFD_CLOEXEC);
}

// The thresholds' whole rtnetlink round trip runs under the writer's filter. The table name
// matches no table, so the kernel answers ENOENT (EPERM without CAP_NET_ADMIN) and nothing
// changes; either answer proves socket, sendto, poll, recvmsg and close were allowed.
TEST(WriterJail, RtnetlinkNeighTableRoundTripIsAllowed) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(
      {
        loadWriterFilter(-1);
        Status written = sendSetNeighTable("bpftune_no_table", Values{128, 512, 1024}, 1);
        int errnum = written ? 0 : written.error().errnum;
        _exit(errnum == ENOENT || errnum == EPERM ? 0 : 1);
      },
      ::testing::ExitedWithCode(0),
      "");
}

TEST(WriterJail, EveryOtherSocketKills) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  struct Kind {
    int domain, type, protocol;
  };
  for (Kind k : {Kind{AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_GENERIC},
                 Kind{AF_NETLINK, SOCK_RAW, NETLINK_ROUTE},  // without SOCK_CLOEXEC
                 Kind{AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_ROUTE},
                 Kind{AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0},
                 Kind{AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0}}) {
    EXPECT_EXIT(
        {
          loadWriterFilter(-1);
          socket(k.domain, k.type, k.protocol);
          _exit(0);
        },
        ::testing::KilledBySignal(SIGSYS),
        "")
        << k.domain << " " << k.type << " " << k.protocol;
  }
}

TEST(WriterJail, PwriteOnlyToTheFlag) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  UniqueFd flag(scratchFd());
  UniqueFd other(scratchFd());
  ASSERT_TRUE(flag.valid() && other.valid());
  EXPECT_EXIT(
      {
        loadWriterFilter(flag.get());
        _exit(pwrite(flag.get(), "1\n", 2, 0) == 2 ? 0 : 1);
      },
      ::testing::ExitedWithCode(0),
      "");
  EXPECT_EXIT(
      {
        loadWriterFilter(flag.get());
        ssize_t ignored = pwrite(other.get(), "1\n", 2, 0);
        (void)ignored;
        _exit(0);
      },
      ::testing::KilledBySignal(SIGSYS),
      "");
  EXPECT_EXIT(
      {
        loadWriterFilter(-1);  // the flag could not be opened: no pwrite at all
        ssize_t ignored = pwrite(flag.get(), "1\n", 2, 0);
        (void)ignored;
        _exit(0);
      },
      ::testing::KilledBySignal(SIGSYS),
      "");
}

TEST(WriterJail, WriteOnlyToStderr) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  UniqueFd other(scratchFd());
  ASSERT_TRUE(other.valid());
  EXPECT_EXIT(
      {
        loadWriterFilter(-1);
        _exit(write(STDERR_FILENO, "x\n", 2) == 2 ? 0 : 1);
      },
      ::testing::ExitedWithCode(0),
      "");
  EXPECT_EXIT(
      {
        loadWriterFilter(-1);
        ssize_t ignored = write(other.get(), "x", 1);
        (void)ignored;
        _exit(0);
      },
      ::testing::KilledBySignal(SIGSYS),
      "");
}

TEST(WriterJail, OpenExecAndExecutableMemoryKill) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(
      {
        loadWriterFilter(-1);
        openat(AT_FDCWD, "/proc/sys/net/core/somaxconn", O_WRONLY | O_CLOEXEC);
        _exit(0);
      },
      ::testing::KilledBySignal(SIGSYS),
      "");
  EXPECT_EXIT(
      {
        loadWriterFilter(-1);
        execl("/bin/true", "true", static_cast<char*>(nullptr));
        _exit(0);
      },
      ::testing::KilledBySignal(SIGSYS),
      "");
  EXPECT_EXIT(
      {
        loadWriterFilter(-1);
        void* p = mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED) {
          _exit(1);
        }
        mmap(nullptr, 4096, PROT_READ | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        _exit(0);
      },
      ::testing::KilledBySignal(SIGSYS),
      "");
}

TEST(WriterJail, DefaultAndBadArchActionsKillTheProcess) {
  auto filter = SeccompFilter::buildWriter(5);
  ASSERT_TRUE(filter.ok());
  UniqueFd out(memfd_create("pfc", MFD_CLOEXEC));
  ASSERT_TRUE(filter->exportPfc(out.get()).ok());
  std::string pfc(65536, '\0');
  ssize_t n = pread(out.get(), pfc.data(), pfc.size(), 0);
  ASSERT_GT(n, 0);
  pfc.resize(static_cast<size_t>(n));
  EXPECT_NE(pfc.find("# default action\n  action KILL_PROCESS;"), std::string::npos) << pfc;
  EXPECT_NE(pfc.find("# invalid architecture action\naction KILL_PROCESS;"), std::string::npos)
      << pfc;
}

// The helpers daemon's filter ------------------------------------------------------------------

void loadHelpersDaemonFilter() {
  auto filter = SeccompFilter::buildHelpersDaemon();
  if (!filter.ok() || !filter->load().ok()) {
    _exit(99);
  }
}

// Its whole job after the fork: SO_PEERCRED of a peer, one descriptor passed, a child reaped.
// Exit code 0 when all three worked under the filter.
[[noreturn]] void peercredSendAndReap() {
  int pair[2];
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair) != 0) {
    _exit(99);
  }
  pid_t child = fork();
  if (child == 0) {
    _exit(0);
  }
  loadHelpersDaemonFilter();
  ucred cred{};
  socklen_t len = sizeof(cred);
  if (getsockopt(pair[0], SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) {
    _exit(1);
  }
  char byte = 0;
  iovec iov{&byte, 1};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
  msg.msg_control = control;
  msg.msg_controllen = sizeof(control);
  cmsghdr* c = CMSG_FIRSTHDR(&msg);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_RIGHTS;
  c->cmsg_len = CMSG_LEN(sizeof(int));
  std::memcpy(CMSG_DATA(c), &pair[0], sizeof(int));
  if (sendmsg(pair[0], &msg, MSG_NOSIGNAL) != 1) {
    _exit(2);
  }
  int status = 0;
  _exit(waitpid(child, &status, 0) == child ? 0 : 3);
}

TEST(HelpersDaemonJail, PeercredSendmsgAndWaitAreAllowed) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(peercredSendAndReap(), ::testing::ExitedWithCode(0), "");
}

TEST(HelpersDaemonJail, SocketOpenAndExecKill) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(
      {
        loadHelpersDaemonFilter();
        socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
        _exit(0);
      },
      ::testing::KilledBySignal(SIGSYS),
      "");
  EXPECT_EXIT(
      {
        loadHelpersDaemonFilter();
        open("/proc/sys/net/core/somaxconn", O_RDONLY | O_CLOEXEC);
        _exit(0);
      },
      ::testing::KilledBySignal(SIGSYS),
      "");
  EXPECT_EXIT(
      {
        loadHelpersDaemonFilter();
        char* argv[] = {nullptr};
        execve("/bin/true", argv, argv);
        _exit(0);
      },
      ::testing::KilledBySignal(SIGSYS),
      "");
  EXPECT_EXIT(
      {
        loadHelpersDaemonFilter();
        int value = 1;
        setsockopt(0, SOL_SOCKET, SO_REUSEADDR, &value, sizeof(value));
        _exit(0);
      },
      ::testing::KilledBySignal(SIGSYS),
      "");
}

TEST_F(Jail, DropPrivilegesKeepsOnlyNetAdmin) {
  if (geteuid() != 0) {
    const char* ci = std::getenv("CI");
    if (ci != nullptr && std::string(ci) == "true") {
      FAIL() << "needs root to change uid (CI=true: a skip is a failure)";
    }
    std::puts("SKIP: needs root to change uid");
    GTEST_SKIP();
  }
  EXPECT_EXIT(
      {
        int status = open("/proc/self/status", O_RDONLY | O_CLOEXEC);
        if (!dropPrivileges(Identity{65534, 65534}).ok()) {
          _exit(2);
        }
        char buf[4096] = {};
        ssize_t n = pread(status, buf, sizeof(buf) - 1, 0);
        bool ok = n > 0 && std::strstr(buf, "CapEff:\t0000000000001000") &&
                  std::strstr(buf, "CapBnd:\t0000000000000000") &&
                  std::strstr(buf, "Uid:\t65534\t65534\t65534\t65534") &&
                  std::strstr(buf, "CapAmb:\t0000000000000000");
        _exit(ok ? 0 : 1);
      },
      ::testing::ExitedWithCode(0),
      "");
}

}  // namespace
}  // namespace bpftune::actuator
