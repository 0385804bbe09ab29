#include "status.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <fstream>
#include <sstream>

#include "unique_fd.h"

namespace bpftune::collector {
namespace {

std::string quoted(std::string_view text) {
  return "\"" + jsonEscape(text) + "\"";
}

void renderLatency(std::ostringstream& out, const LatencyStats& l) {
  out << "{\"count\": " << l.count << ", \"min_us\": " << l.minUs << ", \"avg_us\": " << l.avgUs()
      << ", \"max_us\": " << l.maxUs << "}";
}

void renderIterator(std::ostringstream& out, const IteratorStatus& i) {
  out << "{\"what\": " << quoted(i.what) << ", \"runs\": " << i.runs
      << ", \"actions\": " << i.actions << ", \"journaled\": " << i.journaled
      << ", \"refused\": " << i.refused << ", \"unjournaled\": " << i.unjournaled
      << ", \"skipped\": " << i.skipped << ", \"last_skip\": " << quoted(i.lastSkip)
      << ", \"last_run_us\": " << i.lastRunUs << "}";
}

void renderTuner(std::ostringstream& out, const TunerStatus& t) {
  out << "    {\"name\": " << quoted(t.name) << ", \"netns\": {";
  const char* sep = "";
  for (const auto& [cookie, state] : t.netnsState) {
    out << sep << "\"" << cookie << "\": " << quoted(state);
    sep = ", ";
  }
  out << "}, \"events\": " << t.events << ", \"proposals\": " << t.proposals
      << ", \"applied\": " << t.applied << ", \"refused\": {";
  sep = "";
  for (const auto& [status, count] : t.refused) {
    out << sep << quoted(status) << ": " << count;
    sep = ", ";
  }
  out << "}, \"dropped_actuator_down\": " << t.droppedDisconnected
      << ", \"skipped_disabled\": " << t.skippedDisabled << ", \"held_back\": " << t.heldBack
      << ", \"admin_overrides\": " << t.adminOverrides << ", \"latency\": ";
  renderLatency(out, t.latency);
  if (t.hasIterator) {
    out << ", \"iterator\": ";
    renderIterator(out, t.iterator);
  }
  if (!t.plugin.empty()) {
    out << ", \"plugin\": " << quoted(t.plugin);
  }
  if (!t.strategy.empty()) {
    out << ", \"strategy\": " << quoted(t.strategy)
        << ", \"strategy_switches\": " << t.strategySwitches;
  }
  // The tuner's own JSON value, as it rendered it (tuners are pure code of ours, not input).
  if (!t.stateJson.empty()) {
    out << ", \"state\": " << t.stateJson;
  }
  out << "}";
}

void renderObject(std::ostringstream& out, const ObjectStatus& o) {
  out << "    {\"tuner\": " << quoted(o.tuner) << ", \"programs\": [";
  const char* sep = "";
  for (const auto& p : o.programs) {
    out << sep << quoted(p);
    sep = ", ";
  }
  out << "], \"hooks\": [";
  sep = "";
  for (const auto& h : o.hooks) {
    out << sep << "{\"name\": " << quoted(h.name) << ", \"calls\": " << h.calls
        << ", \"collected\": " << h.collected << ", \"sample_every\": " << h.rate << "}";
    sep = ", ";
  }
  out << "], \"events_sent\": " << o.events.sent << ", \"events_deduped\": " << o.events.deduped
      << ", \"events_lost\": " << o.events.lost << "}";
}

void renderValue(std::ostringstream& out, const TunableValue& v) {
  out << "    {\"tuner\": " << quoted(v.tuner) << ", \"tunable\": " << quoted(v.tunable)
      << ", \"netns\": " << v.netns << ", \"values\": [";
  const char* sep = "";
  for (int64_t value : v.values) {
    out << sep << value;
    sep = ", ";
  }
  out << "]}";
}

template <typename T, typename F>
void renderList(std::ostringstream& out, const std::vector<T>& items, F render) {
  out << "[\n";
  for (size_t i = 0; i < items.size(); ++i) {
    render(out, items[i]);
    out << (i + 1 < items.size() ? ",\n" : "\n");
  }
  out << "  ]";
}

std::string_view heldBy(const tuners::netns::Netns& ns) {
  if (ns.gone) {
    return "";
  }
  if (ns.byTask && ns.byMount) {
    return "task+mount";
  }
  if (ns.byTask || ns.byMount) {
    return ns.byTask ? "task" : "mount";
  }
  return "events";  // seen since the last scan, held by something a scan cannot see
}

}  // namespace

std::string renderNamespacesJson(
    const tuners::netns::NetnsTable& table,
    const std::vector<std::pair<proto::TunerId, std::string>>& tunerNames) {
  std::ostringstream out;
  out << "[";
  const char* sep = "\n";
  for (const auto& [cookie, ns] : table.all()) {
    out << sep << "    {\"cookie\": " << cookie << ", \"inode\": " << ns.inum
        << ", \"name\": " << quoted(ns.name)
        << ", \"state\": " << (ns.gone ? "\"gone\"" : "\"present\"")
        << ", \"held_by\": " << quoted(heldBy(ns)) << ", \"events\": " << ns.events
        << ", \"tuners\": {";
    const char* tsep = "";
    for (const auto& [id, name] : tunerNames) {
      out << tsep << quoted(name) << ": "
          << quoted(tuners::netns::stateName(table.state(id, cookie)));
      tsep = ", ";
    }
    out << "}}";
    sep = ",\n";
  }
  out << (table.all().empty() ? "]" : "\n  ]");
  return out.str();
}

void LatencyStats::add(uint64_t us) {
  minUs = count == 0 ? us : std::min(minUs, us);
  maxUs = std::max(maxUs, us);
  sumUs += us;
  ++count;
}

std::string jsonEscape(std::string_view text) {
  std::string out;
  for (unsigned char c : text) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x20 || c >= 0x7f) {
      char buf[8];
      std::snprintf(buf, sizeof(buf), "\\u%04x", c);
      out += buf;
    } else {
      out += static_cast<char>(c);
    }
  }
  return out;
}

std::string renderStatusJson(const StatusSnapshot& s) {
  std::ostringstream out;
  out << "{\n  \"pid\": " << s.pid << ",\n  \"uid\": " << s.uid
      << ",\n  \"cap_eff\": " << quoted(s.capEff) << ",\n  \"learning_rate\": " << s.learningRate
      << ",\n  \"home_netns_cookie\": " << s.homeNetnsCookie
      << ",\n  \"free_buffer_pages\": " << s.freeBufferPages
      << ",\n  \"actuator\": {\"state\": " << quoted(s.actuatorState)
      << ", \"socket\": " << quoted(s.actuatorSocket) << ", \"connects\": " << s.actuatorConnects
      << "},\n  \"ringbuf_events\": " << s.ringbufEvents
      << ",\n  \"unknown_tuner_events\": " << s.unknownTunerEvents << ",\n  \"tuners\": ";
  renderList(out, s.tuners, renderTuner);
  out << ",\n  \"plugins\": {\"watching\": [";
  for (size_t i = 0; i < s.pluginDirs.size(); ++i) {
    out << (i == 0 ? "" : ", ") << quoted(s.pluginDirs[i]);
  }
  out << "], \"refused\": " << s.pluginsRefused << "}";
  const NetnsSummary& n = s.netns;
  out << ",\n  \"netns\": {\"present\": " << n.present << ", \"gone\": " << n.gone
      << ", \"discovery_ms\": " << n.discoveryMs << ", \"scans\": " << n.scans
      << ", \"last_scan_us\": " << n.lastScanUs << ", \"appeared\": " << n.appeared
      << ", \"disappeared\": " << n.disappeared << ", \"sysctl_watch\": " << quoted(n.sysctlWatch)
      << ", \"resume_epoch\": " << (n.resumeEpoch.empty() ? "null" : n.resumeEpoch) << "}";
  out << ",\n  \"namespaces\": " << (s.namespacesJson.empty() ? "[]" : s.namespacesJson);
  out << ",\n  \"bpf\": ";
  renderList(out, s.objects, renderObject);
  out << ",\n  \"values\": ";
  renderList(out, s.values, renderValue);
  out << "\n}\n";
  return out.str();
}

Status writeFileAtomic(const std::string& path,
                       const std::string& content,
                       std::optional<mode_t> mode) {
  std::string tmp = path + ".tmp";
  UniqueFd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644));
  if (!fd.valid()) {
    return makeError("open " + tmp, errno);
  }
  if (mode && ::fchmod(fd.get(), *mode) != 0) {
    return makeError("fchmod " + tmp, errno);
  }
  size_t done = 0;
  while (done < content.size()) {
    ssize_t n = ::write(fd.get(), content.data() + done, content.size() - done);
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      return makeError("write " + tmp, errno);
    }
    done += static_cast<size_t>(n);
  }
  if (::fsync(fd.get()) != 0) {
    return makeError("fsync " + tmp, errno);
  }
  fd.reset();
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    return makeError("rename " + tmp, errno);
  }
  return Ok{};
}

std::string readCapEff() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("CapEff:", 0) == 0) {
      size_t start = line.find_first_not_of(" \t", 7);
      return start == std::string::npos ? "" : line.substr(start);
    }
  }
  return "";
}

}  // namespace bpftune::collector
