// Prometheus text exposition (format 0.0.4) of the collector's status, for node_exporter's
// textfile collector: no listener, the collector only writes a file (atomically, like the status).
#pragma once

#include <string>
#include <string_view>

#include "status.h"

namespace bpftune::collector {

// The whole .prom file: HELP and TYPE lines, then each family's samples, grouped and unique.
std::string renderPrometheus(const StatusSnapshot& status);

// A label value as the format wants it: backslash, double quote and newline escaped. Bytes
// outside printable ASCII become '?', so the file is valid UTF-8 whatever a name holds.
std::string promLabelValue(std::string_view text);

}  // namespace bpftune::collector
