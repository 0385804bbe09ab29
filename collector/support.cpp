#include "support.h"

#include <linux/capability.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <functional>
#include <memory>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <cap-ng.h>

#include "bpf_object.h"
#include "sample.h"
#include "support.skel.h"
#include "system_info.h"
#include "tuner_registry.h"

namespace bpftune::collector {
namespace {

struct SupportDeleter {
  void operator()(support_bpf* s) const { support_bpf::destroy(s); }
};
struct LinkDeleter {
  void operator()(bpf_link* l) const { bpf_link__destroy(l); }
};
using LinkPtr = std::unique_ptr<bpf_link, LinkDeleter>;

bool exists(const char* path) {
  struct stat st {};
  return ::stat(path, &st) == 0;
}

std::string errnoText(int err) {
  return std::strerror(err < 0 ? -err : err);
}

// Loads support.bpf.c with only `prog` enabled; `use` then attaches/runs it.
SupportItem probeProgram(const std::string& feature,
                         const char* prog,
                         const std::function<std::string(bpf_program*)>& use,
                         const std::string& whyRefused) {
  std::unique_ptr<support_bpf, SupportDeleter> skel(support_bpf::open());
  if (!skel) {
    return {feature, false, "open: " + errnoText(errno)};
  }
  bpf_program* target = nullptr;
  bpf_program* p = nullptr;
  bpf_object__for_each_program(p, skel->obj) {
    bool match = std::strcmp(bpf_program__name(p), prog) == 0;
    bpf_program__set_autoload(p, match);
    if (match) {
      target = p;
    }
  }
  if (target == nullptr) {
    return {feature, false, std::string("no program ") + prog};
  }
  if (int err = support_bpf::load(skel.get()); err != 0) {
    return {feature, false, "load refused: " + errnoText(err) + whyRefused};
  }
  std::string problem = use(target);
  return {feature, problem.empty(), problem.empty() ? "loaded and attached" : problem};
}

std::string attachOnly(bpf_program* prog) {
  LinkPtr link(bpf_program__attach(prog));
  return link ? "" : "attach refused: " + errnoText(errno);
}

std::string runTcpIter(bpf_program* prog) {
  LinkPtr link(bpf_program__attach_iter(prog, nullptr));
  if (!link) {
    return "attach refused: " + errnoText(errno);
  }
  int fd = bpf_iter_create(bpf_link__fd(link.get()));
  if (fd < 0) {
    return "iterator create refused: " + errnoText(errno);
  }
  char buf[64];
  while (::read(fd, buf, sizeof(buf)) > 0) {
  }
  ::close(fd);
  return "";
}

// An iterator that acts is run once with a budget of 0: it walks this netns's sockets and
// changes none. The detail says what it would do and where (its namespace limit).
SupportItem iteratorItem(const std::string& tuner, IteratorAction& action) {
  std::string feature = tuner + " iterator";
  auto ran = action.runOnce(0);
  if (!ran) {
    return {std::move(feature), false, describe(ran.error())};
  }
  return {std::move(feature), true, "runs; " + action.describe()};
}

// Every registered tuner's BPF object, loaded and attached as the collector does it (with a
// private ring buffer): each of its programs is listed as attachable, or the object's error.
std::vector<SupportItem> tunerHooks() {
  std::vector<SupportItem> out;
  for (const TunerEntry& entry : tunerRegistry()) {
    const std::string tuner(entry.name);
    auto bpf = entry.attach(BpfConfig{});
    if (!bpf) {
      out.push_back({tuner + " programs", false, describe(bpf.error())});
      continue;
    }
    for (const std::string& program : (*bpf)->attachedPrograms()) {
      std::string feature = tuner;
      feature += " hook ";
      feature += program;
      out.push_back({std::move(feature), true, "attachable"});
    }
    if (IteratorAction* action = (*bpf)->iteratorAction()) {
      out.push_back(iteratorItem(tuner, *action));
    }
  }
  return out;
}

SupportItem capabilities() {
  capng_get_caps_process();
  bool bpf = capng_have_capability(CAPNG_EFFECTIVE, CAP_BPF) != 0;
  bool perfmon = capng_have_capability(CAPNG_EFFECTIVE, CAP_PERFMON) != 0;
  std::string detail =
      std::string("CAP_BPF ") + (bpf ? "yes" : "no") + ", CAP_PERFMON " + (perfmon ? "yes" : "no");
  return {"CAP_BPF+CAP_PERFMON effective", bpf && perfmon, detail};
}

SupportItem seccomp() {
  std::ifstream in("/proc/sys/kernel/seccomp/actions_avail");
  std::string actions;
  std::getline(in, actions);
  bool kill = actions.find("kill_process") != std::string::npos;
  return {"seccomp filters",
          kill,
          actions.empty() ? "no /proc/sys/kernel/seccomp/actions_avail" : "actions: " + actions};
}

}  // namespace

std::vector<SupportItem> probeSupport() {
  // Expected refusals (fentry, kprobe) must not spam stderr.
  libbpf_print_fn_t previous = libbpf_set_print(nullptr);
  std::vector<SupportItem> items;
  bool btf = exists("/sys/kernel/btf/vmlinux");
  items.push_back(
      {"kernel BTF", btf, btf ? "/sys/kernel/btf/vmlinux" : "missing: CO-RE impossible"});
  items.push_back(capabilities());
  items.push_back(probeProgram("tp_btf attach", "probe_tp_btf", attachOnly, ""));
  items.push_back(probeProgram("raw_tp attach", "probe_raw_tp", attachOnly, ""));
  items.push_back(probeProgram("iter/tcp", "probe_iter_tcp", runTcpIter, ""));
  items.push_back(probeProgram("ringbuf", "probe_ringbuf", attachOnly, ""));
  items.push_back(probeProgram(
      "fentry (trampolines)",
      "probe_fentry",
      attachOnly,
      " (expected here: the host kernel refuses tracing/LSM/ext program types at BPF_PROG_LOAD;"
      " bpftune uses tp_btf instead)"));
  bool kprobePmu = exists("/sys/bus/event_source/devices/kprobe");
  SupportItem kprobe = probeProgram("kprobe", "probe_kprobe", attachOnly, "");
  if (!kprobePmu) {
    kprobe.works = false;
    kprobe.detail += " (no kprobe PMU in /sys/bus/event_source/devices: CONFIG_KPROBES is off;"
                     " not needed, tp_btf is used)";
  }
  items.push_back(kprobe);
  auto cookie = homeNetnsCookie();
  items.push_back({"netns cookie (SO_NETNS_COOKIE)",
                   cookie.ok(),
                   cookie ? "this netns: " + std::to_string(*cookie)
                          : "getsockopt refused: " + errnoText(cookie.error().errnum)});
  for (auto& item : tunerHooks()) {
    items.push_back(std::move(item));
  }
  items.push_back(seccomp());
  libbpf_set_print(previous);
  return items;
}

}  // namespace bpftune::collector
