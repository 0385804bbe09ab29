// The actuator's request decoder under hostile input: sizes, framing, limits, unknown values.
#include <cstring>
#include <vector>

#include <capnp/message.h>
#include <capnp/serialize.h>
#include <gtest/gtest.h>

#include "bpftune.capnp.h"
#include "client.h"
#include "wire.h"

namespace bpftune::actuator {
namespace {

std::vector<capnp::word> encoded(capnp::MessageBuilder& message) {
  auto flat = capnp::messageToFlatArray(message);
  return std::vector<capnp::word>(flat.begin(), flat.end());
}

std::vector<capnp::word> setSysctlMessage() {
  capnp::MallocMessageBuilder message;
  auto root = message.initRoot<proto::Request>();
  root.setId(77);
  auto s = root.initSetSysctl();
  s.setTuner(proto::TunerId::TCP_BUFFER);
  s.setScenario(proto::ScenarioId::BUFFER_DECREASE);
  s.setNetnsCookie(4096);
  s.setTunable(proto::TunableId::TCP_WMEM);
  s.setCount(3);
  s.setExpected2(5);
  s.setNew0(1);
  s.setNew1(2);
  s.setNew2(3);
  return encoded(message);
}

std::string decodeError(const std::vector<capnp::word>& words, size_t bytes) {
  auto d = decodeRequest(words.data(), bytes);
  EXPECT_FALSE(d.ok());
  return d.ok() ? "" : d.error().message;
}

std::vector<capnp::word> rawWords(std::initializer_list<uint64_t> values) {
  std::vector<capnp::word> out(values.size());
  std::memcpy(static_cast<void*>(out.data()), std::data(values), values.size() * sizeof(uint64_t));
  return out;
}

TEST(Decode, ValidSetSysctl) {
  auto words = setSysctlMessage();
  auto d = decodeRequest(words.data(), words.size() * 8);
  ASSERT_TRUE(d.ok()) << d.error().message;
  EXPECT_EQ(d->id, 77U);
  EXPECT_EQ(d->kind, RequestKind::SET_SYSCTL);
  EXPECT_EQ(d->setSysctl.tunable, proto::TunableId::TCP_WMEM);
  EXPECT_EQ(d->setSysctl.scenario, proto::ScenarioId::BUFFER_DECREASE);
  EXPECT_EQ(d->setSysctl.netnsCookie, 4096U);
  EXPECT_EQ(d->setSysctl.count, 3);
  EXPECT_EQ(d->setSysctl.expected[2], 5);
  EXPECT_EQ(d->setSysctl.newValues[2], 3);
}

TEST(Decode, SetSysctlCarriesTheHost) {
  capnp::MallocMessageBuilder message;
  auto s = message.initRoot<proto::Request>().initSetSysctl();
  s.setTuner(proto::TunerId::TCP_CONN);
  s.setTunable(proto::TunableId::ROUTE_CONGCTL);
  s.setHostFamily(10);
  auto host = *HostAddress::parse("2001:db8::7");
  s.setHostAddress0(host.word0());
  s.setHostAddress1(host.word1());
  auto words = encoded(message);
  auto d = decodeRequest(words.data(), words.size() * 8);
  ASSERT_TRUE(d.ok()) << d.error().message;
  EXPECT_EQ(d->setSysctl.host, host);
}

TEST(Decode, ReportLiveSwitch) {
  capnp::MallocMessageBuilder message;
  auto root = message.initRoot<proto::Request>();
  root.setId(9);
  auto r = root.initReportLiveSwitch();
  r.setTuner(proto::TunerId::TCP_CONN);
  r.setNetnsCookie(4096);
  auto host = *HostAddress::parse("192.0.2.7");
  r.setHostFamily(2);
  r.setHostAddress0(host.word0());
  r.setHostAddress1(host.word1());
  r.setFromAlg(proto::CongAlg::CUBIC);
  r.setToAlg(static_cast<proto::CongAlg>(9));  // outside the enum: kept, refused by the engine
  r.setLocalPort(40000);
  r.setRemotePort(443);
  r.setRetransmits(310);
  r.setSegsOut(9000);
  auto words = encoded(message);
  auto d = decodeRequest(words.data(), words.size() * 8);
  ASSERT_TRUE(d.ok()) << d.error().message;
  EXPECT_EQ(d->kind, RequestKind::REPORT_LIVE_SWITCH);
  EXPECT_EQ(d->liveSwitch.netnsCookie, 4096U);
  EXPECT_EQ(d->liveSwitch.host, host);
  EXPECT_EQ(d->liveSwitch.fromAlg, 2);
  EXPECT_EQ(d->liveSwitch.toAlg, 9);
  EXPECT_EQ(d->liveSwitch.socket, (journal::LiveSocket{40000, 443, 310, 9000}));
}

TEST(Decode, PingAndRollback) {
  capnp::MallocMessageBuilder ping;
  ping.initRoot<proto::Request>().setPing();
  auto p = encoded(ping);
  EXPECT_EQ(decodeRequest(p.data(), p.size() * 8)->kind, RequestKind::PING);
  capnp::MallocMessageBuilder rollback;
  rollback.initRoot<proto::Request>().setRollback();
  auto r = encoded(rollback);
  EXPECT_EQ(decodeRequest(r.data(), r.size() * 8)->kind, RequestKind::ROLLBACK);
}

TEST(Decode, ApplyProposal) {
  capnp::MallocMessageBuilder apply;
  apply.initRoot<proto::Request>().setApplyProposal(1234);
  auto w = encoded(apply);
  auto d = decodeRequest(w.data(), w.size() * 8);
  ASSERT_TRUE(d.ok()) << d.error().message;
  EXPECT_EQ(d->kind, RequestKind::APPLY_PROPOSAL);
  EXPECT_EQ(d->proposalSeq, 1234U);
}

TEST(Decode, EmptyOddAndOversized) {
  std::vector<capnp::word> words(600);
  EXPECT_EQ(decodeError(words, 0), "request: empty datagram");
  EXPECT_EQ(decodeError(words, 13), "request: size 13 is not a multiple of 8 bytes");
  EXPECT_EQ(decodeError(words, 4104), "request: larger than 4096 bytes");
}

TEST(Decode, Garbage) {
  std::vector<capnp::word> words(8);
  std::memset(static_cast<void*>(words.data()), 0x41, 64);
  EXPECT_EQ(decodeError(words, 64).rfind("request: segment table claims", 0), 0U);
  std::memset(static_cast<void*>(words.data()), 0, 4);  // one segment, garbage size and content
  EXPECT_EQ(decodeError(words, 64).rfind("request: malformed (", 0), 0U);
}

TEST(Decode, SegmentCountOverflowClaim) {
  // First word 0xFFFFFFFF segments: the 2026 async-reader advisory's pattern.
  auto words = rawWords({0x00000001ffffffffULL, 0, 0, 0});
  EXPECT_EQ(decodeError(words, 32),
            "request: segment table claims 4294967296 segments; a request is exactly one");
}

TEST(Decode, ManySegmentsClaim) {
  auto words = rawWords({0x0000000100000257ULL, 0, 0, 0});  // 600 segments
  EXPECT_EQ(decodeError(words, 32),
            "request: segment table claims 600 segments; a request is exactly one");
}

TEST(Decode, SegmentLargerThanDatagram) {
  auto words = rawWords({0x0000100000000000ULL, 0, 0, 0});  // one segment of 4096 words
  EXPECT_EQ(decodeError(words, 32).rfind("request: malformed (", 0), 0U);
}

TEST(Decode, RootPointerOutOfBounds) {
  // One segment of 2 words; root struct pointer with offset 100 words.
  auto words = rawWords({0x0000000200000000ULL, (100ULL << 2) | (2ULL << 32), 0});
  EXPECT_EQ(decodeError(words, 24).rfind("request: malformed (", 0), 0U);
}

TEST(Decode, RootIsAListNotAStruct) {
  auto words = rawWords({0x0000000200000000ULL, 1ULL | (5ULL << 32) | (2ULL << 35), 0});
  EXPECT_EQ(decodeError(words, 24).rfind("request: malformed (", 0), 0U);
}

TEST(Decode, TrailingBytesRefused) {
  auto words = setSysctlMessage();
  words.push_back(capnp::word{});
  EXPECT_EQ(decodeError(words, words.size() * 8), "request: 8 bytes after the end of the message");
}

TEST(Decode, UnknownUnionMember) {
  capnp::MallocMessageBuilder a;
  a.initRoot<proto::Request>().setPing();
  capnp::MallocMessageBuilder b;
  b.initRoot<proto::Request>().setRollback();
  auto pa = encoded(a);
  auto pb = encoded(b);
  ASSERT_EQ(pa.size(), pb.size());
  auto* bytes = reinterpret_cast<uint8_t*>(pa.data());
  auto* other = reinterpret_cast<const uint8_t*>(pb.data());
  size_t diff = 0;
  for (size_t i = 0; i < pa.size() * 8; ++i) {
    if (bytes[i] != other[i]) {
      diff = i;
    }
  }
  ASSERT_NE(diff, 0U);
  bytes[diff] = 9;  // discriminant 9: no such member
  EXPECT_EQ(decodeError(pa, pa.size() * 8), "request: unknown kind 9");
}

TEST(Decode, UnknownEnumValuesSurviveDecodingAsRawNumbers) {
  capnp::MallocMessageBuilder message;
  auto s = message.initRoot<proto::Request>().initSetSysctl();
  s.setTunable(static_cast<proto::TunableId>(999));
  s.setTuner(static_cast<proto::TunerId>(55));
  auto words = encoded(message);
  auto d = decodeRequest(words.data(), words.size() * 8);
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(static_cast<unsigned>(d->setSysctl.tunable), 999U);
  EXPECT_EQ(static_cast<unsigned>(d->setSysctl.tuner), 55U);
}

TEST(Decode, LimitsAreTight) {
  EXPECT_EQ(TRAVERSAL_LIMIT_WORDS, 512U);
  EXPECT_EQ(NESTING_LIMIT, 4U);
  EXPECT_EQ(MAX_REQUEST_BYTES, 4096U);
}

TEST(Reply, EncodesEveryField) {
  Answer a;
  a.status = proto::Status::REJECTED;
  a.field = "new2";
  a.bound = 99;
  a.reason = std::string(5000, 'x');
  a.count = 3;
  a.values = {1, 2, 3};
  a.journalSeq = 12;
  a.error = 5;
  a.advising = true;
  auto words = encodeReply(4, a);
  capnp::FlatArrayMessageReader reader(words.asPtr());
  auto r = reader.getRoot<proto::Reply>();
  EXPECT_EQ(r.getId(), 4U);
  EXPECT_EQ(r.getStatus(), proto::Status::REJECTED);
  EXPECT_EQ(std::string(r.getField().cStr()), "new2");
  EXPECT_EQ(r.getBound(), 99);
  EXPECT_LE(r.getReason().size(), 3003U);  // long summaries are cut to fit a client buffer
  EXPECT_EQ(r.getValue2(), 3);
  EXPECT_EQ(r.getJournalSeq(), 12U);
  EXPECT_EQ(r.getError(), 5);
  EXPECT_TRUE(r.getAdvising());
}

std::vector<capnp::word> replyMessage(proto::Status status, const char* field, const char* reason) {
  capnp::MallocMessageBuilder message;
  auto reply = message.initRoot<proto::Reply>();
  reply.setId(7);
  reply.setStatus(status);
  reply.setField(field);
  reply.setBound(100);
  reply.setReason(reason);
  reply.setCount(3);
  reply.setValue2(5);
  reply.setJournalSeq(9);
  reply.setError(2);
  return encoded(message);
}

TEST(ClientReply, DecodesAndSanitizes) {
  auto words = replyMessage(proto::Status::REJECTED, "new2\x1b[31m", "too big\nFAKE LINE\xc3\xa9");
  auto info = decodeReply(kj::arrayPtr(words.data(), words.size()));
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->id, 7U);
  EXPECT_EQ(info->status, proto::Status::REJECTED);
  EXPECT_EQ(info->field, "new2?[31m");
  EXPECT_EQ(info->bound, 100);
  EXPECT_EQ(info->reason, "too big?FAKE LINE??");
  EXPECT_EQ(info->count, 3);
  EXPECT_EQ(info->values[2], 5);
  EXPECT_EQ(info->journalSeq, 9U);
  EXPECT_EQ(info->error, 2);
}

TEST(ClientReply, GarbageIsError) {
  std::vector<capnp::word> words(4);
  std::memset(static_cast<void*>(words.data()), 0xff, words.size() * sizeof(capnp::word));
  EXPECT_FALSE(decodeReply(kj::arrayPtr(words.data(), words.size())).ok());
}

// The reply reader gets the same segment-table guard as the request reader.
TEST(ClientReply, SegmentCountOverflowClaimIsError) {
  auto words = rawWords({0x00000001ffffffffULL, 0, 0, 0});
  auto info = decodeReply(kj::arrayPtr(words.data(), words.size()));
  ASSERT_FALSE(info.ok());
  EXPECT_NE(info.error().message.find("claims 4294967296 segments"), std::string::npos)
      << info.error().message;
}

TEST(ClientReply, EmptyAndOversizedAreErrors) {
  EXPECT_FALSE(decodeReply(kj::ArrayPtr<const capnp::word>()).ok());
  std::vector<capnp::word> big(MAX_REPLY_BYTES / sizeof(capnp::word) + 1);
  EXPECT_FALSE(decodeReply(kj::arrayPtr(big.data(), big.size())).ok());
}

TEST(ClientReply, UnknownStatusIsError) {
  auto words = replyMessage(
      static_cast<proto::Status>(static_cast<uint16_t>(proto::Status::PROPOSED) + 1), "", "");
  auto info = decodeReply(kj::arrayPtr(words.data(), words.size()));
  ASSERT_FALSE(info.ok());
  EXPECT_NE(info.error().message.find("unknown status"), std::string::npos);
  words = replyMessage(proto::Status::PROPOSED, "", "");
  EXPECT_TRUE(decodeReply(kj::arrayPtr(words.data(), words.size())).ok());
}

TEST(ClientReply, StatusNames) {
  EXPECT_EQ(statusName(proto::Status::OK), "ok");
  EXPECT_EQ(statusName(proto::Status::OVERRIDDEN), "overridden");
  EXPECT_EQ(statusName(proto::Status::PAUSED), "paused");
  EXPECT_EQ(statusName(proto::Status::PROPOSED), "proposed");
}

}  // namespace
}  // namespace bpftune::actuator
