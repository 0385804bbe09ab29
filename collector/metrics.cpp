#include "metrics.h"

#include <charconv>
#include <utility>
#include <vector>

namespace bpftune::collector {
namespace {

using Labels = std::vector<std::pair<std::string_view, std::string>>;

// One metric family at a time: its HELP and TYPE, then its samples. The format requires a
// family's samples to be contiguous, which building family by family guarantees.
class Exposition {
public:
  void family(std::string_view name, std::string_view type, std::string_view help) {
    out += "# HELP ";
    out += name;
    out += ' ';
    out += help;  // our own constant text: no backslash or newline to escape
    out += "\n# TYPE ";
    out += name;
    out += ' ';
    out += type;
    out += '\n';
  }
  void sample(std::string_view name, const Labels& labels, std::string_view value) {
    out += name;
    if (!labels.empty()) {
      out += '{';
      const char* sep = "";
      for (const auto& [key, text] : labels) {
        out += sep;
        out += key;
        out += "=\"";
        out += promLabelValue(text);
        out += '"';
        sep = ",";
      }
      out += '}';
    }
    out += ' ';
    out += value;
    out += '\n';
  }
  void sample(std::string_view name, const Labels& labels, uint64_t value) {
    sample(name, labels, std::to_string(value));
  }
  std::string take() { return std::move(out); }

private:
  std::string out;
};

std::string seconds(uint64_t us) {
  char buffer[32];
  auto [end, ec] = std::to_chars(
      buffer, buffer + sizeof(buffer), static_cast<double>(us) / 1e6, std::chars_format::fixed);
  return ec == std::errc() ? std::string(buffer, end) : std::string("NaN");
}

void histogram(Exposition& out,
               std::string_view name,
               const std::string& tuner,
               const Histogram& h) {
  const std::string base(name);
  uint64_t cumulative = 0;
  for (size_t i = 0; i < Histogram::BOUNDS_US.size(); ++i) {
    cumulative += h.buckets[i];
    out.sample(
        base + "_bucket", {{"tuner", tuner}, {"le", seconds(Histogram::BOUNDS_US[i])}}, cumulative);
  }
  out.sample(base + "_bucket", {{"tuner", tuner}, {"le", "+Inf"}}, h.count);
  out.sample(base + "_sum", {{"tuner", tuner}}, seconds(h.sumUs));
  out.sample(base + "_count", {{"tuner", tuner}}, h.count);
}

void renderValues(Exposition& out, const StatusSnapshot& s) {
  out.family("bpftune_tunable_value",
             "gauge",
             "Current value of a tunable bpftune manages, per network namespace (cookie); "
             "index is the position in a multi-value sysctl such as tcp_rmem.");
  for (const TunableValue& v : s.values) {
    for (size_t i = 0; i < v.values.size(); ++i) {
      out.sample("bpftune_tunable_value",
                 {{"tuner", v.tuner},
                  {"tunable", v.tunable},
                  {"netns", std::to_string(v.netns)},
                  {"index", std::to_string(i)}},
                 std::to_string(v.values[i]));
    }
  }
}

void renderTunerCounters(Exposition& out, const StatusSnapshot& s) {
  out.family("bpftune_events_total", "counter", "BPF events a tuner received.");
  for (const TunerStatus& t : s.tuners) {
    out.sample("bpftune_events_total", {{"tuner", t.name}}, t.events);
  }
  out.family("bpftune_requests_total", "counter", "Change requests a tuner sent to the actuator.");
  for (const TunerStatus& t : s.tuners) {
    out.sample("bpftune_requests_total", {{"tuner", t.name}}, t.proposals);
  }
  out.family("bpftune_changes_total", "counter", "Changes the actuator applied, per scenario.");
  for (const TunerStatus& t : s.tuners) {
    for (const auto& [scenario, count] : t.appliedByScenario) {
      out.sample("bpftune_changes_total", {{"tuner", t.name}, {"scenario", scenario}}, count);
    }
  }
  out.family("bpftune_requests_refused_total",
             "counter",
             "Requests the actuator did not apply, by reply status, wire field and bound class.");
  for (const TunerStatus& t : s.tuners) {
    for (const auto& [key, count] : t.refusedBy) {
      out.sample(
          "bpftune_requests_refused_total",
          {{"tuner", t.name}, {"status", key.status}, {"field", key.field}, {"bound", key.bound}},
          count);
    }
  }
  out.family("bpftune_proposals_not_sent_total",
             "counter",
             "Proposals the collector did not send: actuator down, held back after a refusal, "
             "or tuner disabled in the namespace.");
  for (const TunerStatus& t : s.tuners) {
    out.sample("bpftune_proposals_not_sent_total",
               {{"tuner", t.name}, {"reason", "actuator_down"}},
               t.droppedDisconnected);
    out.sample("bpftune_proposals_not_sent_total",
               {{"tuner", t.name}, {"reason", "held_back"}},
               t.heldBack);
    out.sample("bpftune_proposals_not_sent_total",
               {{"tuner", t.name}, {"reason", "tuner_disabled"}},
               t.skippedDisabled);
  }
  out.family("bpftune_admin_overrides_total",
             "counter",
             "Writes by someone else to a tunable the tuner manages.");
  for (const TunerStatus& t : s.tuners) {
    out.sample("bpftune_admin_overrides_total", {{"tuner", t.name}}, t.adminOverrides);
  }
}

void renderBpf(Exposition& out, const StatusSnapshot& s) {
  out.family("bpftune_bpf_hook_calls_total", "counter", "Times a BPF program's hook ran.");
  for (const ObjectStatus& o : s.objects) {
    for (const HookCounters& h : o.hooks) {
      out.sample("bpftune_bpf_hook_calls_total", {{"tuner", o.tuner}, {"hook", h.name}}, h.calls);
    }
  }
  out.family("bpftune_bpf_hook_sampled_total",
             "counter",
             "Hook runs the BPF program sampled and evaluated (1 in sample_every).");
  for (const ObjectStatus& o : s.objects) {
    for (const HookCounters& h : o.hooks) {
      out.sample(
          "bpftune_bpf_hook_sampled_total", {{"tuner", o.tuner}, {"hook", h.name}}, h.collected);
    }
  }
  out.family("bpftune_bpf_hook_sample_every",
             "gauge",
             "Current sampling period of a hook (1: every run is evaluated).");
  for (const ObjectStatus& o : s.objects) {
    for (const HookCounters& h : o.hooks) {
      out.sample("bpftune_bpf_hook_sample_every", {{"tuner", o.tuner}, {"hook", h.name}}, h.rate);
    }
  }
  out.family("bpftune_bpf_events_total",
             "counter",
             "Events BPF programs produced: sent to the collector, deduplicated in BPF, or lost "
             "to a full ring buffer.");
  for (const ObjectStatus& o : s.objects) {
    out.sample(
        "bpftune_bpf_events_total", {{"tuner", o.tuner}, {"outcome", "sent"}}, o.events.sent);
    out.sample(
        "bpftune_bpf_events_total", {{"tuner", o.tuner}, {"outcome", "deduped"}}, o.events.deduped);
    out.sample(
        "bpftune_bpf_events_total", {{"tuner", o.tuner}, {"outcome", "lost"}}, o.events.lost);
  }
}

void renderLatency(Exposition& out, const StatusSnapshot& s) {
  out.family("bpftune_actuator_request_duration_seconds",
             "histogram",
             "Round trip of a request to the actuator (validation, journal fdatasyncs, write).");
  for (const TunerStatus& t : s.tuners) {
    histogram(out, "bpftune_actuator_request_duration_seconds", t.name, t.roundTrip);
  }
  out.family("bpftune_change_latency_seconds",
             "histogram",
             "Time from the BPF event that triggered a change to the change applied.");
  for (const TunerStatus& t : s.tuners) {
    histogram(out, "bpftune_change_latency_seconds", t.name, t.changeLatency);
  }
}

void renderCollector(Exposition& out, const StatusSnapshot& s) {
  out.family(
      "bpftune_actuator_connected", "gauge", "1 while the collector is connected to the actuator.");
  out.sample("bpftune_actuator_connected", {}, s.actuatorState == "connected" ? 1 : 0);
  out.family("bpftune_ringbuf_events_total", "counter", "Ring buffer records the collector read.");
  out.sample("bpftune_ringbuf_events_total", {}, s.ringbufEvents);
  out.family("bpftune_netns", "gauge", "Network namespaces the collector tracks, by state.");
  out.sample("bpftune_netns", {{"state", "present"}}, s.netns.present);
  out.sample("bpftune_netns", {{"state", "gone"}}, s.netns.gone);
}

bool contains(std::string_view text, std::string_view part) {
  return text.find(part) != std::string_view::npos;
}

}  // namespace

void Histogram::observe(uint64_t us) {
  size_t i = 0;
  while (i < BOUNDS_US.size() && us > BOUNDS_US[i]) {
    ++i;
  }
  if (i < BOUNDS_US.size()) {
    ++buckets[i];
  }
  ++count;
  sumUs += us;
}

// The bound class comes from the validator's reason text (policy/validator.cpp), which is the
// only place it is spelled; an unknown text is "other", so a new message cannot grow the label set.
RefusalKey refusalKey(std::string_view status, std::string_view field, std::string_view reason) {
  RefusalKey key{std::string(status), "none", "none"};
  if (!field.empty()) {
    bool plain = field.size() <= 32;
    for (char c : field) {
      plain = plain && ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                        (c >= '0' && c <= '9') || c == '_');
    }
    key.field = plain ? std::string(field) : "other";
  }
  if (reason.starts_with("step:")) {
    key.bound = "step";
  } else if (reason.starts_with("rate:")) {
    key.bound = "rate";
  } else if (contains(reason, " is below min ")) {
    key.bound = "min";
  } else if (contains(reason, " exceeds max ")) {
    key.bound = "max";
  } else if (contains(reason, " is below new")) {
    key.bound = "order";
  } else if (!field.empty()) {
    key.bound = "identity";  // tuner, scenario, tunable, netns, count or host checks
  }
  return key;
}

std::string promLabelValue(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    if (c == '\\' || c == '"') {
      out += '\\';
      out += c;
    } else if (c == '\n') {
      out += "\\n";
    } else if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) >= 0x7f) {
      out += '?';
    } else {
      out += c;
    }
  }
  return out;
}

std::string renderPrometheus(const StatusSnapshot& status) {
  Exposition out;
  renderCollector(out, status);
  renderValues(out, status);
  renderTunerCounters(out, status);
  renderBpf(out, status);
  renderLatency(out, status);
  return out.take();
}

}  // namespace bpftune::collector
