#include "correlation.h"

#include <algorithm>
#include <cmath>

namespace bpftune::tuners {
namespace {

struct Sample {
  uint64_t x;
  uint64_t y;
  uint64_t xSq;
  uint64_t ySq;
  uint64_t xy;
};

bool addOverflows(uint64_t sum, uint64_t v) {
  uint64_t ignored = 0;
  return __builtin_add_overflow(sum, v, &ignored);
}

}  // namespace

void Correlation::add(uint64_t x, uint64_t y) {
  Sample s{x, y, 0, 0, 0};
  if (__builtin_mul_overflow(x, x, &s.xSq) || __builtin_mul_overflow(y, y, &s.ySq) ||
      __builtin_mul_overflow(x, y, &s.xy)) {
    // Such a sample cannot be summed at all; the series is meaningless from here on.
    reset();
    return;
  }
  if (addOverflows(n, 1) || addOverflows(sumX, s.x) || addOverflows(sumXSq, s.xSq) ||
      addOverflows(sumY, s.y) || addOverflows(sumYSq, s.ySq) || addOverflows(sumXy, s.xy)) {
    reset();
  }
  n += 1;
  sumX += s.x;
  sumXSq += s.xSq;
  sumY += s.y;
  sumYSq += s.ySq;
  sumXy += s.xy;
}

double Correlation::r() const {
  if (n < MIN_SAMPLES) {
    return 0.0;
  }
  // long double keeps n * sum(x^2) exact enough: both factors are below 2^64.
  const auto count = static_cast<long double>(n);
  const auto sx = static_cast<long double>(sumX);
  const auto sy = static_cast<long double>(sumY);
  const long double varX = count * static_cast<long double>(sumXSq) - sx * sx;
  const long double varY = count * static_cast<long double>(sumYSq) - sy * sy;
  if (varX <= 0 || varY <= 0) {
    return 0.0;
  }
  const long double cov = count * static_cast<long double>(sumXy) - sx * sy;
  const long double r = cov / std::sqrt(varX * varY);
  return static_cast<double>(std::clamp(r, -1.0L, 1.0L));
}

void CorrelationTable::add(uint64_t netnsCookie, proto::TunableId tunable, uint64_t x, uint64_t y) {
  const Key key{netnsCookie, tunable};
  auto it = entries.find(key);
  if (it == entries.end()) {
    if (capacity == 0) {
      return;
    }
    if (entries.size() >= capacity) {
      evictOldest();
    }
    it = entries.emplace(key, Entry{}).first;
  }
  it->second.corr.add(x, y);
  it->second.lastUse = ++clock;
}

double CorrelationTable::r(uint64_t netnsCookie, proto::TunableId tunable) const {
  auto it = entries.find(Key{netnsCookie, tunable});
  return it == entries.end() ? 0.0 : it->second.corr.r();
}

uint64_t CorrelationTable::samples(uint64_t netnsCookie, proto::TunableId tunable) const {
  auto it = entries.find(Key{netnsCookie, tunable});
  return it == entries.end() ? 0 : it->second.corr.samples();
}

void CorrelationTable::evictOldest() {
  auto oldest = std::min_element(entries.begin(), entries.end(), [](const auto& a, const auto& b) {
    return a.second.lastUse < b.second.lastUse;
  });
  entries.erase(oldest);
}

}  // namespace bpftune::tuners
