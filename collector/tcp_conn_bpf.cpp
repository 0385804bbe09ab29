#include "tcp_conn_bpf.h"

#include <algorithm>
#include <cerrno>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "bpftune.capnp.h"
#include "log.h"
#include "sample.h"
#include "tcp_conn.h"
// After sample.h: the skeleton's .bss holds struct bpftune_sample.
#include "tcp_conn.skel.h"
#include "tcp_conn_setup.h"
#include "tuner_bpf.h"

namespace bpftune::collector {
namespace {

// bpf/tcp_conn.h copies proto::CongAlg for BPF C: the copy must not drift.
static_assert(BPFTUNE_CA_NONE == static_cast<int>(proto::CongAlg::NONE) &&
              BPFTUNE_CA_RENO == static_cast<int>(proto::CongAlg::RENO) &&
              BPFTUNE_CA_CUBIC == static_cast<int>(proto::CongAlg::CUBIC) &&
              BPFTUNE_CA_BBR == static_cast<int>(proto::CongAlg::BBR) &&
              BPFTUNE_CA_HTCP == static_cast<int>(proto::CongAlg::HTCP) &&
              BPFTUNE_CA_DCTCP == static_cast<int>(proto::CongAlg::DCTCP));

// Twice a second: a flow in distress is switched within ~0.5 s of crossing the threshold, and
// a walk over the namespace's sockets costs little at that rate.
constexpr std::chrono::milliseconds LIVE_SWITCH_PERIOD{500};
// 2 per run = 40 per 10 s, the default policy's rate for net.persock.tcp.congestion_control:
// every switch can be journaled.
constexpr uint32_t LIVE_SWITCHES_PER_RUN = 2;
// A connection is switched only after this many segments sent (tcp_conn.bpf.c).
constexpr uint32_t LIVE_SWITCH_MIN_SEGS = 1000;

class TcpConnBpf final : public TunerBpf<tcp_conn_bpf>, public IteratorAction {
public:
  TcpConnBpf(SkeletonPtr<tcp_conn_bpf> skel, bool liveSwitch)
      : TunerBpf(std::move(skel), programsFor(liveSwitch), hookSpecs()), liveSwitch(liveSwitch) {}

  IteratorAction* iteratorAction() override { return liveSwitch ? this : nullptr; }

  std::chrono::milliseconds period() const override { return LIVE_SWITCH_PERIOD; }
  uint32_t budgetPerRun() const override { return LIVE_SWITCHES_PER_RUN; }
  proto::TunableId reportedAs() const override { return proto::TunableId::SOCKET_CONGCTL; }

  // The program writes nothing to the seq file: reading it to the end runs it over every TCP
  // socket of this netns, and each switch goes to the ring buffer.
  Result<uint32_t> runOnce(uint32_t budget) override {
    tcp_conn_bpf& skel = skeleton();
    skel.bss->live_switch_budget = budget;
    UniqueFd iter(bpf_iter_create(bpf_link__fd(skel.links.live_switch)));
    if (!iter.valid()) {
      return makeError("create the tcp iterator", errno);
    }
    char buf[256];
    while (true) {
      ssize_t n = ::read(iter.get(), buf, sizeof(buf));
      if (n == 0) {
        break;
      }
      if (n < 0 && errno != EINTR) {
        return makeError("read the tcp iterator", errno);
      }
    }
    uint32_t left = readShared(skel.bss->live_switch_budget);
    return left <= budget ? budget - left : 0;
  }

  std::string describe() const override {
    return "switches established connections whose retransmits exceed 1/64 of " +
           std::to_string(LIVE_SWITCH_MIN_SEGS) + "+ segments sent to bbr (bpf_setsockopt) every " +
           std::to_string(LIVE_SWITCH_PERIOD.count()) +
           " ms, in the collector's own netns only: iter/tcp walks the namespace of the process "
           "that creates it, and the collector cannot setns (no CAP_SYS_ADMIN); connections in "
           "other namespaces get the per-host route choice only";
  }

private:
  static std::vector<std::string> programsFor(bool liveSwitch) {
    std::vector<std::string> out{"tp_btf/inet_sock_set_state"};
    if (liveSwitch) {
      out.emplace_back("iter/tcp + bpf_setsockopt");
    }
    return out;
  }

  static std::vector<HookSpec> hookSpecs() {
    static_assert(TCP_CONN_HOOK_STATE == 0 && TCP_CONN_HOOK_ITER == 1);
    return {{"inet_sock_set_state(->CLOSE)", 1}, {"iter/tcp live switch", 1}};
  }

  bool liveSwitch;
};

bool bbrIsCandidate() {
  auto candidates = readCongCandidates();
  if (!candidates) {
    log::warning("tcp_conn: " + describe(candidates.error()) + "; live switch off");
    return false;
  }
  return std::ranges::find(*candidates, proto::CongAlg::BBR) != candidates->end();
}

}  // namespace

Result<std::unique_ptr<BpfObject>> attachTcpConnBpf(const BpfConfig& config) {
  const bool liveSwitch = bbrIsCandidate();
  auto skel = loadTunerSkeleton<tcp_conn_bpf>(config, "tcp_conn", [&](tcp_conn_bpf& s) -> Status {
    s.rodata->live_switch_min_segs = LIVE_SWITCH_MIN_SEGS;
    if (!liveSwitch) {
      bpf_program__set_autoload(s.progs.live_switch, false);
    }
    return Ok{};
  });
  if (!skel) {
    return skel.error();
  }
  return std::unique_ptr<BpfObject>(std::make_unique<TcpConnBpf>(std::move(*skel), liveSwitch));
}

}  // namespace bpftune::collector
