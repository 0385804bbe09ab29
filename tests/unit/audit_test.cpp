// The actuator's copy of each journal record to journald or syslog: the exact entry (pure), and
// the sink for real: libsystemd's datagram captured on a socket bound where it sends (a private
// mount namespace over /run/systemd) and parsed strictly per the native protocol, the syslog
// fallback on a socket of our own, both after loading the actuator's seccomp filter.
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <syslog.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <map>
#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "audit_entry.h"
#include "audit_sink.h"
#include "jail.h"
#include "tunable_table.h"
#include "unique_fd.h"

namespace bpftune::actuator {
namespace {

journal::StoredRecord outcomeRecord() {
  journal::StoredRecord s;
  journal::Record& r = s.record;
  r.seq = 12;
  r.kind = proto::RecordKind::OUTCOME;
  r.realtimeNs = 1769846400LL * 1000000000;
  r.tuner = proto::TunerId::TCP_BUFFER;
  r.scenario = proto::ScenarioId::BUFFER_INCREASE;
  r.netnsCookie = 4097;
  r.netnsInode = 4026531840;
  r.tunable = proto::TunableId::TCP_RMEM;
  r.count = 3;
  r.oldValues = {4096, 131072, 6291456};
  r.newValues = {4096, 131072, 6920601};
  r.actual = r.newValues;
  r.requesterUid = 998;
  r.requesterPid = 4242;
  r.intentSeq = 11;
  r.result = proto::OutcomeResult::APPLIED;
  for (size_t i = 0; i < s.hash.size(); ++i) {
    s.hash[i] = static_cast<uint8_t>(i);
  }
  return s;
}

const std::string HASH_HEX = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";

TEST(AuditEntry, OutcomeCarriesEveryFieldInAStableOrder) {
  auto stored = outcomeRecord();
  std::vector<std::string> expected = {
      "MESSAGE_ID=06f864c1e94340ed856c85cb9734f03a",
      "MESSAGE=bpftune: " + journal::toText(stored.record),
      "PRIORITY=6",
      "SYSLOG_IDENTIFIER=bpftune-actuator",
      "BPFTUNE_SEQ=12",
      "BPFTUNE_KIND=outcome",
      "BPFTUNE_CHAIN_HASH=" + HASH_HEX,
      "BPFTUNE_TUNER=tcp_buffer",
      "BPFTUNE_SCENARIO=" + std::string(policy::scenarioName(proto::ScenarioId::BUFFER_INCREASE)),
      "BPFTUNE_NETNS_COOKIE=4097",
      "BPFTUNE_NETNS_INODE=4026531840",
      "BPFTUNE_CAUSE_NETNS_COOKIE=4097",
      "BPFTUNE_TUNABLE=net.ipv4.tcp_rmem",
      "BPFTUNE_OLD=4096 131072 6291456",
      "BPFTUNE_NEW=4096 131072 6920601",
      "BPFTUNE_REQUESTER_UID=998",
      "BPFTUNE_REQUESTER_PID=4242",
      "BPFTUNE_OUTCOME=applied",
      "BPFTUNE_INTENT_SEQ=11",
      "BPFTUNE_ACTUAL=4096 131072 6920601",
      "BPFTUNE_ERRNO=0",
  };
  EXPECT_EQ(journalFields(stored), expected);
}

TEST(AuditEntry, MessageIdsAreFixedPerKindAndOutcomeAndDistinct) {
  auto stored = outcomeRecord();
  std::set<std::string> seen;
  auto idOf = [&](proto::RecordKind kind, proto::OutcomeResult result) {
    stored.record.kind = kind;
    stored.record.result = result;
    std::string id(messageIdFor(stored.record));
    EXPECT_EQ(journalFields(stored)[0], "MESSAGE_ID=" + id);
    return id;
  };
  using K = proto::RecordKind;
  using R = proto::OutcomeResult;
  EXPECT_EQ(idOf(K::INTENT, R::APPLIED), "46b7c39611b648e4801b8952ab7616d9");
  for (auto result : {R::APPLIED, R::NOT_APPLIED, R::WRITE_FAILED, R::MISMATCH, R::NETNS_GONE}) {
    seen.insert(idOf(K::OUTCOME, result));
  }
  for (auto kind :
       {K::START, K::INTENT, K::RECOVERED, K::OVERRIDE, K::RESUME, K::LIVE_SWITCH, K::PROPOSAL}) {
    seen.insert(idOf(kind, R::APPLIED));
  }
  seen.insert(std::string(message_id::AUDIT_STARTED));
  EXPECT_EQ(seen.size(), 13U);
  for (const auto& id : seen) {
    EXPECT_EQ(id.size(), 32U);
    EXPECT_EQ(id.find_first_not_of("0123456789abcdef"), std::string::npos) << id;
  }
  EXPECT_EQ(idOf(K::OUTCOME, R::WRITE_FAILED), "6939b9fde4c14c09adb546dcd340ae40");
  EXPECT_EQ(priorityFor(stored.record), LOG_WARNING);
  stored.record.kind = K::OVERRIDE;
  EXPECT_EQ(priorityFor(stored.record), LOG_NOTICE);
}

TEST(AuditEntry, StartOverrideAndResumeCarryTheirOwnFields) {
  journal::StoredRecord start;
  start.record.kind = proto::RecordKind::START;
  start.record.seq = 1;
  start.record.actuatorPid = 77;
  start.record.filterDigest = {0xab, 0xcd};
  auto fields = journalFields(start);
  EXPECT_EQ(fields.size(), 9U);
  EXPECT_EQ(fields[0], "MESSAGE_ID=1f12f9645de041ee8e082ca7595c034b");
  EXPECT_EQ(fields[7], "BPFTUNE_ACTUATOR_PID=77");
  EXPECT_EQ(fields[8], "BPFTUNE_FILTER_DIGEST=abcd");

  auto over = outcomeRecord();
  over.record.kind = proto::RecordKind::OVERRIDE;
  over.record.writerUid = 0;
  over.record.writerPid = 555;
  over.record.writerComm = "sysctl";
  fields = journalFields(over);
  std::set<std::string> set(fields.begin(), fields.end());
  EXPECT_TRUE(set.count("BPFTUNE_WRITER_COMM=sysctl"));
  EXPECT_TRUE(set.count("BPFTUNE_WRITER_PID=555"));
  EXPECT_TRUE(set.count("BPFTUNE_ACTUAL=4096 131072 6920601"));
  EXPECT_FALSE(set.count("BPFTUNE_OUTCOME=applied"));
  for (const auto& f : fields) {
    EXPECT_FALSE(f.starts_with("BPFTUNE_SCENARIO=")) << "an override has no scenario";
    EXPECT_EQ(f.find('\n'), std::string::npos) << f;
  }
}

TEST(AuditEntry, IovecsPointAtTheFields) {
  std::vector<std::string> fields = {"A=1", "BB=22"};
  auto iov = toIovecs(fields);
  ASSERT_EQ(iov.size(), 2U);
  EXPECT_EQ(iov[0].iov_base, fields[0].data());
  EXPECT_EQ(iov[1].iov_len, 5U);
}

TEST(AuditEntry, SyslogDatagramIsRfc3164WithIdAndHash) {
  auto stored = outcomeRecord();
  EXPECT_EQ(syslogDatagram(stored, 321),
            "<30>bpftune-actuator[321]: bpftune: " + journal::toText(stored.record) +
                " message_id=06f864c1e94340ed856c85cb9734f03a hash=" + HASH_HEX);
}

// ---- the sink for real ----

// Strict parse of one native-protocol datagram (systemd.io/JOURNAL_NATIVE_PROTOCOL): "NAME=value\n"
// or "NAME\n" + 64-bit little-endian length + value + "\n"; names [A-Z0-9_], not starting '_'.
std::vector<std::string> parseNative(const std::string& d) {
  std::vector<std::string> out;
  size_t at = 0;
  while (at < d.size()) {
    size_t nl = d.find('\n', at);
    EXPECT_NE(nl, std::string::npos) << "unterminated field at " << at;
    if (nl == std::string::npos) {
      return {};
    }
    std::string line = d.substr(at, nl - at);
    size_t eq = line.find('=');
    std::string name = line.substr(0, eq);
    EXPECT_FALSE(name.empty());
    EXPECT_NE(name[0], '_');
    EXPECT_EQ(name.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_"), std::string::npos)
        << name;
    if (eq != std::string::npos) {
      out.push_back(line);
      at = nl + 1;
      continue;
    }
    uint64_t len = 0;
    EXPECT_LE(nl + 1 + 8, d.size());
    std::memcpy(&len, d.data() + nl + 1, 8);
    size_t value = nl + 1 + 8;
    EXPECT_LE(value + len + 1, d.size());
    EXPECT_EQ(d[value + len], '\n');
    out.push_back(name + "=" + d.substr(value, len));
    at = value + len + 1;
  }
  return out;
}

std::string receive(int fd, int timeoutMs = 2000) {
  pollfd p{fd, POLLIN, 0};
  if (::poll(&p, 1, timeoutMs) != 1) {
    return {};
  }
  std::string buf(65536, '\0');
  ssize_t n = ::recv(fd, buf.data(), buf.size(), 0);
  buf.resize(n > 0 ? static_cast<size_t>(n) : 0);
  return buf;
}

UniqueFd datagramSocket() {
  return UniqueFd(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0));
}

bool bindAt(int fd, const std::string& path) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, path.c_str(), sizeof(addr.sun_path) - 1);
  return ::bind(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)) == 0;
}

// The child: open the sink, jail itself with the actuator's own filter, emit one record.
// Exit 0 = emitted; 10+ = setup failures; SIGSYS = the filter killed it.
[[noreturn]] void emitJailed(const AuditPaths& paths, AuditTarget expected) {
  AuditSink sink = AuditSink::open("/var/lib/bpftune/journal", paths);
  if (sink.target() != expected) {
    _exit(10);
  }
  int sysnet = ::open("/proc/sys/net", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  auto filter = SeccompFilter::build(sysnet, sink.journaldFd());
  if (sysnet < 0 || !filter || !filter->load()) {
    _exit(11);
  }
  sink.emit(outcomeRecord());
  _exit(sink.failures() == 0 ? 0 : 12);
}

int waitChild(pid_t pid) {
  int status = 0;
  ::waitpid(pid, &status, 0);
  if (WIFSIGNALED(status)) {
    return 1000 + WTERMSIG(status);
  }
  return WEXITSTATUS(status);
}

TEST(AuditSinkReal, SyslogFallbackSendsOneDatagramUnderTheJail) {
  char dir[] = "/tmp/audit_test.XXXXXX";
  ASSERT_NE(::mkdtemp(dir), nullptr);
  std::string path = std::string(dir) + "/log";
  UniqueFd server = datagramSocket();
  ASSERT_TRUE(bindAt(server.get(), path));
  pid_t child = ::fork();
  if (child == 0) {
    emitJailed({std::string(dir) + "/no-journald", path}, AuditTarget::SYSLOG);
  }
  EXPECT_EQ(waitChild(child), 0);
  EXPECT_EQ(receive(server.get()), syslogDatagram(outcomeRecord(), child));
  ::unlink(path.c_str());
  ::rmdir(dir);
}

TEST(AuditSinkReal, NothingThereMeansNoTargetAndNoCrash) {
  AuditSink sink = AuditSink::open("/j", {"/nonexistent/journal", "/nonexistent/log"});
  EXPECT_EQ(sink.target(), AuditTarget::NONE);
  EXPECT_EQ(sink.journaldFd(), -1);
  sink.emit(outcomeRecord());
  EXPECT_EQ(sink.failures(), 0U);
}

// A private mount namespace with a tmpfs over /run/systemd, where libsystemd's compiled-in
// socket path then leads to our socket. Root or an unprivileged user namespace is needed.
bool enterPrivateRun() {
  if (::unshare(CLONE_NEWNS) != 0 && ::unshare(CLONE_NEWUSER | CLONE_NEWNS) != 0) {
    return false;
  }
  return ::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) == 0 &&
         ::mount("tmpfs", "/run/systemd", "tmpfs", 0, "mode=0755") == 0 &&
         ::mkdir("/run/systemd/journal", 0755) == 0;
}

TEST(AuditSinkReal, JournaldDatagramsParseStrictlyAndCarryTheFields) {
  struct stat st {};
  if (::stat("/run/systemd", &st) != 0) {
    if (std::getenv("CI") != nullptr && std::string(std::getenv("CI")) == "true") {
      FAIL() << "no /run/systemd to mount over";
    }
    GTEST_SKIP() << "no /run/systemd directory to mount a private tmpfs over";
  }
  // Made here and bound by the child inside its namespace: we read what libsystemd sends.
  UniqueFd server = datagramSocket();
  pid_t child = ::fork();
  if (child == 0) {
    if (!enterPrivateRun()) {
      _exit(20);
    }
    if (!bindAt(server.get(), "/run/systemd/journal/socket")) {
      _exit(21);
    }
    emitJailed({}, AuditTarget::JOURNALD);
  }
  int rc = waitChild(child);
  if (rc == 20) {
    if (std::getenv("CI") != nullptr && std::string(std::getenv("CI")) == "true") {
      FAIL() << "cannot make a private mount namespace";
    }
    GTEST_SKIP() << "cannot make a private mount namespace (needs root or user namespaces)";
  }
  ASSERT_EQ(rc, 0) << "child failed (1031 = killed by SIGSYS)";
  auto announced = parseNative(receive(server.get()));
  auto expectedAnnounce = startedFields("/var/lib/bpftune/journal", "journald");
  EXPECT_EQ(announced, expectedAnnounce);
  auto entry = parseNative(receive(server.get()));
  EXPECT_EQ(entry, journalFields(outcomeRecord()));
  // The child is gone: anything more it sent is queued already.
  EXPECT_TRUE(receive(server.get(), 0).empty()) << "more than two datagrams";
}

// The journald rules: sendmsg on libsystemd's descriptor only; libsystemd's oversize fallback
// (prctl PR_GET_NAME, then memfd_create) fails with EPERM instead of killing the actuator.
TEST(AuditJail, SendmsgOnlyOnJournaldsSocketAndMemfdFailsSoftly) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  int pair[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, pair), 0);
  int sysnet = ::open("/proc/sys/net", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  ASSERT_GE(sysnet, 0);
  auto load = [&]() {
    auto filter = SeccompFilter::build(sysnet, pair[0]);
    if (!filter || !filter->load()) {
      _exit(99);
    }
  };
  auto sendOn = [](int fd) {
    char byte = 'x';
    iovec iov{&byte, 1};
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    return ::sendmsg(fd, &msg, MSG_NOSIGNAL);
  };
  EXPECT_EXIT(
      {
        load();
        char name[17] = {};
        bool ok = sendOn(pair[0]) == 1 && ::prctl(PR_GET_NAME, name) == 0 &&
                  ::memfd_create("x", MFD_CLOEXEC) < 0 && errno == EPERM;
        _exit(ok ? 0 : 1);
      },
      ::testing::ExitedWithCode(0),
      "");
  EXPECT_EXIT(
      {
        load();
        sendOn(pair[1]);
        _exit(0);
      },
      ::testing::KilledBySignal(SIGSYS),
      "");
  EXPECT_EXIT(
      {
        load();
        ::prctl(PR_SET_NAME, "other");
        _exit(0);
      },
      ::testing::KilledBySignal(SIGSYS),
      "");
  EXPECT_EXIT(
      {
        auto filter = SeccompFilter::build(sysnet);  // no journald: no sendmsg at all
        if (!filter || !filter->load()) {
          _exit(99);
        }
        sendOn(pair[0]);
        _exit(0);
      },
      ::testing::KilledBySignal(SIGSYS),
      "");
  ::close(sysnet);
  ::close(pair[0]);
  ::close(pair[1]);
}

}  // namespace
}  // namespace bpftune::actuator
