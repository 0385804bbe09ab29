// Kernel counters from /proc for the tuners (CurrentValues::counters). Per-netns files are read
// under a /proc/<pid>/net directory whose process lives in the namespace wanted: /proc/net
// follows the reader's namespace, and /proc/<pid>/net needs no privilege. Parsing is pure and
// unit tested; reading just fetches text.
#pragma once

#include <cstdint>
#include <map>
#include <span>
#include <string>

#include "result.h"
#include "tuner.h"

namespace bpftune::collector {

using Counters = std::map<tuners::CounterId, int64_t>;

// "Prefix: name name ...\nPrefix: v v ...\n" pairs (/proc/net/netstat, /proc/net/snmp).
void parsePairedTable(const std::string& text, Counters& out);
// "Name value" lines (/proc/net/snmp6).
void parseSnmp6(const std::string& text, Counters& out);
// Hex columns per CPU (/proc/net/softnet_stat): dropped and time_squeeze summed.
void parseSoftnetStat(const std::string& text, Counters& out);
// "cpuN a b c d e f run wait n" lines (/proc/schedstat version 15+): run and wait summed.
void parseSchedstat(const std::string& text, Counters& out);
// Without schedstats: /proc/pressure/cpu "some ... total=us" as the wait and the "cpu" line of
// /proc/stat (user nice system irq softirq, in clock ticks) as the run time.
void parsePressureCpu(const std::string& text, Counters& out);
void parseProcStat(const std::string& text, Counters& out);

// Reads the files the wanted counters live in. procNetDir is "/proc/self/net" for the
// collector's own namespace or "/proc/<pid>/net"; "" when no process of the namespace is known
// (then only machine-wide counters are read). Missing files leave their counters absent.
Counters readCounters(std::span<const tuners::CounterId> wanted, const std::string& procNetDir);

}  // namespace bpftune::collector
