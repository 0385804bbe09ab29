// The admin CLI's pure parts: argument parsing (every usage error) and the journal summary.
#include <algorithm>

#include <gtest/gtest.h>

#include "advice.h"
#include "options.h"
#include "summary.h"

namespace bpftune::cli {
namespace {

Result<Options> parse(std::vector<std::string> args) {
  return parseOptions(args);
}

TEST(CliOptions, ParsesRunWithEveryFlag) {
  auto options = parse({"run",
                        "--learning-rate",
                        "2",
                        "--rollback-on-exit",
                        "--run-dir=/tmp/r",
                        "--state-dir",
                        "/tmp/s",
                        "--policy",
                        "/etc/p",
                        "--debug"});
  ASSERT_TRUE(options) << options.error().message;
  EXPECT_EQ(options->command, Command::RUN);
  EXPECT_EQ(options->learningRate, 2);
  EXPECT_TRUE(options->rollbackOnExit);
  EXPECT_TRUE(options->debug);
  EXPECT_EQ(options->paths.socket(), "/tmp/r/actuator.sock");
  EXPECT_EQ(options->paths.statusFile(), "/tmp/r/collector/status.json");
  EXPECT_EQ(options->paths.journal(), "/tmp/s/journal");
  EXPECT_EQ(options->paths.policy, "/etc/p");
}

TEST(CliOptions, DefaultsAreTheInstalledPaths) {
  auto options = parse({"status"});
  ASSERT_TRUE(options);
  EXPECT_EQ(options->paths.adminSocket(), "/run/bpftune/admin.sock");
  EXPECT_EQ(options->paths.journal(), "/var/lib/bpftune/journal");
  EXPECT_EQ(options->learningRate, 4);
  EXPECT_FALSE(options->json);
}

TEST(CliOptions, RejectsEveryKindOfBadArgument) {
  struct Case {
    std::vector<std::string> args;
    std::string mentions;
  };
  std::vector<Case> cases = {
      {{}, "missing command"},
      {{"frob"}, "unknown command 'frob'"},
      {{"run", "--learning-rate", "5"}, "0 to 4"},
      {{"run", "--learning-rate", "-1"}, "0 to 4"},
      {{"run", "--learning-rate", "2x"}, "0 to 4"},
      {{"run", "--learning-rate"}, "missing value"},
      {{"status", "--rollback-on-exit"}, "not an option of 'status'"},
      {{"verify", "--json"}, "not an option of 'verify'"},
      {{"journal", "--state-dir", "relative"}, "absolute path"},
      {{"run", "--bogus"}, "not an option of 'run'"},
  };
  for (const auto& c : cases) {
    auto options = parse(c.args);
    ASSERT_FALSE(options) << "accepted: " << (c.args.empty() ? "" : c.args[0]);
    EXPECT_NE(options.error().message.find(c.mentions), std::string::npos)
        << options.error().message;
  }
}

journal::Record intent(uint64_t seq, journal::Values oldValues, journal::Values newValues) {
  journal::Record record;
  record.seq = seq;
  record.kind = proto::RecordKind::INTENT;
  record.tunable = proto::TunableId::TCP_RMEM;
  record.netnsCookie = 7;
  record.count = 3;
  record.oldValues = oldValues;
  record.newValues = newValues;
  return record;
}

journal::Record outcome(uint64_t seq,
                        uint64_t intentSeq,
                        journal::Values actual,
                        proto::OutcomeResult result = proto::OutcomeResult::APPLIED) {
  journal::Record record;
  record.seq = seq;
  record.kind = proto::RecordKind::OUTCOME;
  record.intentSeq = intentSeq;
  record.actual = actual;
  record.result = result;
  return record;
}

TEST(Summary, ReportsFirstOriginalAndLastAppliedValue) {
  std::vector<journal::Record> records = {
      intent(1, {4096, 131072, 131072}, {4096, 131072, 163840}),
      outcome(2, 1, {4096, 131072, 163840}),
      intent(3, {4096, 131072, 163840}, {4096, 131072, 204800}),
      outcome(4, 3, {4096, 131072, 163840}, proto::OutcomeResult::WRITE_FAILED),
  };
  std::string text = summarize(records, journal::BootId{});
  EXPECT_NE(text.find("net.ipv4.tcp_rmem in netns 7: (4096 131072 131072) -> (4096 131072 163840)"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("tcp_buffer: 'need to increase TCP buffer size(s)' in netns 7: 1"),
            std::string::npos)
      << text;
}

journal::Record start(uint64_t seq, uint64_t cookie) {
  journal::Record record;
  record.seq = seq;
  record.kind = proto::RecordKind::START;
  record.netnsCookie = cookie;
  return record;
}

TEST(Summary, CountsPerNamespaceNamesThemAndShowsOverrides) {
  auto inContainer = intent(2, {4096, 131072, 131072}, {4096, 131072, 163840});
  inContainer.netnsCookie = 4451;
  auto onHost = intent(4, {4096, 16384, 16384}, {4096, 16384, 20480});
  onHost.netnsCookie = 3;
  onHost.tunable = proto::TunableId::TCP_WMEM;
  journal::Record override;
  override.seq = 6;
  override.kind = proto::RecordKind::OVERRIDE;
  override.netnsCookie = 4451;
  override.tunable = proto::TunableId::TCP_RMEM;
  override.count = 3;
  override.actual = {4096, 87380, 999999};
  override.writerPid = 321;
  override.writerUid = 0;
  override.writerComm = "sysctl";
  std::vector<journal::Record> records = {start(1, 3),
                                          inContainer,
                                          outcome(3, 2, {4096, 131072, 163840}),
                                          onHost,
                                          outcome(5, 4, {4096, 16384, 20480}),
                                          override};
  std::string text = summarize(records, journal::BootId{}, {{4451, "blue"}});
  EXPECT_NE(text.find("in netns 4451 (blue): 1"), std::string::npos) << text;
  EXPECT_NE(text.find("in netns 3 (init): 1"), std::string::npos) << text;
  EXPECT_NE(text.find("set to (4096 87380 999999) by pid 321 'sysctl' uid 0"), std::string::npos)
      << text;
  std::string snippet = exportSysctlD(records, journal::BootId{}, {{4451, "blue"}});
  EXPECT_NE(snippet.find("\nnet.ipv4.tcp_wmem = 4096 16384 20480\n"), std::string::npos) << snippet;
  // The container's value is a comment: sysctl.d cannot reach into a container.
  EXPECT_NE(snippet.find("# netns 4451 (blue)"), std::string::npos) << snippet;
  EXPECT_EQ(snippet.find("\nnet.ipv4.tcp_rmem"), std::string::npos) << snippet;
}

TEST(CliOptions, ResumeAndExport) {
  auto resume = parse({"resume", "tcp_buffer", "--netns", "blue"});
  ASSERT_TRUE(resume) << resume.error().message;
  EXPECT_EQ(resume->command, Command::RESUME);
  EXPECT_EQ(resume->tuner, "tcp_buffer");
  EXPECT_EQ(resume->netns, "blue");
  EXPECT_FALSE(parse({"resume"}));
  EXPECT_FALSE(parse({"resume", "tcp_buffer", "--netns"}));
  EXPECT_FALSE(parse({"export"}));
  auto exported = parse({"export", "--sysctl-d"});
  ASSERT_TRUE(exported);
  EXPECT_TRUE(exported->sysctlD);
}

TEST(Summary, IgnoresOtherBootsAndSaysWhenRolledBack) {
  journal::BootId other{};
  other[0] = 1;
  auto old = intent(1, {1, 2, 3}, {1, 2, 4});
  old.bootId = other;
  std::vector<journal::Record> records = {old,
                                          intent(2, {4096, 131072, 131072}, {4096, 131072, 163840}),
                                          outcome(3, 2, {4096, 131072, 163840}),
                                          intent(4, {4096, 131072, 163840}, {4096, 131072, 131072}),
                                          outcome(5, 4, {4096, 131072, 131072})};
  std::string text = summarize(records, journal::BootId{});
  EXPECT_EQ(text.find("(1 2 3)"), std::string::npos) << text;
  EXPECT_NE(text.find("(back at its original value)"), std::string::npos) << text;
}

TEST(Summary, RoutesArePerHostWithAlgorithmNamesAndNoSysctlD) {
  auto routeIntent = [](uint64_t seq, const char* host, int64_t from, int64_t to) {
    auto r = intent(seq, {from, 0, 0}, {to, 0, 0});
    r.tunable = proto::TunableId::ROUTE_CONGCTL;
    r.tuner = proto::TunerId::TCP_CONN;
    r.scenario = proto::ScenarioId::CONGCTL_SELECT;
    r.count = 1;
    r.host = *HostAddress::parse(host);
    return r;
  };
  journal::Record adminRoute;
  adminRoute.seq = 5;
  adminRoute.kind = proto::RecordKind::OVERRIDE;
  adminRoute.netnsCookie = 7;
  adminRoute.tunable = proto::TunableId::ROUTE_CONGCTL;
  adminRoute.count = 1;
  adminRoute.host = *HostAddress::parse("192.0.2.9");
  adminRoute.route.table = 254;
  adminRoute.route.ifname = "eth0";
  std::vector<journal::Record> records = {routeIntent(1, "192.0.2.7", 0, 1),
                                          outcome(2, 1, {1, 0, 0}),
                                          routeIntent(3, "2001:db8::7", 0, 3),
                                          outcome(4, 3, {3, 0, 0}),
                                          adminRoute};
  std::string text = summarize(records, journal::BootId{});
  EXPECT_NE(text.find("net.route.host.congctl for 192.0.2.7 in netns 7: (none) -> (reno)"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("net.route.host.congctl for 2001:db8::7 in netns 7: (none) -> (bbr)"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("for 192.0.2.9 in netns 7 set to (none) by an administrator's host route "
                      "(table 254 dev eth0)"),
            std::string::npos)
      << text;
  std::string snippet = exportSysctlD(records, journal::BootId{});
  EXPECT_EQ(snippet.find("\nnet.route.host.congctl"), std::string::npos) << snippet;
  EXPECT_NE(snippet.find("no sysctl.d form"), std::string::npos) << snippet;
}

TEST(Summary, SaysWhenThereWereNoChanges) {
  EXPECT_NE(summarize({}, journal::BootId{}).find("no changes"), std::string::npos);
}

TEST(CliOptions, AdviseAdviceAndApply) {
  auto run = parse({"run", "--advise"});
  ASSERT_TRUE(run) << run.error().message;
  EXPECT_TRUE(run->advise);
  EXPECT_FALSE(parse({"run"})->advise);
  auto advice = parse({"advice", "--json"});
  ASSERT_TRUE(advice) << advice.error().message;
  EXPECT_EQ(advice->command, Command::ADVICE);
  EXPECT_TRUE(advice->json);
  auto apply = parse({"apply", "12", "40"});
  ASSERT_TRUE(apply) << apply.error().message;
  EXPECT_EQ(apply->command, Command::APPLY);
  EXPECT_EQ(apply->proposalIds, (std::vector<uint64_t>{12, 40}));
  for (const auto& bad : std::vector<std::vector<std::string>>{{"apply"},
                                                               {"apply", "0"},
                                                               {"apply", "x1"},
                                                               {"apply", "-3"},
                                                               {"apply", "12", "--json"},
                                                               {"advice", "7"},
                                                               {"status", "--advise"}}) {
    EXPECT_FALSE(parse(bad)) << bad[0] << " " << (bad.size() > 1 ? bad[1] : "");
  }
  EXPECT_NE(parse({"apply", "x1"}).error().message.find("not a proposal id"), std::string::npos);
}

journal::Record proposal(uint64_t seq, journal::Values newValues, uint64_t netns = 7) {
  journal::Record record = intent(seq, {4096, 131072, 131072}, newValues);
  record.kind = proto::RecordKind::PROPOSAL;
  record.netnsCookie = netns;
  return record;
}

TEST(Advice, ListsOpenProposalsOnly) {
  journal::Record applied = outcome(5, 4, {4096, 131072, 150000});
  applied.proposalSeq = 1;
  applied.netnsCookie = 9;
  applied.tunable = proto::TunableId::TCP_RMEM;
  std::vector<journal::Record> records = {
      proposal(1, {4096, 131072, 150000}, 9),  // applied below
      proposal(2, {4096, 131072, 163840}),     // superseded by 3
      proposal(3, {4096, 131072, 160000}),
      intent(4, {4096, 131072, 131072}, {4096, 131072, 150000}),
      applied,
  };
  std::string text = adviceText(records, journal::BootId{}, false, {{7, "blue"}});
  EXPECT_EQ(text.find("id 1:"), std::string::npos) << text;
  EXPECT_EQ(text.find("id 2:"), std::string::npos) << text;
  EXPECT_NE(text.find("id 3: tcp_buffer net.ipv4.tcp_rmem 4096 131072 131072 -> 4096 131072 "
                      "160000 in netns 7 (blue)"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("why: need to increase TCP buffer size(s) (sockets run near"),
            std::string::npos)
      << text;
  std::string json = adviceText(records, journal::BootId{}, true);
  EXPECT_EQ(std::count(json.begin(), json.end(), '\n'), 1) << json;
  EXPECT_NE(json.find("\"kind\":\"proposal\""), std::string::npos) << json;
  EXPECT_NE(json.find("\"seq\":3"), std::string::npos) << json;
  // Another boot's proposals are not advice for this one.
  journal::BootId other{};
  other[0] = 1;
  EXPECT_NE(adviceText(records, other, false).find("no open proposals"), std::string::npos);
}

}  // namespace
}  // namespace bpftune::cli
