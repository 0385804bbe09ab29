// Shared fixture of the engine tests: the actuator's decision core over a fake /proc/sys/net
// (a temporary directory of regular files opened O_DIRECTORY as the engine's sysnetFd).
#pragma once

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <optional>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "engine.h"
#include "journal_file.h"
#include "policy_file.h"
#include "sysctl_io.h"
#include "unique_fd.h"
#include "validator.h"

namespace bpftune::actuator::enginetest {

using proto::OutcomeResult;
using proto::RecordKind;
using proto::ScenarioId;
using proto::Status;
using proto::TunableId;
using proto::TunerId;

constexpr uint64_t COOKIE = 4026531840;  // the actuator's own netns cookie
constexpr uint32_t OWN_INODE = 4026531833;
constexpr journal::BootId BOOT = {0xb0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};
constexpr journal::BootId OTHER_BOOT = {0xee, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};
constexpr Peer TUNER{.uid = 998, .pid = 4321};
constexpr Peer ADMIN{.uid = 0, .pid = 777};

// Same text as policy/default.policy (step 25%, rate 20/10s).
constexpr const char* POLICY_TEXT =
    "net.ipv4.tcp_rmem             min=4096 max=2147483647  step=25% rate=20/10s\n"
    "net.ipv4.tcp_wmem             min=4096 max=2147483647  step=25% rate=20/10s\n"
    "net.ipv4.tcp_moderate_rcvbuf  min=0    max=1                    rate=20/10s\n";

// Originals, as the kernel prints them.
constexpr const char* RMEM_TEXT = "4096\t131072\t6291456\n";
constexpr const char* WMEM_TEXT = "4096\t16384\t4194304\n";
constexpr const char* MODERATE_TEXT = "1\n";

constexpr Values RMEM0 = {4096, 131072, 6291456};
constexpr Values RMEM1 = {4096, 131072, 7340032};  // +16.7% of max
constexpr Values RMEM2 = {4096, 131072, 8388608};  // +14.3% of max
constexpr Values WMEM0 = {4096, 16384, 4194304};
constexpr Values WMEM1 = {4096, 16384, 4718592};  // +12.5% of max
constexpr Values MODERATE0 = {1, 0, 0};
constexpr Values MODERATE1 = {0, 0, 0};

class EngineTest : public ::testing::Test {
protected:
  void SetUp() override {
    char tmpl[] = "/tmp/engine_test.XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    root = tmpl;
    std::string net = root + "/net";
    ASSERT_EQ(::mkdir(net.c_str(), 0700), 0);
    ASSERT_EQ(::mkdir((net + "/ipv4").c_str(), 0700), 0);
    putSysctl("ipv4/tcp_rmem", RMEM_TEXT);
    putSysctl("ipv4/tcp_wmem", WMEM_TEXT);
    putSysctl("ipv4/tcp_moderate_rcvbuf", MODERATE_TEXT);
    sysnet.reset(::open(net.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    ASSERT_TRUE(sysnet.valid());
    auto parsed = policy::parsePolicy(POLICY_TEXT);
    ASSERT_TRUE(parsed.ok()) << parsed.error().message;
    policy = *parsed;
    journalPath = root + "/journal";
    reopenJournal();
  }

  void TearDown() override {
    engine.reset();
    writer.reset();
    sysnet.reset();
    std::error_code ignored;
    std::filesystem::remove_all(root, ignored);
  }

  // Closes engine and writer (releasing the journal lock) and opens the journal again, as an
  // actuator restart does.
  void reopenJournal() {
    engine.reset();
    writer.reset();
    auto opened = journal::Writer::open(journalPath);
    ASSERT_TRUE(opened.ok()) << opened.error().message;
    writer.emplace(std::move(*opened));
  }

  // A fresh Engine over the journal on disk (restarted actuator).
  Engine& restart() {
    reopenJournal();
    if (!writer) {
      std::abort();  // the failure is already reported; nothing sensible can follow
    }
    engine.emplace(policy,
                   *writer,
                   sysnet.get(),
                   COOKIE,
                   BOOT,
                   OWN_INODE,
                   Backends{foreign, neigh, staticKeys, routes});
    return *engine;
  }

  // Outside write ("someone else"), truncating like an editor would.
  void putSysctl(const std::string& rel, const std::string& text) const {
    std::ofstream out(root + "/net/" + rel, std::ios::trunc);
    out << text;
    ASSERT_TRUE(out.good());
  }

  std::string sysctlText(const std::string& rel) const {
    std::ifstream in(root + "/net/" + rel);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  }

  // The journal as stored on disk, not the writer's memory.
  std::vector<journal::Record> diskRecords() const {
    std::vector<journal::Record> out;
    auto read = journal::readJournal(journalPath);
    if (!read) {
      ADD_FAILURE() << read.error().message;
      return out;
    }
    EXPECT_EQ(read->tornTailBytes, 0U);
    for (const auto& stored : read->records) {
      out.push_back(stored.record);
    }
    return out;
  }

  void expectVerified() const {
    auto report = journal::verify(journalPath);
    EXPECT_TRUE(report.ok) << report.message;
    EXPECT_EQ(report.problem, journal::Problem::NONE) << report.message;
  }

  static policy::SetSysctl request(TunableId tunable, const Values& expected, const Values& next) {
    policy::SetSysctl r;
    r.tuner = TunerId::TCP_BUFFER;
    r.scenario = ScenarioId::BUFFER_INCREASE;
    r.netnsCookie = COOKIE;
    r.tunable = tunable;
    r.count = policy::findTunable(tunable)->count;
    r.expected = expected;
    r.newValues = next;
    return r;
  }

  // An intent as setSysctl would journal it, for crash simulation.
  static journal::Record intentRecord(const journal::BootId& boot,
                                      const Values& oldValues,
                                      const Values& newValues) {
    journal::Record r;
    r.kind = RecordKind::INTENT;
    r.realtimeNs = journal::realtimeNow();
    r.monotonicNs = journal::monotonicNow();
    r.bootId = boot;
    r.tuner = TunerId::TCP_BUFFER;
    r.scenario = ScenarioId::BUFFER_INCREASE;
    r.netnsCookie = COOKIE;
    r.tunable = TunableId::TCP_RMEM;
    r.count = 3;
    r.oldValues = oldValues;
    r.newValues = newValues;
    r.requesterPid = TUNER.pid;
    r.requesterUid = TUNER.uid;
    return r;
  }

  std::string root;
  std::string journalPath;
  UniqueFd sysnet;
  policy::Policy policy;
  std::optional<journal::Writer> writer;
  std::optional<Engine> engine;
  ForeignSysctls* foreign = nullptr;      // set by tests of other namespaces before restart()
  NeighTableWriter* neigh = nullptr;      // set by the neighbour-table tests before restart()
  StaticKeyWriter* staticKeys = nullptr;  // set by the static key tests before restart()
  HostRoutes* routes = nullptr;           // set by the host route tests before restart()
};

}  // namespace bpftune::actuator::enginetest
