// Metrics and JSON queries: the Prometheus renderer checked by a strict text-format parser (and
// the parser checked against inputs it must refuse), refusal classes, the upstream-shaped JSON
// of `bpftune status --json` and `bpftune tunables --json`.
#include "metrics.h"

#include <sys/stat.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "../../collector/cli/options.h"
#include "../../collector/options.h"
#include "prom_check.h"
#include "query_json.h"
#include "status.h"

namespace bpftune {
namespace {

using collector::StatusSnapshot;
using test::parsePrometheusText;

std::string joined(const std::vector<std::string>& errors) {
  std::string out;
  for (const std::string& e : errors) {
    out += e + "\n";
  }
  return out;
}

// ---- the checker must refuse what the format (or promtool's lint) refuses ----

TEST(PromCheck, AcceptsTheFormatDocumentationExample) {
  const char* text =
      "# HELP http_requests_total The total number of HTTP requests.\n"
      "# TYPE http_requests_total counter\n"
      "http_requests_total{method=\"post\",code=\"200\"} 1027 1395066363000\n"
      "http_requests_total{method=\"post\",code=\"400\"}    3 1395066363000\n"
      "\n"
      "# A normal comment.\n"
      "# HELP msdos_file_access_time_seconds Escaped \\\\ and \\n in help.\n"
      "# TYPE msdos_file_access_time_seconds gauge\n"
      "msdos_file_access_time_seconds{path=\"C:\\\\DIR\\\\FILE.TXT\",error=\"Cannot find "
      "file:\\n\\\"FILE.TXT\\\"\"} 1.458255915e9\n"
      "# HELP rpc_duration_seconds A histogram.\n"
      "# TYPE rpc_duration_seconds histogram\n"
      "rpc_duration_seconds_bucket{le=\"0.05\"} 24054\n"
      "rpc_duration_seconds_bucket{le=\"0.1\"} 33444\n"
      "rpc_duration_seconds_bucket{le=\"+Inf\"} 144320\n"
      "rpc_duration_seconds_sum 53423\n"
      "rpc_duration_seconds_count 144320\n";
  auto file = parsePrometheusText(text);
  EXPECT_TRUE(file.errors.empty()) << joined(file.errors);
  EXPECT_EQ(file.samples.size(), 8U);
  EXPECT_EQ(
      file.value("msdos_file_access_time_seconds", {{"error", "Cannot find file:\n\"FILE.TXT\""}}),
      1.458255915e9);
}

TEST(PromCheck, RefusesEachViolation) {
  const std::string head = "# HELP a_total h\n# TYPE a_total counter\n";
  const std::vector<std::pair<std::string, std::string>> bad = {
      {"no final newline", head + "a_total 1"},
      {"bad escape", head + "a_total{x=\"\\t\"} 1\n"},
      {"unterminated label", head + "a_total{x=\"y} 1\n"},
      {"bad label name", head + "a_total{1x=\"y\"} 1\n"},
      {"reserved label name", head + "a_total{__x=\"y\"} 1\n"},
      {"duplicate label", head + "a_total{x=\"1\",x=\"2\"} 1\n"},
      {"bad value", head + "a_total 1.2.3\n"},
      {"empty value", head + "a_total \n"},
      {"duplicate series", head + "a_total{x=\"1\"} 1\na_total{x=\"1\"} 2\n"},
      {"negative counter", head + "a_total -1\n"},
      {"no HELP/TYPE", "b 1\n"},
      {"second TYPE", head + "# TYPE a_total counter\na_total 1\n"},
      {"TYPE after samples", "# HELP g h\ng 1\n# TYPE g gauge\n"},
      {"counter without _total", "# HELP c h\n# TYPE c counter\nc 1\n"},
      {"non-base unit", "# HELP lat_ms h\n# TYPE lat_ms gauge\nlat_ms 1\n"},
      {"camelCase", "# HELP fooBar h\n# TYPE fooBar gauge\nfooBar 1\n"},
      {"not contiguous",
       head + "# HELP g h\n# TYPE g gauge\na_total{x=\"1\"} 1\ng 1\na_total{x=\"2\"} 1\n"},
      {"unknown type", "# HELP g h\n# TYPE g gaug\ng 1\n"},
      {"invalid UTF-8", head + "a_total{x=\"\xff\"} 1\n"},
      {"carriage return", head + "a_total 1\r\n"},
      {"histogram not cumulative",
       "# HELP h_seconds h\n# TYPE h_seconds histogram\nh_seconds_bucket{le=\"1\"} 2\n"
       "h_seconds_bucket{le=\"+Inf\"} 1\nh_seconds_sum 1\nh_seconds_count 1\n"},
      {"histogram without +Inf",
       "# HELP h_seconds h\n# TYPE h_seconds histogram\nh_seconds_bucket{le=\"1\"} 1\n"
       "h_seconds_sum 1\nh_seconds_count 1\n"},
      {"histogram count mismatch",
       "# HELP h_seconds h\n# TYPE h_seconds histogram\nh_seconds_bucket{le=\"+Inf\"} 2\n"
       "h_seconds_sum 1\nh_seconds_count 1\n"},
      {"histogram without sum",
       "# HELP h_seconds h\n# TYPE h_seconds histogram\nh_seconds_bucket{le=\"+Inf\"} 1\n"
       "h_seconds_count 1\n"},
      {"le outside a bucket", "# HELP g h\n# TYPE g gauge\ng{le=\"1\"} 1\n"},
  };
  for (const auto& [what, text] : bad) {
    EXPECT_FALSE(parsePrometheusText(text).errors.empty()) << what;
  }
  EXPECT_FALSE(
      parsePrometheusText("# HELP x_total h\n# TYPE x_total counter\nx_total 1\n", "bpftune_")
          .errors.empty());
}

// ---- the renderer ----

StatusSnapshot populated() {
  StatusSnapshot s;
  s.actuatorState = "connected";
  s.ringbufEvents = 42;
  s.netns.present = 3;
  collector::TunerStatus t;
  t.name = "tcp_buffer";
  t.events = 10;
  t.proposals = 4;
  t.applied = 2;
  t.appliedByScenario["need to increase TCP buffer size(s)"] = 2;
  t.appliedByScenario["odd \"scenario\" with \\ and\nnewline"] = 1;
  t.refusedBy[collector::refusalKey("rejected", "new2", "new2: 3 exceeds max 2 for x")] = 1;
  t.refusedBy[collector::refusalKey("overridden", "", "changed by someone else")] = 1;
  for (uint64_t us : {50U, 150U, 900U, 3000U, 20000000U}) {
    t.roundTrip.observe(us);
  }
  t.changeLatency.observe(1200);
  s.tuners.push_back(t);
  collector::TunerStatus quiet;
  quiet.name = "ip_frag";
  s.tuners.push_back(quiet);
  s.objects.push_back({"tcp_buffer", {"prog"}, {{"tcp_rcv_space_adjust", 100, 10, 10}}, {7, 2, 0}});
  s.values.push_back({"tcp_buffer", "net.ipv4.tcp_rmem", 4026531840ULL, {4096, 131072, 6291456}});
  s.values.push_back({"ip_frag", "net.ipv4.ipfrag_high_thresh", 4026532000ULL, {4194304}});
  return s;
}

TEST(PrometheusRenderer, EmptySnapshotIsValid) {
  auto file = parsePrometheusText(collector::renderPrometheus(StatusSnapshot{}), "bpftune_");
  EXPECT_TRUE(file.errors.empty()) << joined(file.errors);
  EXPECT_EQ(file.value("bpftune_actuator_connected"), 0);
}

TEST(PrometheusRenderer, PopulatedSnapshotIsValidAndSaysWhatHappened) {
  std::string text = collector::renderPrometheus(populated());
  auto file = parsePrometheusText(text, "bpftune_");
  ASSERT_TRUE(file.errors.empty()) << joined(file.errors) << text;
  EXPECT_EQ(file.types.at("bpftune_changes_total"), "counter");
  EXPECT_EQ(file.types.at("bpftune_actuator_request_duration_seconds"), "histogram");
  EXPECT_EQ(file.value("bpftune_actuator_connected"), 1);
  EXPECT_EQ(file.value("bpftune_tunable_value",
                       {{"tunable", "net.ipv4.tcp_rmem"}, {"netns", "4026531840"}, {"index", "2"}}),
            6291456);
  EXPECT_EQ(file.value("bpftune_tunable_value", {{"tunable", "net.ipv4.ipfrag_high_thresh"}}),
            4194304);
  EXPECT_EQ(
      file.value("bpftune_changes_total",
                 {{"tuner", "tcp_buffer"}, {"scenario", "need to increase TCP buffer size(s)"}}),
      2);
  // Escaped on the way out, the same text on the way in.
  EXPECT_EQ(
      file.value("bpftune_changes_total", {{"scenario", "odd \"scenario\" with \\ and\nnewline"}}),
      1);
  EXPECT_EQ(file.value("bpftune_requests_refused_total",
                       {{"status", "rejected"}, {"field", "new2"}, {"bound", "max"}}),
            1);
  EXPECT_EQ(file.value("bpftune_requests_refused_total",
                       {{"status", "overridden"}, {"field", "none"}, {"bound", "none"}}),
            1);
  EXPECT_EQ(file.value("bpftune_bpf_hook_calls_total", {{"hook", "tcp_rcv_space_adjust"}}), 100);
  EXPECT_EQ(file.value("bpftune_bpf_hook_sampled_total", {{"hook", "tcp_rcv_space_adjust"}}), 10);
  EXPECT_EQ(
      file.value("bpftune_bpf_events_total", {{"tuner", "tcp_buffer"}, {"outcome", "deduped"}}), 2);
  // 50 and 150 us fall at or below 0.00025 s; 20 s only in +Inf.
  EXPECT_EQ(file.value("bpftune_actuator_request_duration_seconds_bucket",
                       {{"tuner", "tcp_buffer"}, {"le", "0.00025"}}),
            2);
  EXPECT_EQ(file.value("bpftune_actuator_request_duration_seconds_bucket",
                       {{"tuner", "tcp_buffer"}, {"le", "10"}}),
            4);
  EXPECT_EQ(file.value("bpftune_actuator_request_duration_seconds_bucket",
                       {{"tuner", "tcp_buffer"}, {"le", "+Inf"}}),
            5);
  EXPECT_NEAR(
      file.value("bpftune_actuator_request_duration_seconds_sum", {{"tuner", "tcp_buffer"}}),
      20.0041,
      1e-9);
  EXPECT_EQ(file.value("bpftune_change_latency_seconds_count", {{"tuner", "ip_frag"}}), 0);
}

TEST(PrometheusRenderer, LabelValuesStayPrintableAscii) {
  EXPECT_EQ(collector::promLabelValue("a\"b\\c\nd\te\xc3\xa9"), "a\\\"b\\\\c\\nd?e??");
}

TEST(RefusalKey, BoundClassesAndFieldsAreBounded) {
  using collector::refusalKey;
  EXPECT_EQ(refusalKey("rejected", "new0", "new0: 1 is below min 2 for x").bound, "min");
  EXPECT_EQ(refusalKey("rejected", "new1", "new1: 1 is below new0 2").bound, "order");
  EXPECT_EQ(refusalKey("rejected", "new2", "step: new2 1 -> 9 moves more than 25%").bound, "step");
  EXPECT_EQ(refusalKey("rejected", "tunable", "rate: 5 changes to x within 60s exceeds 4").bound,
            "rate");
  EXPECT_EQ(refusalKey("rejected", "tunable", "tunable: x is not in the policy file").bound,
            "identity");
  EXPECT_EQ(refusalKey("rejected", "new0\"}", "whatever").field, "other");
  EXPECT_EQ(refusalKey("stale", "", "").field, "none");
}

TEST(MetricsFile, WrittenAtomicallyWithTheModeAskedFor) {
  auto dir = std::filesystem::temp_directory_path() / ("metrics_test." + std::to_string(getpid()));
  std::filesystem::create_directories(dir);
  std::string path = (dir / "bpftune.prom").string();
  mode_t old = umask(077);
  auto written = collector::writeFileAtomic(path, "x\n", 0644);
  umask(old);
  ASSERT_TRUE(written) << written.error().message;
  struct stat info {};
  ASSERT_EQ(stat(path.c_str(), &info), 0);
  EXPECT_EQ(info.st_mode & 0777, 0644U);
  EXPECT_FALSE(std::filesystem::exists(path + ".tmp"));
  std::filesystem::remove_all(dir);
}

// ---- JSON queries ----

TEST(StatusJson, CarriesValuesAndUpstreamJstatusKeys) {
  StatusSnapshot s = populated();
  s.homeNetnsCookie = 4026531840ULL;
  auto status = nlohmann::json::parse(collector::renderStatusJson(s));
  ASSERT_TRUE(status["values"].is_array());
  EXPECT_EQ(status["values"][0]["tunable"], "net.ipv4.tcp_rmem");
  auto out = cli::statusWithUpstreamKeys(status);
  // upstream jstatus: {tuner: {sysctl: value | [v0, v1, v2]}}, home namespace only
  EXPECT_EQ(out["tcp_buffer"]["net.ipv4.tcp_rmem"], nlohmann::json({4096, 131072, 6291456}));
  EXPECT_FALSE(out.contains("ip_frag"));  // its value is another namespace's
  EXPECT_EQ(out["pid"], status["pid"]);   // a superset: the document is all there
  EXPECT_EQ(out["values"], status["values"]);
}

TEST(StatusJson, ScalarsAreNumbersAndDocumentKeysWin) {
  nlohmann::json status = {{"home_netns_cookie", 1},
                           {"netns", {{"present", 1}}},
                           {"values",
                            {{{"tuner", "ip_frag"},
                              {"tunable", "net.ipv4.ipfrag_high_thresh"},
                              {"netns", 1},
                              {"values", {7}}},
                             {{"tuner", "netns"}, {"tunable", "x"}, {"netns", 1}, {"values", {1}}},
                             {{"tuner", 5}, {"tunable", "y"}, {"netns", 1}, {"values", {1}}}}}};
  auto out = cli::statusWithUpstreamKeys(status);
  EXPECT_EQ(out["ip_frag"]["net.ipv4.ipfrag_high_thresh"], 7);
  EXPECT_EQ(out["netns"], status["netns"]);
  EXPECT_EQ(cli::statusWithUpstreamKeys(nlohmann::json::array()), nlohmann::json::array());
}

TEST(TunablesJson, UpstreamJtunablesShapeForEveryTuner) {
  auto out = cli::tunablesJson();
  for (const char* tuner : {"tcp_buffer", "neigh_table", "net_buffer", "ip_frag", "udp_buffer"}) {
    ASSERT_TRUE(out.contains(tuner)) << tuner;
    EXPECT_FALSE(out[tuner].empty()) << tuner;
  }
  // tcp_conn changes per-host routes, not sysctls: listed, with nothing (as upstream's).
  ASSERT_TRUE(out.contains("tcp_conn"));
  EXPECT_TRUE(out["tcp_conn"].empty());
  const auto& rmem = out["tcp_buffer"]["net.ipv4.tcp_rmem"];
  EXPECT_EQ(rmem["type"], "integer");
  EXPECT_EQ(rmem["num_values"], 3);
  EXPECT_EQ(rmem["scope"], "netns");
  EXPECT_EQ(out["ip_frag"]["net.ipv4.ipfrag_high_thresh"]["num_values"], 1);
  for (const auto& [tuner, tunables] : out.items()) {
    for (const auto& [name, info] : tunables.items()) {
      EXPECT_TRUE(info["type"] == "integer" || info["type"] == "string") << name;
      EXPECT_TRUE(info["num_values"].is_number_unsigned()) << name;
    }
  }
}

TEST(MetricsOptions, CollectorAndCliFlags) {
  auto collectorOptions = collector::parseOptions({"--metrics-file", "/run/x/bpftune.prom"});
  ASSERT_TRUE(collectorOptions);
  EXPECT_EQ(collectorOptions->metricsPath, "/run/x/bpftune.prom");
  EXPECT_TRUE(collector::parseOptions({}).value().metricsPath.empty());  // off unless asked
  EXPECT_FALSE(collector::parseOptions({"--metrics-file", ""}));

  auto run = cli::parseOptions({"run", "--metrics-file", "/srv/prom/bpftune.prom"});
  ASSERT_TRUE(run);
  EXPECT_EQ(run->metricsFile, "/srv/prom/bpftune.prom");
  EXPECT_EQ(cli::parseOptions({"run"}).value().paths.metricsFile(),
            "/run/bpftune/collector/bpftune.prom");
  EXPECT_FALSE(cli::parseOptions({"run", "--metrics-file", "relative.prom"}));
  EXPECT_FALSE(cli::parseOptions({"status", "--metrics-file", "/x.prom"}));
  auto tunables = cli::parseOptions({"tunables", "--json"});
  ASSERT_TRUE(tunables);
  EXPECT_EQ(tunables->command, cli::Command::TUNABLES);
  EXPECT_TRUE(tunables->json);
}

}  // namespace
}  // namespace bpftune
