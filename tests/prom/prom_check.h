// A strict checker of the Prometheus text exposition format (0.0.4), for the tests: promtool
// (Debian's `prometheus`, ~96 MB with a web UI's JavaScript) is too heavy a test dependency for
// one file. It rejects everything the format forbids and, like `promtool check metrics`, what
// its lint rules flag: counters without _total, non-base units, camelCase, reserved suffixes.
// Stricter than both where that makes a file unambiguous: every family needs HELP and TYPE, a
// family's samples are contiguous and a series appears once.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace bpftune::test {

struct PromSample {
  std::string name;
  std::map<std::string, std::string> labels;  // unescaped values
  double value = 0;
};

struct PromFile {
  std::map<std::string, std::string> types;  // family -> counter|gauge|histogram|summary|untyped
  std::vector<PromSample> samples;
  std::vector<std::string> errors;  // "line N: what"; empty when the text is valid

  // The value of the one sample with this name whose labels include `labels`; NaN if none.
  double value(std::string_view name, const std::map<std::string, std::string>& labels = {}) const;
};

// `prefix`: a name every family must start with ("" for none).
PromFile parsePrometheusText(std::string_view text, std::string_view prefix = "");

}  // namespace bpftune::test
