// Journal framing, hash chain, verify (every problem kind), torn tails, writer continuation.
#include <fcntl.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "journal_file.h"

namespace bpftune::journal {
namespace {

using Bytes = std::vector<uint8_t>;

Record intent(uint64_t n) {
  Record r;
  r.kind = proto::RecordKind::INTENT;
  r.realtimeNs = 1700000000000000000 + static_cast<int64_t>(n);
  r.monotonicNs = static_cast<int64_t>(n);
  r.bootId = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
  r.netnsCookie = 4096;
  r.tunable = proto::TunableId::TCP_RMEM;
  r.count = 3;
  r.oldValues = {4096, 131072, 6291456};
  r.newValues = {4096, 131072, 7000000 + static_cast<int64_t>(n)};
  r.requesterUid = 999;
  r.requesterPid = 1234;
  return r;
}

Bytes frame(Record r, uint64_t seq, const Hash& prev, Hash* hashOut = nullptr) {
  r.seq = seq;
  Bytes payload = encode(r);
  Hash h = chainHash(prev, payload.data(), payload.size());
  Bytes out(8);
  uint32_t magic = FRAME_MAGIC;
  auto len = static_cast<uint32_t>(payload.size());
  std::memcpy(out.data(), &magic, 4);
  std::memcpy(out.data() + 4, &len, 4);
  out.insert(out.end(), payload.begin(), payload.end());
  out.insert(out.end(), h.begin(), h.end());
  if (hashOut != nullptr) {
    *hashOut = h;
  }
  return out;
}

// Three good frames; returns them separately so tests can rearrange.
std::vector<Bytes> threeFrames() {
  Hash h{};
  std::vector<Bytes> frames;
  for (uint64_t seq = 1; seq <= 3; ++seq) {
    frames.push_back(frame(intent(seq), seq, h, &h));
  }
  return frames;
}

Bytes join(const std::vector<Bytes>& frames) {
  Bytes out;
  for (const auto& f : frames) {
    out.insert(out.end(), f.begin(), f.end());
  }
  return out;
}

VerifyReport scanBytes(const Bytes& bytes) {
  ReadResult ignored;
  return scan(bytes, ignored);
}

class TempJournal : public ::testing::Test {
protected:
  void SetUp() override {
    char tmpl[] = "/tmp/journal_test.XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir = tmpl;
    path = dir + "/journal";
  }
  void TearDown() override {
    unlink(path.c_str());
    rmdir(dir.c_str());
  }
  Bytes fileBytes() const {
    std::ifstream in(path, std::ios::binary);
    return Bytes(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  void writeBytes(const Bytes& b) const {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
  }
  std::string dir;
  std::string path;
};

TEST(Record, EncodeDecodeRoundTrip) {
  Record r = intent(5);
  r.seq = 5;
  r.kind = proto::RecordKind::START;
  r.filterDigest.assign(32, 0xab);
  r.actual = {1, 2, 3};
  r.result = proto::OutcomeResult::MISMATCH;
  Bytes b = encode(r);
  EXPECT_EQ(b.size() % 8, 0U);
  auto back = decode(b.data(), b.size());
  ASSERT_TRUE(back.ok()) << back.error().message;
  EXPECT_EQ(*back, r);
}

void expectRoundTrip(const Record& r) {
  Bytes b = encode(r);
  auto back = decode(b.data(), b.size());
  ASSERT_TRUE(back.ok()) << back.error().message;
  EXPECT_EQ(*back, r);
}

TEST(Record, HostRouteAndLiveSocketRoundTrip) {
  Record r = intent(6);
  r.seq = 6;
  r.tunable = proto::TunableId::ROUTE_CONGCTL;
  r.tuner = proto::TunerId::TCP_CONN;
  r.scenario = proto::ScenarioId::CONGCTL_LOSS;
  r.count = 1;
  r.oldValues = {0, 0, 0};
  r.newValues = {3, 0, 0};
  r.host = *HostAddress::parse("2001:db8::7");
  r.route.table = 1000;
  r.route.gateway = *HostAddress::parse("fe80::1");
  r.route.oif = 4;
  r.route.ifname = "eth0";
  r.route.prefsrc = *HostAddress::parse("2001:db8::1");
  r.route.coveringLen = 48;
  expectRoundTrip(r);
  std::string text = toText(r);
  EXPECT_NE(text.find("host=2001:db8::7 table=1000 via=fe80::1 dev=eth0(4) src=2001:db8::1 "
                      "covering=/48 none -> bbr"),
            std::string::npos)
      << text;
  // On-link, no source: empty addresses stay empty.
  r.route.gateway = HostAddress{};
  r.route.prefsrc = HostAddress{};
  expectRoundTrip(r);
  EXPECT_NE(toText(r).find("via=onlink"), std::string::npos);

  Record live = intent(7);
  live.seq = 7;
  live.kind = proto::RecordKind::LIVE_SWITCH;
  live.tunable = proto::TunableId::SOCKET_CONGCTL;
  live.count = 1;
  live.oldValues = {2, 0, 0};
  live.newValues = {3, 0, 0};
  live.host = *HostAddress::parse("192.0.2.7");
  live.socket = {40000, 443, 310, 9000};
  expectRoundTrip(live);
  EXPECT_NE(toJson(live).find("\"remotePort\":443"), std::string::npos) << toJson(live);
}

TEST(Record, DecodeRefusesGarbage) {
  Bytes junk(64, 0xff);
  EXPECT_FALSE(decode(junk.data(), junk.size()).ok());
  EXPECT_FALSE(decode(junk.data(), 7).ok());
}

TEST(Record, TextAndJson) {
  Record r = intent(1);
  r.seq = 1;
  std::string text = toText(r);
  EXPECT_NE(text.find("seq=1 intent tuner=tcp_buffer"), std::string::npos) << text;
  EXPECT_NE(text.find("net.ipv4.tcp_rmem 4096 131072 6291456 -> 4096 131072 7000001"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("requester=uid:999,pid:1234"), std::string::npos) << text;
  EXPECT_EQ(text.find('\n'), std::string::npos);
  std::string json = toJson(r);
  EXPECT_EQ(json.front(), '{');
  EXPECT_NE(json.find("\"old\":[4096,131072,6291456]"), std::string::npos) << json;
  EXPECT_NE(json.find("\"tunable\":\"net.ipv4.tcp_rmem\""), std::string::npos) << json;
  // An intent has no outcome yet: no zero-filled result/actual that could be read as data.
  EXPECT_EQ(json.find("\"result\""), std::string::npos) << json;
  EXPECT_EQ(json.find("\"actual\""), std::string::npos) << json;
  Record outcome = r;
  outcome.kind = proto::RecordKind::OUTCOME;
  outcome.actual = {4096, 131072, 7000001};
  json = toJson(outcome);
  EXPECT_NE(json.find("\"result\":\"applied\""), std::string::npos) << json;
  EXPECT_NE(json.find("\"actual\":[4096,131072,7000001]"), std::string::npos) << json;
}

TEST(Record, BootIdParse) {
  auto id = parseBootId("9b42515c-39b4-4552-b08d-0d39235ed68f\n");
  ASSERT_TRUE(id.ok());
  EXPECT_EQ(bootIdText(*id), "9b42515c39b44552b08d0d39235ed68f");
  EXPECT_FALSE(parseBootId("nope").ok());
  EXPECT_TRUE(readBootId().ok());
}

TEST(Verify, IntactChain) {
  auto r = scanBytes(join(threeFrames()));
  EXPECT_TRUE(r.ok);
  EXPECT_EQ(r.problem, Problem::NONE);
  EXPECT_EQ(r.records, 3U);
}

TEST(Verify, EditedPayload) {
  auto frames = threeFrames();
  frames[1][8 + 24] ^= 0x01;  // a value inside record 2's data section
  size_t offset = frames[0].size();
  auto r = scanBytes(join(frames));
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.problem, Problem::EDITED) << r.message;
  EXPECT_EQ(r.seq, 2U);
  EXPECT_EQ(r.offset, offset);
  EXPECT_NE(r.message.find("record seq 2 at byte offset " + std::to_string(offset)),
            std::string::npos)
      << r.message;
}

// An edit that hits the seq field must still read as an edit of record 2, not as a drop.
TEST(Verify, EditedSeqIsAnEditNotADrop) {
  auto frames = threeFrames();
  frames[1][8 + 16] ^= 0x01;  // seq is the first data word: 2 -> 3
  auto r = scanBytes(join(frames));
  EXPECT_EQ(r.problem, Problem::EDITED) << r.message;
  EXPECT_EQ(r.seq, 2U);
  EXPECT_NE(r.message.find("reads as seq 3"), std::string::npos) << r.message;
}

TEST(Verify, DroppedRecord) {
  auto frames = threeFrames();
  frames.erase(frames.begin() + 1);
  auto r = scanBytes(join(frames));
  EXPECT_EQ(r.problem, Problem::DROPPED) << r.message;
  EXPECT_EQ(r.seq, 3U);
  EXPECT_NE(r.message.find("expected 2"), std::string::npos) << r.message;
}

TEST(Verify, ReorderedRecords) {
  auto frames = threeFrames();
  std::swap(frames[1], frames[2]);
  auto r = scanBytes(join(frames));
  EXPECT_EQ(r.problem, Problem::REORDERED) << r.message;
  EXPECT_EQ(r.seq, 3U);
}

TEST(Verify, SeqGoesBack) {
  auto frames = threeFrames();
  frames.push_back(frames[0]);
  auto r = scanBytes(join(frames));
  EXPECT_EQ(r.problem, Problem::REORDERED) << r.message;
  EXPECT_NE(r.message.find("seq goes back"), std::string::npos);
}

TEST(Verify, ChainBroken) {
  // Record 2 is chained to the zero hash instead of record 1 (e.g. spliced from another file).
  Hash h1{};
  Bytes f1 = frame(intent(1), 1, Hash{}, &h1);
  Bytes f2 = frame(intent(2), 2, Hash{});
  auto r = scanBytes(join({f1, f2}));
  EXPECT_EQ(r.problem, Problem::CHAIN_BROKEN) << r.message;
  EXPECT_EQ(r.seq, 2U);
}

TEST(Verify, GarbageInTheMiddle) {
  auto frames = threeFrames();
  frames.insert(frames.begin() + 1, Bytes(16, 0x5a));
  auto r = scanBytes(join(frames));
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.problem, Problem::GARBAGE) << r.message;
  EXPECT_EQ(r.offset, frames[0].size());
}

TEST(Verify, TornTailIsNotTampering) {
  Bytes all = join(threeFrames());
  all.resize(all.size() - 10);
  ReadResult read;
  auto r = scan(all, read);
  EXPECT_TRUE(r.ok);
  EXPECT_EQ(r.problem, Problem::TORN_TAIL) << r.message;
  EXPECT_EQ(read.records.size(), 2U);
  EXPECT_EQ(read.tornTailBytes, all.size() - read.validLength);
}

TEST(Verify, ZeroFilledTailIsTorn) {
  Bytes all = join(threeFrames());
  all.resize(all.size() + 100, 0);
  EXPECT_EQ(scanBytes(all).problem, Problem::TORN_TAIL);
}

TEST_F(TempJournal, MissingFileReadsEmpty) {
  auto r = readJournal(path);
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->records.empty());
}

TEST_F(TempJournal, WriterAppendsAndContinuesTheChain) {
  {
    auto w = Writer::open(path);
    ASSERT_TRUE(w.ok()) << w.error().message;
    EXPECT_EQ(w->append(intent(1)), 1U);
    EXPECT_EQ(w->append(intent(2)), 2U);
  }
  {
    auto w = Writer::open(path);
    ASSERT_TRUE(w.ok());
    EXPECT_EQ(w->records().size(), 2U);
    EXPECT_EQ(w->append(intent(3)), 3U);
  }
  auto report = verify(path);
  EXPECT_TRUE(report.ok) << report.message;
  EXPECT_EQ(report.records, 3U);
  auto read = readJournal(path);
  ASSERT_TRUE(read.ok());
  EXPECT_EQ(read->records[2].record.newValues[2], 7000003);
}

TEST_F(TempJournal, WriterTruncatesATornTail) {
  {
    auto w = Writer::open(path);
    ASSERT_TRUE(w.ok());
    w->append(intent(1));
    w->append(intent(2));
  }
  Bytes b = fileBytes();
  size_t good = b.size();
  b.resize(b.size() + 20, 0x42);  // half a frame after a crash
  b[good] = 0x42;
  writeBytes(b);
  EXPECT_EQ(verify(path).problem, Problem::GARBAGE);  // bad magic: not a frame start
  b.resize(good);
  Bytes partial = frame(intent(3), 3, Hash{});
  b.insert(b.end(), partial.begin(), partial.begin() + 30);
  writeBytes(b);
  EXPECT_EQ(verify(path).problem, Problem::TORN_TAIL);
  {
    auto w = Writer::open(path);
    ASSERT_TRUE(w.ok()) << w.error().message;
    EXPECT_EQ(w->append(intent(3)), 3U);
  }
  auto report = verify(path);
  EXPECT_TRUE(report.ok);
  EXPECT_EQ(report.problem, Problem::NONE) << report.message;
}

TEST_F(TempJournal, WriterRefusesATamperedJournal) {
  auto frames = threeFrames();
  frames.erase(frames.begin() + 1);
  writeBytes(join(frames));
  auto w = Writer::open(path);
  ASSERT_FALSE(w.ok());
  EXPECT_NE(w.error().message.find("dropped"), std::string::npos) << w.error().message;
}

TEST_F(TempJournal, SecondWriterIsLockedOut) {
  auto first = Writer::open(path);
  ASSERT_TRUE(first.ok());
  auto second = Writer::open(path);
  ASSERT_FALSE(second.ok());
  EXPECT_NE(second.error().message.find("another actuator"), std::string::npos);
}

TEST_F(TempJournal, WriterRefusesASymlink) {
  std::string target = dir + "/target";
  ASSERT_EQ(symlink(target.c_str(), path.c_str()), 0);
  auto w = Writer::open(path);
  EXPECT_FALSE(w.ok());
  unlink(target.c_str());
}

}  // namespace
}  // namespace bpftune::journal
