#include "tcp_conn_status.h"

#include <string_view>

#include "tunable_table.h"

namespace bpftune::tuners::tcp_conn {
namespace {

constexpr std::array<std::string_view, 8> STATUS_NAMES = {
    "ok", "rejected", "overridden", "stale", "failed", "paused", "gone", "proposed"};

// Every string here is an algorithm name or inet_ntop text; escaped anyway, so a future caller
// cannot break the document.
std::string quoted(std::string_view text) {
  std::string out = "\"";
  for (char c : text) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      out += "?";
    } else {
      out += c;
    }
  }
  return out + "\"";
}

std::string algName(proto::CongAlg alg) {
  return std::string(policy::congAlgName(static_cast<int64_t>(alg)));
}

class Object {
public:
  Object& field(std::string_view name, const std::string& json) {
    text += (text.empty() ? "{" : ",") + quoted(name) + ":" + json;
    return *this;
  }
  Object& number(std::string_view name, uint64_t v) { return field(name, std::to_string(v)); }
  Object& number(std::string_view name, int64_t v) { return field(name, std::to_string(v)); }
  Object& string(std::string_view name, std::string_view v) { return field(name, quoted(v)); }
  Object& boolean(std::string_view name, bool v) { return field(name, v ? "true" : "false"); }
  std::string done() const { return text.empty() ? "{}" : text + "}"; }

private:
  std::string text;
};

std::string algRow(const HostState& host, size_t slot, int64_t floorUs) {
  const AlgStats& a = host.algs[slot];
  const auto alg = static_cast<proto::CongAlg>(slot);
  return Object()
      .string("alg", algName(alg))
      .number("count", uint64_t{a.count})
      .number("greedy", uint64_t{a.greedyCount})
      .number("cost", algCost(host, alg, floorUs))
      .number("min_rtt_us", a.minRttUs)
      .number("max_rate_bps", a.maxRateBps)
      .number("mean_rtt_us", a.meanRttUs)
      .number("mean_rate_bps", a.meanRateBps)
      .done();
}

std::string hostRow(const HostState& host, int64_t floorUs) {
  std::string algs;
  for (size_t i = 1; i < ALG_SLOTS; ++i) {
    if (host.algs[i].count > 0) {
      algs += (algs.empty() ? "" : ",") + algRow(host, i, floorUs);
    }
  }
  return Object()
      .number("netns", host.netns)
      .string("host", host.host.text())
      .number("connections", uint64_t{host.connections})
      .number("lossy", uint64_t{host.lossyConnections})
      .string("route", algName(host.route))
      .string("default", algName(host.nsDefault))
      .boolean("ecn", host.ecn)
      .field("pending", host.pending ? quoted(algName(host.pendingRoute)) : "null")
      .boolean("overridden", host.overridden)
      .field("algs", "[" + algs + "]")
      .done();
}

std::string totalsJson(const Totals& t) {
  Object replies;
  for (size_t i = 0; i < STATUS_NAMES.size(); ++i) {
    replies.number(STATUS_NAMES[i], t.replies[i]);
  }
  replies.number("unknown_host", t.repliesUnknownHost);
  return Object()
      .number("events", t.events)
      .number("measured", t.measured)
      .field("skipped",
             Object()
                 .number("host", t.skippedHost)
                 .number("algorithm", t.skippedAlgorithm)
                 .number("small", t.skippedSmall)
                 .number("rtt", t.skippedRtt)
                 .number("rate", t.skippedRate)
                 .done())
      .number("lossy", t.lossy)
      .number("live_switches", t.liveSwitches)
      .field("proposals",
             Object()
                 .number("explore", t.explore)
                 .number("select", t.select)
                 .number("loss", t.loss)
                 .number("timed_out", t.timedOut)
                 .done())
      .field("replies", replies.done())
      .done();
}

}  // namespace

std::string statusJson(const StatusView& view) {
  std::string rows;
  size_t shown = 0;
  uint64_t routed = 0;
  for (const HostState& host : view.hosts.byRecency()) {
    routed += host.route != proto::CongAlg::NONE ? 1 : 0;
    if (shown < view.shownHosts) {
      rows += (rows.empty() ? "" : ",") + hostRow(host, view.rttFloorUs);
      ++shown;
    }
  }
  return Object()
      .number("hosts", uint64_t{view.hosts.size()})
      .number("max_hosts", uint64_t{view.hosts.capacity()})
      .number("evicted", view.hosts.evicted())
      .number("routed", routed)
      .number("shown", uint64_t{shown})
      .field("totals", totalsJson(view.totals))
      .field("recent", "[" + rows + "]")
      .done();
}

}  // namespace bpftune::tuners::tcp_conn
