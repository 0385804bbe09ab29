#include "privileges.h"

#include <linux/capability.h>
#include <pwd.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <cerrno>

#include <cap-ng.h>

namespace bpftune::collector {
namespace {

void keepBpfCaps() {
  capng_clear(CAPNG_SELECT_BOTH);
  capng_updatev(CAPNG_ADD,
                static_cast<capng_type_t>(CAPNG_EFFECTIVE | CAPNG_PERMITTED),
                CAP_BPF,
                CAP_PERFMON,
                -1);
}

Status dropAsNonRoot() {
  if (capng_get_caps_process() != 0) {
    return makeError("read own capabilities", errno);
  }
  if (!capng_have_capability(CAPNG_EFFECTIVE, CAP_BPF) ||
      !capng_have_capability(CAPNG_EFFECTIVE, CAP_PERFMON)) {
    return makeError("not root and CAP_BPF+CAP_PERFMON are not both effective");
  }
  keepBpfCaps();
  if (capng_apply(CAPNG_SELECT_CAPS) != 0) {
    return makeError("apply capabilities");
  }
  return Ok{};
}

}  // namespace

Status dropPrivileges(const std::string& user) {
  if (::geteuid() != 0) {
    return dropAsNonRoot();
  }
  errno = 0;
  const passwd* pw = ::getpwnam(user.c_str());
  if (pw == nullptr) {
    return makeError("user '" + user + "' does not exist", errno);
  }
  if (pw->pw_uid == 0) {
    return makeError("refusing to run as uid 0 user '" + user + "'");
  }
  keepBpfCaps();
  int rc = capng_change_id(static_cast<int>(pw->pw_uid),
                           static_cast<int>(pw->pw_gid),
                           static_cast<capng_flags_t>(CAPNG_DROP_SUPP_GRP | CAPNG_CLEAR_BOUNDING));
  if (rc != 0) {
    return makeError("capng_change_id to '" + user + "' failed with " + std::to_string(rc), errno);
  }
  if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
    return makeError("PR_SET_NO_NEW_PRIVS", errno);
  }
  return Ok{};
}

}  // namespace bpftune::collector
