#include "proc_counters.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <optional>
#include <sstream>
#include <string_view>
#include <vector>

#include "unique_fd.h"

namespace bpftune::collector {
namespace {

using tuners::CounterId;

enum class Source {
  NETSTAT,
  SNMP,
  SNMP6,
  SOFTNET,
  SCHEDSTAT
};

struct Field {
  CounterId id;
  Source source;
  std::string_view prefix;  // table row prefix ("TcpExt:") or snmp6 name prefix
  std::string_view name;
};

// UDP counters add IPv4 and IPv6: two rows for the same id.
constexpr std::array<Field, 14> FIELDS = {{
    {CounterId::TCPEXT_SYNCOOKIES_SENT, Source::NETSTAT, "TcpExt:", "SyncookiesSent"},
    {CounterId::TCPEXT_SYNCOOKIES_RECV, Source::NETSTAT, "TcpExt:", "SyncookiesRecv"},
    {CounterId::TCPEXT_SYNCOOKIES_FAILED, Source::NETSTAT, "TcpExt:", "SyncookiesFailed"},
    {CounterId::TCPEXT_LISTEN_DROPS, Source::NETSTAT, "TcpExt:", "ListenDrops"},
    {CounterId::TCPEXT_REQQ_FULL_DROP, Source::NETSTAT, "TcpExt:", "TCPReqQFullDrop"},
    {CounterId::TCP_PASSIVE_OPENS, Source::SNMP, "Tcp:", "PassiveOpens"},
    {CounterId::IP_REASM_REQDS, Source::SNMP, "Ip:", "ReasmReqds"},
    {CounterId::IP_REASM_FAILS, Source::SNMP, "Ip:", "ReasmFails"},
    {CounterId::IP6_REASM_REQDS, Source::SNMP6, "", "Ip6ReasmReqds"},
    {CounterId::IP6_REASM_FAILS, Source::SNMP6, "", "Ip6ReasmFails"},
    {CounterId::UDP_IN_DATAGRAMS, Source::SNMP, "Udp:", "InDatagrams"},
    {CounterId::UDP_IN_DATAGRAMS, Source::SNMP6, "", "Udp6InDatagrams"},
    {CounterId::UDP_RCVBUF_ERRORS, Source::SNMP, "Udp:", "RcvbufErrors"},
    {CounterId::UDP_RCVBUF_ERRORS, Source::SNMP6, "", "Udp6RcvbufErrors"},
}};

std::vector<std::string> words(const std::string& line) {
  std::istringstream in(line);
  std::vector<std::string> out;
  for (std::string w; in >> w;) {
    out.push_back(w);
  }
  return out;
}

bool toInt(std::string_view text, int64_t& out, int base = 10) {
  const char* end = text.data() + text.size();
  auto [p, ec] = std::from_chars(text.data(), end, out, base);
  return ec == std::errc() && p == end;
}

void add(Counters& out, CounterId id, int64_t v) {
  out[id] += v;
}

Source sourceOf(CounterId id) {
  if (id == CounterId::SOFTNET_DROPPED || id == CounterId::SOFTNET_TIME_SQUEEZE) {
    return Source::SOFTNET;
  }
  if (id == CounterId::SCHED_RUN_NS || id == CounterId::SCHED_WAIT_NS) {
    return Source::SCHEDSTAT;
  }
  for (const Field& f : FIELDS) {
    if (f.id == id) {
      return f.source;
    }
  }
  return Source::NETSTAT;
}

std::optional<std::string> slurp(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) {
    return std::nullopt;
  }
  std::string text;
  char buf[8192];
  for (;;) {
    ssize_t n = ::read(fd.get(), buf, sizeof(buf));
    if (n < 0) {
      return std::nullopt;
    }
    if (n == 0) {
      return text;
    }
    text.append(buf, static_cast<size_t>(n));
  }
}

}  // namespace

namespace {

// One "Prefix: name ..." / "Prefix: value ..." pair of lines.
void parsePair(const std::vector<std::string>& names,
               const std::vector<std::string>& nums,
               Counters& out) {
  if (names.empty() || nums.size() != names.size() || names[0] != nums[0]) {
    return;
  }
  for (const Field& f : FIELDS) {
    if (f.source == Source::SNMP6 || names[0] != f.prefix) {
      continue;
    }
    for (size_t i = 1; i < names.size(); ++i) {
      int64_t v = 0;
      if (names[i] == f.name && toInt(nums[i], v)) {
        add(out, f.id, v);
      }
    }
  }
}

}  // namespace

void parsePairedTable(const std::string& text, Counters& out) {
  std::istringstream in(text);
  std::string header;
  std::string values;
  while (std::getline(in, header) && std::getline(in, values)) {
    parsePair(words(header), words(values), out);
  }
}

void parseSnmp6(const std::string& text, Counters& out) {
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    auto w = words(line);
    int64_t v = 0;
    if (w.size() != 2 || !toInt(w[1], v)) {
      continue;
    }
    for (const Field& f : FIELDS) {
      if (f.source == Source::SNMP6 && w[0] == f.name) {
        add(out, f.id, v);
      }
    }
  }
}

void parseSoftnetStat(const std::string& text, Counters& out) {
  std::istringstream in(text);
  int64_t dropped = 0;
  int64_t squeezed = 0;
  bool any = false;
  for (std::string line; std::getline(in, line);) {
    auto w = words(line);
    int64_t d = 0;
    int64_t s = 0;
    if (w.size() < 3 || !toInt(w[1], d, 16) || !toInt(w[2], s, 16)) {
      continue;
    }
    dropped += d;
    squeezed += s;
    any = true;
  }
  if (any) {
    out[CounterId::SOFTNET_DROPPED] = dropped;
    out[CounterId::SOFTNET_TIME_SQUEEZE] = squeezed;
  }
}

void parseSchedstat(const std::string& text, Counters& out) {
  std::istringstream in(text);
  int64_t run = 0;
  int64_t wait = 0;
  bool any = false;
  for (std::string line; std::getline(in, line);) {
    auto w = words(line);
    // cpuN yld_count legacy sched_count sched_goidle ttwu_count ttwu_local run_ns wait_ns slices
    int64_t r = 0;
    int64_t q = 0;
    if (w.size() < 10 || w[0].rfind("cpu", 0) != 0 || !toInt(w[7], r) || !toInt(w[8], q)) {
      continue;
    }
    run += r;
    wait += q;
    any = true;
  }
  if (any) {
    out[CounterId::SCHED_RUN_NS] = run;
    out[CounterId::SCHED_WAIT_NS] = wait;
  }
}

void parsePressureCpu(const std::string& text, Counters& out) {
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    auto w = words(line);
    if (w.empty() || w[0] != "some") {
      continue;
    }
    for (const std::string& kv : w) {
      int64_t us = 0;
      if (kv.starts_with("total=") && toInt(std::string_view{kv}.substr(6), us)) {
        out[CounterId::SCHED_WAIT_NS] = us * 1000;
      }
    }
  }
}

void parseProcStat(const std::string& text, Counters& out) {
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    auto w = words(line);
    // cpu user nice system idle iowait irq softirq ...: everything but idle and iowait ran.
    if (w.size() < 8 || w[0] != "cpu") {
      continue;
    }
    int64_t ticks = 0;
    for (size_t i : {1, 2, 3, 6, 7}) {
      int64_t v = 0;
      if (!toInt(w[i], v)) {
        return;
      }
      ticks += v;
    }
    const long hz = ::sysconf(_SC_CLK_TCK);
    out[CounterId::SCHED_RUN_NS] = ticks * (1000000000 / (hz > 0 ? hz : 100));
  }
}

Counters readCounters(std::span<const tuners::CounterId> wanted, const std::string& procNetDir) {
  Counters out;
  auto wants = [&](Source source) {
    return std::ranges::any_of(wanted, [source](CounterId id) { return sourceOf(id) == source; });
  };
  auto readInto = [&](const std::string& path, void (*parse)(const std::string&, Counters&)) {
    if (auto text = slurp(path)) {
      parse(*text, out);
    }
  };
  if (!procNetDir.empty()) {
    if (wants(Source::NETSTAT)) {
      readInto(procNetDir + "/netstat", &parsePairedTable);
    }
    if (wants(Source::SNMP)) {
      readInto(procNetDir + "/snmp", &parsePairedTable);
    }
    if (wants(Source::SNMP6)) {
      readInto(procNetDir + "/snmp6", &parseSnmp6);
    }
  }
  if (wants(Source::SOFTNET)) {
    readInto("/proc/self/net/softnet_stat", &parseSoftnetStat);
  }
  if (wants(Source::SCHEDSTAT)) {
    readInto("/proc/schedstat", &parseSchedstat);
    // Kernels without CONFIG_SCHEDSTATS (ours): PSI's cpu "some" total is the wait, /proc/stat
    // the run time.
    if (!out.contains(CounterId::SCHED_WAIT_NS)) {
      readInto("/proc/pressure/cpu", &parsePressureCpu);
      readInto("/proc/stat", &parseProcStat);
    }
  }
  // Only what was asked for: a file read for one counter yields its neighbours too.
  std::erase_if(
      out, [&](const auto& kv) { return std::ranges::find(wanted, kv.first) == wanted.end(); });
  return out;
}

}  // namespace bpftune::collector
