// Advice mode (Engine::setAdvise) and `bpftune apply` (Engine::applyProposal) over the fake
// /proc/sys/net of engine_fixture.h: proposals are journaled and nothing is written; one open
// proposal per key; apply goes through the same checks and journal, and refuses unknown,
// applied, superseded and stale ids.
#include "engine_fixture.h"
#include "journal_advice.h"

namespace bpftune::actuator::enginetest {
namespace {

constexpr Values RMEM_TOO_BIG = {4096, 131072, 62914560};  // +900%: beyond step=25%
constexpr Values RMEM_OTHER = {4096, 131072, 7000000};     // +11%: another step from RMEM0

class EngineAdviceTest : public EngineTest {
protected:
  Engine& advising() {
    Engine& e = restart();
    e.setAdvise(true);
    return e;
  }
  journal::Advice adviceOnDisk() const {
    journal::Advice advice(BOOT);
    for (const auto& r : diskRecords()) {
      advice.apply(r);
    }
    return advice;
  }
};

TEST_F(EngineAdviceTest, ProposalIsJournaledAndNothingIsWritten) {
  Engine& e = advising();
  Answer a = e.setSysctl(request(TunableId::TCP_RMEM, RMEM0, RMEM1), TUNER);
  ASSERT_EQ(a.status, Status::PROPOSED) << a.reason;
  EXPECT_EQ(a.values, RMEM0);  // the live value the collector keeps seeing
  EXPECT_NE(a.reason.find("bpftune apply " + std::to_string(a.journalSeq)), std::string::npos)
      << a.reason;
  EXPECT_EQ(sysctlText("ipv4/tcp_rmem"), RMEM_TEXT);
  auto records = diskRecords();
  ASSERT_EQ(records.size(), 1U);
  EXPECT_EQ(records[0].kind, RecordKind::PROPOSAL);
  EXPECT_EQ(records[0].seq, a.journalSeq);
  EXPECT_EQ(records[0].oldValues, RMEM0);
  EXPECT_EQ(records[0].newValues, RMEM1);
  EXPECT_EQ(records[0].requesterUid, TUNER.uid);
  EXPECT_EQ(records[0].scenario, ScenarioId::BUFFER_INCREASE);
  EXPECT_EQ(records[0].netnsInode, OWN_INODE);
  EXPECT_NE(journal::toText(records[0]).find(" proposal "), std::string::npos);
  expectVerified();
}

TEST_F(EngineAdviceTest, InvalidRequestIsRefusedNotProposed) {
  Engine& e = advising();
  Answer a = e.setSysctl(request(TunableId::TCP_RMEM, RMEM0, RMEM_TOO_BIG), TUNER);
  EXPECT_EQ(a.status, Status::REJECTED) << a.reason;
  EXPECT_TRUE(diskRecords().empty());
  Answer stale = e.setSysctl(request(TunableId::TCP_RMEM, RMEM1, RMEM2), TUNER);
  EXPECT_EQ(stale.status, Status::STALE) << stale.reason;
  EXPECT_TRUE(diskRecords().empty());
}

// The runaway guard: a tuner that keeps asking for the same change gets the open proposal back,
// however often and however far past the policy's rate (20 per 10 s).
TEST_F(EngineAdviceTest, RepeatedRequestIsAnsweredByTheOpenProposal) {
  Engine& e = advising();
  uint64_t first = e.setSysctl(request(TunableId::TCP_RMEM, RMEM0, RMEM1), TUNER).journalSeq;
  for (int i = 0; i < 50; ++i) {
    Answer a = e.setSysctl(request(TunableId::TCP_RMEM, RMEM0, RMEM1), TUNER);
    ASSERT_EQ(a.status, Status::PROPOSED) << a.reason;
    EXPECT_EQ(a.journalSeq, first);
  }
  EXPECT_EQ(diskRecords().size(), 1U);
  EXPECT_EQ(adviceOnDisk().open().size(), 1U);
}

// A changed request replaces the open proposal: still one per key, the old id superseded.
TEST_F(EngineAdviceTest, DifferentRequestReplacesTheOpenProposal) {
  Engine& e = advising();
  uint64_t first = e.setSysctl(request(TunableId::TCP_RMEM, RMEM0, RMEM1), TUNER).journalSeq;
  Answer replaced = e.setSysctl(request(TunableId::TCP_RMEM, RMEM0, RMEM_OTHER), TUNER);
  ASSERT_EQ(replaced.status, Status::PROPOSED) << replaced.reason;
  uint64_t second = replaced.journalSeq;
  uint64_t other = e.setSysctl(request(TunableId::TCP_WMEM, WMEM0, WMEM1), TUNER).journalSeq;
  EXPECT_NE(first, second);
  auto open = adviceOnDisk().open();
  ASSERT_EQ(open.size(), 2U);  // one per key: tcp_rmem's newest, tcp_wmem's
  EXPECT_EQ(open[0].seq, second);
  EXPECT_EQ(open[1].seq, other);
  Answer a = e.applyProposal(first, ADMIN);
  EXPECT_EQ(a.status, Status::REJECTED);
  EXPECT_NE(a.reason.find("superseded by proposal " + std::to_string(second)), std::string::npos)
      << a.reason;
  EXPECT_EQ(sysctlText("ipv4/tcp_rmem"), RMEM_TEXT);
}

TEST_F(EngineAdviceTest, ApplyWritesThroughTheJournalOnce) {
  Engine& e = advising();
  uint64_t id = e.setSysctl(request(TunableId::TCP_RMEM, RMEM0, RMEM1), TUNER).journalSeq;
  Answer a = e.applyProposal(id, ADMIN);
  ASSERT_EQ(a.status, Status::OK) << a.reason;
  EXPECT_EQ(sysctlText("ipv4/tcp_rmem"), "4096\t131072\t7340032\n");
  auto records = diskRecords();
  ASSERT_EQ(records.size(), 3U);
  EXPECT_EQ(records[1].kind, RecordKind::INTENT);
  EXPECT_EQ(records[2].kind, RecordKind::OUTCOME);
  EXPECT_EQ(a.journalSeq, records[2].seq);
  for (const auto& r : {records[1], records[2]}) {
    EXPECT_EQ(r.proposalSeq, id);
    EXPECT_EQ(r.requesterUid, ADMIN.uid);  // who applied it
    EXPECT_EQ(r.requesterPid, ADMIN.pid);
    EXPECT_EQ(r.tuner, TunerId::TCP_BUFFER);  // why: the tuner's scenario
    EXPECT_EQ(r.oldValues, RMEM0);
    EXPECT_EQ(r.newValues, RMEM1);
  }
  EXPECT_EQ(records[2].result, OutcomeResult::APPLIED);
  Answer again = e.applyProposal(id, ADMIN);
  EXPECT_EQ(again.status, Status::REJECTED);
  EXPECT_NE(again.reason.find("already applied (journal seq " + std::to_string(records[2].seq)),
            std::string::npos)
      << again.reason;
  EXPECT_TRUE(adviceOnDisk().open().empty());
  expectVerified();
  // The tuner's next step starts from the applied value and is a new proposal.
  Answer next = e.setSysctl(request(TunableId::TCP_RMEM, RMEM1, RMEM2), TUNER);
  EXPECT_EQ(next.status, Status::PROPOSED) << next.reason;
  EXPECT_GT(next.journalSeq, records[2].seq);
}

TEST_F(EngineAdviceTest, ApplyRefusesUnknownAndStaleIds) {
  Engine& e = advising();
  Answer unknown = e.applyProposal(99, ADMIN);
  EXPECT_EQ(unknown.status, Status::REJECTED);
  EXPECT_NE(unknown.reason.find("proposal 99: unknown"), std::string::npos) << unknown.reason;
  uint64_t id = e.setSysctl(request(TunableId::TCP_RMEM, RMEM0, RMEM1), TUNER).journalSeq;
  putSysctl("ipv4/tcp_rmem", "4096\t131072\t5000000\n");  // an administrator's write
  Answer stale = e.applyProposal(id, ADMIN);
  EXPECT_EQ(stale.status, Status::STALE) << stale.reason;
  EXPECT_NE(stale.reason.find("is stale"), std::string::npos) << stale.reason;
  EXPECT_EQ(sysctlText("ipv4/tcp_rmem"), "4096\t131072\t5000000\n");
  EXPECT_EQ(diskRecords().size(), 1U);  // nothing journaled but the proposal
  // An intent record's seq is not a proposal id either.
  e.setAdvise(false);
  putSysctl("ipv4/tcp_rmem", RMEM_TEXT);
  Answer written = e.setSysctl(request(TunableId::TCP_WMEM, WMEM0, WMEM1), TUNER);
  ASSERT_EQ(written.status, Status::OK) << written.reason;
  EXPECT_NE(e.applyProposal(written.journalSeq, ADMIN).reason.find("unknown"), std::string::npos);
}

// The journal is the only state: a restarted actuator knows the open proposals, and a
// proposal of an earlier boot (whose values the reboot reset) is unknown.
TEST_F(EngineAdviceTest, ProposalsOutliveARestartButNotABoot) {
  uint64_t id = advising().setSysctl(request(TunableId::TCP_RMEM, RMEM0, RMEM1), TUNER).journalSeq;
  Engine& e = advising();
  EXPECT_EQ(e.setSysctl(request(TunableId::TCP_RMEM, RMEM0, RMEM1), TUNER).journalSeq, id);
  ASSERT_EQ(e.applyProposal(id, ADMIN).status, Status::OK);

  journal::Advice later(OTHER_BOOT);
  for (const auto& r : diskRecords()) {
    later.apply(r);
  }
  EXPECT_EQ(later.find(id).state, journal::ProposalState::UNKNOWN);
}

// A rollback's pause holds for apply too: the administrator resumes first.
TEST_F(EngineAdviceTest, ApplyWaitsWhilePaused) {
  Engine& e = advising();
  uint64_t id = e.setSysctl(request(TunableId::TCP_RMEM, RMEM0, RMEM1), TUNER).journalSeq;
  e.rollbackAll(ADMIN);
  EXPECT_EQ(e.applyProposal(id, ADMIN).status, Status::PAUSED);
  EXPECT_EQ(sysctlText("ipv4/tcp_rmem"), RMEM_TEXT);
}

}  // namespace
}  // namespace bpftune::actuator::enginetest
