// The privileged writer: its request validation (pure; the writer trusts nothing the possibly
// compromised actuator sends), and the process itself: it answers refusals under its own filter,
// keeps serving, holds exactly CAP_NET_ADMIN + CAP_SYS_ADMIN, and its death is fatal to the
// caller. No test here sends a valid request: that would change the host's thresholds or flag
// (the integration tests it_neigh_table and it_tcp_syn_lowmem do, and restore them).
#include "priv_writer.h"

#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>

#include <gtest/gtest.h>

namespace bpftune::actuator {
namespace {

constexpr int64_t INT_MAX_VALUE = 2147483647;
constexpr auto NEIGH = static_cast<uint32_t>(WriterOp::SET_NEIGH_THRESHOLDS);
constexpr auto FLAG = static_cast<uint32_t>(WriterOp::SET_HIGH_ORDER_ALLOC_DISABLE);
constexpr uint32_t ARP = 0;
constexpr uint32_t NDISC = 1;

int refusal(const WriterRequest& request) {
  auto checked = validateWriterRequest(request);
  return checked ? 0 : checked.error().errnum;
}

TEST(WriterRequests, OrderedThresholdsForAKnownTablePass) {
  auto arp = validateWriterRequest({NEIGH, ARP, Values{128, 512, 1024}});
  ASSERT_TRUE(arp.ok()) << arp.error().message;
  const auto* t = std::get_if<NeighThresholds>(&*arp);
  ASSERT_NE(t, nullptr);
  EXPECT_EQ(t->table, "arp_cache");
  EXPECT_EQ(t->values, (Values{128, 512, 1024}));
  auto ndisc = validateWriterRequest({NEIGH, NDISC, Values{0, 0, INT_MAX_VALUE}});
  ASSERT_TRUE(ndisc.ok()) << ndisc.error().message;
  EXPECT_EQ(std::get<NeighThresholds>(*ndisc).table, "ndisc_cache");
  EXPECT_TRUE(validateWriterRequest({NEIGH, ARP, Values{7, 7, 7}}).ok());
}

TEST(WriterRequests, UnknownOpsAndTablesAreRefused) {
  for (uint32_t op : {0U, 3U, 0x80000001U, UINT32_MAX}) {
    EXPECT_EQ(refusal({op, ARP, Values{128, 512, 1024}}), EINVAL) << op;
  }
  for (uint32_t table : {2U, 3U, UINT32_MAX}) {
    EXPECT_EQ(refusal({NEIGH, table, Values{128, 512, 1024}}), EINVAL) << table;
  }
}

TEST(WriterRequests, ThresholdsOutOfOrderOrRangeAreRefused) {
  for (const Values& v : {Values{-1, 512, 1024},
                          Values{513, 512, 1024},
                          Values{128, 1025, 1024},
                          Values{1024, 512, 128},
                          Values{128, 512, INT_MAX_VALUE + 1},
                          Values{INT64_MIN, 0, 0},
                          Values{0, 0, INT64_MAX}}) {
    EXPECT_EQ(refusal({NEIGH, ARP, v}), EINVAL) << v[0] << " " << v[1] << " " << v[2];
  }
}

TEST(WriterRequests, TheFlagTakesZeroOrOneAndNothingElse) {
  auto on = validateWriterRequest({FLAG, 0, Values{1, 0, 0}});
  ASSERT_TRUE(on.ok()) << on.error().message;
  EXPECT_TRUE(std::get<HighOrderAllocDisable>(*on).disable);
  auto off = validateWriterRequest({FLAG, 0, Values{0, 0, 0}});
  ASSERT_TRUE(off.ok()) << off.error().message;
  EXPECT_FALSE(std::get<HighOrderAllocDisable>(*off).disable);
  EXPECT_EQ(refusal({FLAG, 0, Values{2, 0, 0}}), EINVAL);
  EXPECT_EQ(refusal({FLAG, 0, Values{-1, 0, 0}}), EINVAL);
  EXPECT_EQ(refusal({FLAG, 0, Values{1, 1, 0}}), EINVAL);  // unused fields must be zero
  EXPECT_EQ(refusal({FLAG, 0, Values{1, 0, 1}}), EINVAL);
  EXPECT_EQ(refusal({FLAG, 1, Values{1, 0, 0}}), EINVAL);
}

// The process ----------------------------------------------------------------------------------

std::string statusField(pid_t pid, const std::string& key) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(key + ":", 0) == 0) {
      std::string value = line.substr(key.size() + 1);
      return value.substr(value.find_first_not_of(" \t"));
    }
  }
  return "";
}

// The writer with a channel to the netns opener that nobody serves (no test here asks for another
// namespace); the test keeps the other end open.
Result<PrivWriter> spawnWriter(std::optional<Identity> identity, UniqueFd& openerEnd) {
  int pair[2];
  if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair) != 0) {
    return makeError("socketpair", errno);
  }
  openerEnd.reset(pair[0]);
  return PrivWriter::spawn(identity, UniqueFd(pair[1]));
}

int reap(pid_t pid) {
  int status = 0;
  if (::waitpid(pid, &status, 0) != pid) {
    return -1;
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

TEST(WriterProcess, RefusesBadRequestsUnderItsFilterAndKeepsServing) {
  UniqueFd opener;
  auto spawned = spawnWriter(std::nullopt, opener);
  ASSERT_TRUE(spawned.ok()) << spawned.error().message;
  std::optional<PrivWriter> writer(std::move(*spawned));
  const pid_t pid = writer->pid();
  EXPECT_EQ(writer->call({NEIGH, 9, Values{128, 512, 1024}}), EINVAL);
  EXPECT_EQ(writer->call({FLAG, 0, Values{2, 0, 0}}), EINVAL);
  EXPECT_EQ(writer->call({0, 0, Values{}}), EINVAL);
  // Jailed before it served the first request; the refusals' log lines did not kill it.
  EXPECT_EQ(statusField(pid, "Seccomp"), "2");
  EXPECT_EQ(statusField(pid, "NoNewPrivs"), "1");
  EXPECT_EQ(::kill(pid, 0), 0);
  // Whatever this test runs as, the writer keeps at most CAP_NET_ADMIN + CAP_SYS_ADMIN.
  const uint64_t eff = std::stoull(statusField(pid, "CapEff"), nullptr, 16);
  EXPECT_EQ(eff & ~((1ULL << CAP_NET_ADMIN) | (1ULL << CAP_SYS_ADMIN)), 0U) << std::hex << eff;
  writer.reset();  // closing our end ends it
  EXPECT_EQ(reap(pid), 0);
}

TEST(WriterProcess, ItsDeathIsFatalToTheCaller) {
  UniqueFd opener;
  auto writer = spawnWriter(std::nullopt, opener);
  ASSERT_TRUE(writer.ok()) << writer.error().message;
  EXPECT_EQ(writer->call({0, 0, Values{}}), EINVAL);
  ASSERT_EQ(::kill(writer->pid(), SIGKILL), 0);
  EXPECT_EQ(reap(writer->pid()), 128 + SIGKILL);
  EXPECT_THROW(writer->call({NEIGH, ARP, Values{128, 512, 1024}}), std::runtime_error);
}

TEST(WriterProcess, RunsAsTheIdentityWithExactlyNetAdminAndSysAdmin) {
  if (geteuid() != 0) {
    const char* ci = std::getenv("CI");
    if (ci != nullptr && std::string(ci) == "true") {
      FAIL() << "needs root to change uid (CI=true: a skip is a failure)";
    }
    std::puts("SKIP: needs root to change uid");
    GTEST_SKIP();
  }
  UniqueFd opener;
  auto spawned = spawnWriter(Identity{65534, 65534}, opener);
  ASSERT_TRUE(spawned.ok()) << spawned.error().message;
  std::optional<PrivWriter> writer(std::move(*spawned));
  EXPECT_EQ(writer->call({FLAG, 0, Values{1, 1, 1}}), EINVAL);
  const pid_t pid = writer->pid();
  EXPECT_EQ(statusField(pid, "CapEff"), "0000000000201000");
  EXPECT_EQ(statusField(pid, "CapPrm"), "0000000000201000");
  EXPECT_EQ(statusField(pid, "CapBnd"), "0000000000000000");
  EXPECT_EQ(statusField(pid, "CapAmb"), "0000000000000000");
  EXPECT_EQ(statusField(pid, "Uid"), "65534\t65534\t65534\t65534");
  EXPECT_EQ(statusField(pid, "Seccomp"), "2");
  std::ifstream comm("/proc/" + std::to_string(pid) + "/comm");
  std::string name;
  std::getline(comm, name);
  EXPECT_EQ(name, "bpftune-writer");
  writer.reset();
  EXPECT_EQ(reap(pid), 0);
}

}  // namespace
}  // namespace bpftune::actuator
