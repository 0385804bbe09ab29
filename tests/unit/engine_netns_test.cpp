// The engine across network namespaces and against the administrator: writes in another
// namespace, a namespace that vanishes before or during a request, overrides, resume, and
// rollback/recovery over namespaces that may be gone. Other namespaces are a fake
// ForeignSysctls (the real one needs root and is covered by the integration tests).
#include <cerrno>
#include <map>

#include "engine_fixture.h"
#include "nsfs.h"

namespace bpftune::actuator {
namespace {

using namespace enginetest;  // NOLINT(google-build-using-namespace)

constexpr uint64_t NS_X = 77;
constexpr uint64_t NS_Y = 78;
constexpr Values RMEM_ADMIN = {4096, 131072, 5242880};
constexpr Values RMEM_ADMIN_UP = {4096, 131072, 6291456};

class FakeNamespaces : public ForeignSysctls {
public:
  Result<Values> read(uint64_t cookie, const policy::TunableInfo& info) override {
    auto ns = live.find(cookie);
    if (ns == live.end()) {
      return makeError("netns " + std::to_string(cookie) + " is gone", ENOENT);
    }
    return ns->second[info.id];
  }
  bpftune::Status write(uint64_t cookie,
                        const policy::TunableInfo& info,
                        const Values& values) override {
    if (cookie == dieOnWrite) {
      live.erase(cookie);  // the last process left between the intent and the write
    }
    auto ns = live.find(cookie);
    if (ns == live.end()) {
      return makeError("netns " + std::to_string(cookie) + " is gone", ENOENT);
    }
    ns->second[info.id] = values;
    ++writes;
    return bpftune::Ok{};
  }
  uint32_t inode(uint64_t cookie) const override {
    return live.count(cookie) != 0 ? static_cast<uint32_t>(5000 + cookie) : 0;
  }
  bpftune::Status reach(uint64_t cookie) override {
    if (live.count(cookie) == 0) {
      return makeError("netns " + std::to_string(cookie) + " is gone", ENOENT);
    }
    return bpftune::Ok{};
  }
  void add(uint64_t cookie) {
    live[cookie] = {{TunableId::TCP_RMEM, RMEM0},
                    {TunableId::TCP_WMEM, WMEM0},
                    {TunableId::TCP_MODERATE_RCVBUF, MODERATE0}};
  }

  std::map<uint64_t, std::map<TunableId, Values>> live;
  uint64_t dieOnWrite = 0;
  int writes = 0;
};

class EngineNetnsTest : public EngineTest {
protected:
  void SetUp() override {
    EngineTest::SetUp();
    namespaces.add(NS_X);
    namespaces.add(NS_Y);
    foreign = &namespaces;
  }

  static policy::SetSysctl rmemIn(uint64_t cookie, const Values& from, const Values& to) {
    policy::SetSysctl r = request(TunableId::TCP_RMEM, from, to);
    r.netnsCookie = cookie;
    return r;
  }

  static ReportedOverride adminWrote(uint64_t cookie, const Values& values) {
    ReportedOverride o;
    o.netnsCookie = cookie;
    o.tunable = TunableId::TCP_RMEM;
    o.writerPid = 4242;
    o.writerUid = 0;
    o.writerComm = "sysctl";
    o.count = 3;
    o.values = values;
    return o;
  }

  FakeNamespaces namespaces;
};

TEST_F(EngineNetnsTest, PerNetnsWriteLandsInThatNamespaceOnly) {
  Engine& e = restart();
  Answer a = e.setSysctl(rmemIn(NS_X, RMEM0, RMEM1), TUNER);
  ASSERT_EQ(a.status, Status::OK) << a.reason;
  EXPECT_EQ(namespaces.live[NS_X][TunableId::TCP_RMEM], RMEM1);
  EXPECT_EQ(namespaces.live[NS_Y][TunableId::TCP_RMEM], RMEM0);
  EXPECT_EQ(sysctlText("ipv4/tcp_rmem"), RMEM_TEXT);  // the actuator's own namespace
  auto records = diskRecords();
  ASSERT_EQ(records.size(), 2U);
  for (const auto& r : records) {
    EXPECT_EQ(r.netnsCookie, NS_X);
    EXPECT_EQ(r.netnsInode, 5000 + NS_X);
    EXPECT_EQ(r.causeNetnsCookie, NS_X);
  }
  expectVerified();
}

TEST_F(EngineNetnsTest, GlobalTunableOnlyInTheInitNamespace) {
  Engine& e = restart();
  policy::SetSysctl r = request(TunableId::TCP_MEM, {1, 2, 3}, {1, 2, 4});
  r.netnsCookie = NS_X;
  Answer a = e.setSysctl(r, TUNER);
  EXPECT_EQ(a.status, Status::REJECTED);
  EXPECT_EQ(a.field, "netnsCookie");
  EXPECT_EQ(a.bound, static_cast<int64_t>(COOKIE));
  EXPECT_TRUE(diskRecords().empty());
}

TEST_F(EngineNetnsTest, CausingNamespaceIsJournaled) {
  Engine& e = restart();
  policy::SetSysctl r = request(TunableId::TCP_RMEM, RMEM0, RMEM1);
  r.causeNetnsCookie = NS_X;
  ASSERT_EQ(e.setSysctl(r, TUNER).status, Status::OK);
  auto records = diskRecords();
  ASSERT_EQ(records.size(), 2U);
  EXPECT_EQ(records[0].netnsCookie, COOKIE);
  EXPECT_EQ(records[0].netnsInode, OWN_INODE);
  EXPECT_EQ(records[0].causeNetnsCookie, NS_X);
}

TEST_F(EngineNetnsTest, GoneNamespaceIsRefusedWithoutRecord) {
  Engine& e = restart();
  Answer a = e.setSysctl(rmemIn(99, RMEM0, RMEM1), TUNER);
  EXPECT_EQ(a.status, Status::GONE) << a.reason;
  EXPECT_EQ(a.field, "netnsCookie");
  EXPECT_NE(a.reason.find("99"), std::string::npos) << a.reason;
  EXPECT_TRUE(diskRecords().empty());
}

TEST_F(EngineNetnsTest, NamespaceVanishingMidRequestHasAClearOutcome) {
  Engine& e = restart();
  namespaces.dieOnWrite = NS_X;
  Answer a = e.setSysctl(rmemIn(NS_X, RMEM0, RMEM1), TUNER);
  EXPECT_EQ(a.status, Status::GONE) << a.reason;
  auto records = diskRecords();
  ASSERT_EQ(records.size(), 2U);
  EXPECT_EQ(records[0].kind, RecordKind::INTENT);
  EXPECT_EQ(records[1].kind, RecordKind::OUTCOME);
  EXPECT_EQ(records[1].result, OutcomeResult::NETNS_GONE);
  EXPECT_EQ(records[1].error, ENOENT);
  // The engine keeps serving; the namespace stays gone; nothing to roll back there.
  EXPECT_EQ(e.setSysctl(rmemIn(NS_X, RMEM0, RMEM1), TUNER).status, Status::GONE);
  EXPECT_EQ(e.setSysctl(rmemIn(NS_Y, RMEM0, RMEM1), TUNER).status, Status::OK);
  Answer rb = e.rollbackAll(ADMIN);
  EXPECT_EQ(rb.status, Status::OK) << rb.reason;
  EXPECT_NE(rb.reason.find("netns 77: the namespace is gone"), std::string::npos) << rb.reason;
  EXPECT_EQ(namespaces.live[NS_Y][TunableId::TCP_RMEM], RMEM0);
  expectVerified();
}

TEST_F(EngineNetnsTest, OverrideStopsOnlyThatNamespaceUntilResume) {
  Engine& e = restart();
  ASSERT_EQ(e.setSysctl(rmemIn(NS_X, RMEM0, RMEM1), TUNER).status, Status::OK);
  namespaces.live[NS_X][TunableId::TCP_RMEM] = RMEM_ADMIN;  // the admin's sysctl -w
  Answer seen = e.reportOverride(adminWrote(NS_X, RMEM_ADMIN), TUNER);
  ASSERT_EQ(seen.status, Status::OK) << seen.reason;
  auto records = diskRecords();
  ASSERT_EQ(records.size(), 3U);
  const auto& o = records[2];
  EXPECT_EQ(o.kind, RecordKind::OVERRIDE);
  EXPECT_EQ(o.overrideSource, proto::OverrideSource::SYSCTL_HOOK);
  EXPECT_EQ(o.netnsCookie, NS_X);
  EXPECT_EQ(o.writerPid, 4242);
  EXPECT_EQ(o.writerComm, "sysctl");
  EXPECT_EQ(o.newValues, RMEM_ADMIN);
  EXPECT_EQ(o.actual, RMEM_ADMIN);

  // Stopped in X only, even for a request that expects the admin's value.
  Answer refused = e.setSysctl(rmemIn(NS_X, RMEM_ADMIN, RMEM_ADMIN_UP), TUNER);
  EXPECT_EQ(refused.status, Status::OVERRIDDEN) << refused.reason;
  EXPECT_NE(refused.reason.find("bpftune resume"), std::string::npos) << refused.reason;
  EXPECT_EQ(e.setSysctl(rmemIn(NS_Y, RMEM0, RMEM1), TUNER).status, Status::OK);

  // Rollback never clobbers the admin's value.
  ASSERT_EQ(e.rollbackAll(ADMIN).status, Status::OK);
  EXPECT_EQ(namespaces.live[NS_X][TunableId::TCP_RMEM], RMEM_ADMIN);
  EXPECT_EQ(namespaces.live[NS_Y][TunableId::TCP_RMEM], RMEM0);

  // Resume X: the admin's value is the new baseline; tuning there works again, and a later
  // rollback goes back to the admin's value, not to bpftune's original.
  uint64_t epoch = e.resumeEpoch();
  Answer resumed = e.resume(TunerId::TCP_BUFFER, NS_X, ADMIN);
  ASSERT_EQ(resumed.status, Status::OK) << resumed.reason;
  EXPECT_GT(e.resumeEpoch(), epoch);
  EXPECT_TRUE(e.paused()) << "resuming one namespace does not lift the pause of a rollback";
}

TEST_F(EngineNetnsTest, ResumeMakesTheAdminsValueTheBaseline) {
  Engine& e = restart();
  ASSERT_EQ(e.setSysctl(rmemIn(NS_X, RMEM0, RMEM1), TUNER).status, Status::OK);
  namespaces.live[NS_X][TunableId::TCP_RMEM] = RMEM_ADMIN;
  ASSERT_EQ(e.reportOverride(adminWrote(NS_X, RMEM_ADMIN), TUNER).status, Status::OK);
  ASSERT_EQ(restart().resume(TunerId::TCP_BUFFER, NS_X, ADMIN).status, Status::OK);
  Engine& again = restart();  // the baseline comes from the journal
  EXPECT_EQ(again.resumeEpoch(), 1U);
  Answer a = again.setSysctl(rmemIn(NS_X, RMEM_ADMIN, RMEM_ADMIN_UP), TUNER);
  ASSERT_EQ(a.status, Status::OK) << a.reason;
  ASSERT_EQ(again.rollbackAll(ADMIN).status, Status::OK);
  EXPECT_EQ(namespaces.live[NS_X][TunableId::TCP_RMEM], RMEM_ADMIN);
  auto records = diskRecords();
  EXPECT_EQ(records[3].kind, RecordKind::RESUME);
  EXPECT_EQ(records[3].actual, RMEM_ADMIN);
  expectVerified();
}

TEST_F(EngineNetnsTest, ResumeEverywhereLiftsTheRollbackPause) {
  Engine& e = restart();
  e.rollbackAll(ADMIN);
  ASSERT_TRUE(e.paused());
  EXPECT_EQ(e.setSysctl(rmemIn(NS_X, RMEM0, RMEM1), TUNER).status, Status::PAUSED);
  Answer a = e.resume(TunerId::TCP_BUFFER, 0, ADMIN);
  EXPECT_EQ(a.status, Status::OK) << a.reason;
  EXPECT_FALSE(e.paused());
  EXPECT_EQ(e.resumeEpoch(), 1U);  // journaled even with nothing overridden
  EXPECT_EQ(e.setSysctl(rmemIn(NS_X, RMEM0, RMEM1), TUNER).status, Status::OK);
}

TEST_F(EngineNetnsTest, ReportedOverridesAreValidated) {
  Engine& e = restart();
  ReportedOverride bad = adminWrote(NS_X, RMEM_ADMIN);
  bad.tunable = static_cast<TunableId>(99);
  EXPECT_EQ(e.reportOverride(bad, TUNER).field, "tunable");
  bad = adminWrote(NS_X, RMEM_ADMIN);
  bad.count = 2;
  Answer count = e.reportOverride(bad, TUNER);
  EXPECT_EQ(count.status, Status::REJECTED);
  EXPECT_EQ(count.field, "count");
  EXPECT_EQ(count.bound, 3);
  bad = adminWrote(0, RMEM_ADMIN);
  EXPECT_EQ(e.reportOverride(bad, TUNER).field, "netnsCookie");
  bad = adminWrote(NS_X, RMEM_ADMIN);
  bad.tuner = static_cast<TunerId>(42);
  EXPECT_EQ(e.reportOverride(bad, TUNER).field, "tuner");
  EXPECT_TRUE(diskRecords().empty());

  // A hostile comm is journaled sanitized; a second report within 1 s is coalesced.
  ReportedOverride odd = adminWrote(NS_X, RMEM_ADMIN);
  odd.writerComm = "a%n\x1b[31m";
  ASSERT_EQ(e.reportOverride(odd, TUNER).status, Status::OK);
  ASSERT_EQ(e.reportOverride(odd, TUNER).status, Status::OK);
  auto records = diskRecords();
  ASSERT_EQ(records.size(), 1U);
  for (char c : records[0].writerComm) {
    EXPECT_TRUE(c >= 0x20 && c < 0x7f) << "control byte in the journaled comm";
  }
}

TEST_F(EngineNetnsTest, GlobalTunableOverrideIsKeyedOnTheInitNamespace) {
  Engine& e = restart();
  ReportedOverride o = adminWrote(NS_X, {100, 200, 300});
  o.tunable = TunableId::TCP_MEM;
  ASSERT_EQ(e.reportOverride(o, TUNER).status, Status::OK);
  auto records = diskRecords();
  ASSERT_EQ(records.size(), 1U);
  EXPECT_EQ(records[0].netnsCookie, COOKIE);
  EXPECT_EQ(records[0].causeNetnsCookie, NS_X);
}

TEST_F(EngineNetnsTest, RecoveryInAVanishedNamespace) {
  {
    Engine& e = restart();
    (void)e;
    journal::Record intent = intentRecord(BOOT, RMEM0, RMEM1);
    intent.netnsCookie = NS_X;
    writer->append(intent);  // crash: no outcome
  }
  namespaces.live.erase(NS_X);
  Engine& e = restart();
  EXPECT_EQ(e.recover(), 1U);
  auto records = diskRecords();
  ASSERT_EQ(records.size(), 2U);
  EXPECT_EQ(records[1].kind, RecordKind::RECOVERED);
  EXPECT_EQ(records[1].result, OutcomeResult::NETNS_GONE);
  expectVerified();
}

TEST(NetnsIndex, ParsesNetworkNamespaceMounts) {
  const char* mountinfo =
      "22 1 0:21 / /proc rw,nosuid - proc proc rw\n"
      "612 25 0:4 net:[4026532177] /run/netns/blue rw shared:5 - nsfs nsfs rw\n"
      "613 25 0:4 net:[4026532300] /run/netns/with\\040space rw - nsfs nsfs rw\n"
      "614 25 0:4 mnt:[4026532400] /run/mntns/x rw - nsfs nsfs rw\n"
      "615 25 0:4 net:[bogus] /run/netns/bad rw - nsfs nsfs rw\n"
      "616 25 0:5 net:[4026532500] /not/nsfs rw - tmpfs tmpfs rw\n";
  auto mounts = nsfs::parseNetnsMounts(mountinfo);
  ASSERT_EQ(mounts.size(), 2U);
  EXPECT_EQ(mounts[0].inum, 4026532177U);
  EXPECT_EQ(mounts[0].mountPoint, "/run/netns/blue");
  EXPECT_EQ(mounts[1].mountPoint, "/run/netns/with space");
}

}  // namespace
}  // namespace bpftune::actuator
