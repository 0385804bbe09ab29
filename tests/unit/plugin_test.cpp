// Plugins with a real dlopen: the trust checks (root-owned path, no symlink, no group/other
// write), loading and ticking, the directory watch (add, replace, remove while running) and
// the strategy switch of a plugin. Plugins come from tests/unit/plugins/test_plugin.c.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <string>

#include <gtest/gtest.h>

#include "options.h"
#include "plugin_dir.h"
#include "plugin_trust.h"
#include "plugin_tuner.h"
#include "strategy.h"

namespace bpftune::collector {
namespace {

namespace fs = std::filesystem;
using Kind = PluginChange::Kind;

constexpr TrustOwner ROOT{0};

// A fresh 0755 directory under the build tree (whose parents are root's and 0755 in a root
// build); removed at the end.
class PluginDirTest : public ::testing::Test {
protected:
  void SetUp() override {
    if (::geteuid() != 0) {
      GTEST_SKIP() << "needs root: plugin trust checks require root-owned files and directories";
    }
    // Trusted means root-owned and not group/other-writable up to "/", which a checkout need
    // not be (a clone under /tmp): the plugins go under /run, root's 0755.
    fs::path base = "/run/bpftune-tests";
    fs::create_directories(base);
    fs::permissions(base, fs::perms(0755));
    ASSERT_EQ(::chown(base.c_str(), 0, 0), 0);
    dir = base / ("plugin_test." + std::to_string(::getpid()));
    fs::remove_all(dir);
    fs::create_directories(dir);
    fs::permissions(dir, fs::perms(0755));
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(dir, ec);
  }
  // Copies a test plugin in with a rename, as install(1) and package managers replace files.
  fs::path install(const std::string& plugin, const std::string& as) {
    fs::path tmp = dir / ("." + as + ".tmp");
    fs::copy_file(
        fs::path(TEST_PLUGIN_BUILD_DIR) / plugin, tmp, fs::copy_options::overwrite_existing);
    fs::permissions(tmp, fs::perms(0644));
    fs::rename(tmp, dir / as);
    return dir / as;
  }
  fs::path dir;
};

TEST(PluginOptions, DirectoriesStrategyPeriodAndCheck) {
  auto defaults = parseOptions({});
  ASSERT_TRUE(defaults);
  EXPECT_EQ(defaults->pluginDirs, defaultPluginDirs());
  EXPECT_EQ(defaults->pluginDirs.back(), "/usr/local/lib/bpftune/plugins");
  EXPECT_EQ(defaults->strategyPeriodMs, 0);
  auto given = parseOptions({"--plugin-dir",
                             "/a",
                             "--plugin-dir",
                             "/b",
                             "--no-plugins",
                             "--strategy-period",
                             "250",
                             "--check-plugin",
                             "/a/x.so"});
  ASSERT_TRUE(given) << given.error().message;
  EXPECT_EQ(given->pluginDirs, (std::vector<std::string>{"/a", "/b"}));
  EXPECT_TRUE(given->noPlugins);
  EXPECT_EQ(given->strategyPeriodMs, 250);
  EXPECT_EQ(given->checkPlugin, "/a/x.so");
  EXPECT_FALSE(parseOptions({"--plugin-dir", "relative"}));
  EXPECT_FALSE(parseOptions({"--strategy-period", "99"}));
  EXPECT_FALSE(parseOptions({"--strategy-period", "1s"}));
  EXPECT_TRUE(parseOptions({"--tuners", "plugin"}));
}

TEST(PluginTrust, FileNames) {
  EXPECT_TRUE(isPluginFileName("sample_tuner.so"));
  EXPECT_TRUE(isPluginFileName("a-b.1.so"));
  EXPECT_FALSE(isPluginFileName("x_tuner.so.bak"));  // upstream's scan loaded this one
  EXPECT_FALSE(isPluginFileName("x.so.dpkg-new"));
  EXPECT_FALSE(isPluginFileName(".hidden.so"));
  EXPECT_FALSE(isPluginFileName(".so"));
  EXPECT_FALSE(isPluginFileName("a b.so"));
  EXPECT_FALSE(isPluginFileName("a/b.so"));
}

TEST(PluginTrust, RelativeAndDotDotDirectoriesAreRefused) {
  EXPECT_FALSE(openTrustedDir("lib/bpftune", ROOT));
  EXPECT_FALSE(openTrustedDir("/usr/lib/../lib", ROOT));
  EXPECT_FALSE(openTrustedDir("/usr/./lib", ROOT));
}

TEST(PluginTrust, OtherWritableAncestorIsRefused) {
  auto tmp = openTrustedDir("/tmp", ROOT);  // 1777
  ASSERT_FALSE(tmp);
  EXPECT_NE(tmp.error().message.find("/tmp is group- or other-writable"), std::string::npos)
      << tmp.error().message;
}

TEST(PluginDescriptor, ValidationRefusesWhatTheCollectorCannotUse) {
  static const uint32_t rmemMax[] = {BPFTUNE_TUNABLE_RMEM_MAX};
  static const uint32_t hostRoute[] = {20};
  auto tick = [](void*, const bpftune_plugin_input*, bpftune_plugin_proposal*, uint32_t) {
    return 0U;
  };
  bpftune_plugin p{};
  p.abi_version = BPFTUNE_PLUGIN_ABI_VERSION;
  p.name = "ok_name";
  p.period_ms = 1000;
  p.tunables = rmemMax;
  p.n_tunables = 1;
  p.tick = tick;
  EXPECT_TRUE(validateDescriptor(p));
  auto refused = [](bpftune_plugin q) {
    return !validateDescriptor(q);
  };
  bpftune_plugin q = p;
  q.abi_version = 2;
  EXPECT_TRUE(refused(q));
  q = p;
  q.name = "Bad-Name";
  EXPECT_TRUE(refused(q));
  q = p;
  q.period_ms = 10;
  EXPECT_TRUE(refused(q));
  q = p;
  q.tunables = hostRoute;  // per-host congestion control is not offered
  EXPECT_TRUE(refused(q));
  q = p;
  q.n_tunables = 0;
  EXPECT_TRUE(refused(q));
  q = p;
  q.n_strategies = 2;  // no names, no evaluate()
  EXPECT_TRUE(refused(q));
}

TEST_F(PluginDirTest, TrustedPluginLoadsAndProposesThroughTheTunerInterface) {
  install("test_plugin.so", "test_plugin.so");
  auto dirFd = openTrustedDir(dir.string(), ROOT);
  ASSERT_TRUE(dirFd) << describe(dirFd.error());
  auto fd = openTrustedFile(dirFd->get(), "test_plugin.so", ROOT);
  ASSERT_TRUE(fd) << describe(fd.error());
  auto tuner = loadPlugin(std::move(*fd), "test_plugin.so");
  ASSERT_TRUE(tuner) << describe(tuner.error());
  EXPECT_EQ((*tuner)->name(), "test_one");
  EXPECT_EQ((*tuner)->id(), proto::TunerId::PLUGIN);
  ASSERT_EQ((*tuner)->tunables(), std::vector{proto::TunableId::IPFRAG_HIGH_THRESH});
  bpftune_event tick{};
  tick.netns_cookie = 7;
  tuners::CurrentValues current;
  current.sysctls[proto::TunableId::IPFRAG_HIGH_THRESH] = {1, {212992, 0, 0}};
  current.counters[tuners::CounterId::UDP_RCVBUF_ERRORS] = 3;
  auto proposals = (*tuner)->onEvent(tick, current);
  ASSERT_EQ(proposals.size(), 1U);
  EXPECT_EQ(proposals[0].tuner, proto::TunerId::PLUGIN);
  EXPECT_EQ(proposals[0].scenario, proto::ScenarioId::PLUGIN_PROPOSAL);
  EXPECT_EQ(proposals[0].netnsCookie, 7U);
  EXPECT_EQ(proposals[0].oldValues.v[0], 212992);
  EXPECT_EQ(proposals[0].newValues.v[0], 212992 + 4096);
  // The plugin's text is sanitized (its newline escaped) and carries its name.
  EXPECT_EQ(proposals[0].why.find('\n'), std::string::npos);
  EXPECT_EQ(proposals[0].why.rfind("plugin test_one: strategy 0", 0), 0U) << proposals[0].why;
  // Without a readable value there is nothing to propose from.
  EXPECT_TRUE((*tuner)->onEvent(tick, tuners::CurrentValues{}).empty());
}

TEST_F(PluginDirTest, WrongAbiVersionIsRefused) {
  install("test_plugin_abi99.so", "abi99.so");
  auto watch = PluginDirectory::open(dir.string(), ROOT);
  ASSERT_TRUE(watch) << describe(watch.error());
  auto changes = (*watch)->scan();
  ASSERT_EQ(changes.size(), 1U);
  EXPECT_EQ(changes[0].kind, Kind::REFUSED);
  EXPECT_NE(changes[0].reason.find("ABI version 99"), std::string::npos) << changes[0].reason;
}

TEST_F(PluginDirTest, GroupWritableDirectoryIsRefused) {
  fs::permissions(dir, fs::perms(0775));
  auto watch = PluginDirectory::open(dir.string(), ROOT);
  ASSERT_FALSE(watch);
  EXPECT_NE(watch.error().message.find("group- or other-writable"), std::string::npos);
}

TEST_F(PluginDirTest, SymlinkedDirectoryAndSymlinkedPluginAreRefused) {
  fs::create_directory(dir / "real");
  fs::permissions(dir / "real", fs::perms(0755));
  fs::create_directory_symlink(dir / "real", dir / "link");
  auto linked = PluginDirectory::open((dir / "link").string(), ROOT);
  ASSERT_FALSE(linked);
  EXPECT_NE(linked.error().message.find("symlink"), std::string::npos) << linked.error().message;

  fs::path target = install("test_plugin.so", "target.so.real");
  fs::create_symlink(target, dir / "linked.so");
  auto watch = PluginDirectory::open(dir.string(), ROOT);
  ASSERT_TRUE(watch) << describe(watch.error());
  auto changes = (*watch)->scan();
  ASSERT_EQ(changes.size(), 1U);
  EXPECT_EQ(changes[0].kind, Kind::REFUSED);
  EXPECT_NE(changes[0].reason.find("symlink"), std::string::npos) << changes[0].reason;
}

TEST_F(PluginDirTest, NonRootOwnerAndGroupWritableFileAreRefused) {
  fs::path nobody = install("test_plugin.so", "nobody.so");
  ASSERT_EQ(::chown(nobody.c_str(), 65534, 65534), 0);
  fs::path writable = install("test_plugin_two.so", "writable.so");
  fs::permissions(writable, fs::perms(0664));
  auto watch = PluginDirectory::open(dir.string(), ROOT);
  ASSERT_TRUE(watch) << describe(watch.error());
  auto changes = (*watch)->scan();
  ASSERT_EQ(changes.size(), 2U);
  EXPECT_EQ(changes[0].kind, Kind::REFUSED);
  EXPECT_NE(changes[0].reason.find("owned by uid 65534"), std::string::npos) << changes[0].reason;
  EXPECT_EQ(changes[1].kind, Kind::REFUSED);
  EXPECT_NE(changes[1].reason.find("group- or other-writable"), std::string::npos)
      << changes[1].reason;
}

TEST_F(PluginDirTest, AddReplaceAndRemoveWhileWatching) {
  install("test_plugin.so", "one.so");
  auto watch = PluginDirectory::open(dir.string(), ROOT);
  ASSERT_TRUE(watch) << describe(watch.error());
  auto start = (*watch)->scan();
  ASSERT_EQ(start.size(), 1U);
  ASSERT_EQ(start[0].kind, Kind::ADDED) << start[0].reason;
  EXPECT_TRUE((*watch)->poll().empty());

  install("test_plugin_two.so", "two.so");
  auto added = (*watch)->poll();
  ASSERT_EQ(added.size(), 1U);
  ASSERT_EQ(added[0].kind, Kind::ADDED) << added[0].reason;
  EXPECT_EQ(added[0].tuner->name(), "test_two");
  EXPECT_EQ(added[0].path, (dir / "two.so").string());

  install("test_plugin.so", "two.so");  // replaced: the old one goes, the new one comes
  auto replaced = (*watch)->poll();
  ASSERT_EQ(replaced.size(), 2U);
  EXPECT_EQ(replaced[0].kind, Kind::REMOVED);
  ASSERT_EQ(replaced[1].kind, Kind::ADDED) << replaced[1].reason;
  EXPECT_EQ(replaced[1].tuner->name(), "test_one");

  fs::remove(dir / "one.so");
  auto removed = (*watch)->poll();
  ASSERT_EQ(removed.size(), 1U);
  EXPECT_EQ(removed[0].kind, Kind::REMOVED);
  EXPECT_EQ(removed[0].path, (dir / "one.so").string());

  // Untrusted when added while running: refused, and a later chown makes it load.
  fs::path late = dir / "late.so";
  fs::copy_file(fs::path(TEST_PLUGIN_BUILD_DIR) / "test_plugin_two.so", dir / ".late");
  ASSERT_EQ(::chown((dir / ".late").c_str(), 65534, 65534), 0);
  fs::rename(dir / ".late", late);
  auto refused = (*watch)->poll();
  ASSERT_EQ(refused.size(), 1U);
  EXPECT_EQ(refused[0].kind, Kind::REFUSED);
  ASSERT_EQ(::chown(late.c_str(), 0, 0), 0);
  auto fixed = (*watch)->poll();
  ASSERT_EQ(fixed.size(), 1U);
  EXPECT_EQ(fixed[0].kind, Kind::ADDED) << fixed[0].reason;
}

TEST_F(PluginDirTest, StrategyPluginFlipsEveryPeriod) {
  install("test_plugin_strategy.so", "strategy.so");
  auto watch = PluginDirectory::open(dir.string(), ROOT);
  ASSERT_TRUE(watch) << describe(watch.error());
  auto changes = (*watch)->scan();
  ASSERT_EQ(changes.size(), 1U);
  ASSERT_EQ(changes[0].kind, Kind::ADDED) << changes[0].reason;
  PluginTuner& tuner = *changes[0].tuner;
  ASSERT_EQ(tuner.strategies(), (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(tuner.strategyPeriod(), std::chrono::seconds(30));  // its own; overridden here

  tuners::StrategySwitch strategy(std::chrono::milliseconds(100));
  auto t0 = tuners::StrategySwitch::Clock::time_point{};
  EXPECT_FALSE(strategy.poll(tuner, t0));
  EXPECT_FALSE(strategy.poll(tuner, t0 + std::chrono::milliseconds(99)));
  auto first = strategy.poll(tuner, t0 + std::chrono::milliseconds(100));
  ASSERT_TRUE(first);
  EXPECT_EQ(first->text, "strategy a -> b (scores 0, 1)");
  auto second = strategy.poll(tuner, t0 + std::chrono::milliseconds(200));
  ASSERT_TRUE(second);
  EXPECT_EQ(second->to, 0U);
  // The active strategy reaches the plugin's tick().
  strategy.poll(tuner, t0 + std::chrono::milliseconds(300));
  tuners::CurrentValues current;
  current.sysctls[proto::TunableId::IPFRAG_HIGH_THRESH] = {1, {212992, 0, 0}};
  auto proposals = tuner.onEvent(bpftune_event{}, current);
  ASSERT_EQ(proposals.size(), 1U);
  EXPECT_NE(proposals[0].why.find("strategy 1"), std::string::npos) << proposals[0].why;
}

}  // namespace
}  // namespace bpftune::collector
