#include "change_limits.h"

#include <algorithm>
#include <cstdlib>

namespace bpftune::tuners {
namespace {

int64_t maxStep(int64_t old) {
  return std::max<int64_t>(old, 0) >> MAX_STEP_SHIFT;
}

}  // namespace

int64_t clampStep(int64_t old, int64_t desired) {
  const int64_t step = maxStep(old);
  return std::clamp(desired, old - step, old + step);
}

Values orderTriple(Values v) {
  if (v.count == 3) {
    v.v[1] = std::min(v.v[1], v.v[2]);
    v.v[0] = std::min(v.v[0], v.v[1]);
  }
  return v;
}

Values limitTriple(const Values& old, const Values& desired) {
  Values out = desired;
  for (int i = 0; i < desired.count && i < 3; ++i) {
    out.v[i] = clampStep(old.v[i], desired.v[i]);
  }
  return orderTriple(out);
}

bool fitsPolicy(const Values& old, const Values& next) {
  if (old.count != next.count) {
    return false;
  }
  if (next.count != 3) {
    return true;
  }
  if (next.v[0] > next.v[1] || next.v[1] > next.v[2]) {
    return false;
  }
  for (int i = 0; i < 3; ++i) {
    if (std::abs(next.v[i] - old.v[i]) > maxStep(old.v[i])) {
      return false;
    }
  }
  return true;
}

}  // namespace bpftune::tuners
