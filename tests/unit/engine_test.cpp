// The actuator's decision core over a fake /proc/sys/net: a temporary directory holding regular
// files named like the sysctls, opened O_DIRECTORY as the engine's sysnetFd. No root needed.
//
// writeSysctl pwrites at offset 0 without truncating (procfs needs no truncation). On a regular
// file a shorter value would leave bytes of the old one behind, so every value below keeps the
// number of digits of the one it replaces (6291456 -> 7340032 -> 8388608 -> 6291456 ...), which
// makes a regular file behave like procfs. Outside changes ("someone else") use O_TRUNC.
#include "engine_fixture.h"

namespace bpftune::actuator {
namespace {

using namespace enginetest;  // NOLINT(google-build-using-namespace)

// Case 1 ------------------------------------------------------------------------------------

TEST_F(EngineTest, SetSysctlAppliesAndJournalsIntentThenOutcome) {
  Engine& e = restart();
  Answer a = e.setSysctl(request(TunableId::TCP_RMEM, RMEM0, RMEM1), TUNER);
  ASSERT_EQ(a.status, Status::OK) << a.reason;
  EXPECT_EQ(a.values, RMEM1);
  EXPECT_EQ(a.count, 3);
  EXPECT_EQ(sysctlText("ipv4/tcp_rmem"), "4096\t131072\t7340032\n");
  EXPECT_EQ(sysctlText("ipv4/tcp_wmem"), WMEM_TEXT);  // nothing else touched

  auto records = diskRecords();
  ASSERT_EQ(records.size(), 2U);
  const auto& intent = records[0];
  const auto& outcome = records[1];
  EXPECT_EQ(intent.kind, RecordKind::INTENT);
  EXPECT_EQ(intent.seq, 1U);
  EXPECT_EQ(intent.bootId, BOOT);
  EXPECT_EQ(intent.tuner, TunerId::TCP_BUFFER);
  EXPECT_EQ(intent.scenario, ScenarioId::BUFFER_INCREASE);
  EXPECT_EQ(intent.netnsCookie, COOKIE);
  EXPECT_EQ(intent.tunable, TunableId::TCP_RMEM);
  EXPECT_EQ(intent.count, 3);
  EXPECT_EQ(intent.oldValues, RMEM0);
  EXPECT_EQ(intent.newValues, RMEM1);
  EXPECT_EQ(intent.requesterPid, TUNER.pid);
  EXPECT_EQ(intent.requesterUid, TUNER.uid);

  EXPECT_EQ(outcome.kind, RecordKind::OUTCOME);
  EXPECT_EQ(outcome.seq, 2U);
  EXPECT_EQ(a.journalSeq, outcome.seq);
  EXPECT_EQ(outcome.intentSeq, intent.seq);
  EXPECT_EQ(outcome.result, OutcomeResult::APPLIED);
  EXPECT_EQ(outcome.error, 0);
  EXPECT_EQ(outcome.bootId, BOOT);
  EXPECT_EQ(outcome.tunable, TunableId::TCP_RMEM);
  EXPECT_EQ(outcome.oldValues, RMEM0);
  EXPECT_EQ(outcome.newValues, RMEM1);
  EXPECT_EQ(outcome.actual, RMEM1);
  EXPECT_EQ(outcome.requesterPid, TUNER.pid);
  EXPECT_EQ(outcome.requesterUid, TUNER.uid);
  expectVerified();

  // Nothing left for recovery after a clean write.
  EXPECT_EQ(restart().recover(), 0U);
  EXPECT_EQ(diskRecords().size(), 2U);
}

// Case 2 ------------------------------------------------------------------------------------

// The crash happened after the sysctl write: the live value is the intent's new value.
TEST_F(EngineTest, RecoverResolvesIntentWithoutOutcomeAsApplied) {
  uint64_t intentSeq = writer->append(intentRecord(BOOT, RMEM0, RMEM1));
  putSysctl("ipv4/tcp_rmem", "4096\t131072\t7340032\n");

  Engine& e = restart();
  EXPECT_EQ(e.recover(), 1U);
  auto records = diskRecords();
  ASSERT_EQ(records.size(), 2U);
  const auto& r = records[1];
  EXPECT_EQ(r.kind, RecordKind::RECOVERED);
  EXPECT_EQ(r.intentSeq, intentSeq);
  EXPECT_EQ(r.result, OutcomeResult::APPLIED);
  EXPECT_EQ(r.actual, RMEM1);
  EXPECT_EQ(r.oldValues, RMEM0);
  EXPECT_EQ(r.newValues, RMEM1);
  EXPECT_EQ(r.tuner, TunerId::ACTUATOR);
  EXPECT_EQ(r.scenario, ScenarioId::RECOVERY);
  EXPECT_EQ(r.bootId, BOOT);
  EXPECT_EQ(r.tunable, TunableId::TCP_RMEM);
  EXPECT_EQ(r.netnsCookie, COOKIE);
  EXPECT_EQ(r.requesterPid, TUNER.pid);
  EXPECT_EQ(r.requesterUid, TUNER.uid);
  expectVerified();

  // Resolved once: neither this engine nor a restarted one resolves it again.
  EXPECT_EQ(e.recover(), 0U);
  EXPECT_EQ(diskRecords().size(), 2U);
  EXPECT_EQ(restart().recover(), 0U);
  EXPECT_EQ(diskRecords().size(), 2U);
  // The file is read, never written, by recovery.
  EXPECT_EQ(sysctlText("ipv4/tcp_rmem"), "4096\t131072\t7340032\n");

  // The recovered value counts as bpftune's last write: a request from it is accepted.
  Answer a = engine->setSysctl(request(TunableId::TCP_RMEM, RMEM1, RMEM2), TUNER);
  EXPECT_EQ(a.status, Status::OK) << a.reason;
}

// The crash happened before the sysctl write: the live value is still the old one.
TEST_F(EngineTest, RecoverResolvesIntentWithoutOutcomeAsNotApplied) {
  uint64_t intentSeq = writer->append(intentRecord(BOOT, RMEM0, RMEM1));

  Engine& e = restart();
  EXPECT_EQ(e.recover(), 1U);
  auto records = diskRecords();
  ASSERT_EQ(records.size(), 2U);
  EXPECT_EQ(records[1].kind, RecordKind::RECOVERED);
  EXPECT_EQ(records[1].intentSeq, intentSeq);
  EXPECT_EQ(records[1].result, OutcomeResult::NOT_APPLIED);
  EXPECT_EQ(records[1].actual, RMEM0);
  EXPECT_EQ(sysctlText("ipv4/tcp_rmem"), RMEM_TEXT);
  expectVerified();

  EXPECT_EQ(e.recover(), 0U);
  EXPECT_EQ(diskRecords().size(), 2U);
}

// Neither old nor new is live: MISMATCH, still resolved (once).
TEST_F(EngineTest, RecoverClassifiesThirdValueAsMismatch) {
  writer->append(intentRecord(BOOT, RMEM0, RMEM1));
  putSysctl("ipv4/tcp_rmem", "4096\t131072\t6815744\n");

  Engine& e = restart();
  EXPECT_EQ(e.recover(), 1U);
  auto records = diskRecords();
  ASSERT_EQ(records.size(), 2U);
  EXPECT_EQ(records[1].result, OutcomeResult::MISMATCH);
  EXPECT_EQ(records[1].actual, (Values{4096, 131072, 6815744}));
  EXPECT_EQ(e.recover(), 0U);
}

// A recovered value that is neither old nor new was written by someone else: bpftune must not
// adopt it as its own, so the next request for that key is OVERRIDDEN.
TEST_F(EngineTest, RecoveredMismatchIsNotAdoptedAsBpftunesValue) {
  writer->append(intentRecord(BOOT, RMEM0, RMEM1));
  putSysctl("ipv4/tcp_rmem", "4096\t131072\t6815744\n");
  Engine& e = restart();
  ASSERT_EQ(e.recover(), 1U);
  constexpr Values OUTSIDE = {4096, 131072, 6815744};
  Answer a = e.setSysctl(request(TunableId::TCP_RMEM, OUTSIDE, {4096, 131072, 7340032}), TUNER);
  EXPECT_EQ(a.status, Status::OVERRIDDEN) << a.reason;
  EXPECT_EQ(sysctlText("ipv4/tcp_rmem"), "4096\t131072\t6815744\n");
}

// A failed read-back tells nothing about the live value: it must not become "bpftune's last
// write" (it used to be recorded as 0 0 0 and block the key as OVERRIDDEN until reboot).
TEST_F(EngineTest, UnreadableValueAtRecoveryDoesNotBlockTheKey) {
  writer->append(intentRecord(BOOT, RMEM0, RMEM1));
  std::string path = root + "/net/ipv4/tcp_rmem";
  ASSERT_EQ(unlink(path.c_str()), 0);
  ASSERT_EQ(mkdir(path.c_str(), 0755), 0);  // open works, pread fails with EISDIR
  Engine& e = restart();
  ASSERT_EQ(e.recover(), 1U);
  EXPECT_NE(diskRecords().back().error, 0);
  ASSERT_EQ(rmdir(path.c_str()), 0);
  putSysctl("ipv4/tcp_rmem", "4096\t131072\t6291456\n");
  Answer a = restart().setSysctl(request(TunableId::TCP_RMEM, RMEM0, RMEM1), TUNER);
  EXPECT_EQ(a.status, Status::OK) << a.reason;
}

// Sysctls reset at reboot: an intent of another boot is history, not something to resolve.
TEST_F(EngineTest, RecoverIgnoresIntentsOfAnotherBoot) {
  writer->append(intentRecord(OTHER_BOOT, RMEM0, RMEM1));
  putSysctl("ipv4/tcp_rmem", "4096\t131072\t7340032\n");

  EXPECT_EQ(restart().recover(), 0U);
  EXPECT_EQ(diskRecords().size(), 1U);

  // Mixed: only the current boot's intent is resolved.
  uint64_t current = writer->append(intentRecord(BOOT, RMEM0, RMEM1));
  EXPECT_EQ(restart().recover(), 1U);
  auto records = diskRecords();
  ASSERT_EQ(records.size(), 3U);
  EXPECT_EQ(records[2].kind, RecordKind::RECOVERED);
  EXPECT_EQ(records[2].intentSeq, current);
  EXPECT_EQ(records[2].bootId, BOOT);
  expectVerified();
}

// Case 3 ------------------------------------------------------------------------------------

// Three changes (rmem, rmem, wmem), then rollback. Expected journal, seq by seq:
//   1 I rmem 0->1, 2 O, 3 I rmem 1->2, 4 O, 5 I wmem 0->1, 6 O,
//   7 I wmem 1->0 (admin/rollback), 8 O, 9 I rmem 2->0 (admin/rollback), 10 O.
// wmem goes first although the map (and the first change) order rmem before it.
class EngineRollbackTest : public EngineTest {
protected:
  void makeThreeChanges(Engine& e) {
    ASSERT_EQ(e.setSysctl(request(TunableId::TCP_RMEM, RMEM0, RMEM1), TUNER).status, Status::OK);
    ASSERT_EQ(e.setSysctl(request(TunableId::TCP_RMEM, RMEM1, RMEM2), TUNER).status, Status::OK);
    ASSERT_EQ(e.setSysctl(request(TunableId::TCP_WMEM, WMEM0, WMEM1), TUNER).status, Status::OK);
    ASSERT_EQ(sysctlText("ipv4/tcp_rmem"), "4096\t131072\t8388608\n");
    ASSERT_EQ(sysctlText("ipv4/tcp_wmem"), "4096\t16384\t4718592\n");
    ASSERT_EQ(diskRecords().size(), 6U);
  }

  void expectRolledBack() {
    EXPECT_EQ(sysctlText("ipv4/tcp_rmem"), RMEM_TEXT);
    EXPECT_EQ(sysctlText("ipv4/tcp_wmem"), WMEM_TEXT);
    EXPECT_EQ(sysctlText("ipv4/tcp_moderate_rcvbuf"), MODERATE_TEXT);

    auto records = diskRecords();
    ASSERT_EQ(records.size(), 10U);
    struct Step {
      TunableId tunable;
      Values from;
      Values to;
    };
    const Step steps[] = {{TunableId::TCP_WMEM, WMEM1, WMEM0}, {TunableId::TCP_RMEM, RMEM2, RMEM0}};
    for (size_t i = 0; i < 2; ++i) {
      const auto& intent = records[6 + 2 * i];
      const auto& outcome = records[7 + 2 * i];
      SCOPED_TRACE("rollback step " + std::to_string(i));
      EXPECT_EQ(intent.kind, RecordKind::INTENT);
      EXPECT_EQ(intent.tunable, steps[i].tunable);
      EXPECT_EQ(intent.tuner, TunerId::ADMIN);
      EXPECT_EQ(intent.scenario, ScenarioId::ROLLBACK);
      EXPECT_EQ(intent.bootId, BOOT);
      EXPECT_EQ(intent.netnsCookie, COOKIE);
      EXPECT_EQ(intent.oldValues, steps[i].from);
      EXPECT_EQ(intent.newValues, steps[i].to);  // original of the FIRST intent for rmem
      EXPECT_EQ(intent.requesterPid, ADMIN.pid);
      EXPECT_EQ(intent.requesterUid, ADMIN.uid);
      EXPECT_EQ(outcome.kind, RecordKind::OUTCOME);
      EXPECT_EQ(outcome.intentSeq, intent.seq);
      EXPECT_EQ(outcome.tunable, steps[i].tunable);
      EXPECT_EQ(outcome.tuner, TunerId::ADMIN);
      EXPECT_EQ(outcome.scenario, ScenarioId::ROLLBACK);
      EXPECT_EQ(outcome.result, OutcomeResult::APPLIED);
      EXPECT_EQ(outcome.actual, steps[i].to);
    }
    expectVerified();
  }
};

TEST_F(EngineRollbackTest, RestoresFirstOriginalsNewestFirstAndPauses) {
  Engine& e = restart();
  makeThreeChanges(e);

  EXPECT_FALSE(e.paused());
  Answer a = e.rollbackAll(ADMIN);
  EXPECT_EQ(a.status, Status::OK) << a.reason;
  EXPECT_EQ(a.journalSeq, 10U);
  EXPECT_TRUE(e.paused());
  expectRolledBack();

  // Paused: nothing is written or journaled, whatever the request.
  Answer refused = e.setSysctl(request(TunableId::TCP_RMEM, RMEM0, RMEM1), TUNER);
  EXPECT_EQ(refused.status, Status::PAUSED);
  EXPECT_EQ(sysctlText("ipv4/tcp_rmem"), RMEM_TEXT);
  EXPECT_EQ(diskRecords().size(), 10U);

  // A second rollback has nothing left to do.
  EXPECT_EQ(e.rollbackAll(ADMIN).status, Status::OK);
  EXPECT_EQ(diskRecords().size(), 10U);

  // A restart resumes tuning.
  Engine& resumed = restart();
  EXPECT_FALSE(resumed.paused());
  EXPECT_EQ(resumed.setSysctl(request(TunableId::TCP_RMEM, RMEM0, RMEM1), TUNER).status,
            Status::OK);
}

TEST_F(EngineRollbackTest, WorksFromTheJournalAloneAfterRestart) {
  makeThreeChanges(restart());

  Engine& fresh = restart();
  Answer a = fresh.rollbackAll(ADMIN);
  EXPECT_EQ(a.status, Status::OK) << a.reason;
  EXPECT_TRUE(fresh.paused());
  expectRolledBack();
  EXPECT_EQ(fresh.setSysctl(request(TunableId::TCP_WMEM, WMEM0, WMEM1), TUNER).status,
            Status::PAUSED);
  EXPECT_EQ(sysctlText("ipv4/tcp_wmem"), WMEM_TEXT);
}

// Order is by the latest change, not the first: wmem, rmem, wmem rolls back wmem first
// (map order would give rmem first).
TEST_F(EngineTest, RollbackOrdersByLatestChange) {
  constexpr Values WMEM2 = {4096, 16384, 5242880};
  Engine& e = restart();
  ASSERT_EQ(e.setSysctl(request(TunableId::TCP_WMEM, WMEM0, WMEM1), TUNER).status, Status::OK);
  ASSERT_EQ(e.setSysctl(request(TunableId::TCP_RMEM, RMEM0, RMEM1), TUNER).status, Status::OK);
  ASSERT_EQ(e.setSysctl(request(TunableId::TCP_WMEM, WMEM1, WMEM2), TUNER).status, Status::OK);
  ASSERT_EQ(e.rollbackAll(ADMIN).status, Status::OK);
  auto records = diskRecords();
  ASSERT_EQ(records.size(), 10U);
  EXPECT_EQ(records[6].tunable, TunableId::TCP_WMEM);
  EXPECT_EQ(records[6].newValues, WMEM0);
  EXPECT_EQ(records[8].tunable, TunableId::TCP_RMEM);
  EXPECT_EQ(records[8].newValues, RMEM0);
  EXPECT_EQ(sysctlText("ipv4/tcp_rmem"), RMEM_TEXT);
  EXPECT_EQ(sysctlText("ipv4/tcp_wmem"), WMEM_TEXT);
}

// Case 4 ------------------------------------------------------------------------------------

TEST_F(EngineTest, OutsideChangeAfterApplyIsOverridden) {
  Engine& e = restart();
  ASSERT_EQ(e.setSysctl(request(TunableId::TCP_RMEM, RMEM0, RMEM1), TUNER).status, Status::OK);
  putSysctl("ipv4/tcp_rmem", "4096\t131072\t6815744\n");  // an administrator's sysctl -w
  constexpr Values OUTSIDE = {4096, 131072, 6815744};

  // Even a request that expects the outside value (so STALE cannot be the reason).
  Answer a = e.setSysctl(request(TunableId::TCP_RMEM, OUTSIDE, RMEM1), TUNER);
  EXPECT_EQ(a.status, Status::OVERRIDDEN) << a.reason;
  EXPECT_EQ(a.values, OUTSIDE);
  EXPECT_EQ(sysctlText("ipv4/tcp_rmem"), "4096\t131072\t6815744\n");
  auto records = diskRecords();
  ASSERT_EQ(records.size(), 3U);  // the override is journaled once
  EXPECT_EQ(records[2].kind, RecordKind::OVERRIDE);
  EXPECT_EQ(records[2].overrideSource, proto::OverrideSource::COMPARE_AND_SET);
  EXPECT_EQ(records[2].actual, OUTSIDE);

  // Remembered across a restart (journal only), and not journaled again.
  Answer again = restart().setSysctl(request(TunableId::TCP_RMEM, OUTSIDE, RMEM1), TUNER);
  EXPECT_EQ(again.status, Status::OVERRIDDEN) << again.reason;
  EXPECT_EQ(sysctlText("ipv4/tcp_rmem"), "4096\t131072\t6815744\n");
  EXPECT_EQ(diskRecords().size(), 3U);
}

TEST_F(EngineTest, ExpectedDifferentFromLiveIsStale) {
  Engine& e = restart();
  Answer a = e.setSysctl(request(TunableId::TCP_RMEM, RMEM1, RMEM2), TUNER);
  EXPECT_EQ(a.status, Status::STALE) << a.reason;
  EXPECT_EQ(a.values, RMEM0);
  EXPECT_EQ(sysctlText("ipv4/tcp_rmem"), RMEM_TEXT);
  EXPECT_TRUE(diskRecords().empty());
}

// Case 5 ------------------------------------------------------------------------------------

TEST_F(EngineTest, RollbackSkipsKeyAlreadyAtOriginal) {
  Engine& e = restart();
  ASSERT_EQ(
      e.setSysctl(request(TunableId::TCP_MODERATE_RCVBUF, MODERATE0, MODERATE1), TUNER).status,
      Status::OK);
  ASSERT_EQ(sysctlText("ipv4/tcp_moderate_rcvbuf"), "0\n");
  putSysctl("ipv4/tcp_moderate_rcvbuf", MODERATE_TEXT);  // someone put it back
  ASSERT_EQ(diskRecords().size(), 2U);

  // Someone else wrote it (to the original, as it happens): left alone, and that is journaled.
  Answer a = e.rollbackAll(ADMIN);
  EXPECT_EQ(a.status, Status::OK) << a.reason;
  auto records = diskRecords();
  ASSERT_EQ(records.size(), 3U);
  EXPECT_EQ(records[2].kind, RecordKind::OVERRIDE);
  EXPECT_EQ(sysctlText("ipv4/tcp_moderate_rcvbuf"), MODERATE_TEXT);
  EXPECT_TRUE(e.paused());
}

TEST_F(EngineTest, RollbackSkipsOnlyTheKeyAlreadyAtOriginal) {
  Engine& e = restart();
  ASSERT_EQ(e.setSysctl(request(TunableId::TCP_RMEM, RMEM0, RMEM1), TUNER).status, Status::OK);
  ASSERT_EQ(
      e.setSysctl(request(TunableId::TCP_MODERATE_RCVBUF, MODERATE0, MODERATE1), TUNER).status,
      Status::OK);
  putSysctl("ipv4/tcp_moderate_rcvbuf", MODERATE_TEXT);

  ASSERT_EQ(restart().rollbackAll(ADMIN).status, Status::OK);
  auto records = diskRecords();
  ASSERT_EQ(records.size(), 7U);
  EXPECT_EQ(records[4].kind, RecordKind::OVERRIDE);  // moderate_rcvbuf, newest first
  EXPECT_EQ(records[4].tunable, TunableId::TCP_MODERATE_RCVBUF);
  EXPECT_EQ(records[5].tunable, TunableId::TCP_RMEM);
  EXPECT_EQ(records[5].scenario, ScenarioId::ROLLBACK);
  EXPECT_EQ(records[6].tunable, TunableId::TCP_RMEM);
  EXPECT_EQ(records[6].result, OutcomeResult::APPLIED);
  EXPECT_EQ(sysctlText("ipv4/tcp_rmem"), RMEM_TEXT);
  EXPECT_EQ(sysctlText("ipv4/tcp_moderate_rcvbuf"), MODERATE_TEXT);
  expectVerified();
}

// The journal is evidence, not authority: an original outside the policy's bounds (here forged
// as 1 1 1) is reported, not written back.
TEST_F(EngineTest, RollbackRefusesAnOriginalOutsideThePolicy) {
  constexpr Values FORGED = {1, 1, 1};
  uint64_t seq = writer->append(intentRecord(BOOT, FORGED, RMEM1));
  journal::Record outcome = intentRecord(BOOT, FORGED, RMEM1);
  outcome.kind = RecordKind::OUTCOME;
  outcome.intentSeq = seq;
  outcome.result = proto::OutcomeResult::APPLIED;
  outcome.actual = RMEM1;
  writer->append(outcome);
  putSysctl("ipv4/tcp_rmem", "4096\t131072\t7340032\n");
  size_t before = diskRecords().size();

  Answer a = restart().rollbackAll(ADMIN);
  EXPECT_NE(a.reason.find("violates the policy"), std::string::npos) << a.reason;
  EXPECT_EQ(sysctlText("ipv4/tcp_rmem"), "4096\t131072\t7340032\n");
  EXPECT_EQ(diskRecords().size(), before) << "nothing journaled for a refused restore";
}

// After a successful write whose read-back failed, the live value is bpftune's new one: the key
// must not turn OVERRIDDEN. At recovery an unreadable value tells nothing.
TEST(BootStateTest, ReadBackFailureAfterAWriteMeansTheNewValue) {
  BootState state(BOOT);
  journal::Record intent;
  intent.kind = RecordKind::INTENT;
  intent.seq = 1;
  intent.bootId = BOOT;
  intent.netnsCookie = COOKIE;
  intent.tunable = TunableId::TCP_RMEM;
  intent.count = 3;
  intent.oldValues = RMEM0;
  intent.newValues = RMEM1;
  state.apply(intent);
  journal::Record outcome = intent;
  outcome.kind = RecordKind::OUTCOME;
  outcome.seq = 2;
  outcome.intentSeq = 1;
  outcome.result = proto::OutcomeResult::MISMATCH;
  outcome.error = 5;
  state.apply(outcome);
  const KeyState* key = state.find({COOKIE, TunableId::TCP_RMEM, {}});
  ASSERT_NE(key, nullptr);
  ASSERT_TRUE(key->lastApplied.has_value());
  EXPECT_EQ(*key->lastApplied, RMEM1);

  BootState recovered(BOOT);
  recovered.apply(intent);
  outcome.kind = RecordKind::RECOVERED;
  recovered.apply(outcome);
  EXPECT_FALSE(recovered.find({COOKIE, TunableId::TCP_RMEM, {}})->lastApplied.has_value());
}

}  // namespace
}  // namespace bpftune::actuator

namespace bpftune::actuator {
namespace {

// flow_limit_cpu_bitmap is a hex cpumask (comma-separated 32-bit groups on big machines).
TEST(SysctlIo, CpuMaskIsReadAndWrittenAsHex) {
  const policy::TunableInfo* info = policy::findTunable(proto::TunableId::FLOW_LIMIT_CPU_BITMAP);
  ASSERT_NE(info, nullptr);
  char path[] = "/tmp/bpftune-cpumask-XXXXXX";
  UniqueFd fd(::mkstemp(path));
  ASSERT_TRUE(fd.valid());
  ::unlink(path);
  ASSERT_TRUE(writeSysctlFd(fd.get(), *info, {0x1a, 0, 0}).ok());
  char text[16] = {};
  ASSERT_EQ(::pread(fd.get(), text, sizeof(text) - 1, 0), 3);
  EXPECT_STREQ(text, "1a\n");
  ASSERT_EQ(::pwrite(fd.get(), "00000001,8000000f\n", 18, 0), 18);
  auto v = readSysctlFd(fd.get(), *info);
  ASSERT_TRUE(v.ok()) << v.error().message;
  EXPECT_EQ((*v)[0], 0x18000000fLL);
  ASSERT_EQ(::pwrite(fd.get(), "xyz\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n", 18, 0), 18);
  EXPECT_FALSE(readSysctlFd(fd.get(), *info).ok());
}

TEST(SysctlIo, NeighThresholdsAreNeverWrittenThroughProc) {
  const policy::TunableInfo* info = policy::findTunable(proto::TunableId::NEIGH_ARP_GC_THRESH);
  auto written = writeSysctl(-1, *info, {128, 512, 1024});
  ASSERT_FALSE(written.ok());
  EXPECT_EQ(written.error().errnum, EOPNOTSUPP);
}

}  // namespace
}  // namespace bpftune::actuator
