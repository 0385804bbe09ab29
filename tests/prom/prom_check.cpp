#include "prom_check.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <optional>
#include <set>

namespace bpftune::test {
namespace {

bool nameStart(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}
bool nameChar(char c) {
  return nameStart(c) || (c >= '0' && c <= '9');
}

bool validMetricName(std::string_view name) {
  if (name.empty() || !(nameStart(name[0]) || name[0] == ':')) {
    return false;
  }
  return std::ranges::all_of(name, [](char c) { return nameChar(c) || c == ':'; });
}

bool validLabelName(std::string_view name) {
  if (name.empty() || !nameStart(name[0])) {
    return false;
  }
  return std::ranges::all_of(name, nameChar);
}

bool validUtf8(std::string_view text) {
  size_t i = 0;
  while (i < text.size()) {
    auto c = static_cast<unsigned char>(text[i]);
    size_t extra = c < 0x80           ? 0
                   : (c >> 5) == 0x6  ? 1
                   : (c >> 4) == 0xe  ? 2
                   : (c >> 3) == 0x1e ? 3
                                      : 9;
    if (extra == 9 || i + extra >= text.size()) {
      return false;
    }
    for (size_t k = 1; k <= extra; ++k) {
      if ((static_cast<unsigned char>(text[i + k]) >> 6) != 0x2) {
        return false;
      }
    }
    i += extra + 1;
  }
  return true;
}

// Go's strconv.ParseFloat as the format uses it: decimal, exponent, NaN, [+-]Inf.
std::optional<double> parseValue(std::string_view text) {
  if (text == "NaN") {
    return std::numeric_limits<double>::quiet_NaN();
  }
  if (text == "+Inf" || text == "Inf") {
    return std::numeric_limits<double>::infinity();
  }
  if (text == "-Inf") {
    return -std::numeric_limits<double>::infinity();
  }
  size_t i = 0;
  if (i < text.size() && (text[i] == '+' || text[i] == '-')) {
    ++i;
  }
  size_t digits = 0;
  while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i])) != 0) {
    ++i, ++digits;
  }
  if (i < text.size() && text[i] == '.') {
    ++i;
    while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i])) != 0) {
      ++i, ++digits;
    }
  }
  if (digits == 0) {
    return std::nullopt;
  }
  if (i < text.size() && (text[i] == 'e' || text[i] == 'E')) {
    ++i;
    if (i < text.size() && (text[i] == '+' || text[i] == '-')) {
      ++i;
    }
    size_t exp = 0;
    while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i])) != 0) {
      ++i, ++exp;
    }
    if (exp == 0) {
      return std::nullopt;
    }
  }
  if (i != text.size()) {
    return std::nullopt;
  }
  return std::strtod(std::string(text).c_str(), nullptr);
}

struct Parser {
  PromFile file;
  std::string_view prefix;
  size_t lineNo = 0;
  std::set<std::string> helped;
  std::set<std::string> finished;  // families whose samples ended
  std::string current;             // family of the last sample
  std::set<std::string> series;

  void error(const std::string& what) {
    file.errors.push_back("line " + std::to_string(lineNo) + ": " + what);
  }

  // The family a sample name belongs to, given the TYPE lines seen.
  std::string familyOf(const std::string& name) const {
    for (std::string_view suffix : {"_bucket", "_sum", "_count"}) {
      if (name.size() > suffix.size() && name.ends_with(suffix)) {
        std::string base = name.substr(0, name.size() - suffix.size());
        auto it = file.types.find(base);
        if (it != file.types.end() &&
            (it->second == "histogram" || (it->second == "summary" && suffix != "_bucket"))) {
          return base;
        }
      }
    }
    return name;
  }

  void lintName(const std::string& name, const std::string& type) {
    if (!prefix.empty() && !name.starts_with(prefix)) {
      error(name + ": does not start with " + std::string(prefix));
    }
    for (char c : name) {
      if (c >= 'A' && c <= 'Z') {
        error(name + ": metric names are snake_case, not camelCase");
        break;
      }
    }
    if (type == "counter" && !name.ends_with("_total")) {
      error(name + ": counter metrics should have the _total suffix");
    }
    if (type != "counter" && name.ends_with("_total")) {
      error(name + ": _total is reserved for counters");
    }
    for (std::string_view unit : {"_us",
                                  "_ms",
                                  "_ns",
                                  "microseconds",
                                  "milliseconds",
                                  "_minutes",
                                  "_hours",
                                  "_kilobytes",
                                  "_megabytes"}) {
      if (name.find(unit) != std::string::npos) {
        error(name + ": use base units (seconds, bytes), not '" + std::string(unit) + "'");
      }
    }
    if (type != "histogram" && type != "summary") {
      for (std::string_view suffix : {"_bucket", "_sum", "_count"}) {
        if (name.ends_with(suffix)) {
          error(name + ": the suffix " + std::string(suffix) + " is reserved for histograms");
        }
      }
    }
  }

  void comment(std::string_view line) {
    std::string_view rest = line.substr(1);
    while (!rest.empty() && rest[0] == ' ') {
      rest.remove_prefix(1);
    }
    bool help = rest.starts_with("HELP ");
    bool type = rest.starts_with("TYPE ");
    if (!help && !type) {
      return;  // a plain comment
    }
    rest.remove_prefix(5);
    size_t space = rest.find(' ');
    std::string name(rest.substr(0, space));
    std::string_view text = space == std::string_view::npos ? "" : rest.substr(space + 1);
    if (!validMetricName(name)) {
      error("invalid metric name '" + name + "'");
      return;
    }
    if (finished.contains(name) || current == name) {
      error(name + ": HELP or TYPE after its samples");
    }
    if (help) {
      if (!helped.insert(name).second) {
        error(name + ": second HELP line");
      }
      if (text.empty()) {
        error(name + ": empty HELP text");
      }
      for (size_t i = 0; i < text.size(); ++i) {
        if (text[i] == '\\' &&
            (i + 1 >= text.size() || (text[i + 1] != '\\' && text[i + 1] != 'n'))) {
          error(name + ": invalid escape in HELP");
        } else if (text[i] == '\\') {
          ++i;
        }
      }
      return;
    }
    static const std::set<std::string_view> TYPES = {
        "counter", "gauge", "histogram", "summary", "untyped"};
    if (!TYPES.contains(text)) {
      error(name + ": unknown type '" + std::string(text) + "'");
      return;
    }
    if (!file.types.emplace(name, std::string(text)).second) {
      error(name + ": second TYPE line");
    }
    lintName(name, std::string(text));
  }

  // The quoted value starting at `pos` (after the opening quote), unescaped into `value`;
  // returns the position after the closing quote, or npos on error.
  size_t labelValue(std::string_view line, size_t pos, const std::string& key, std::string& value) {
    while (pos < line.size() && line[pos] != '"') {
      if (line[pos] != '\\') {
        value += line[pos++];
        continue;
      }
      char next = pos + 1 < line.size() ? line[pos + 1] : '\0';
      if (next != '\\' && next != '"' && next != 'n') {
        error("label " + key + ": invalid escape");
        return std::string_view::npos;
      }
      value += next == 'n' ? '\n' : next;
      pos += 2;
    }
    if (pos >= line.size()) {
      error("label " + key + ": unterminated value");
      return std::string_view::npos;
    }
    return pos + 1;
  }

  // Parses `{a="b",...}` at `pos`; returns the position after it, or npos on error.
  size_t labels(std::string_view line, size_t pos, std::map<std::string, std::string>& out) {
    ++pos;  // '{'
    while (true) {
      while (pos < line.size() && line[pos] == ' ') {
        ++pos;
      }
      if (pos < line.size() && line[pos] == '}') {
        return pos + 1;
      }
      size_t start = pos;
      while (pos < line.size() && nameChar(line[pos])) {
        ++pos;
      }
      std::string key(line.substr(start, pos - start));
      if (!validLabelName(key) || key.starts_with("__")) {
        error("invalid label name '" + key + "'");
        return std::string_view::npos;
      }
      if (pos + 1 >= line.size() || line[pos] != '=' || line[pos + 1] != '"') {
        error("label " + key + ": expected =\"");
        return std::string_view::npos;
      }
      std::string value;
      pos = labelValue(line, pos + 2, key, value);
      if (pos == std::string_view::npos) {
        return pos;
      }
      if (!out.emplace(key, value).second) {
        error("duplicate label " + key);
      }
      if (pos < line.size() && line[pos] == ',') {
        ++pos;
      } else if (pos >= line.size() || line[pos] != '}') {
        error("expected , or } after label " + key);
        return std::string_view::npos;
      }
    }
  }

  void sample(std::string_view line) {
    size_t pos = 0;
    while (pos < line.size() && (nameChar(line[pos]) || line[pos] == ':')) {
      ++pos;
    }
    PromSample s;
    s.name = std::string(line.substr(0, pos));
    if (!validMetricName(s.name)) {
      error("invalid metric name '" + s.name + "'");
      return;
    }
    if (pos < line.size() && line[pos] == '{') {
      pos = labels(line, pos, s.labels);
      if (pos == std::string_view::npos) {
        return;
      }
    }
    if (pos >= line.size() || line[pos] != ' ') {
      error(s.name + ": expected a space before the value");
      return;
    }
    std::string_view rest = line.substr(pos);
    while (!rest.empty() && (rest[0] == ' ' || rest[0] == '\t')) {
      rest.remove_prefix(1);
    }
    size_t space = rest.find(' ');
    std::string_view valueText = rest.substr(0, space);
    auto value = parseValue(valueText);
    if (!value) {
      error(s.name + ": invalid value '" + std::string(valueText) + "'");
      return;
    }
    if (space != std::string_view::npos) {
      std::string_view ts = rest.substr(space);
      while (!ts.empty() && ts[0] == ' ') {
        ts.remove_prefix(1);
      }
      char* end = nullptr;
      std::string copy(ts);
      std::strtoll(copy.c_str(), &end, 10);
      if (copy.empty() || *end != '\0') {
        error(s.name + ": invalid timestamp '" + copy + "'");
      }
    }
    s.value = *value;
    place(s);
  }

  void place(const PromSample& s) {
    std::string family = familyOf(s.name);
    if (family != current) {
      if (finished.contains(family)) {
        error(family + ": samples not contiguous");
      }
      if (!current.empty()) {
        finished.insert(current);
      }
      current = family;
    }
    auto type = file.types.find(family);
    if (type == file.types.end() || !helped.contains(family)) {
      error(s.name + ": sample without HELP and TYPE");
    }
    std::string key = s.name;
    for (const auto& [k, v] : s.labels) {
      key += '\x01';
      key += k;
      key += '\x02';
      key += v;
    }
    if (!series.insert(key).second) {
      error(s.name + ": duplicate series");
    }
    if (type != file.types.end() && type->second == "counter" &&
        (std::isnan(s.value) || s.value < 0)) {
      error(s.name + ": a counter must be >= 0");
    }
    if (s.labels.contains("le") && !(s.name.ends_with("_bucket") && family != s.name)) {
      error(s.name + ": le is reserved for histogram buckets");
    }
    file.samples.push_back(s);
  }

  using LabelSet = std::map<std::string, std::string>;
  struct HistogramSeries {
    std::map<LabelSet, std::vector<std::pair<double, double>>> buckets;  // (le, count)
    std::map<LabelSet, double> counts;
    std::set<LabelSet> sums;
  };

  HistogramSeries collect(const std::string& family) {
    HistogramSeries h;
    for (const PromSample& s : file.samples) {
      LabelSet labels = s.labels;
      if (s.name == family + "_bucket") {
        auto le = labels.find("le");
        auto bound = le == labels.end() ? std::nullopt : parseValue(le->second);
        if (!bound) {
          file.errors.push_back(family + ": bucket without a valid le");
          continue;
        }
        labels.erase("le");
        h.buckets[labels].emplace_back(*bound, s.value);
      } else if (s.name == family + "_count") {
        h.counts[labels] = s.value;
      } else if (s.name == family + "_sum") {
        h.sums.insert(labels);
      } else if (s.name == family) {
        file.errors.push_back(family + ": a histogram has no plain sample");
      }
    }
    return h;
  }

  // Per histogram series: buckets ascending by le, cumulative, +Inf == _count, _sum present.
  void checkHistograms() {
    for (const auto& [family, type] : file.types) {
      if (type != "histogram") {
        continue;
      }
      HistogramSeries h = collect(family);
      for (const auto& [labels, list] : h.buckets) {
        checkBuckets(family, list, h.counts, labels, h.sums.contains(labels));
      }
    }
  }

  void checkBuckets(const std::string& family,
                    const std::vector<std::pair<double, double>>& list,
                    const std::map<std::map<std::string, std::string>, double>& counts,
                    const std::map<std::string, std::string>& labels,
                    bool hasSum) {
    for (size_t i = 1; i < list.size(); ++i) {
      if (!(list[i].first > list[i - 1].first)) {
        file.errors.push_back(family + ": bucket bounds not increasing");
      }
      if (list[i].second < list[i - 1].second) {
        file.errors.push_back(family + ": bucket counts not cumulative");
      }
    }
    auto count = counts.find(labels);
    if (list.empty() || !std::isinf(list.back().first)) {
      file.errors.push_back(family + ": no +Inf bucket");
    } else if (count == counts.end() || count->second != list.back().second) {
      file.errors.push_back(family + ": _count missing or not equal to the +Inf bucket");
    }
    if (!hasSum) {
      file.errors.push_back(family + ": _sum missing");
    }
  }
};

}  // namespace

double PromFile::value(std::string_view name,
                       const std::map<std::string, std::string>& labels) const {
  for (const PromSample& s : samples) {
    if (s.name != name) {
      continue;
    }
    bool match = true;
    for (const auto& [k, v] : labels) {
      auto it = s.labels.find(k);
      match = match && it != s.labels.end() && it->second == v;
    }
    if (match) {
      return s.value;
    }
  }
  return std::numeric_limits<double>::quiet_NaN();
}

PromFile parsePrometheusText(std::string_view text, std::string_view prefix) {
  Parser p;
  p.prefix = prefix;
  if (text.empty() || text.back() != '\n') {
    p.error("the text must end with a newline");
  }
  if (!validUtf8(text)) {
    p.error("not valid UTF-8");
  }
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string_view::npos) {
      end = text.size();
    }
    std::string_view line = text.substr(start, end - start);
    ++p.lineNo;
    if (line.find('\r') != std::string_view::npos) {
      p.error("carriage return");
    } else if (line.empty()) {
      // allowed by the format
    } else if (line[0] == '#') {
      p.comment(line);
    } else {
      p.sample(line);
    }
    start = end + 1;
  }
  p.checkHistograms();
  return std::move(p.file);
}

}  // namespace bpftune::test
