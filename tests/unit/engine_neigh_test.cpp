// The neighbour thresholds through the engine: requests, refusals, rollback and crash recovery
// all write through the NeighTableWriter (the privileged writer's rtnetlink in production, a fake
// here that updates the fake gc_thresh files as the kernel would), and the RTM_SETNEIGHTBL message
// itself. The high_order_alloc_disable static key takes the same road (StaticKeyWriter).
#include <linux/neighbour.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>
#include <map>
#include <string>
#include <vector>

#include "engine_fixture.h"
#include "neigh_table_io.h"

namespace bpftune::actuator {
namespace {

using namespace enginetest;  // NOLINT(google-build-using-namespace)

constexpr Values ARP0 = {128, 192, 256};  // the test's starting thresholds
constexpr Values ARP1 = {160, 240, 320};
constexpr Values ARP2 = {200, 300, 400};
constexpr Values NDISC0 = {128, 512, 1024};
constexpr Values NDISC1 = {160, 640, 1280};
constexpr uint64_t CONTAINER = 8193;

constexpr const char* NEIGH_POLICY =
    "net.ipv4.neigh.default.gc_thresh  min=128 max=2147483647 step=25% rate=20/10s\n"
    "net.ipv6.neigh.default.gc_thresh  min=128 max=2147483647 step=25% rate=20/10s\n";

struct Call {
  std::string table;
  Values values;
};

// What the kernel does on RTM_SETNEIGHTBL, seen through /proc: the three files change.
class FakeNeighTables : public NeighTableWriter {
public:
  explicit FakeNeighTables(std::string sysnetRoot) : root(std::move(sysnetRoot)) {}

  bpftune::Status write(const policy::TunableInfo& info, const Values& values) override {
    calls.push_back({std::string(info.neighTable), values});
    if (failWith != 0) {
      return makeError("the kernel refused RTM_SETNEIGHTBL", failWith);
    }
    std::vector<std::string> files = policy::procFiles(info);
    for (size_t i = 0; i < files.size(); ++i) {
      std::ofstream out(root + "/" + files[i], std::ios::trunc);
      out << values[i] << "\n";
    }
    return Ok{};
  }

  std::string root;
  std::vector<Call> calls;
  int failWith = 0;
};

class EngineNeighTest : public EngineTest {
protected:
  void SetUp() override {
    EngineTest::SetUp();
    for (const char* dir : {"/net/ipv4/neigh",
                            "/net/ipv4/neigh/default",
                            "/net/ipv6",
                            "/net/ipv6/neigh",
                            "/net/ipv6/neigh/default"}) {
      ASSERT_EQ(::mkdir((root + dir).c_str(), 0700), 0) << dir;
    }
    putThresholds("ipv4", ARP0);
    putThresholds("ipv6", NDISC0);
    auto parsed = policy::parsePolicy(NEIGH_POLICY);
    ASSERT_TRUE(parsed.ok()) << parsed.error().message;
    policy = *parsed;
    tables.emplace(root + "/net");
    neigh = &*tables;
  }

  void putThresholds(const std::string& family, const Values& v) const {
    for (size_t i = 0; i < 3; ++i) {
      putSysctl(family + "/neigh/default/gc_thresh" + std::to_string(i + 1),
                std::to_string(v[i]) + "\n");
    }
  }

  std::string thresholds(const std::string& family) const {
    std::string out;
    for (size_t i = 0; i < 3; ++i) {
      std::string text = sysctlText(family + "/neigh/default/gc_thresh" + std::to_string(i + 1));
      out += (i == 0 ? "" : " ") + text.substr(0, text.find('\n'));
    }
    return out;
  }

  static policy::SetSysctl grow(TunableId tunable, const Values& expected, const Values& next) {
    policy::SetSysctl r;
    r.tuner = TunerId::NEIGH_TABLE;
    r.scenario = ScenarioId::NEIGH_TABLE_FULL;
    r.netnsCookie = COOKIE;
    r.tunable = tunable;
    r.count = 3;
    r.expected = expected;
    r.newValues = next;
    return r;
  }

  std::optional<FakeNeighTables> tables;
};

TEST_F(EngineNeighTest, GrowWritesThroughRtnetlinkAndJournalsTheCause) {
  Engine& e = restart();
  policy::SetSysctl r = grow(TunableId::NEIGH_ARP_GC_THRESH, ARP0, ARP1);
  r.causeNetnsCookie = CONTAINER;  // a container's neighbours drove it
  Answer a = e.setSysctl(r, TUNER);
  ASSERT_EQ(a.status, Status::OK) << a.reason;
  EXPECT_EQ(a.values, ARP1);
  ASSERT_EQ(tables->calls.size(), 1U);
  EXPECT_EQ(tables->calls[0].table, "arp_cache");
  EXPECT_EQ(tables->calls[0].values, ARP1);
  EXPECT_EQ(thresholds("ipv4"), "160 240 320");
  EXPECT_EQ(thresholds("ipv6"), "128 512 1024");
  auto records = diskRecords();
  ASSERT_EQ(records.size(), 2U);
  EXPECT_EQ(records[0].kind, RecordKind::INTENT);
  EXPECT_EQ(records[0].tunable, TunableId::NEIGH_ARP_GC_THRESH);
  EXPECT_EQ(records[0].netnsCookie, COOKIE);
  EXPECT_EQ(records[0].causeNetnsCookie, CONTAINER);
  EXPECT_EQ(records[1].kind, RecordKind::OUTCOME);
  EXPECT_EQ(records[1].result, OutcomeResult::APPLIED);
  EXPECT_EQ(records[1].actual, ARP1);
  expectVerified();
}

TEST_F(EngineNeighTest, NdiscTableIsNamedNdiscCache) {
  Engine& e = restart();
  Answer a = e.setSysctl(grow(TunableId::NEIGH_NDISC_GC_THRESH, NDISC0, NDISC1), TUNER);
  ASSERT_EQ(a.status, Status::OK) << a.reason;
  ASSERT_EQ(tables->calls.size(), 1U);
  EXPECT_EQ(tables->calls[0].table, "ndisc_cache");
  EXPECT_EQ(thresholds("ipv6"), "160 640 1280");
}

TEST_F(EngineNeighTest, AnotherNamespaceIsRefusedBeforeAnyWrite) {
  Engine& e = restart();
  policy::SetSysctl r = grow(TunableId::NEIGH_ARP_GC_THRESH, ARP0, ARP1);
  r.netnsCookie = CONTAINER;
  Answer a = e.setSysctl(r, TUNER);
  EXPECT_EQ(a.status, Status::REJECTED) << a.reason;
  EXPECT_TRUE(tables->calls.empty());
  EXPECT_TRUE(diskRecords().empty());
}

TEST_F(EngineNeighTest, KernelRefusalIsAJournaledWriteFailure) {
  tables->failWith = EPERM;
  Engine& e = restart();
  Answer a = e.setSysctl(grow(TunableId::NEIGH_ARP_GC_THRESH, ARP0, ARP1), TUNER);
  EXPECT_EQ(a.status, Status::FAILED);
  EXPECT_EQ(a.error, EPERM);
  EXPECT_EQ(thresholds("ipv4"), "128 192 256");
  auto records = diskRecords();
  ASSERT_EQ(records.size(), 2U);
  EXPECT_EQ(records[1].result, OutcomeResult::WRITE_FAILED);
  EXPECT_EQ(records[1].error, EPERM);
}

TEST_F(EngineNeighTest, WithoutAWriterNothingIsWritten) {
  neigh = nullptr;
  Engine& e = restart();
  Answer a = e.setSysctl(grow(TunableId::NEIGH_ARP_GC_THRESH, ARP0, ARP1), TUNER);
  EXPECT_EQ(a.status, Status::FAILED);
  EXPECT_EQ(a.error, EOPNOTSUPP);
  EXPECT_EQ(thresholds("ipv4"), "128 192 256");
}

TEST_F(EngineNeighTest, RollbackRestoresBothTablesThroughTheWriter) {
  Engine& e = restart();
  ASSERT_EQ(e.setSysctl(grow(TunableId::NEIGH_ARP_GC_THRESH, ARP0, ARP1), TUNER).status,
            Status::OK);
  ASSERT_EQ(e.setSysctl(grow(TunableId::NEIGH_NDISC_GC_THRESH, NDISC0, NDISC1), TUNER).status,
            Status::OK);
  ASSERT_EQ(e.setSysctl(grow(TunableId::NEIGH_ARP_GC_THRESH, ARP1, ARP2), TUNER).status,
            Status::OK);
  EXPECT_EQ(thresholds("ipv4"), "200 300 400");
  Answer a = e.rollbackAll(ADMIN);
  ASSERT_EQ(a.status, Status::OK) << a.reason;
  EXPECT_EQ(thresholds("ipv4"), "128 192 256");
  EXPECT_EQ(thresholds("ipv6"), "128 512 1024");
  ASSERT_EQ(tables->calls.size(), 5U);
  EXPECT_EQ(tables->calls[3].table, "arp_cache");  // newest change first
  EXPECT_EQ(tables->calls[3].values, ARP0);
  EXPECT_EQ(tables->calls[4].table, "ndisc_cache");
  EXPECT_EQ(tables->calls[4].values, NDISC0);
  auto records = diskRecords();
  ASSERT_EQ(records.size(), 10U);
  EXPECT_EQ(records[6].tuner, TunerId::ADMIN);
  EXPECT_EQ(records[6].scenario, ScenarioId::ROLLBACK);
  EXPECT_EQ(records[7].result, OutcomeResult::APPLIED);
  EXPECT_EQ(records[9].result, OutcomeResult::APPLIED);
  expectVerified();
}

// A crash between the rtnetlink write and the outcome: recovery reads the files, and the rollback
// afterwards still restores the original through rtnetlink.
TEST_F(EngineNeighTest, RecoveredChangeIsRolledBack) {
  journal::Record intent = intentRecord(BOOT, ARP0, ARP1);
  intent.tuner = TunerId::NEIGH_TABLE;
  intent.scenario = ScenarioId::NEIGH_TABLE_FULL;
  intent.tunable = TunableId::NEIGH_ARP_GC_THRESH;
  writer->append(intent);
  putThresholds("ipv4", ARP1);  // the kernel took it before the crash

  Engine& e = restart();
  EXPECT_EQ(e.recover(), 1U);
  auto records = diskRecords();
  ASSERT_EQ(records.size(), 2U);
  EXPECT_EQ(records[1].kind, RecordKind::RECOVERED);
  EXPECT_EQ(records[1].result, OutcomeResult::APPLIED);
  EXPECT_EQ(records[1].actual, ARP1);
  EXPECT_TRUE(tables->calls.empty());  // recovery only reads

  ASSERT_EQ(e.rollbackAll(ADMIN).status, Status::OK);
  EXPECT_EQ(thresholds("ipv4"), "128 192 256");
  ASSERT_EQ(tables->calls.size(), 1U);
  EXPECT_EQ(tables->calls[0].values, ARP0);
}

// The static key ----------------------------------------------------------------------------------

// What the privileged writer does for the flag, seen through /proc.
class FakeStaticKeys : public StaticKeyWriter {
public:
  explicit FakeStaticKeys(std::string sysnetRoot) : root(std::move(sysnetRoot)) {}

  bpftune::Status write(const policy::TunableInfo& info, const Values& values) override {
    calls.push_back(values);
    if (failWith != 0) {
      return makeError("the privileged writer could not write it", failWith);
    }
    std::ofstream(root + "/" + std::string(info.procPath), std::ios::trunc) << values[0] << "\n";
    return Ok{};
  }

  std::string root;
  std::vector<Values> calls;
  int failWith = 0;
};

class EngineStaticKeyTest : public EngineTest {
protected:
  void SetUp() override {
    EngineTest::SetUp();
    ASSERT_EQ(::mkdir((root + "/net/core").c_str(), 0700), 0);
    putSysctl("core/high_order_alloc_disable", "0\n");
    auto parsed =
        policy::parsePolicy("net.core.high_order_alloc_disable  min=0 max=1 rate=20/10s\n");
    ASSERT_TRUE(parsed.ok()) << parsed.error().message;
    policy = *parsed;
    keys.emplace(root + "/net");
    staticKeys = &*keys;
  }

  static policy::SetSysctl flag(int64_t from, int64_t to) {
    policy::SetSysctl r = request(TunableId::HIGH_ORDER_ALLOC_DISABLE, {from, 0, 0}, {to, 0, 0});
    r.scenario = ScenarioId::LOW_MEM_ENTER;
    return r;
  }

  std::optional<FakeStaticKeys> keys;
};

TEST_F(EngineStaticKeyTest, SetAndRollbackGoThroughTheWriter) {
  Engine& e = restart();
  Answer a = e.setSysctl(flag(0, 1), TUNER);
  ASSERT_EQ(a.status, Status::OK) << a.reason;
  EXPECT_EQ(sysctlText("core/high_order_alloc_disable"), "1\n");
  ASSERT_EQ(e.rollbackAll(ADMIN).status, Status::OK);
  EXPECT_EQ(sysctlText("core/high_order_alloc_disable"), "0\n");
  ASSERT_EQ(keys->calls.size(), 2U);
  EXPECT_EQ(keys->calls[0], (Values{1, 0, 0}));
  EXPECT_EQ(keys->calls[1], (Values{0, 0, 0}));
  expectVerified();
}

TEST_F(EngineStaticKeyTest, RefusalIsAJournaledWriteFailure) {
  keys->failWith = EPERM;
  Engine& e = restart();
  Answer a = e.setSysctl(flag(0, 1), TUNER);
  EXPECT_EQ(a.status, Status::FAILED);
  EXPECT_EQ(a.error, EPERM);
  auto records = diskRecords();
  ASSERT_EQ(records.size(), 2U);
  EXPECT_EQ(records[1].result, OutcomeResult::WRITE_FAILED);
  EXPECT_EQ(records[1].error, EPERM);
}

// Never through /proc/sys by the actuator itself (the kernel would refuse it anyway).
TEST_F(EngineStaticKeyTest, WithoutAWriterNothingIsWritten) {
  staticKeys = nullptr;
  Engine& e = restart();
  Answer a = e.setSysctl(flag(0, 1), TUNER);
  EXPECT_EQ(a.status, Status::FAILED);
  EXPECT_EQ(a.error, EOPNOTSUPP);
  EXPECT_EQ(sysctlText("core/high_order_alloc_disable"), "0\n");
  EXPECT_FALSE(writeSysctl(sysnet.get(),
                           *policy::findTunable(TunableId::HIGH_ORDER_ALLOC_DISABLE),
                           Values{1, 0, 0})
                   .ok());
}

// A crash after the write: recovery only reads, the rollback writes through the writer.
TEST_F(EngineStaticKeyTest, RecoveredChangeIsRolledBackThroughTheWriter) {
  journal::Record intent = intentRecord(BOOT, Values{0, 0, 0}, Values{1, 0, 0});
  intent.scenario = ScenarioId::LOW_MEM_ENTER;
  intent.tunable = TunableId::HIGH_ORDER_ALLOC_DISABLE;
  intent.count = 1;
  writer->append(intent);
  putSysctl("core/high_order_alloc_disable", "1\n");
  Engine& e = restart();
  EXPECT_EQ(e.recover(), 1U);
  EXPECT_TRUE(keys->calls.empty());
  ASSERT_EQ(e.rollbackAll(ADMIN).status, Status::OK);
  EXPECT_EQ(sysctlText("core/high_order_alloc_disable"), "0\n");
  ASSERT_EQ(keys->calls.size(), 1U);
}

// The request as the kernel parses it ----------------------------------------------------------

struct Parsed {
  nlmsghdr hdr{};
  ndtmsg ndt{};
  std::map<uint16_t, std::vector<std::vector<uint8_t>>> attrs;  // every occurrence
};

Parsed parse(const std::vector<uint8_t>& buf) {
  Parsed p;
  std::memcpy(&p.hdr, buf.data(), sizeof(p.hdr));
  std::memcpy(&p.ndt, buf.data() + NLMSG_HDRLEN, sizeof(p.ndt));
  size_t off = NLMSG_HDRLEN + NLMSG_ALIGN(sizeof(ndtmsg));
  while (off + NLA_HDRLEN <= buf.size()) {
    nlattr attr{};
    std::memcpy(&attr, buf.data() + off, sizeof(attr));
    EXPECT_GE(attr.nla_len, NLA_HDRLEN);
    EXPECT_LE(off + attr.nla_len, buf.size());
    if (attr.nla_len < NLA_HDRLEN || off + attr.nla_len > buf.size()) {
      break;
    }
    const auto* data = buf.data() + off + NLA_HDRLEN;
    p.attrs[attr.nla_type].emplace_back(data, data + attr.nla_len - NLA_HDRLEN);
    off += NLA_ALIGN(attr.nla_len);
  }
  EXPECT_EQ(off, buf.size());
  return p;
}

uint32_t u32(const std::vector<uint8_t>& bytes) {
  uint32_t v = 0;
  EXPECT_EQ(bytes.size(), sizeof(v));
  std::memcpy(&v, bytes.data(), std::min(bytes.size(), sizeof(v)));
  return v;
}

TEST(Rtnetlink, SetNeighTableCarriesNameAndEachThresholdOnce) {
  auto built = buildSetNeighTable("arp_cache", Values{160, 240, 320}, 42);
  ASSERT_TRUE(built.ok()) << built.error().message;
  Parsed p = parse(*built);
  EXPECT_EQ(p.hdr.nlmsg_len, built->size());
  EXPECT_EQ(p.hdr.nlmsg_type, RTM_SETNEIGHTBL);
  EXPECT_EQ(p.hdr.nlmsg_flags, NLM_F_REQUEST | NLM_F_ACK);
  EXPECT_EQ(p.hdr.nlmsg_seq, 42U);
  EXPECT_EQ(p.ndt.ndtm_family, AF_UNSPEC);
  ASSERT_EQ(p.attrs[NDTA_NAME].size(), 1U);
  EXPECT_EQ(std::string(p.attrs[NDTA_NAME][0].begin(), p.attrs[NDTA_NAME][0].end()),
            std::string("arp_cache", 10));  // NUL terminated
  // libnl's rtnl_neightbl_change sets thresh2 twice (upstream's bug): here each exactly once.
  ASSERT_EQ(p.attrs[NDTA_THRESH1].size(), 1U);
  ASSERT_EQ(p.attrs[NDTA_THRESH2].size(), 1U);
  ASSERT_EQ(p.attrs[NDTA_THRESH3].size(), 1U);
  EXPECT_EQ(u32(p.attrs[NDTA_THRESH1][0]), 160U);
  EXPECT_EQ(u32(p.attrs[NDTA_THRESH2][0]), 240U);
  EXPECT_EQ(u32(p.attrs[NDTA_THRESH3][0]), 320U);
  EXPECT_EQ(p.attrs.size(), 4U);  // no NDTA_PARMS: per-device parameters stay untouched
}

TEST(Rtnetlink, RefusesWhatTheKernelCannotStore) {
  EXPECT_EQ(buildSetNeighTable("arp_cache", Values{128, 512, 2147483648}, 1).error().errnum,
            ERANGE);
  EXPECT_EQ(buildSetNeighTable("arp_cache", Values{-1, 512, 1024}, 1).error().errnum, ERANGE);
  EXPECT_EQ(buildSetNeighTable("", Values{128, 512, 1024}, 1).error().errnum, EINVAL);
  EXPECT_EQ(
      buildSetNeighTable(std::string_view("arp\0x", 5), Values{128, 512, 1024}, 1).error().errnum,
      EINVAL);
  EXPECT_TRUE(buildSetNeighTable("arp_cache", Values{0, 0, 2147483647}, 1).ok());
}

std::vector<uint8_t> ack(uint32_t seq, int error, uint32_t len = 0) {
  std::vector<uint8_t> buf(NLMSG_HDRLEN + sizeof(nlmsgerr), 0);
  nlmsghdr hdr{};
  hdr.nlmsg_len = len != 0 ? len : static_cast<uint32_t>(buf.size());
  hdr.nlmsg_type = NLMSG_ERROR;
  hdr.nlmsg_seq = seq;
  nlmsgerr err{};
  err.error = error;
  std::memcpy(buf.data(), &hdr, sizeof(hdr));
  std::memcpy(buf.data() + NLMSG_HDRLEN, &err, sizeof(err));
  return buf;
}

TEST(Rtnetlink, AcknowledgementsAreMatchedBySequence) {
  EXPECT_TRUE(parseAck(ack(7, 0), 7).ok());
  EXPECT_EQ(parseAck(ack(7, -ENOENT), 7).error().errnum, ENOENT);
  EXPECT_EQ(parseAck(ack(7, -EPERM), 7).error().errnum, EPERM);
  EXPECT_EQ(parseAck(ack(6, 0), 7).error().errnum, ENOMSG);  // someone else's
  EXPECT_EQ(parseAck(ack(7, 5), 7).error().errnum, EPROTO);  // not a negative errno
  EXPECT_EQ(parseAck(ack(7, 0, 4096), 7).error().errnum, EBADMSG);
  EXPECT_EQ(parseAck({}, 7).error().errnum, ENOMSG);
  // Two messages in one datagram: the second is ours.
  std::vector<uint8_t> two = ack(6, 0);
  std::vector<uint8_t> ours = ack(7, -EINVAL);
  two.insert(two.end(), ours.begin(), ours.end());
  EXPECT_EQ(parseAck(two, 7).error().errnum, EINVAL);
}

}  // namespace
}  // namespace bpftune::actuator
