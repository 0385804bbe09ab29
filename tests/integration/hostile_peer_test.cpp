// The real actuator against hostile and broken peers, in a private network namespace: every bad
// request is refused with a reason naming the field, and the actuator keeps serving.
#include <fcntl.h>
#include <pwd.h>
#include <sched.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <capnp/message.h>
#include <capnp/serialize.h>
#include <gtest/gtest.h>

#include "bpftune.capnp.h"

namespace {

using bpftune::proto::Reply;
using bpftune::proto::Request;
using bpftune::proto::Status;
using bpftune::proto::TunableId;

struct ReplyView {
  bool received = false;
  Status status = Status::OK;
  std::string field;
  std::string reason;
  int64_t bound = 0;
};

uid_t uidOf(const char* name) {
  passwd* entry = getpwnam(name);
  return entry != nullptr ? entry->pw_uid : static_cast<uid_t>(-1);
}

std::string readFile(const std::string& path) {
  std::ifstream file(path);
  std::stringstream text;
  text << file.rdbuf();
  return text.str();
}

class Actuator {
public:
  std::string dir;
  std::string socket;
  pid_t pid = -1;

  void start(const std::string& policy) {
    char pattern[] = "/tmp/bpftune-hostile.XXXXXX";
    dir = mkdtemp(pattern);
    chmod(dir.c_str(), 0755);
    std::string state = dir + "/state";
    mkdir(state.c_str(), 0700);
    std::string policyPath = dir + "/policy";
    std::ofstream(policyPath) << policy;
    socket = dir + "/actuator.sock";
    std::string admin = dir + "/admin.sock";
    std::string journal = state + "/journal";
    const char* binary = std::getenv("BPFTUNE_ACTUATOR");
    ASSERT_NE(binary, nullptr) << "BPFTUNE_ACTUATOR not set";
    std::string log = dir + "/actuator.log";
    pid = fork();
    if (pid == 0) {
      int out = open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
      dup2(out, 2);
      execl(binary,
            binary,
            "--socket",
            socket.c_str(),
            "--admin-socket",
            admin.c_str(),
            "--journal",
            journal.c_str(),
            "--policy",
            policyPath.c_str(),
            nullptr);
      _exit(127);
    }
    for (int i = 0; i < 200 && access(admin.c_str(), F_OK) != 0; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(25));
    }
    ASSERT_EQ(access(socket.c_str(), F_OK), 0) << readFile(log);
  }

  bool alive() const { return pid > 0 && waitpid(pid, nullptr, WNOHANG) == 0; }
  std::string log() const { return readFile(dir + "/actuator.log"); }

  void stop() {
    if (pid > 0) {
      kill(pid, SIGTERM);
      waitpid(pid, nullptr, 0);
      pid = -1;
    }
    if (!dir.empty()) {
      std::string command = "rm -rf " + dir;
      EXPECT_EQ(system(command.c_str()), 0);
    }
  }
};

// SO_PEERCRED records the effective uid at connect(); connecting under a temporary euid is
// enough to be "the collector" or "someone else".
int connectAs(const std::string& path, uid_t uid) {
  int fd = ::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  path.copy(address.sun_path, sizeof(address.sun_path) - 1);
  passwd* entry = getpwuid(uid);
  gid_t gid = entry != nullptr ? entry->pw_gid : 0;
  EXPECT_EQ(setegid(gid), 0);
  EXPECT_EQ(seteuid(uid), 0);
  int rc = connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address));
  EXPECT_EQ(seteuid(0), 0);
  EXPECT_EQ(setegid(0), 0);
  if (rc != 0) {
    close(fd);
    return -1;
  }
  timeval timeout{3, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
  return fd;
}

ReplyView exchange(int fd, const void* data, size_t size) {
  ReplyView view;
  if (send(fd, data, size, MSG_NOSIGNAL) < 0) {
    return view;
  }
  std::vector<capnp::word> buffer(1024);
  ssize_t got = recv(fd, buffer.data(), buffer.size() * sizeof(capnp::word), 0);
  if (got <= 0) {
    return view;
  }
  capnp::FlatArrayMessageReader reader(
      kj::arrayPtr(buffer.data(), static_cast<size_t>(got) / sizeof(capnp::word)));
  auto reply = reader.getRoot<Reply>();
  view.received = true;
  view.status = reply.getStatus();
  view.field = reply.getField();
  view.reason = reply.getReason();
  view.bound = reply.getBound();
  return view;
}

ReplyView exchange(int fd, capnp::MessageBuilder& message) {
  auto words = capnp::messageToFlatArray(message);
  auto bytes = words.asBytes();
  return exchange(fd, bytes.begin(), bytes.size());
}

uint64_t ownCookie() {
  int fd = ::socket(AF_UNIX, SOCK_DGRAM, 0);
  uint64_t cookie = 0;
  socklen_t length = sizeof(cookie);
  getsockopt(fd, SOL_SOCKET, SO_NETNS_COOKIE, &cookie, &length);
  close(fd);
  return cookie;
}

std::vector<int64_t> liveRmem() {
  std::istringstream text(readFile("/proc/sys/net/ipv4/tcp_rmem"));
  std::vector<int64_t> values(3);
  text >> values[0] >> values[1] >> values[2];
  return values;
}

struct SetArgs {
  TunableId tunable = TunableId::TCP_RMEM;
  uint8_t count = 3;
  std::vector<int64_t> expected;
  std::vector<int64_t> values;
  uint64_t cookie = 0;
};

ReplyView sendSet(int fd, const SetArgs& args) {
  capnp::MallocMessageBuilder message;
  auto request = message.initRoot<Request>();
  request.setId(7);
  auto set = request.initSetSysctl();
  set.setTuner(bpftune::proto::TunerId::TCP_BUFFER);
  set.setScenario(bpftune::proto::ScenarioId::BUFFER_INCREASE);
  set.setNetnsCookie(args.cookie);
  set.setTunable(args.tunable);
  set.setCount(args.count);
  set.setExpected0(args.expected[0]);
  set.setExpected1(args.expected[1]);
  set.setExpected2(args.expected[2]);
  set.setNew0(args.values[0]);
  set.setNew1(args.values[1]);
  set.setNew2(args.values[2]);
  return exchange(fd, message);
}

ReplyView ping(int fd) {
  capnp::MallocMessageBuilder message;
  message.initRoot<Request>().setPing();
  return exchange(fd, message);
}

constexpr const char* POLICY = "net.ipv4.tcp_rmem min=4096 max=2147483647 step=25% rate=5/10s\n"
                               "net.ipv4.tcp_wmem min=4096 max=2147483647 step=25% rate=5/10s\n"
                               "net.ipv4.tcp_moderate_rcvbuf min=0 max=1 step=100% rate=5/10s\n";

class HostilePeer : public ::testing::Test {
protected:
  static void SetUpTestSuite() {}

  void SetUp() override {
    if (geteuid() != 0 || uidOf("bpftune") == static_cast<uid_t>(-1) ||
        uidOf("bpftune-collector") == static_cast<uid_t>(-1)) {
      std::string why = "needs root and the users bpftune and bpftune-collector";
      if (const char* ci = std::getenv("CI"); ci != nullptr && std::string(ci) == "true") {
        FAIL() << "would skip under CI: " << why;
      }
      GTEST_SKIP() << why;
    }
    // Every test gets its own network namespace, so no host sysctl is ever written.
    ASSERT_EQ(unshare(CLONE_NEWNET), 0);
    actuator.start(POLICY);
    collector = uidOf("bpftune-collector");
    fd = connectAs(actuator.socket, collector);
    ASSERT_GE(fd, 0);
    base = liveRmem();
    cookie = ownCookie();
  }

  void TearDown() override {
    if (fd >= 0) {
      close(fd);
    }
    actuator.stop();
  }

  SetArgs growRmem(int64_t newMax) const {
    return SetArgs{TunableId::TCP_RMEM, 3, base, {base[0], base[1], newMax}, cookie};
  }

  void expectRefused(const ReplyView& reply, const std::string& field) {
    ASSERT_TRUE(reply.received) << actuator.log();
    EXPECT_EQ(reply.status, Status::REJECTED) << reply.reason;
    EXPECT_EQ(reply.field, field) << reply.reason;
    EXPECT_NE(reply.reason.find(field), std::string::npos) << reply.reason;
    EXPECT_EQ(liveRmem(), base) << "a refused request changed the sysctl";
    expectStillServing();
  }

  void expectStillServing() {
    ASSERT_TRUE(actuator.alive()) << actuator.log();
    auto reply = ping(fd);
    ASSERT_TRUE(reply.received) << actuator.log();
    EXPECT_EQ(reply.status, Status::OK);
  }

  Actuator actuator;
  uid_t collector = 0;
  int fd = -1;
  std::vector<int64_t> base;
  uint64_t cookie = 0;
};

TEST_F(HostilePeer, AcceptsAValidChangeFromTheCollector) {
  auto reply = sendSet(fd, growRmem(base[2] + base[2] / 8));
  ASSERT_TRUE(reply.received);
  EXPECT_EQ(reply.status, Status::OK) << reply.reason;
  EXPECT_EQ(liveRmem()[2], base[2] + base[2] / 8);
}

// Only the administrator applies proposals: the collector asking for one is refused by kind,
// before any journal lookup.
TEST_F(HostilePeer, RefusesApplyProposalFromTheCollector) {
  capnp::MallocMessageBuilder message;
  message.initRoot<Request>().setApplyProposal(1);
  auto reply = exchange(fd, message);
  ASSERT_TRUE(reply.received) << actuator.log();
  EXPECT_EQ(reply.status, Status::REJECTED);
  EXPECT_NE(reply.reason.find("only accepted on the admin socket"), std::string::npos)
      << reply.reason;
  EXPECT_EQ(liveRmem(), base);
  expectStillServing();
}

TEST_F(HostilePeer, RefusesAnotherUid) {
  for (uid_t other : {static_cast<uid_t>(0), uidOf("nobody")}) {
    int intruder = connectAs(actuator.socket, other);
    if (intruder < 0) {
      continue;  // the socket's file mode already kept it out
    }
    auto reply = ping(intruder);
    EXPECT_FALSE(reply.received) << "uid " << other << " got an answer";
    close(intruder);
  }
  EXPECT_NE(actuator.log().find("uid 0"), std::string::npos) << actuator.log();
  expectStillServing();
}

TEST_F(HostilePeer, RefusesOversizeTruncatedGarbageAndEmptyDatagrams) {
  std::vector<char> oversize(64 * 1024, 'x');
  auto reply = exchange(fd, oversize.data(), oversize.size());
  ASSERT_TRUE(reply.received);
  EXPECT_EQ(reply.status, Status::REJECTED);
  expectStillServing();

  capnp::MallocMessageBuilder message;
  message.initRoot<Request>().initSetSysctl().setCount(3);
  auto words = capnp::messageToFlatArray(message);
  auto bytes = words.asBytes();
  reply = exchange(fd, bytes.begin(), bytes.size() / 2);
  ASSERT_TRUE(reply.received);
  EXPECT_EQ(reply.status, Status::REJECTED) << reply.reason;
  expectStillServing();

  std::mt19937_64 random(42);
  for (int round = 0; round < 20; ++round) {
    std::vector<uint64_t> garbage(1 + random() % 64);
    for (auto& word : garbage) {
      word = random();
    }
    reply = exchange(fd, garbage.data(), garbage.size() * sizeof(uint64_t));
    ASSERT_TRUE(reply.received) << "round " << round << "\n" << actuator.log();
    EXPECT_EQ(reply.status, Status::REJECTED);
  }
  reply = exchange(fd, "", 0);
  ASSERT_TRUE(reply.received);
  EXPECT_EQ(reply.status, Status::REJECTED);
  EXPECT_EQ(liveRmem(), base);
  expectStillServing();
}

// Connections from the collector's uid can never crowd out the administrator.
TEST_F(HostilePeer, AdminGetsThroughACollectorConnectionFlood) {
  std::vector<int> flood;
  for (int i = 0; i < 16; ++i) {
    int extra = connectAs(actuator.socket, collector);
    ASSERT_GE(extra, 0);
    flood.push_back(extra);
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  int admin = connectAs(actuator.dir + "/admin.sock", 0);
  ASSERT_GE(admin, 0);
  auto reply = ping(admin);
  EXPECT_TRUE(reply.received) << actuator.log();
  EXPECT_EQ(reply.status, Status::OK);
  close(admin);
  // The newest collector connection is served (the oldest ones were closed to make room).
  reply = ping(flood.back());
  EXPECT_TRUE(reply.received) << actuator.log();
  for (int extra : flood) {
    close(extra);
  }
  ASSERT_TRUE(actuator.alive()) << actuator.log();
}

TEST_F(HostilePeer, RefusesUnknownTunable) {
  auto args = growRmem(base[2] + 1024);
  args.tunable = static_cast<TunableId>(99);
  expectRefused(sendSet(fd, args), "tunable");
}

TEST_F(HostilePeer, RefusesWrongCount) {
  auto args = growRmem(base[2] + 1024);
  args.count = 1;
  expectRefused(sendSet(fd, args), "count");
}

TEST_F(HostilePeer, RefusesOutOfBoundsValue) {
  auto args = growRmem(base[2]);
  args.values[0] = 1024;  // below min=4096
  auto reply = sendSet(fd, args);
  expectRefused(reply, "new0");
  EXPECT_EQ(reply.bound, 4096);
  EXPECT_NE(reply.reason.find("4096"), std::string::npos) << reply.reason;
}

TEST_F(HostilePeer, RefusesWrongOrdering) {
  auto args = growRmem(base[1] - 1);  // max below default
  expectRefused(sendSet(fd, args), "new2");
}

TEST_F(HostilePeer, RefusesTooBigAStep) {
  auto reply = sendSet(fd, growRmem(base[2] * 2));
  expectRefused(reply, "new2");
  EXPECT_NE(reply.reason.find("25"), std::string::npos) << reply.reason;
}

// A cookie no namespace has: answered `gone`, nothing written, still serving.
TEST_F(HostilePeer, AnswersGoneForANamespaceThatDoesNotExist) {
  auto args = growRmem(base[2] + 1024);
  args.cookie = cookie + 1234567;
  auto reply = sendSet(fd, args);
  ASSERT_TRUE(reply.received) << actuator.log();
  EXPECT_EQ(reply.status, Status::GONE) << reply.reason;
  EXPECT_EQ(reply.field, "netnsCookie") << reply.reason;
  EXPECT_EQ(liveRmem(), base);
  expectStillServing();
}

TEST_F(HostilePeer, RefusesNetnsCookieZero) {
  auto args = growRmem(base[2] + 1024);
  args.cookie = 0;
  expectRefused(sendSet(fd, args), "netnsCookie");
}

TEST_F(HostilePeer, RefusesARateFlood) {
  std::vector<int64_t> current = base;
  int accepted = 0;
  ReplyView last;
  for (int i = 0; i < 12; ++i) {
    std::vector<int64_t> next = current;
    next[2] = current[2] + 4096;
    last = sendSet(fd, SetArgs{TunableId::TCP_RMEM, 3, current, next, cookie});
    ASSERT_TRUE(last.received);
    if (last.status != Status::OK) {
      break;
    }
    ++accepted;
    current = next;
  }
  EXPECT_EQ(accepted, 5) << "policy allows 5 per 10s";
  EXPECT_EQ(last.status, Status::REJECTED);
  EXPECT_EQ(last.reason.rfind("rate:", 0), 0u) << last.reason;
  EXPECT_NE(last.reason.find("exceeds 5"), std::string::npos) << last.reason;
  EXPECT_EQ(liveRmem(), current);
  expectStillServing();
}

TEST_F(HostilePeer, RefusesAStaleExpectation) {
  auto args = growRmem(base[2] + 1024);
  args.expected[2] = base[2] - 1;
  auto reply = sendSet(fd, args);
  ASSERT_TRUE(reply.received);
  EXPECT_EQ(reply.status, Status::STALE) << reply.reason;
  EXPECT_EQ(liveRmem(), base);
}

TEST_F(HostilePeer, ReportsOverriddenWhenSomeoneElseWrote) {
  auto first = sendSet(fd, growRmem(base[2] + 4096));
  ASSERT_EQ(first.status, Status::OK) << first.reason;
  std::ofstream("/proc/sys/net/ipv4/tcp_rmem")
      << base[0] << ' ' << base[1] << ' ' << base[2] + 8192 << '\n';
  std::vector<int64_t> admin = {base[0], base[1], base[2] + 8192};
  auto reply = sendSet(
      fd, SetArgs{TunableId::TCP_RMEM, 3, admin, {base[0], base[1], base[2] + 9000}, cookie});
  ASSERT_TRUE(reply.received);
  EXPECT_EQ(reply.status, Status::OVERRIDDEN) << reply.reason;
  EXPECT_EQ(liveRmem(), admin) << "the administrator's value must win";
}

}  // namespace
