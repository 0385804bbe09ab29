// libFuzzer target: one request datagram from the collector or admin socket, as the actuator
// sees it after recv(): decodeRequest (size, segment table, capnp reader limits), then the
// policy checks that need no live value, the step limit against the request's own expected
// values, the rate limiter, and the reply encoder. No sockets, no /proc, no journal.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <vector>

#include <capnp/common.h>

#include "validator.h"
#include "wire.h"

namespace {

using bpftune::actuator::Answer;
using bpftune::actuator::Decoded;
using bpftune::actuator::RequestKind;
using bpftune::policy::Policy;

constexpr uint64_t OWN_NETNS_COOKIE = 1;

// The shipped policy, parsed once: validation runs against what production runs against.
const Policy& shippedPolicy() {
  static const Policy POLICY = [] {
    std::ifstream in(BPFTUNE_FUZZ_POLICY);
    std::stringstream text;
    text << in.rdbuf();
    auto parsed = bpftune::policy::parsePolicy(text.str());
    if (!parsed) {
      std::abort();  // a broken tree, not a finding
    }
    return *parsed;
  }();
  return POLICY;
}

Answer validateSetSysctl(const Decoded& d) {
  const auto& request = d.setSysctl;
  Answer answer;
  answer.count = request.count;
  answer.values = request.newValues;
  auto refusal = bpftune::policy::checkRequest(shippedPolicy(), request, OWN_NETNS_COOKIE);
  if (!refusal) {
    const auto* info = bpftune::policy::findTunable(request.tunable);
    const auto* limits = shippedPolicy().find(request.tunable);
    if (info == nullptr || limits == nullptr) {
      std::abort();  // checkRequest accepted a tunable the table or policy does not know
    }
    refusal = bpftune::policy::checkStep(*limits, *info, request.expected, request.newValues);
    if (!refusal) {
      bpftune::policy::RateLimiter rate;
      refusal = rate.check(*limits, *info, 1'000'000'000, request.netnsCookie);
      rate.record(request.tunable, 1'000'000'000, request.netnsCookie);
    }
  }
  if (refusal) {
    answer.status = bpftune::proto::Status::REJECTED;
    answer.field = refusal->field;
    answer.bound = refusal->bound;
    answer.reason = refusal->reason;
  }
  return answer;
}

}  // namespace

// The name libFuzzer calls.
extern "C" int LLVMFuzzerTestOneInput(  // NOLINT(readability-identifier-naming)
    const uint8_t* data,
    size_t size) {
  // recv() fills a word-aligned buffer; so does this.
  std::vector<capnp::word> words(size / sizeof(capnp::word) + 1);
  std::memcpy(words.data(), data, size);
  auto decoded = bpftune::actuator::decodeRequest(words.data(), size);
  Answer answer;
  if (!decoded) {
    answer.status = bpftune::proto::Status::REJECTED;
    answer.reason = decoded.error().message;
  } else if (decoded->kind == RequestKind::SET_SYSCTL) {
    answer = validateSetSysctl(*decoded);
  }
  auto reply = bpftune::actuator::encodeReply(decoded ? decoded->id : 0, answer);
  if (reply.size() == 0) {
    std::abort();
  }
  return 0;
}
