// Namespace bookkeeping: discovery, appearance, disappearance, revival, names, per-tuner states,
// override decisions, resume epochs and the written-value parser. Pure, no root.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "admin_override.h"
#include "netns_table.h"
#include "nsfs.h"
#include "value_cache.h"

namespace bpftune::tuners::netns {
namespace {

using nsfs::findCgroup2Mount;
using nsfs::NsfsMount;
using nsfs::parseNetnsMounts;
using nsfs::unescapeMountPath;
using proto::TunerId;

constexpr uint64_t HOME = 1;
constexpr TunerId TCP = TunerId::TCP_BUFFER;

ScanEntry task(uint64_t cookie, uint32_t inum) {
  return ScanEntry{cookie, inum, "", true, false};
}

ScanEntry mount(uint64_t cookie, uint32_t inum, std::string name) {
  return ScanEntry{cookie, inum, std::move(name), false, true};
}

TEST(NetnsTable, DiscoversTaskAndMountHeldNamespaces) {
  NetnsTable t;
  ScanChanges c =
      t.applyScan({task(HOME, 4026531840), mount(7, 4026532177, "blue"), task(7, 4026532177)});
  EXPECT_EQ(c.appeared, (std::vector<uint64_t>{HOME, 7}));
  EXPECT_TRUE(c.gone.empty());
  ASSERT_NE(t.find(7), nullptr);
  EXPECT_EQ(t.find(7)->name, "blue");
  EXPECT_EQ(t.find(7)->inum, 4026532177U);
  EXPECT_TRUE(t.find(7)->byMount);
  EXPECT_TRUE(t.find(7)->byTask);
  EXPECT_EQ(t.present(), 2U);
  EXPECT_EQ(t.state(TCP, 7), State::ACTIVE);
}

TEST(NetnsTable, AppearsFromEventAndIsKnownOnce) {
  NetnsTable t;
  EXPECT_EQ(t.observe(9, 4026532300), Seen::APPEARED);
  EXPECT_EQ(t.observe(9, 4026532300), Seen::KNOWN);
  EXPECT_EQ(t.find(9)->inum, 4026532300U);
}

TEST(NetnsTable, UnheldNamespaceGoesGoneAtTheNextQuietScan) {
  NetnsTable t;
  t.applyScan({task(HOME, 1), mount(7, 2, "blue")});
  ScanChanges c = t.applyScan({task(HOME, 1)});
  EXPECT_EQ(c.gone, (std::vector<uint64_t>{7}));
  EXPECT_EQ(t.state(TCP, 7), State::GONE);
  EXPECT_EQ(t.present(), 1U);
  EXPECT_FALSE(t.applyScan({task(HOME, 1)}).any());  // reported once
}

TEST(NetnsTable, EventSinceLastScanKeepsAnUnheldNamespace) {
  NetnsTable t;
  t.applyScan({task(HOME, 1)});
  t.observe(8, 3);  // e.g. `unshare -n true`, or a namespace held only by a socket
  EXPECT_TRUE(t.applyScan({task(HOME, 1)}).gone.empty());
  EXPECT_EQ(t.applyScan({task(HOME, 1)}).gone, (std::vector<uint64_t>{8}));
}

TEST(NetnsTable, LaterEventRevivesAGoneNamespace) {
  NetnsTable t;
  t.applyScan({task(HOME, 1), task(7, 2)});
  t.applyScan({task(HOME, 1)});
  EXPECT_EQ(t.observe(7, 2), Seen::REVIVED);
  EXPECT_EQ(t.state(TCP, 7), State::ACTIVE);
}

TEST(NetnsTable, GoneReplyIsNotUndoneByEveryScan) {
  NetnsTable t;
  t.applyScan({task(HOME, 1), task(7, 2)});
  t.markGone(7);
  EXPECT_EQ(t.state(TCP, 7), State::GONE);
  EXPECT_FALSE(t.applyScan({task(HOME, 1), task(7, 2)}).any());
  EXPECT_EQ(t.state(TCP, 7), State::GONE);
  // Held again after a scan without it: that is a revival.
  t.applyScan({task(HOME, 1)});
  EXPECT_EQ(t.applyScan({task(HOME, 1), task(7, 2)}).revived, (std::vector<uint64_t>{7}));
}

TEST(NetnsTable, RunNetnsNameWinsOverOtherMountPaths) {
  NetnsTable t;
  t.applyScan({mount(7, 2, "/var/lib/docker/netns/abc")});
  EXPECT_EQ(t.find(7)->name, "/var/lib/docker/netns/abc");
  t.applyScan({mount(7, 2, "/var/lib/docker/netns/abc"), mount(7, 2, "blue")});
  EXPECT_EQ(t.find(7)->name, "blue");
  t.applyScan({mount(7, 2, "other"), mount(7, 2, "blue")});
  EXPECT_EQ(t.find(7)->name, "blue");  // the first name stays
}

TEST(NetnsTable, NameFromMountPoint) {
  EXPECT_EQ(nameFromMountPoint("/run/netns/blue"), "blue");
  EXPECT_EQ(nameFromMountPoint("/var/run/netns/blue"), "blue");
  EXPECT_EQ(nameFromMountPoint("/run/netns/a/b"), "/run/netns/a/b");
  EXPECT_EQ(nameFromMountPoint("/run/netns/"), "/run/netns/");
  EXPECT_EQ(nameFromMountPoint("/tmp/ns"), "/tmp/ns");
}

TEST(NetnsTable, PerTunerStates) {
  NetnsTable t;
  t.applyScan({task(HOME, 1), task(7, 2)});
  EXPECT_TRUE(t.disable(TCP, 7));
  EXPECT_FALSE(t.disable(TCP, 7));
  EXPECT_EQ(t.state(TCP, 7), State::DISABLED_BY_ADMIN);
  EXPECT_EQ(t.state(TCP, HOME), State::ACTIVE);
  EXPECT_EQ(t.state(TunerId::ADMIN, 7), State::ACTIVE);  // another tuner is not affected
  EXPECT_TRUE(t.anyDisabled());
  EXPECT_EQ(stateName(t.state(TCP, 7)).substr(0, 8), "disabled");
  t.markGone(7);
  EXPECT_EQ(t.state(TCP, 7), State::GONE);
  t.observe(7, 2);
  EXPECT_EQ(t.state(TCP, 7), State::DISABLED_BY_ADMIN);  // revival keeps the admin's decision
  EXPECT_EQ(t.enableAll(), 1U);
  EXPECT_EQ(t.state(TCP, 7), State::ACTIVE);
  EXPECT_FALSE(t.anyDisabled());
}

TEST(NetnsTable, GoneNamespacesAreBounded) {
  NetnsTable t;
  std::vector<ScanEntry> many;
  for (uint64_t c = 10; c < 10 + NetnsTable::MAX_GONE + 5; ++c) {
    many.push_back(task(c, static_cast<uint32_t>(c)));
  }
  t.applyScan(many);
  t.disable(TCP, 10);
  t.applyScan({});
  EXPECT_EQ(t.all().size(), NetnsTable::MAX_GONE);
  std::vector<uint64_t> forgotten = t.takeForgotten();
  EXPECT_EQ(forgotten.size(), 5U);
  EXPECT_FALSE(t.anyDisabled());  // the forgotten one took its state with it
  EXPECT_TRUE(t.takeForgotten().empty());
}

TEST(NetnsTable, VersionMovesOnlyOnChanges) {
  NetnsTable t;
  t.applyScan({task(HOME, 1)});
  uint64_t v = t.version();
  t.applyScan({task(HOME, 1)});
  EXPECT_EQ(t.version(), v);
  t.disable(TCP, HOME);
  EXPECT_GT(t.version(), v);
}

constexpr const char* MOUNTINFO =
    "22 1 0:21 / /sys rw,nosuid - sysfs sysfs rw\n"
    "30 22 0:26 / /sys/fs/cgroup rw,nosuid shared:9 - cgroup2 cgroup2 rw,nsdelegate\n"
    "512 25 0:4 net:[4026532177] /run/netns/blue rw shared:5 - nsfs nsfs rw\n"
    "513 25 0:4 net:[4026532177] /var/run/netns/blue rw shared:5 - nsfs nsfs rw\n"
    "514 25 0:4 mnt:[4026532300] /run/mntns rw - nsfs nsfs rw\n"
    "515 25 0:4 net:[4026532400] /run/netns/with\\040space rw - nsfs nsfs rw\n"
    "516 25 0:4 net:[bogus] /run/netns/bad rw - nsfs nsfs rw\n"
    "garbage\n";

TEST(Mountinfo, FindsNetworkNamespaceMounts) {
  std::vector<NsfsMount> m = parseNetnsMounts(MOUNTINFO);
  ASSERT_EQ(m.size(), 3U);
  EXPECT_EQ(m[0].inum, 4026532177U);
  EXPECT_EQ(m[0].mountPoint, "/run/netns/blue");
  EXPECT_EQ(m[1].mountPoint, "/var/run/netns/blue");
  EXPECT_EQ(m[2].inum, 4026532400U);
  EXPECT_EQ(m[2].mountPoint, "/run/netns/with space");
}

TEST(Mountinfo, FindsCgroup2) {
  EXPECT_EQ(findCgroup2Mount(MOUNTINFO), "/sys/fs/cgroup");
  EXPECT_FALSE(findCgroup2Mount("22 1 0:21 / /sys rw - sysfs sysfs rw\n").has_value());
}

TEST(Mountinfo, Unescapes) {
  EXPECT_EQ(unescapeMountPath("a\\011b\\134c"), "a\tb\\c");
  EXPECT_EQ(unescapeMountPath("trailing\\04"), "trailing\\04");
}

const policy::TunableInfo& info(proto::TunableId id) {
  return *policy::findTunable(id);
}

TEST(Override, PerNetnsTunableStopsTheWritersNamespace) {
  EXPECT_EQ(overrideTarget(info(proto::TunableId::TCP_RMEM), 7, HOME), 7U);
  EXPECT_EQ(overrideTarget(info(proto::TunableId::TCP_MODERATE_RCVBUF), 7, HOME), 7U);
}

TEST(Override, GlobalTunableStopsTheHomeNamespace) {
  EXPECT_EQ(overrideTarget(info(proto::TunableId::TCP_MEM), 7, HOME), HOME);
  EXPECT_EQ(overrideTarget(info(proto::TunableId::TCP_MEM), HOME, HOME), HOME);
}

TEST(Routing, PerNetnsProposalStaysInTheEventsNamespace) {
  Proposal p;
  p.tunable = proto::TunableId::TCP_WMEM;
  p.netnsCookie = 7;
  routeProposal(p, info(p.tunable), HOME);
  EXPECT_EQ(p.netnsCookie, 7U);
  EXPECT_EQ(p.causeNetnsCookie, 0U);
}

TEST(Routing, GlobalProposalGoesHomeWithItsCause) {
  Proposal p;
  p.tunable = proto::TunableId::TCP_MEM;
  p.netnsCookie = 7;
  routeProposal(p, info(p.tunable), HOME);
  EXPECT_EQ(p.netnsCookie, HOME);
  EXPECT_EQ(p.causeNetnsCookie, 7U);
}

TEST(WrittenValues, Parses) {
  auto v = parseWrittenValues("4096 131072 6291456\n", 3);
  ASSERT_TRUE(v.has_value());
  EXPECT_EQ(*v, (Values{3, {4096, 131072, 6291456}}));
  EXPECT_EQ(parseWrittenValues("4096\t131072\t6291456", 3)->v[2], 6291456);
  EXPECT_EQ(*parseWrittenValues("1\n", 1), (Values{1, {1, 0, 0}}));
  EXPECT_EQ(parseWrittenValues("-5", 1)->v[0], -5);
}

TEST(WrittenValues, RejectsWhatIsNotExactlyCountIntegers) {
  EXPECT_FALSE(parseWrittenValues("", 3).has_value());
  EXPECT_FALSE(parseWrittenValues("1 2", 3).has_value());
  EXPECT_FALSE(parseWrittenValues("1 2 3 4", 3).has_value());
  EXPECT_FALSE(parseWrittenValues("1 2 x", 3).has_value());
  EXPECT_FALSE(parseWrittenValues("99999999999999999999", 1).has_value());
  EXPECT_FALSE(parseWrittenValues("1", 0).has_value());
}

TEST(Resume, FirstEpochIsTheBaseline) {
  ResumeWatch w;
  EXPECT_FALSE(w.onEpoch(3));
  EXPECT_FALSE(w.onEpoch(3));
  EXPECT_TRUE(w.onEpoch(4));
  EXPECT_FALSE(w.onEpoch(4));
}

TEST(Resume, PingsOnlyWhileDisabledAndAtMostOncePerSecond) {
  ResumeWatch w;
  auto t0 = ResumeWatch::Clock::time_point{} + std::chrono::hours(1);
  EXPECT_FALSE(w.pingDue(t0, false));
  EXPECT_TRUE(w.pingDue(t0, true));
  EXPECT_FALSE(w.pingDue(t0 + std::chrono::milliseconds(999), true));
  EXPECT_TRUE(w.pingDue(t0 + std::chrono::milliseconds(1000), true));
}

TEST(Resume, ReEnablesEveryDisabledStateOnAnEpochChange) {
  NetnsTable t;
  ResumeWatch w;
  t.disable(TCP, 7);
  t.disable(TCP, HOME);
  w.onEpoch(0);
  if (w.onEpoch(1)) {
    EXPECT_EQ(t.enableAll(), 2U);
  }
  EXPECT_EQ(t.state(TCP, 7), State::ACTIVE);
}

TEST(ValueCache, EventValuesUnlessAReplyIsNewer) {
  ValueCache c;
  const Values fromEvent{3, {4096, 131072, 131072}};
  const Values replied{3, {4096, 131072, 163840}};
  EXPECT_EQ(c.pick(7, proto::TunableId::TCP_RMEM, fromEvent, 100), fromEvent);
  c.learn(7, proto::TunableId::TCP_RMEM, replied, 200);
  EXPECT_EQ(c.pick(7, proto::TunableId::TCP_RMEM, fromEvent, 150), replied);  // queued before
  EXPECT_EQ(c.pick(7, proto::TunableId::TCP_RMEM, fromEvent, 250), fromEvent);
  EXPECT_EQ(c.pick(8, proto::TunableId::TCP_RMEM, fromEvent, 150), fromEvent);
  EXPECT_EQ(c.pick(7, proto::TunableId::TCP_WMEM, fromEvent, 150), fromEvent);
  c.learn(7, proto::TunableId::TCP_RMEM, fromEvent, 120);  // older: ignored
  EXPECT_EQ(c.pick(7, proto::TunableId::TCP_RMEM, fromEvent, 150), replied);
  c.forget(7);
  EXPECT_EQ(c.size(), 0U);
}

// The ring buffer record is a contract between BPF C and C++: the layout must not drift.
TEST(EventLayout, FixedSizeAndOffsets) {
  EXPECT_EQ(sizeof(bpftune_event), 336U);
  EXPECT_EQ(offsetof(bpftune_event, rmem), 80U);
  EXPECT_EQ(offsetof(bpftune_event, moderate_rcvbuf), 128U);
  EXPECT_EQ(offsetof(bpftune_event, netns_inum), 132U);
  EXPECT_EQ(offsetof(bpftune_event, uid), 136U);
  EXPECT_EQ(offsetof(bpftune_event, comm), 144U);
  EXPECT_EQ(offsetof(bpftune_event, text), 160U);
}

TEST(ValueCache, ValuesFromEvent) {
  bpftune_event e{};
  e.tuner = BPFTUNE_TUNER_TCP_BUFFER;
  e.rmem[0] = 4096;
  e.rmem[1] = 131072;
  e.rmem[2] = 6291456;
  e.wmem[2] = 4194304;
  e.moderate_rcvbuf = 1;
  EXPECT_EQ(*valuesFromEvent(e, proto::TunableId::TCP_RMEM), (Values{3, {4096, 131072, 6291456}}));
  EXPECT_EQ(valuesFromEvent(e, proto::TunableId::TCP_WMEM)->v[2], 4194304);
  EXPECT_EQ(*valuesFromEvent(e, proto::TunableId::TCP_MODERATE_RCVBUF), (Values{1, {1, 0, 0}}));
  EXPECT_FALSE(valuesFromEvent(e, proto::TunableId::TCP_MEM).has_value());
  e.tuner = BPFTUNE_INFRA;
  EXPECT_FALSE(valuesFromEvent(e, proto::TunableId::TCP_RMEM).has_value());
}

}  // namespace
}  // namespace bpftune::tuners::netns
