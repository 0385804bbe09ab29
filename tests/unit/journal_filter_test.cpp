// `bpftune journal --since/--tuner/--netns` and `verify --head`: what each value means, which
// records it keeps, and the error for every kind of bad value.
#include "journal_filter.h"

#include <gtest/gtest.h>

#include "options.h"

namespace bpftune::cli {
namespace {

constexpr int64_t SEC = 1000000000;
// 2026-01-31T08:00:00Z
constexpr int64_t NOW = 1769846400 * SEC;

TEST(JournalSince, RelativeAgesCountBackFromNow) {
  EXPECT_EQ(*parseSince("30s", NOW), NOW - 30 * SEC);
  EXPECT_EQ(*parseSince("10m", NOW), NOW - 600 * SEC);
  EXPECT_EQ(*parseSince("-10m", NOW), NOW - 600 * SEC);
  EXPECT_EQ(*parseSince("2h", NOW), NOW - 7200 * SEC);
  EXPECT_EQ(*parseSince("1d", NOW), NOW - 86400 * SEC);
  EXPECT_EQ(*parseSince("1w", NOW), NOW - 7 * 86400 * SEC);
  EXPECT_EQ(*parseSince("0s", NOW), NOW);
}

TEST(JournalSince, AbsoluteTimesAreUtcAsTheJournalPrintsThem) {
  EXPECT_EQ(*parseSince("2026-01-31T08:00:00Z", NOW), NOW);
  EXPECT_EQ(*parseSince("2026-01-31T08:00:00", NOW), NOW);
  EXPECT_EQ(*parseSince("2026-01-31 08:00", NOW), NOW);
  EXPECT_EQ(*parseSince("2026-01-31T07:59Z", NOW), NOW - 60 * SEC);
  EXPECT_EQ(*parseSince("2026-01-31", NOW), NOW - 8 * 3600 * SEC);
  EXPECT_EQ(*parseSince("2024-02-29", NOW), 1709164800 * SEC);  // a leap day
  EXPECT_EQ(*parseSince("@1769846400", NOW), NOW);
  EXPECT_EQ(*parseSince("@0", NOW), 0);
}

TEST(JournalSince, RefusesWhatIsNotATime) {
  for (const char* bad : {"",
                          "10",
                          "m",
                          "10x",
                          "10 m",
                          "1.5h",
                          "+10m",
                          "--10m",
                          "10mm",
                          "@",
                          "@-5",
                          "@12x",
                          "2026-02-30",
                          "2026-13-01",
                          "2026-01-31T24:00",
                          "2026-01-31T08:60",
                          "2026-01-31T08:00:61",
                          "2026-1-31",
                          "2026-01-31X08:00",
                          "1969-12-31",
                          "2026-01-31T08:00ZZ",
                          "99999999999999999999s",
                          "9999999999999999d"}) {
    auto since = parseSince(bad, NOW);
    ASSERT_FALSE(since) << "accepted '" << bad << "'";
    EXPECT_NE(since.error().message.find("--since: '" + std::string(bad) + "'"), std::string::npos)
        << since.error().message;
    EXPECT_NE(since.error().message.find("expected an age such as"), std::string::npos);
  }
}

TEST(JournalTuner, TunersAndPseudoTunersByName) {
  EXPECT_EQ(*parseTunerFilter("tcp_buffer"), proto::TunerId::TCP_BUFFER);
  EXPECT_EQ(*parseTunerFilter("neigh_table"), proto::TunerId::NEIGH_TABLE);
  EXPECT_EQ(*parseTunerFilter("admin"), proto::TunerId::ADMIN);
  EXPECT_EQ(*parseTunerFilter("actuator"), proto::TunerId::ACTUATOR);
  auto bad = parseTunerFilter("tcp_buffers");
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message.find("unknown tuner 'tcp_buffers' (one of tcp_buffer,"),
            std::string::npos)
      << bad.error().message;
  EXPECT_FALSE(parseTunerFilter(""));
}

journal::Record change(proto::TunerId tuner, uint64_t netns, uint64_t cause, int64_t at) {
  journal::Record r;
  r.kind = proto::RecordKind::INTENT;
  r.tuner = tuner;
  r.netnsCookie = netns;
  r.causeNetnsCookie = cause;
  r.realtimeNs = at;
  return r;
}

TEST(JournalFilterMatch, EveryCriterionMustHold) {
  JournalFilter all;
  journal::Record start;
  start.kind = proto::RecordKind::START;
  start.realtimeNs = NOW;
  auto tcp = change(proto::TunerId::TCP_BUFFER, 5, 0, NOW);
  auto caused = change(proto::TunerId::TCP_BUFFER, 1, 5, NOW);  // tcp_mem in init, caused in 5
  auto neigh = change(proto::TunerId::NEIGH_TABLE, 6, 0, NOW - 3600 * SEC);
  EXPECT_TRUE(all.matches(start));
  EXPECT_TRUE(all.matches(neigh));

  JournalFilter byTuner;
  byTuner.tuner = proto::TunerId::TCP_BUFFER;
  EXPECT_TRUE(byTuner.matches(tcp));
  EXPECT_FALSE(byTuner.matches(neigh));
  EXPECT_FALSE(byTuner.matches(start));

  JournalFilter byNetns;
  byNetns.netnsCookie = 5;
  EXPECT_TRUE(byNetns.matches(tcp));
  EXPECT_TRUE(byNetns.matches(caused));
  EXPECT_FALSE(byNetns.matches(neigh));
  EXPECT_FALSE(byNetns.matches(start));

  JournalFilter bySince;
  bySince.sinceNs = NOW - 60 * SEC;
  EXPECT_TRUE(bySince.matches(tcp));
  EXPECT_TRUE(bySince.matches(start));
  EXPECT_FALSE(bySince.matches(neigh));

  JournalFilter combined;
  combined.sinceNs = NOW - 2 * 3600 * SEC;
  combined.tuner = proto::TunerId::NEIGH_TABLE;
  combined.netnsCookie = 6;
  EXPECT_TRUE(combined.matches(neigh));
  EXPECT_FALSE(combined.matches(tcp));
  combined.netnsCookie = 5;
  EXPECT_FALSE(combined.matches(neigh));
}

TEST(JournalOptions, FiltersAndHeadParse) {
  auto options =
      parseOptions({"journal", "--json", "--since", "@100", "--tuner=ip_frag", "--netns", "blue"});
  ASSERT_TRUE(options) << options.error().message;
  EXPECT_TRUE(options->json);
  EXPECT_EQ(options->journalFilter.sinceNs, 100 * SEC);
  EXPECT_EQ(options->journalFilter.tuner, proto::TunerId::IP_FRAG);
  EXPECT_EQ(options->netns, "blue");
  auto verify = parseOptions({"verify", "--head"});
  ASSERT_TRUE(verify);
  EXPECT_TRUE(verify->head);
  EXPECT_FALSE(parseOptions({"verify"})->head);
}

TEST(JournalOptions, BadValuesAreUsageErrors) {
  struct Case {
    std::vector<std::string> args;
    std::string mentions;
  };
  std::vector<Case> cases = {
      {{"journal", "--since"}, "--since: missing value"},
      {{"journal", "--since", "yesterday"}, "--since: 'yesterday'"},
      {{"journal", "--tuner", "nope"}, "--tuner: unknown tuner 'nope'"},
      {{"journal", "--tuner"}, "--tuner: missing value"},
      {{"journal", "--netns="}, "--netns: expected a namespace cookie"},
      {{"journal", "--head"}, "'--head' is not an option of 'journal'"},
      {{"verify", "--since", "10m"}, "'--since' is not an option of 'verify'"},
      {{"status", "--tuner", "tcp_buffer"}, "'--tuner' is not an option of 'status'"},
  };
  for (const auto& c : cases) {
    auto options = parseOptions(c.args);
    ASSERT_FALSE(options) << "accepted: " << c.args[1];
    EXPECT_NE(options.error().message.find(c.mentions), std::string::npos)
        << options.error().message;
  }
}

}  // namespace
}  // namespace bpftune::cli
