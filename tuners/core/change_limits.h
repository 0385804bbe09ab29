// The actuator's policy as seen from a tuner: a triple stays ordered and no element moves by more
// than a quarter of its old value per request. Tuners shape proposals with these helpers so the
// actuator never has to refuse them; the actuator still checks on its own.
#pragma once

#include <cstdint>

#include "tuner.h"

namespace bpftune::tuners {

// A step of old >> 2 is at most 25 % of old, rounding down, so it passes the actuator's check.
constexpr int MAX_STEP_SHIFT = 2;

// desired, moved no further than old >> MAX_STEP_SHIFT away from old.
int64_t clampStep(int64_t old, int64_t desired);

// Lowers v[1] to v[2], then v[0] to v[1], so a cap applied to a higher element pulls the lower
// ones down with it instead of leaving the triple out of order.
Values orderTriple(Values v);

// clampStep per element, then orderTriple.
Values limitTriple(const Values& old, const Values& desired);

// True when the actuator would accept old -> next on these two rules (booleans and other single
// values are only checked for count).
bool fitsPolicy(const Values& old, const Values& next);

}  // namespace bpftune::tuners
